"""Process-wide settings: the ``[omphalos]`` section of the config."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

from .config import option


def _default_state_dir() -> str:
    if os.environ.get("OMPHALOS_STATE_DIR"):
        return os.environ["OMPHALOS_STATE_DIR"]
    if os.geteuid() == 0:
        return "/var/lib/omphalos"
    base = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return os.path.join(base, "omphalos")


@dataclass(frozen=True)
class Settings:
    """Options of the ``[omphalos]`` section, shared by every plugin of the process."""

    host: str = option("", "This machine's name on every record it reads; empty: the "
                           "host name.")
    state_dir: str = option("", "Where checkpoints, spools and history live; empty: "
                                "$OMPHALOS_STATE_DIR if set, else /var/lib/omphalos as "
                                "root, else ~/.local/state/omphalos.")
    ask_timeout_secs: float = option(5.0, "Longest wait for any actor's answer.")
    max_restarts: int = option(5, "Restarts of one actor within restart_window_secs before "
                                  "the pipeline is marked degraded and the actor given up.")
    restart_window_secs: float = option(60.0, "Window over which restarts are counted.")
    restart_backoff_secs: float = option(0.2, "First restart delay; doubles per restart in "
                                              "the window, up to 30 s.")
    log_level: str = option("info", "debug, info, warning or error.")
    workers: int = option(1, "Processes that read and parse this host's files (see "
                             "omphalos.workers); 1: everything in this process.")
    quarantine_max_bytes: int = option(
        16 << 20, "Largest size of a collector's quarantine file (quarantine/NAME.jsonl "
                  "under state_dir: batches that made the collector raise, see "
                  "omphalos.quarantine); one older file of that size is kept as .1.")
    query_switch_interval_ms: float = option(
        1.0, "While a query waits for its answer, Python threads switch at least this "
             "often (sys.setswitchinterval; 5 ms otherwise), so that a query answers in "
             "a few ms while lines stream in (see omphalos.switching). 0: leave the "
             "interpreter's setting alone.")

    def validate(self) -> None:
        if self.log_level.lower() not in ("debug", "info", "warning", "error"):
            raise ValueError("expected debug, info, warning or error", "log_level")
        if self.max_restarts < 0:
            raise ValueError("must be 0 or more", "max_restarts")
        if self.quarantine_max_bytes < 4096:
            raise ValueError("must be 4096 or more", "quarantine_max_bytes")
        if self.workers < 1:
            raise ValueError("must be 1 or more", "workers")
        if not 0 <= self.query_switch_interval_ms <= 100:
            raise ValueError("must be between 0 and 100", "query_switch_interval_ms")

    @property
    def host_name(self) -> str:
        return self.host or socket.gethostname()

    @property
    def state_path(self) -> str:
        return self.state_dir or _default_state_dir()
