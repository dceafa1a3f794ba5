"""A monitor process for the crash test: runs a pipeline from a JSON config until killed.

``python -m tests.monitors.monitor_proc CONFIG.json READY_FILE``: builds the pipeline with
the test registry (the numbers collector), starts it, writes READY_FILE, then waits to be
killed. The test SIGKILLs it: no clean stop, no final commit.
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

from omphalos.pipeline import Pipeline

from .helpers import registry


def main() -> None:
    config = json.loads(Path(sys.argv[1]).read_text())
    pipeline = Pipeline.from_config(config, registry=registry())
    pipeline.start()
    Path(sys.argv[2]).write_text("ready")
    threading.Event().wait()


if __name__ == "__main__":
    main()
