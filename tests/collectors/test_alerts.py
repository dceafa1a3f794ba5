"""Each alert rule fires on a crafted stream, resolves when the stream recovers, and can be
cleared by hand (one path, or everything)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from omphalos.plugins.collectors.window import WindowStore

from omphalos.lib.collectors.alerts import AlertState

from .helpers import columns, store

T0 = 1_800_000_000.0
QUIET = {"error_rate_pct": 0.0, "path_error_rate_pct": 0.0, "spike_factor": 0.0,
         "drop_ratio": 0.0, "p95_threshold_secs": 0.0, "silent_host_secs": 0.0}


class Stream:
    """Feeds seconds of traffic into a store and evaluates the rules after each second."""

    def __init__(self, **rules: Any) -> None:
        self.store: WindowStore = store(windows=["1m/1s", "10m/1m"], alert_window="1m",
                                        baseline_window="10m", min_requests=10,
                                        **{**QUIET, **rules})
        self.alerts = AlertState(logging.getLogger("test.alerts"))
        self.t = T0

    def run(self, seconds: int, rate: int, errors: int = 0, path: str = "/",
            duration: float | None = None, host: str = "web1",
            others: tuple[str, ...] = ()) -> set[str]:
        for _ in range(seconds):
            times = [self.t + i / rate for i in range(rate)]
            status = [500] * errors + [200] * (rate - errors)
            durations = [duration] * rate if duration is not None else None
            self.store.add(columns(times, [path] * rate, status, durations), host)
            for other in others:
                self.store.add(columns(times[:1]), other)
            self.t += 1
            self.alerts.update(self.store.head(), self.store.conditions())
        return set(self.alerts.firing)

    def events(self) -> list[tuple[str, str]]:
        return [(e["event"], e["id"]) for e in self.alerts.history]


def test_site_error_rate_fires_and_resolves() -> None:
    s = Stream(error_rate_pct=5.0)
    assert s.run(60, rate=10) == set()
    assert s.run(30, rate=10, errors=3) == {"error_rate"}
    firing = s.alerts.answer()["firing"][0]
    assert firing["scope"] == "site" and firing["value"] > 5.0 and firing["threshold"] == 5.0
    assert s.run(70, rate=10) == set()
    assert s.events() == [("fired", "error_rate"), ("resolved", "error_rate")]


def test_path_error_rate_clear_one_path_and_rearm() -> None:
    s = Stream(path_error_rate_pct=20.0)
    s.run(30, rate=10, path="/ok")
    assert s.run(20, rate=10, errors=5, path="/api") == {"path_error_rate:/api"}
    assert s.alerts.clear(s.store.head(), path="/other") == 0
    assert s.alerts.clear(s.store.head(), path="/api") == 1
    # still failing, but cleared by hand: it stays quiet until the path recovers
    assert s.run(10, rate=10, errors=5, path="/api") == set()
    s.run(70, rate=10, path="/api")  # recovers: the alert is re-armed
    assert s.run(40, rate=10, errors=5, path="/api") == {"path_error_rate:/api"}
    assert s.events() == [("fired", "path_error_rate:/api"), ("cleared", "path_error_rate:/api"),
                          ("fired", "path_error_rate:/api")]


def test_rate_spike_and_drop_against_the_baseline() -> None:
    s = Stream(spike_factor=3.0, drop_ratio=0.2, min_baseline_rate=1.0)
    assert s.run(600, rate=10) == set()
    assert "rate_spike" in s.run(60, rate=60)
    assert s.run(120, rate=10) == set()
    assert "rate_drop" in s.run(60, rate=1)
    assert s.run(120, rate=10) == set()
    assert s.events() == [("fired", "rate_spike"), ("resolved", "rate_spike"),
                          ("fired", "rate_drop"), ("resolved", "rate_drop")]


def test_p95_duration_above_threshold() -> None:
    s = Stream(p95_threshold_secs=1.0)
    assert s.run(60, rate=10, duration=0.1) == set()
    assert s.run(60, rate=10, duration=2.5) == {"p95_duration"}
    assert s.alerts.firing["p95_duration"]["value"] == pytest.approx(2.5, rel=0.01)
    assert s.run(61, rate=10, duration=0.1) == set()


def test_silent_host_and_clear_everything() -> None:
    s = Stream(silent_host_secs=30.0, error_rate_pct=5.0)
    s.run(10, rate=10, others=("web2",))
    assert s.run(31, rate=10, errors=5) == {"silent_host:web2", "error_rate"}
    row = s.alerts.firing["silent_host:web2"]
    assert row["scope"] == "host" and row["host"] == "web2"
    hosts = {r["host"]: r for r in s.store.hosts("1m")["rows"]}
    assert hosts["web2"]["silent"] and not hosts["web1"]["silent"]
    assert s.alerts.clear(s.store.head(), everything=True) == 2
    assert s.alerts.firing == {}
    assert s.run(5, rate=10, others=("web2",)) == set()  # web2 is back: re-armed, quiet
    assert [e for e, _ in s.events()] == ["fired", "fired", "cleared", "cleared"]
