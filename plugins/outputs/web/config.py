"""Options of the ``web`` output: where it listens, who may call it, how often it pushes."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal

from omphalos.config import option

WINDOWS = ("1m", "5m", "1h", "all")


@dataclass(frozen=True)
class WebConfig:
    """Options of the web output (dashboard, JSON API, /metrics)."""

    listen: str = option("127.0.0.1", "Address to bind. Anything but a loopback address "
                                      "makes every API call and /metrics need the token.")
    port: int = option(8080, "TCP port; 0 picks a free one (shown by status and the log).")
    token: str = option("", "Bearer token for the API; empty: a random one is generated at "
                            "start (logged when bound beyond loopback).")
    update_secs: float = option(1.0, "Seconds between two live updates pushed to the page.")
    query_timeout_secs: float = option(2.0, "Longest wait for one collector's answer.")
    workers: int = option(4, "Threads that wait on collectors, so the event loop never "
                             "blocks.")
    max_clients: int = option(64, "Live-update (server-sent events) connections at once.")
    window: Literal["1m", "5m", "1h", "all"] = option("5m", "Window the page opens with.")
    top: int = option(10, "Rows of the page's top lists.")

    def validate(self) -> None:
        """Reject values the server cannot run with (ValueError(reason, key))."""
        if not 0 <= self.port <= 65535:
            raise ValueError("must be between 0 and 65535", "port")
        if self.update_secs < 0.1:
            raise ValueError("must be at least 0.1", "update_secs")
        if self.query_timeout_secs <= 0:
            raise ValueError("must be positive", "query_timeout_secs")
        if self.workers < 1:
            raise ValueError("must be 1 or more", "workers")
        if self.max_clients < 1:
            raise ValueError("must be 1 or more", "max_clients")
        if not 1 <= self.top <= 100:
            raise ValueError("must be between 1 and 100", "top")
        if self.token and len(self.token) < 16:
            raise ValueError("must be at least 16 characters", "token")
        if not self.listen.strip():
            raise ValueError("must not be empty", "listen")


def is_loopback(address: str) -> bool:
    """True when ``address`` (an IP or ``localhost``) only accepts local connections."""
    if address.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip().strip("[]")).is_loopback
    except ValueError:
        return False
