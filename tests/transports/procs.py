"""Real processes for the distributed tests: log writers, monitors, a durable collector.

Run as scripts (``python procs.py writer ...`` / ``python procs.py collector ...``); the
test module starts them with :mod:`subprocess` and monitors with ``omphalos run -c``.

The collector process runs a Pipeline (the library API) with a transport receiver and the
``counting`` collector defined here: a small durable collector that keeps, in one SQLite
transaction per batch, the lines counted per host and the de-duplication offsets of the
base class. It is durable so that a collector killed with SIGKILL and started again goes
on from where it was, which is what "counted exactly once across a collector crash" needs.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

HERE = Path(__file__).resolve().parent
REAL_LOG = HERE.parent / "data" / "apache_logs.combined.log"


def writer(path: str, lines: int, rate: float, gate: str = "") -> None:
    """Append ``lines`` real log lines to ``path``, about ``rate`` per second.

    With ``gate``, write half of them, then wait for the file ``gate`` to exist before
    writing the other half (so a test can make writers write during an outage).
    """
    source = REAL_LOG.read_bytes().splitlines(keepends=True)
    written = 0
    step = max(1, int(rate / 20))
    with open(path, "ab", buffering=0) as fh:
        while written < lines:
            if gate and written >= lines // 2:
                while not Path(gate).exists():
                    time.sleep(0.05)
                gate = ""
            n = min(step, lines - written)
            fh.write(b"".join(source[(written + i) % len(source)] for i in range(n)))
            written += n
            time.sleep(0.05)


def counts(db: str) -> dict[str, int]:
    """Lines counted per host so far by the collector writing ``db``."""
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    except sqlite3.OperationalError:
        return {}
    try:
        return dict(conn.execute("SELECT host, lines FROM counts").fetchall())
    except sqlite3.OperationalError:
        return {}
    finally:
        conn.close()


def collector(config_json: str, db: str) -> None:
    """Run a receiver + the counting collector until SIGTERM."""
    from omphalos.config import option
    from omphalos.messages import Batch
    from omphalos.pipeline import Pipeline
    from omphalos.plugin import CollectorPlugin
    from omphalos.registry import Registry

    @dataclass(frozen=True)
    class CountingConfig:
        """Options of the counting collector."""

        db: str = option("", "SQLite file holding the counts and applied offsets.")

    class CountingCollector(CollectorPlugin):
        """Durable per-host line counts (test collector)."""

        name = "counting"
        description = "Durable per-host line counts (test collector)"
        Config: ClassVar[type] = CountingConfig

        def setup(self) -> None:
            self.db = sqlite3.connect(self.config.db, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("CREATE TABLE IF NOT EXISTS counts (host TEXT PRIMARY KEY, "
                            "lines INTEGER)")
            self.db.execute("CREATE TABLE IF NOT EXISTS applied (file_id TEXT PRIMARY KEY, "
                            "end_offset INTEGER)")
            for file_id, end in self.db.execute("SELECT file_id, end_offset FROM applied"):
                self._applied[file_id] = end

        def apply(self, batch: Batch) -> None:
            with self.db:
                self.db.execute("BEGIN")
                self.db.execute("INSERT INTO counts VALUES (?, ?) ON CONFLICT (host) DO "
                                "UPDATE SET lines = lines + excluded.lines",
                                (batch.source.host, batch.lines))
                self.db.execute("INSERT INTO applied VALUES (?, ?) ON CONFLICT (file_id) DO "
                                "UPDATE SET end_offset = excluded.end_offset",
                                (batch.source.file_id, batch.end))

        def teardown(self) -> None:
            self.db.close()

    registry = Registry.discover()
    registry.add(CountingCollector)
    config: dict[str, Any] = json.loads(config_json)
    config["collector:counting"] = {"db": db}
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    pipeline = Pipeline.from_config(config, registry=registry).start()
    print("ready", flush=True)
    try:
        while not stop.wait(0.2):
            pass
        status = pipeline.status()["actors"]
        print(json.dumps({k: v.get("counters", {}) for k, v in status.items()}), flush=True)
    finally:
        pipeline.stop()


if __name__ == "__main__":
    if sys.argv[1] == "writer":
        writer(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), *sys.argv[5:6])
    elif sys.argv[1] == "collector":
        collector(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit(f"unknown role {sys.argv[1]!r}")
