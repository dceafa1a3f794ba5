"""Omphalos: collect web-server access logs from many servers and see, live, what they do."""

import logging

from .config import ConfigError
from .pipeline import Pipeline, QueryError
from .records import Columns, Record

__version__ = "0.1.0"
__all__ = ["Pipeline", "ConfigError", "QueryError", "Record", "Columns", "__version__"]

logging.getLogger("omphalos").addHandler(logging.NullHandler())
