"""A little cluster of real processes on this machine: writers, monitors, one collector."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.conftest import wait_for

from .procs import counts

PROCS = Path(__file__).resolve().parent / "procs.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ini(sections: dict[str, dict[str, Any]]) -> str:
    out = []
    for name, values in sections.items():
        out.append(f"[{name}]")
        out.extend(f"{k} = {v}" for k, v in values.items())
        out.append("")
    return "\n".join(out)


class Cluster:
    """Starts and always stops the processes of one test."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.procs: list[subprocess.Popen[bytes]] = []
        self.collector: subprocess.Popen[bytes] | None = None
        self.db = str(tmp / "counts.sqlite")
        self.logs: list[Path] = []
        self.monitors: dict[str, subprocess.Popen[bytes]] = {}
        self.env = dict(os.environ, PYTHONUNBUFFERED="1")

    def _start(self, args: list[str], log: str) -> subprocess.Popen[bytes]:
        out = open(self.tmp / log, "ab")  # the child keeps its own copy
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=self.env,
                                cwd=self.tmp)
        out.close()
        self.procs.append(proc)
        return proc

    def start_collector(self, transport: dict[str, dict[str, Any]]) -> None:
        self.collector_config = transport
        self.collector = self._start([sys.executable, str(PROCS), "collector",
                                      json.dumps(transport), self.db], "collector.log")
        wait_for(lambda: b"ready" in (self.tmp / "collector.log").read_bytes()
                 or self.collector is None or self.collector.poll() is not None, 30)
        assert self.collector.poll() is None, self.log("collector.log")

    def kill_collector(self) -> None:
        assert self.collector is not None
        self.collector.send_signal(signal.SIGKILL)
        self.collector.wait(10)

    def stop_collector(self) -> str:
        assert self.collector is not None
        self.collector.send_signal(signal.SIGTERM)
        self.collector.wait(30)
        return self.log("collector.log")

    def start_monitor(self, host: str, sections: dict[str, dict[str, Any]]) -> Path:
        """``omphalos run -c`` on a config with [omphalos] host = ``host``; its log file."""
        home = self.tmp / host
        home.mkdir(exist_ok=True)
        logfile = home / "access.log"
        logfile.touch()
        config = {"omphalos": {"host": host, "state_dir": home / "state"},
                  "monitor:web": {"plugin": "file", "paths": logfile,
                                  "poll_interval_secs": 0.1, "read_bytes": 65536},
                  **sections}
        (home / "monitor.conf").write_text(ini(config))
        self.restart_monitor(host)
        return logfile

    def restart_monitor(self, host: str) -> None:
        """Start (again) the monitor process of ``host``, from its config file."""
        self.monitors[host] = self._start(
            ["omphalos", "run", "-c", str(self.tmp / host / "monitor.conf")], f"{host}.log")

    def kill_monitor(self, host: str) -> None:
        proc = self.monitors[host]
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    @property
    def gate(self) -> Path:
        """Writers write their second half once this file exists (see procs.writer)."""
        return self.tmp / "second-half"

    def start_writer(self, path: Path, lines: int, rate: float) -> subprocess.Popen[bytes]:
        self.logs.append(path)
        return self._start([sys.executable, str(PROCS), "writer", str(path), str(lines),
                            str(rate), str(self.gate)], "writers.log")

    def lines_written(self) -> int:
        return sum(p.read_bytes().count(b"\n") for p in self.logs)

    def counts(self) -> dict[str, int]:
        return counts(self.db)

    def wait_counts(self, expected: dict[str, int], timeout: float) -> None:
        def done() -> bool:
            got = self.counts()
            assert all(got.get(h, 0) <= n for h, n in expected.items()), (got, expected)
            return got == expected

        try:
            wait_for(done, timeout, 0.2)
        except AssertionError:
            raise AssertionError(f"counts {self.counts()} != {expected}\n"
                                 f"{self.log('collector.log')[-3000:]}") from None

    def log(self, name: str) -> str:
        path = self.tmp / name
        return path.read_text(errors="replace") if path.exists() else ""

    def stop_all(self) -> None:
        """Writers and monitors first (they finish what is in flight), the collector last."""
        collectors = [p for p in self.procs if p.args[2:3] == ["collector"]]
        others = [p for p in self.procs if p not in collectors]
        for group in (others, collectors):
            self._stop(group)

    def _stop(self, procs: list[subprocess.Popen[bytes]]) -> None:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
