"""Dealing a monitor's inputs out to worker processes (``[omphalos] workers = N``).

A monitor declares how its inputs are dealt (:meth:`omphalos.plugin.MonitorPlugin.deal`);
a monitor of files can use :func:`deal_by_size` on the files it finds.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

__all__ = ["deal_by_size"]


def deal_by_size(paths: Iterable[str], shares: int) -> list[list[str]]:
    """``paths`` dealt to ``shares`` lists, largest first, each to the lightest list (the
    lists that get a path come first)."""
    out: list[list[str]] = [[] for _ in range(shares)]
    loads = [0] * shares
    for path in sorted(paths, key=lambda p: (-_size(p), p)):
        i = loads.index(min(loads))
        out[i].append(path)
        loads[i] += max(_size(path), 1)
    return out


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0
