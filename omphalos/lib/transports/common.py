"""What the network transports share: the receiver's incoming message, source qualification,
loopback detection and rate-limited logging of what senders get wrong."""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
import time
from dataclasses import dataclass, replace
from typing import Any

from omphalos.messages import Batch

__all__ = ["Incoming", "qualify", "is_loopback", "RateLimitedLog"]


@dataclass(frozen=True, slots=True)
class Incoming:
    """A batch a receiver's I/O thread read; ``token`` is what it needs to acknowledge it."""

    batch: Batch
    token: Any


def qualify(batch: Batch, sender: str = "") -> Batch:
    """``batch`` with its origin and file identity prefixed by its sender.

    ``sender`` is the authenticated identity of whoever sent it, when the transport has one
    (an AMQP broker user: ``user:host``); by default the batch's host, which a CURVE
    receiver has checked against the sender's key. Collectors de-duplicate by file
    identity, so this prefix keeps the de-duplication state of every authenticated sender
    apart: no sender can make a collector skip another sender's lines.

    Monitors on different hosts have the same component names (``monitor:web``) and may
    have files with the same device and inode; a collector fed by many hosts must never mix
    them up, neither in its de-duplication (by file identity) nor in the transport's table
    of batches waiting for collectors (by origin and sequence number).
    """
    src = batch.source
    prefix = f"{sender or src.host}/"
    if src.file_id.startswith(prefix):
        return batch
    return replace(batch, source=replace(src, origin=prefix + src.origin,
                                         file_id=prefix + src.file_id))


_HOST = re.compile(r"^(?:tcp|udp)://\[?([^\]]*?)\]?(?::\d+|:\*)?$")


def is_loopback(endpoint: str) -> bool:
    """True when ``endpoint`` (``tcp://127.0.0.1:5555``, ``ipc://...``) stays on this host."""
    if endpoint.startswith(("ipc://", "inproc://")):
        return True
    match = _HOST.match(endpoint)
    if not match:
        return False
    host = match.group(1)
    if host in ("localhost", "lo"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            return ipaddress.ip_address(socket.gethostbyname(host)).is_loopback
        except (OSError, ValueError):
            return False



class RateLimitedLog:
    """Logs a warning about one sender at most once per ``interval_secs`` (the rest are
    counted by the caller): a hostile or broken sender cannot flood the log."""

    def __init__(self, log: logging.Logger, interval_secs: float = 60.0,
                 max_senders: int = 10_000) -> None:
        self.log = log
        self.interval = interval_secs
        self.max_senders = max_senders
        self._last: dict[str, float] = {}

    def warning(self, sender: str, message: str, *args: object) -> bool:
        """Log ``message`` unless ``sender`` was logged less than the interval ago."""
        now = time.monotonic()
        if now - self._last.get(sender, -self.interval) < self.interval:
            return False
        if len(self._last) >= self.max_senders:
            self._last.clear()
        self._last[sender] = now
        self.log.warning(message, *args)
        return True
