"""The ``file`` monitor: the plugin (:mod:`.monitor`) and its own modules, one concern each
(discovery, scheduling, identity, rotation, resuming, reading, tailing, watching,
checkpointing, status, dealing); no other plugin uses them."""

from .monitor import FileMonitor, FileMonitorConfig

__all__ = ["FileMonitor", "FileMonitorConfig"]
