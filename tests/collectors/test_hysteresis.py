"""Alert hysteresis: a 5xx share oscillating around its 5% threshold fires once and stays
firing (no flapping); it resolves only after staying under the resolve level (4%) for
``resolve_after_secs``, and the resolution's log line says so."""

from __future__ import annotations

import itertools
import logging
import math

import pytest

from omphalos.lib.collectors.alerts import AlertState

from .helpers import columns, store

T0 = 1_800_000_000.0
QUIET = {"path_error_rate_pct": 0.0, "spike_factor": 0.0, "drop_ratio": 0.0,
         "p95_threshold_secs": 0.0, "silent_host_secs": 0.0}


def feed(s, alerts, t: float, errors_per_1000: int) -> float:  # type: ignore[no-untyped-def]
    """One second of 1000 requests with ``errors_per_1000`` 5xx; rules evaluated after."""
    times = [t + i / 1000 for i in range(1000)]
    status = [503] * errors_per_1000 + [200] * (1000 - errors_per_1000)
    s.add(columns(times, ["/"] * 1000, status), "web1")
    alerts.update(s.head(), s.conditions())
    return t + 1


def test_share_oscillating_around_the_threshold_fires_once(
        caplog: pytest.LogCaptureFixture) -> None:
    s = store(windows=["1m/1s"], alert_window="1m", baseline_window="1m", min_requests=10,
              error_rate_pct=5.0, resolve_ratio=0.8, **QUIET)
    alerts = AlertState(logging.getLogger("test.hysteresis"), fire_after_secs=0.0,
                        resolve_after_secs=30.0)
    t = T0
    for _ in range(60):  # a calm minute
        t = feed(s, alerts, t, 20)
    assert alerts.firing == {}
    # 6 minutes of a 1m share swinging between about 4.8% and 5.8% (a 2-minute wave)
    shares = []
    for second in range(360):
        t = feed(s, alerts, t, round(53 + 7.8 * math.sin(2 * math.pi * second / 120)))
        assert set(alerts.firing) == ({"error_rate"} if alerts.history else set())
        shares.append(100.0 * sum(b.status.get(503, 0) for _, b in s.ring("1m").window(
            s.head())) / sum(b.requests for _, b in s.ring("1m").window(s.head())))
    assert [e["event"] for e in alerts.history] == ["fired"]  # once, no flapping
    crossings = sum(1 for a, b in itertools.pairwise(shares) if (a > 5.0) != (b > 5.0))
    assert crossings >= 5  # it really went back and forth across the threshold
    assert 4.5 < min(shares[60:]) < 5.0 < max(shares[60:]) < 6.0
    row = alerts.firing["error_rate"]
    assert (row["threshold"], row["resolve"]) == (5.0, 4.0)
    # back to 4.5%: under the threshold, above the resolve level: still firing
    for _ in range(90):
        t = feed(s, alerts, t, 45)
    assert set(alerts.firing) == {"error_rate"}
    # 2%: under the resolve level, for 30 s and not before
    caplog.set_level(logging.WARNING, logger="test.hysteresis")
    calm_from = None
    while alerts.firing:
        t = feed(s, alerts, t, 20)
        if calm_from is None and alerts.firing["error_rate"]["calm_since"] is not None:
            calm_from = alerts.firing["error_rate"]["calm_since"]
        assert t - T0 < 600
    assert calm_from is not None
    resolved = alerts.history[-1]
    assert resolved["event"] == "resolved"
    assert resolved["time"] - calm_from == 30.0
    assert resolved["message"] == "back below 4 for 30s (fires above 5; worst 5.8)"
    assert caplog.messages[-1] == ("alert resolved: error_rate: back below 4 for 30s "
                                   "(fires above 5; worst 5.8)")
    assert [e["event"] for e in alerts.history] == ["fired", "resolved"]


def test_fire_after_needs_the_condition_to_hold() -> None:
    """With fire_after_secs, a short spike past the threshold does not fire."""
    s = store(windows=["1m/1s"], alert_window="1m", baseline_window="1m", min_requests=10,
              error_rate_pct=5.0, **QUIET)
    alerts = AlertState(logging.getLogger("test.hysteresis"), fire_after_secs=10.0)
    t = T0
    for _ in range(60):
        t = feed(s, alerts, t, 0)
    t = feed(s, alerts, t, 1000)  # one bad second: 1000/61000 = 1.6%, then more
    for _ in range(4):
        t = feed(s, alerts, t, 1000)  # 5 bad seconds: 8%, pending for 4 s only
    assert alerts.firing == {} and "error_rate" in alerts.pending
    for _ in range(10):
        t = feed(s, alerts, t, 1000)
    assert set(alerts.firing) == {"error_rate"}
