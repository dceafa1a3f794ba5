"""Property tests for the W3C and JSON parsers: what a server writes parses back the same."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omphalos.lib.parsers.json_format import JsonFormat
from omphalos.lib.parsers.w3c_format import W3CStream
from tests.parsers.renderers import Sample
from tests.parsers.test_roundtrip import samples


def _utc(s: Sample) -> tuple[str, str]:
    from datetime import UTC, datetime

    t = datetime.fromtimestamp(s.time, UTC)
    return t.strftime("%Y-%m-%d"), t.strftime("%H:%M:%S")


def _dash(value: Any) -> str:
    return "-" if value is None else str(value)


#: W3C field -> (record fields it carries, what IIS writes).
W3C_FIELDS: dict[str, tuple[tuple[str, ...], Any]] = {
    "c-ip": (("client",), lambda s: s.client),
    "cs-username": (("user",), lambda s: _dash(s.user)),
    "cs-method": (("method",), lambda s: s.method),
    "cs-uri-stem": (("path",), lambda s: s.path),
    "cs-uri-query": (("query",), lambda s: _dash(s.query)),
    "sc-status": (("status",), lambda s: str(s.status)),
    "sc-bytes": (("bytes",), lambda s: str(s.bytes)),
    "time-taken": (("duration",), lambda s: str(s.duration_ms)),
    "cs-version": (("protocol",), lambda s: s.protocol),
    "cs(User-Agent)": (("agent",), lambda s: _dash(s.agent and s.agent.replace(" ", "+"))),
    "s-ip": ((), lambda s: "10.0.0.1"),
    "s-port": ((), lambda s: "443"),
}
NO_PLUS = st.text(st.characters(whitelist_categories=("L", "N", "P", "S"), max_codepoint=0x2FF,
                                blacklist_characters='"+'), min_size=1, max_size=20).map(
    lambda t: t.replace("-", "x"))


@pytest.mark.timeout(120)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fields=st.lists(st.sampled_from(sorted(W3C_FIELDS)), min_size=1, unique=True),
       with_date=st.booleans(),
       batch=st.lists(samples, min_size=1, max_size=4),
       agents=st.lists(st.none() | st.lists(NO_PLUS, min_size=1, max_size=3).map(" ".join),
                       min_size=4, max_size=4))
def test_w3c_field_lists_round_trip(fields: list[str], with_date: bool, batch: list[Sample],
                                    agents: list[str | None]) -> None:
    batch = [Sample(**{**s.__dict__, "agent": a}) for s, a in zip(batch, agents)]
    names = (["date", "time"] if with_date else ["time"]) + fields
    day = _utc(batch[0])[0]
    text = f"#Version: 1.0\n#Date: {day} 00:00:00\n#Fields: {' '.join(names)}\n"
    for s in batch:
        date, clock = _utc(s)
        values = ([date, clock] if with_date else [clock]) + \
            [W3C_FIELDS[f][1](s) for f in fields]
        text += " ".join(values) + "\n"
    columns, lines, bad, _ = W3CStream().parse(text.encode(), 0)
    assert lines == len(batch) + 3 and not bad, bad[:1]
    carried = {f for name in fields for f in W3C_FIELDS[name][0]}
    for s, record in zip(batch, columns.rows()):
        if with_date or _utc(s)[0] == day:  # without a date field: the #Date's day
            assert record.time == float(s.time)
        assert record.client == (s.client if "client" in carried else "")
        assert record.user == (s.user if "user" in carried else None)
        assert record.method == (s.method if "method" in carried else None)
        assert record.path == (s.path if "path" in carried else "")
        assert record.query == (s.query if "query" in carried else None)
        assert record.status == (s.status if "status" in carried else 0)
        assert record.bytes == (s.bytes if "bytes" in carried else 0)
        assert record.protocol == (s.protocol if "protocol" in carried else None)
        assert record.agent == (s.agent if "agent" in carried else None)
        if "duration" in carried:
            assert record.duration == pytest.approx(s.duration_ms / 1000, abs=1e-9)
        extra = {k: v for k, v in zip(["s-ip", "s-port"], ["10.0.0.1", "443"]) if k in fields}
        assert (record.extra or {}) == extra


#: Record field -> the JSON keys servers commonly use for it (default mapping).
JSON_KEYS = {
    "time": ["time", "@timestamp", "msec", "time_iso8601"], "client": ["remote_addr", "client_ip"],
    "user": ["remote_user"], "method": ["request_method", "method"],
    "uri": ["request_uri", "uri"], "protocol": ["server_protocol"],
    "status": ["status", "status_code"], "bytes": ["body_bytes_sent", "bytes"],
    "referer": ["http_referer", "referer"], "agent": ["http_user_agent", "user_agent"],
    "duration": ["request_time", "duration"],
}


@pytest.mark.timeout(120)
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=st.lists(samples, min_size=1, max_size=5), data=st.data())
def test_json_lines_round_trip(batch: list[Sample], data: st.DataObject) -> None:
    keys = {field: data.draw(st.sampled_from(choices)) for field, choices in JSON_KEYS.items()}
    as_text = data.draw(st.booleans())
    lines = []
    for s in batch:
        value = {
            "time": s.time if keys["time"] in ("msec", "time") else
            f"{_utc(s)[0]}T{_utc(s)[1]}Z",
            "client": s.client, "user": s.user, "method": s.method,
            "uri": s.path + (f"?{s.query}" if s.query is not None else ""),
            "protocol": s.protocol, "status": str(s.status) if as_text else s.status,
            "bytes": s.bytes, "referer": s.referer, "agent": s.agent,
            "duration": f"{s.duration_ms / 1000:.3f}",
        }
        lines.append(json.dumps({keys[k]: v for k, v in value.items()}) + "\n")
    columns, n, bad, _ = JsonFormat().parse("".join(lines).encode(), 0)
    assert n == len(batch) and not bad
    for s, r in zip(batch, columns.rows()):
        assert (r.time, r.client, r.user, r.method, r.path, r.query, r.protocol, r.status,
                r.bytes, r.referer, r.agent) == (
            float(s.time), s.client, s.user, s.method, s.path, s.query, s.protocol, s.status,
            s.bytes, s.referer, s.agent)
        assert r.duration == pytest.approx(s.duration_ms / 1000)
