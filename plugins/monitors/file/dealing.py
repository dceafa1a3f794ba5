"""Dealing a file monitor's inputs out to worker processes (``workers = N``).

The files are found exactly as the monitor finds them (:class:`~.discovery.Discovery`:
paths, globs, directories, ``exclude``), then dealt largest first, each to the least loaded
share. An explicit path with no file yet is dealt too (it is read once it appears).
"""

from __future__ import annotations

from omphalos.dealing import deal_by_size

from .discovery import Discovery


def deal_paths(discovery: Discovery, n_workers: int) -> list[list[str]]:
    """The monitor's files in ``n_workers`` shares (some may be empty), largest first,
    each to the lightest share; every file in exactly one share."""
    if n_workers < 1:
        raise ValueError(f"n_workers must be at least 1, not {n_workers}")
    found = discovery.scan()
    missing = [p for p in discovery.explicit_paths()
               if p not in found and not discovery.excluded(p)]
    return deal_by_size([*found, *missing], n_workers)
