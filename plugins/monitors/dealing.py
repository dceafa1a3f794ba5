"""Dealing a file monitor's inputs out to worker processes (``workers = N``).

The files are found exactly as the monitor finds them (:class:`~.discovery.Discovery`:
paths, globs, directories, ``exclude``), then dealt largest first, each to the least loaded
share. An explicit path with no file yet is dealt too (it is read once it appears).
"""

from __future__ import annotations

import os

from .discovery import Discovery


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def deal_paths(discovery: Discovery, n_workers: int) -> list[list[str]]:
    """The monitor's files in ``n_workers`` shares (some may be empty), largest first,
    each to the lightest share; every file in exactly one share."""
    if n_workers < 1:
        raise ValueError(f"n_workers must be at least 1, not {n_workers}")
    found = discovery.scan()
    missing = [p for p in discovery.explicit_paths()
               if p not in found and not discovery.excluded(p)]
    shares: list[list[str]] = [[] for _ in range(n_workers)]
    loads = [0] * n_workers
    sizes = {p: _size(p) for p in found}
    for path in sorted(found, key=lambda p: (-sizes[p], p)) + missing:
        i = loads.index(min(loads))
        shares[i].append(path)
        loads[i] += max(sizes.get(path, 0), 1)
    return shares
