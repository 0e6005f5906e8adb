"""Model architectures implemented by ftcli (one folder each) and checkpoint loading.

`loading.OUR_ARCHITECTURES` maps a config's `model_type` to our implementation; checkpoints of
other architectures load through transformers' Auto classes.
"""
