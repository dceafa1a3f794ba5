"""Every new dimension counted on the real log, against counts made here from the file.

The counts come from ``omphalos report --json`` (the replay path: file monitor, parser,
summary collector); the truth is made here line by line with a regular expression over the
raw file, and the user-agent parser and crawler list called directly (no cache, no
columns). Visitors must be within three standard errors of the HyperLogLog.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import ua_parser
from crawlerdetect import CrawlerDetect

from omphalos.counting import aggregate
from omphalos.derived import STATIC_EXTENSIONS
from omphalos.lib.collectors.aggregate import Breakdown
from omphalos.lib.hll import HyperLogLog, KeyedUniques, hash64, standard_error
from omphalos.records import Columns
from tests.conftest import REAL_LOG

LINE = re.compile(r'^(\S+) \S+ (\S+) \[(\d\d)/(\w{3})/(\d{4}):(\d\d):\d\d:\d\d [^\]]+\] '
                  r'"(\S+) (\S+) (\S+)" (\d{3}) (\S+) "([^"]*)" "([^"]*)"?$')
# (one line of the file lacks the agent's closing quote)
MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul",
                                      "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}


def unescape(text: str) -> str:
    """Apache's ``\\xNN`` escapes as the bytes they stand for, read as UTF-8 (what the
    parsers document for escaped header values)."""
    raw = re.sub(rb"\\x([0-9a-fA-F]{2})", lambda m: bytes([int(m[1], 16)]),
                 text.encode("utf-8"))
    return raw.decode("utf-8", "replace")


def truth() -> dict[str, Counter[str]]:
    """Each dimension's counts, made from the raw lines."""
    out: dict[str, Counter[str]] = {d: Counter() for d in (
        "browser", "os", "device", "crawler", "visitors", "protocol", "referring_site",
        "remote_user", "not_found", "static", "hour")}
    detect = CrawlerDetect()
    unique: dict[str, set[tuple[str, str]]] = {}
    for raw in REAL_LOG.read_text(encoding="utf-8").splitlines():
        m = LINE.match(raw)
        assert m, raw
        ip, user, day, mon, year, hour, _method, target, proto, status, _size, ref, agent = \
            m.groups()
        ref, agent = unescape(ref), unescape(agent)
        date = f"{year}-{MONTHS[mon]:02d}-{day}"
        path = target.split("?", 1)[0]
        if agent in ("", "-"):
            browser = system = device = "-"
            crawler = "no"
        else:
            parsed = ua_parser.parse(agent)
            browser = parsed.user_agent.family if parsed.user_agent else "Other"
            system = parsed.os.family if parsed.os else "Other"
            device = parsed.device.family if parsed.device else "Other"
            crawler = "no"
            if detect.isCrawler(agent):
                crawler = browser if browser != "Other" else str(detect.getMatches())
            elif device == "Spider":
                crawler = browser
        for dim, key in (("browser", browser), ("os", system), ("device", device),
                         ("crawler", crawler), ("visitors", date), ("protocol", proto),
                         ("remote_user", user), ("hour", hour),
                         ("referring_site", urlsplit(ref).hostname or "-"
                          if ref not in ("", "-") else "-")):
            out[dim][key] += 1
        if status == "404":
            out["not_found"][path] += 1
        if path.rsplit("/", 1)[-1].lower().endswith(STATIC_EXTENSIONS):
            out["static"][path] += 1
        unique.setdefault(date, set()).add((ip, agent))
    out["unique"] = Counter({d: len(v) for d, v in unique.items()})
    return out


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "omphalos.cli.main", "report", str(REAL_LOG),
                           "--json", "--top", "1000"], capture_output=True, text=True,
                          timeout=300, check=True)
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def test_every_new_dimension_matches_the_count_made_from_the_file(report: dict[str, Any]
                                                                  ) -> None:
    expected = truth()
    panels = {p["dimension"]: p for p in report["panels"]}
    for dim in ("browser", "os", "device", "crawler", "visitors", "protocol",
                "referring_site", "remote_user", "not_found", "static", "hour"):
        panel = panels[dim]
        assert panel["error_bound"] == 0, dim  # fewer keys than the tables keep: exact
        got = {r["key"]: r["hits"] for r in panel["rows"]}
        assert got == dict(expected[dim]), dim
    assert sum(expected["crawler"].values()) - expected["crawler"]["no"] == 2584
    assert len(expected["not_found"]) == 66 and len(expected["static"]) == 505


def test_unique_visitors_within_the_hyperloglog_error(report: dict[str, Any]) -> None:
    exact = truth()["unique"]
    rows = {r["key"]: r["visitors"] for r in
            next(p for p in report["panels"] if p["dimension"] == "visitors")["rows"]}
    assert set(rows) == set(exact)
    err = standard_error()
    for day, n in exact.items():
        assert abs(rows[day] - n) <= 3 * err * n, (day, rows[day], n)
    assert report["general"]["unique_visitors"] == sum(rows.values())


def test_hyperloglog_merges_to_the_union_within_its_error() -> None:
    a, b, both = HyperLogLog(), HyperLogLog(), HyperLogLog()
    first = [hash64(f"a{i}") for i in range(60_000)]
    second = [hash64(f"a{i}") for i in range(30_000, 100_000)]
    a.add_hashes(first)
    b.add_hashes(second)
    both.add_hashes(first + second)
    a.merge(b)
    assert a.registers == both.registers  # merging is the union, register for register
    assert abs(a.estimate() - 100_000) <= 3 * standard_error() * 100_000
    keyed, other = KeyedUniques(max_keys=2), KeyedUniques(max_keys=2)
    keyed.add({"2015-05-17": first[:10]})
    other.add({"2015-05-17": first[5:20], "2015-05-18": first[:3], "2015-05-19": first[:4]})
    keyed.merge(other)
    assert sorted(keyed.sketches) == ["2015-05-18", "2015-05-19"]  # the oldest day went
    restored = KeyedUniques()
    restored.restore_state(keyed.to_state())
    assert restored.estimate("2015-05-19") == 4 and restored.estimate("2015-05-18") == 3
    with pytest.raises(ValueError, match="precision"):
        HyperLogLog(12).merge(HyperLogLog(14))


def test_format_fields_from_extra_and_durations_per_row() -> None:
    """vhost, tls, mime and cache come from ``extra`` where a format logs them; rows of
    paths carry min, avg and max duration next to p95."""
    cols = Columns(time=[1431857100.0, 1431857101.0, 1431857102.0, 1431857160.0],
                   client=["10.0.0.1", "10.0.0.2", "10.0.0.1", "10.0.0.3"],
                   path=["/a", "/a", "/b.css", "/a"], status=[200, 404, 200, 200],
                   bytes=[10, 20, 30, 40], offset=[0, 1, 2, 3],
                   duration=[0.1, 0.2, 0.4, 0.8],
                   extra=[{"vhost": "a.example", "ssl_protocol": "TLSv1.3",
                           "ssl_cipher": "TLS_AES_128_GCM_SHA256",
                           "content_type": "text/html", "cache_status": "HIT"},
                          {"vhost": "b.example", "content_type": "text/html",
                           "cache_status": "MISS"},
                          {"vhost": "a.example", "ssl_protocol": "TLSv1.2",
                           "content_type": "text/css"},
                          None])
    dims = ("path", "vhost", "tls", "mime", "cache", "not_found", "static")
    b = Breakdown(100, dims)
    b.add(aggregate(cols, "web1", dims))

    def hits(dim: str) -> dict[str, int]:
        return {r["key"]: r["hits"] for r in b.top(dim, 10)[0]}
    assert hits("vhost") == {"a.example": 2, "b.example": 1, "-": 1}
    assert hits("tls") == {"TLSv1.3 TLS_AES_128_GCM_SHA256": 1, "TLSv1.2": 1, "-": 2}
    assert hits("mime") == {"text/html": 2, "text/css": 1, "-": 1}
    assert hits("cache") == {"HIT": 1, "MISS": 1, "-": 2}
    assert hits("not_found") == {"/a": 1}
    assert hits("static") == {"/b.css": 1}
    row = b.top("path", 1)[0][0]
    assert row["key"] == "/a" and row["hits"] == 3
    # durations 0.1, 0.2, 0.8: each figure within the sketch's 1%
    assert row["min"] == pytest.approx(0.1, rel=0.01)
    assert row["max"] == pytest.approx(0.8, rel=0.01)
    assert row["avg"] == pytest.approx((0.1 + 0.2 + 0.8) / 3, rel=0.01)
    # the sketch ranks q * (n - 1) = 1.9 down to the second of three values
    assert row["p95"] == pytest.approx(0.2, rel=0.01)


def test_a_format_without_extra_leaves_those_dimensions_out(tmp_path: Path) -> None:
    cols = Columns(time=[1.0], client=["c"], path=["/"], status=[200], bytes=[1],
                   offset=[0])
    agg = aggregate(cols, "h", ("vhost", "tls", "browser", "protocol", "hour"))
    assert sorted(agg.dims) == ["hour"]


def test_counted_batches_carry_the_visitors_across_the_wire() -> None:
    """A sender that counts (``workers = N``) ships each day's visitor hashes: the
    receiver's sketch is the one it would have built from the records."""
    import msgpack

    from omphalos.counts import counts_from_wire, counts_to_wire
    from omphalos.query import DIMENSIONS
    from tests.collectors.test_real_log import real_batches

    direct, shipped = Breakdown(2000, DIMENSIONS), Breakdown(2000, DIMENSIONS)
    for cols in real_batches():
        agg = aggregate(cols, "vm", DIMENSIONS)
        direct.add(agg, "vm")
        wire = msgpack.unpackb(msgpack.packb(counts_to_wire(agg)), strict_map_key=False)
        shipped.add(counts_from_wire(wire), "vm")
    assert shipped.visitors.sketches.keys() == direct.visitors.sketches.keys()
    for day, sketch in direct.visitors.sketches.items():
        assert shipped.visitors.sketches[day].registers == sketch.registers
    assert shipped.top("browser", 5) == direct.top("browser", 5)
    body = counts_to_wire(aggregate(real_batches()[0], "vm", ("visitors",)))
    body["v"] = {"2015-05-17": [-1]}
    with pytest.raises(TypeError, match="64-bit hashes"):
        counts_from_wire(body)
