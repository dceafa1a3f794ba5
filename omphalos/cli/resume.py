"""Saved progress of ad-hoc runs (``omphalos run FILE``): keyed by what was asked.

A run on files saves its monitor's offsets and its summary's counts under a key made from
what was asked (the files' absolute paths, the parser, the ``[omphalos]`` settings and the
config files read), so a run on other files, or with another config, never resumes from
this one's progress. A run that finds progress saved under its key says so, one line per
file (its byte offset and when it was saved), and resumes: the summary it prints at the
end counts the whole file, this run's lines and those of the runs before. ``--from-start``
forgets that progress first and counts the files again from their first byte.
"""

from __future__ import annotations

import hashlib
import json
import os
import time

from omphalos.checkpoint import CheckpointStore
from omphalos.config import ConfigSource
from omphalos.settings import Settings
from omphalos.state import DEFAULT_FILE, StateStore
from omphalos.topology import SETTINGS_SECTION

CHECKPOINTS = "checkpoints.sqlite"


def ask_key(source: ConfigSource, files: list[str], parser: str) -> str:
    """The key of a run on ``files``: a digest of what was asked."""
    settings = source.sections.get(SETTINGS_SECTION)
    asked = {"paths": sorted(os.path.abspath(f) for f in files), "parser": parser,
             "settings": dict(settings.values) if settings is not None else {},
             "config": sorted(str(f) for f in source.files)}
    digest = hashlib.sha256(json.dumps(asked, sort_keys=True, default=str).encode())
    return f"run:{digest.hexdigest()[:16]}"


def _checkpoints(settings: Settings) -> CheckpointStore | None:
    path = os.path.join(settings.state_path, CHECKPOINTS)
    return CheckpointStore(path) if os.path.exists(path) else None


def resume_notes(settings: Settings, key: str) -> list[str]:
    """One line per file whose progress is saved under ``key``."""
    store = _checkpoints(settings)
    if store is None:
        return []
    try:
        saved = store.load(key)
    finally:
        store.close()
    return [f"omphalos: resuming {cp.path} at byte {cp.offset} (saved "
            f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(cp.updated))}); "
            f"--from-start reads it from the start" for cp in saved]


def start_over(settings: Settings, key: str) -> None:
    """Forget the offsets and counts saved under ``key``."""
    store = _checkpoints(settings)
    if store is not None:
        try:
            for cp in store.load(key):
                store.forget(key, cp.file_id)
        finally:
            store.close()
    path = os.path.join(settings.state_path, DEFAULT_FILE)
    if os.path.exists(path):
        state = StateStore(path)
        try:
            for saved in state.keys():  # the summary's, and the config's collectors'
                if saved == key or saved.startswith(key + "/"):
                    state.clear(saved)
        finally:
            state.close()
