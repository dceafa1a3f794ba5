"""A monitor process for the crash tests: runs a pipeline from a JSON config until killed.

``python -m tests.monitors.monitor_proc CONFIG.json READY_FILE``: builds the pipeline with
the test registry (the numbers collector), starts it, writes READY_FILE, then waits to be
killed. The test SIGKILLs it: no clean stop, no final commit. Every 0.1 s it writes
READY_FILE.status: whether the pipeline is degraded, why the monitor is paused (if it is) and every
reason it was paused so far.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from omphalos.messages import Query
from omphalos.pipeline import Pipeline, QueryError

from .helpers import registry


def main() -> None:
    config = json.loads(Path(sys.argv[1]).read_text())
    pipeline = Pipeline.from_config(config, registry=registry())
    pipeline.start()
    ready = Path(sys.argv[2])
    ready.write_text("ready")
    status = Path(f"{ready}.status")
    problems: list[str] = []
    while True:
        try:
            monitor = pipeline.ask("monitor:logs", Query("status"), 5.0)
            state = {"paused": monitor["paused"]}
        except QueryError as exc:  # an answer that did not come is what the test checks
            state = {"paused": f"no answer: {exc!r}"}
        if state["paused"] and state["paused"] not in problems:
            problems.append(state["paused"])
        tmp = f"{status}.tmp"
        with open(tmp, "w") as fh:
            json.dump({"degraded": pipeline.degraded, **state, "problems": problems}, fh)
        os.replace(tmp, status)
        time.sleep(0.1)


if __name__ == "__main__":
    main()
