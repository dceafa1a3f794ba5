"""A real process for tests/collectors/test_background_save.py: one pipeline (file monitor
with checkpoints, ``combined`` parser, local transport, durable ``summary`` and
``window``) reading a log to its end, then writing its answers as JSON and stopping.

    python -m tests.collectors.durable_proc CONFIG.json ANSWERS.json MARKS [SLOW_STEPS]

``MARKS``: a file this process appends ``begin N`` to before the N-th commit of a save
and ``end N`` after it (``StateStore.commit``, in the state writer's thread), so that the
test can kill it while a commit is under way. ``SLOW_STEPS`` (an **injected fault**, to
make that moment long enough to be hit): SQLite's progress handler sleeps 1 ms every that
many virtual-machine steps, inside the transaction, so a commit takes tens of
milliseconds instead of a few. The commit's SQL itself is the real one.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import time
from typing import Any

from omphalos.messages import Query
from omphalos.pipeline import Pipeline
from omphalos.state import PreparedSave, StateStore


def main(argv: list[str]) -> int:
    config_path, answers_path, marks_path = argv[:3]
    slow_steps = int(argv[3]) if len(argv) > 3 else 0
    with open(config_path, encoding="utf-8") as f:
        config = json.load(f)
    marks = open(marks_path, "a", buffering=1, encoding="utf-8")
    numbers = itertools.count(1)
    commit = StateStore.commit
    opened = StateStore.__init__

    def marked_commit(store: StateStore, prepared: PreparedSave) -> int:
        n = next(numbers)
        marks.write(f"begin {n}\n")
        written = commit(store, prepared)
        marks.write(f"end {n}\n")
        return written

    def pause() -> int:
        time.sleep(0.001)
        return 0  # go on with the statement

    def slow_init(store: StateStore, path: str) -> None:
        opened(store, path)
        if slow_steps:  # the injected fault (see the module doc)
            store._db.set_progress_handler(pause, slow_steps)

    StateStore.commit = marked_commit  # type: ignore[method-assign,assignment]
    StateStore.__init__ = slow_init  # type: ignore[method-assign,assignment]
    size = os.path.getsize(config["monitor:files"]["paths"])
    with Pipeline.from_config(config) as p:
        while True:
            status = p.ask("monitor:files", Query("status"))
            if status["idle"] and status["files"][0]["committed"] == size:
                break
            time.sleep(0.02)
        got: dict[str, Any] = {
            "summary": p.query("summary", limit=50),
            "top": p.ask("collector:window", Query("top", {"window": "1h",
                                                           "dimension": "path"})),
            "overview": p.ask("collector:window", Query("overview", {"window": "5m"})),
            "counters": {name: actor.get("counters", {})
                         for name, actor in p.status()["actors"].items()}}
    with open(answers_path, "w", encoding="utf-8") as f:
        json.dump(got, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
