"""What the network transports share: the receiver's incoming message, source qualification,
loopback detection and where spools live."""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass, replace
from typing import Any

from omphalos.messages import Batch

__all__ = ["Incoming", "qualify", "is_loopback"]


@dataclass(frozen=True, slots=True)
class Incoming:
    """A batch a receiver's I/O thread read; ``token`` is what it needs to acknowledge it."""

    batch: Batch
    token: Any


def qualify(batch: Batch) -> Batch:
    """``batch`` with its origin and file identity prefixed by its host.

    Monitors on different hosts have the same component names (``monitor:web``) and may
    have files with the same device and inode; a collector fed by many hosts must never mix
    them up, neither in its de-duplication (by file identity) nor in the transport's table
    of batches waiting for collectors (by origin and sequence number).
    """
    src = batch.source
    prefix = f"{src.host}/"
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

