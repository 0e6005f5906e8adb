"""Reading labelled data into `datasets.Dataset` objects, column mapping and validation."""

from ftcli.data.readers import SUPPORTED_EXTENSIONS, read_file
from ftcli.data.sources import DataSplits, load_splits, load_single

__all__ = ["SUPPORTED_EXTENSIONS", "read_file", "DataSplits", "load_splits", "load_single"]
