"""Paths checked before a command runs, and named in every error: log files, state dir.

The file monitor waits for a log file that does not exist yet (it may appear later) and
keeps going past one it cannot read; the command must still *say* so, naming the path and
the reason the operating system gave, instead of showing a silent page of zeros.
"""

from __future__ import annotations

import errno
import glob
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["PathProblem", "os_reason", "file_problem", "monitor_paths", "path_problems",
           "state_dir_problem", "written_paths", "write_problems", "GLOB_CHARS"]

#: Options naming where a component writes: a directory (``*_dir``) or a file.
WRITTEN_OPTIONS = ("spool_dir", "history_path", "dead_letter")

GLOB_CHARS = "*?["


@dataclass(frozen=True)
class PathProblem:
    """``path`` cannot be read (``fatal``), or is not there yet (a warning)."""

    path: str
    reason: str
    fatal: bool
    component: str = ""

    def __str__(self) -> str:
        where = f"{self.component}: " if self.component else ""
        return f"{where}{self.path}: {self.reason}"


def os_reason(exc: OSError) -> str:
    """``Permission denied`` -> ``permission denied``: the reason of an OS error, in words."""
    text = exc.strerror or str(exc)
    return text[:1].lower() + text[1:]


def file_problem(path: str, component: str = "") -> PathProblem | None:
    """Why ``path`` (a log file, or a directory of them) cannot be read; None when it can.

    A file inside a directory we may not enter is "permission denied", not "no such file":
    ``os.stat`` tells the two apart where ``os.path.exists`` does not.
    """
    try:
        os.stat(path)
    except OSError as exc:
        missing = exc.errno in (errno.ENOENT, errno.ENOTDIR)
        reason = "no such file (the monitor waits for it)" if missing else os_reason(exc)
        return PathProblem(path, reason, fatal=not missing, component=component)
    try:
        if os.path.isdir(path):
            os.listdir(path)
        else:
            with open(path, "rb"):
                pass
    except OSError as exc:
        return PathProblem(path, os_reason(exc), fatal=True, component=component)
    return None


def monitor_paths(pipeline: Any) -> list[tuple[str, str]]:
    """(monitor, path or glob) of every monitor of ``pipeline`` that reads ``paths``."""
    out: list[tuple[str, str]] = []
    for name, spec in pipeline.components.items():
        if spec.kind != "monitor":
            continue
        paths = getattr(spec.config, "paths", None)
        if isinstance(paths, str):
            paths = [p.strip() for p in paths.split(",") if p.strip()]
        for path in paths or ():
            out.append((name, str(path)))
    return out


def _glob_root(pattern: str) -> str:
    """The directory part of ``pattern`` before its first wildcard."""
    head = pattern
    for i, ch in enumerate(pattern):
        if ch in GLOB_CHARS:
            head = pattern[:i]
            break
    return os.path.dirname(head) or "."


def path_problems(paths: Iterable[tuple[str, str]]) -> list[PathProblem]:
    """Every (component, path) that is missing or unreadable; globs by their matches."""
    problems: list[PathProblem] = []
    for component, path in paths:
        if any(ch in path for ch in GLOB_CHARS):
            matches = sorted(glob.glob(path, recursive=True))
            if not matches:
                root = file_problem(_glob_root(path), component)
                problems.append(root if root is not None and root.fatal else PathProblem(
                    path, "matches no file yet (the monitor waits for one)", False, component))
            for match in matches:
                found = file_problem(match, component)
                if found is not None:
                    problems.append(found)
            continue
        found = file_problem(path, component)
        if found is not None:
            problems.append(found)
    return problems


def state_dir_problem(path: str, *, create: bool = True) -> str | None:
    """Why the state directory ``path`` cannot hold checkpoints, spools and history.

    ``create``: make it and write a probe file in it (before running); else only look,
    leaving no trace (``check``, which init scripts run as root before a reload).
    """
    if not create:
        probe = path
        while not os.path.exists(probe) and os.path.dirname(probe) != probe:
            probe = os.path.dirname(probe)
        if not os.access(probe, os.W_OK | os.X_OK):
            what = "" if probe == path else f" (its parent {probe} is not)"
            return f"state directory {path} is not writable{what}: permission denied"
        return None
    try:
        os.makedirs(path, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        return f"state directory {path} is not writable: {os_reason(exc)}"
    return None


def written_paths(pipeline: Any) -> list[tuple[str, str, str]]:
    """(component, option, directory) of every place outside the state directory a
    component writes to, as its options say (``spool_dir``, ``history_path``...)."""
    out: list[tuple[str, str, str]] = []
    for name, spec in pipeline.components.items():
        for option in WRITTEN_OPTIONS:
            value = getattr(spec.config, option, "")
            if isinstance(value, str) and value.strip():
                path = os.path.abspath(value)
                out.append((name, option,
                            path if option.endswith("_dir") else os.path.dirname(path)))
    return out


def write_problems(pipeline: Any, *, create: bool = True) -> list[str]:
    """The state directory and every ``written_paths`` directory that is not writable,
    each named with the component and option it comes from."""
    problems = []
    state = state_dir_problem(pipeline.settings.state_path, create=create)
    if state is not None:
        problems.append(state)
    for name, option, directory in written_paths(pipeline):
        found = state_dir_problem(directory, create=create)
        if found is not None:
            problems.append(f"{name}: {option}: "
                            + found.replace("state directory", "directory", 1))
    return problems
