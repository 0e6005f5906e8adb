"""ftcli: transfer learning with pretrained transformers from the command line."""

__version__ = "0.1.0"
