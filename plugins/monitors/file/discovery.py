"""Which files a monitor reads: paths, globs (``**`` recurses) and directories.

Discovery is a pure function of the file system, run at start, whenever the watcher hints
that a directory changed, and periodically as a safety net. It also says which directories
to watch: the deepest directory of each pattern that holds no glob character.
"""

from __future__ import annotations

import fnmatch
import glob
import os
from collections.abc import Iterable
from dataclasses import dataclass

_MAGIC = frozenset("*?[")


def has_magic(text: str) -> bool:
    return any(ch in _MAGIC for ch in text)


@dataclass(frozen=True, slots=True)
class Pattern:
    """One configured path, normalised: ``glob`` to expand, ``root`` to watch."""

    text: str
    glob: str
    root: str
    recursive: bool
    explicit: bool  # a plain file path: reported as missing while it does not exist


def compile_pattern(text: str) -> Pattern:
    """Normalise ``text`` (``~`` expanded, made absolute; a directory means its files)."""
    path = os.path.abspath(os.path.expanduser(text))
    if not has_magic(path) and os.path.isdir(path):
        path = os.path.join(path, "*")
    parts = path.split(os.sep)
    static = 0
    while static < len(parts) - 1 and not has_magic(parts[static]):
        static += 1
    root = os.sep.join(parts[:static]) or os.sep
    rest = parts[static:]
    return Pattern(text=text, glob=path, root=root, recursive=len(rest) > 1 or "**" in path,
                   explicit=not has_magic(path))


class Discovery:
    """Expands the configured patterns into the regular files to read."""

    def __init__(self, patterns: Iterable[str], exclude: Iterable[str] = ()) -> None:
        self.patterns = [compile_pattern(p) for p in patterns]
        self.exclude = tuple(exclude)

    def excluded(self, path: str) -> bool:
        name = os.path.basename(path)
        return any(fnmatch.fnmatchcase(name, pat) for pat in self.exclude)

    def explicit_paths(self) -> list[str]:
        """Plain file paths: watched (and reported missing) even when absent."""
        return [p.glob for p in self.patterns if p.explicit]

    def scan(self) -> list[str]:
        """Absolute paths of every matching regular file (symlinks followed), sorted."""
        found: dict[str, None] = {}
        for pattern in self.patterns:
            if pattern.explicit:
                candidates = [pattern.glob]
            else:
                candidates = sorted(glob.glob(pattern.glob, recursive=True))
            for path in candidates:
                if path in found or self.excluded(path):
                    continue
                try:
                    if os.path.isfile(path):
                        found[path] = None
                except OSError:
                    continue
        return list(found)

    def roots(self) -> dict[str, bool]:
        """Directories to watch -> recursively or not (parents of explicit files too)."""
        out: dict[str, bool] = {}
        for pattern in self.patterns:
            root = os.path.dirname(pattern.glob) if pattern.explicit else pattern.root
            out[root] = out.get(root, False) or pattern.recursive
        # a recursive watch covers the directories below it
        for root in list(out):
            for other, recursive in list(out.items()):
                if other != root and recursive and root.startswith(other.rstrip(os.sep) + os.sep):
                    out.pop(root, None)
                    break
        return out
