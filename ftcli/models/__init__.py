"""Model architectures implemented by ftcli (one package each) and checkpoint loading.

Each package's `__init__.py` declares an `ARCHITECTURE` (`registry.Architecture`): the
`model_type` it serves, which of its classes serves which Auto class, and how its layers are
named. `loading.model_class` picks ours from a checkpoint's `model_type`; checkpoints of other
architectures load through transformers' Auto classes.
"""
