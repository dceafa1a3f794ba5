"""The ``elasticsearch`` collector against a REAL OpenSearch 2.19 node (``tests/opensearch``),
through ``opensearch-py``: the mapping, the template API, bulk answers and aggregation shapes
are the engine's own. The node is started once per test run (``conftest.opensearch``); the
tests needing faults a real node cannot produce on demand are in ``test_elasticsearch.py``.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from omphalos.plugins.collectors.elasticsearch import ElasticsearchCollector, ElasticsearchConfig
from omphalos.plugins.collectors.elasticsearch.client import Auth, detect
from omphalos.plugins.collectors.elasticsearch.ecs import daily_index, doc_id

from omphalos import Pipeline
from omphalos.derived import DERIVED_DIMENSIONS
from omphalos.lib.hll import hash64, seeded_hashes, standard_error
from omphalos.messages import Deliver, Query
from omphalos.query import BASE_DIMENSIONS, DIMENSIONS, STATUS_CLASSES
from tests.conftest import REAL_LOG, wait_for
from tests.opensearch.node import OpenSearchNode
from tests.report.test_dimensions import truth

from .helpers import Replies, batch, context, free_port

ROOT = Path(__file__).resolve().parents[2]

pytest.importorskip("opensearchpy")


class Target:
    """A unique index prefix (and template name) on the node, deleted afterwards."""

    def __init__(self, node: OpenSearchNode) -> None:
        self.node = node
        self.url = node.url
        self.prefix = f"omphalos-t{uuid.uuid4().hex[:8]}"

    def count(self, pattern: str | None = None) -> int:
        pattern = pattern or f"{self.prefix}-*"
        self.node.request("POST", f"/{pattern}/_refresh")
        code, answer = self.node.request("GET", f"/{pattern}/_count")
        assert code == 200, answer
        return int(answer["count"])

    def count_when_ready(self) -> int:
        """The count, or -1 while a shard is not started yet (a new index, a restarted node)."""
        try:
            return self.count()
        except (AssertionError, OSError):
            return -1

    def section(self, **extra: Any) -> dict[str, Any]:
        return {"plugin": "elasticsearch", "hosts": [self.url], "index_prefix": self.prefix,
                "template_name": self.prefix, "flush_interval_secs": 0.2, "replicas": 0,
                "retry_backoff_secs": 0.05, "max_backoff_secs": 0.5, **extra}

    def cleanup(self) -> None:
        if self.node.running:
            self.node.request("DELETE", f"/{self.prefix}-*")
            self.node.request("DELETE", f"/_data_stream/{self.prefix}*")
            self.node.request("DELETE", f"/_index_template/{self.prefix}")


@pytest.fixture
def target(running_node: OpenSearchNode) -> Iterator[Target]:
    t = Target(running_node)
    yield t
    t.cleanup()


def start_collector(tmp_path: Path, target: Target, **options: Any) -> Any:
    """The collector as a bare actor (no scheduler: batch_docs=1 sends each batch at once)."""
    config = ElasticsearchConfig(**{
        "hosts": (target.url,), "index_prefix": target.prefix, "template_name": target.prefix,
        "replicas": 0, "batch_docs": 1, "retry_backoff_secs": 0.05, "max_backoff_secs": 0.3,
        **options})
    return ElasticsearchCollector.start(context(tmp_path, "collector:es"), config)


def deliver(ref: Any, replies: Any, *batches: Any) -> None:
    """Send ``batches`` and wait until each one is applied (indexed, refused or spooled)."""
    before = replies.ask("n", timeout=5)
    for b in batches:
        ref.tell(Deliver(b, replies))
    wait_for(lambda: replies.ask("n", timeout=5) == before + len(batches), timeout=60)


# -- the cluster and the template ---------------------------------------------------------------
def test_the_node_is_detected_as_opensearch(target: Target) -> None:
    info = detect(Auth((target.url,)))
    assert (info.flavor, info.version, info.major) == ("opensearch", "2.19.6", 2)
    assert info.cluster_name == "omphalos-test"


@pytest.mark.timeout(120)
def test_template_installed_and_documents_mapped_by_it(tmp_path: Path, target: Target) -> None:
    replies = Replies.start()
    ref = start_collector(tmp_path, target)
    try:
        deliver(ref, replies, batch(1, 0, [1.7e9, 1.7e9 + 1], extra=[{"upstream": 5}, None],
                                    durations=[0.25, None]))
        status = ref.ask(Query("status"), timeout=10)
    finally:
        ref.stop(timeout=10)
        replies.stop()
    assert status["cluster"] == {"flavor": "opensearch", "version": "2.19.6",
                                 "client": status["cluster"]["client"]}
    assert status["cluster"]["client"].startswith("opensearchpy ")
    code, answer = target.node.request("GET", f"/_index_template/{target.prefix}")
    assert code == 200, answer
    [entry] = answer["index_templates"]
    template = entry["index_template"]
    assert entry["name"] == target.prefix
    assert template["index_patterns"] == [f"{target.prefix}-*"]
    assert template["priority"] == 200
    assert template["_meta"] == {"managed_by": "omphalos", "schema": "ecs"}
    assert template["template"]["settings"]["index"] == {"number_of_shards": "1",
                                                         "number_of_replicas": "0"}
    # the index the node created from the template, fed flat dotted ECS keys
    index = daily_index(target.prefix, 1.7e9)
    code, answer = target.node.request("GET", f"/{index}/_mapping")
    assert code == 200, answer
    props = answer[index]["mappings"]["properties"]
    assert props["@timestamp"] == {"type": "date"}
    assert props["url"]["properties"]["path"] == {"type": "keyword", "ignore_above": 2048}
    assert props["http"]["properties"]["response"]["properties"]["status_code"] == {
        "type": "long"}
    assert props["http"]["properties"]["response"]["properties"]["body"]["properties"][
        "bytes"] == {"type": "long"}
    assert props["event"]["properties"]["duration"] == {"type": "long"}
    assert props["source"]["properties"]["address"] == {"type": "keyword",
                                                        "ignore_above": 2048}
    # omphalos.extra is dynamic: its first value typed the field
    assert props["omphalos"]["properties"]["extra"]["properties"]["upstream"] == {
        "type": "long"}
    code, doc = target.node.request("GET", f"/{index}/_doc/{doc_id('web1', 'f1', 0)}")
    assert code == 200, doc
    assert doc["_source"] == {
        "@timestamp": "2023-11-14T22:13:20.000Z", "host.name": "web1",
        "log.file.path": "/var/log/access.log", "log.offset": 0, "omphalos.file_id": "f1",
        "source.address": "10.0.0.0", "url.path": "/p0", "http.response.status_code": 200,
        "http.response.body.bytes": 10, "event.kind": "event", "event.category": "web",
        "event.outcome": "success", "url.original": "/p0", "http.request.method": "GET",
        "http.version": "1.1", "event.duration": 250_000_000,
        "omphalos.extra": {"upstream": 5},
        # the derived dimensions (no agent, referrer or extension in this batch; a private
        # address has no country)
        "omphalos.day": "2023-11-14", "omphalos.hour": "22", "omphalos.protocol": "HTTP/1.1",
        "source.geo.country_iso_code": "-",
        "omphalos.visitor": f"{seeded_hashes(['10.0.0.0'], [hash64('2023-11-14|')])[0]:016x}"}
    assert props["source"]["properties"]["geo"]["properties"]["country_iso_code"] == {
        "type": "keyword", "ignore_above": 2048}


# -- bulk: idempotent ids, partial failures ------------------------------------------------------
@pytest.mark.timeout(120)
@pytest.mark.parametrize("mode", ["daily", "datastream"])
def test_the_same_batch_twice_gives_one_document_per_line(tmp_path: Path, target: Target,
                                                          mode: str) -> None:
    stream = f"{target.prefix}-stream"
    one = batch(1, 0, [1.7e9 + i for i in range(50)])
    replies = Replies.start()
    statuses = []
    try:
        for round_ in (1, 2):  # two collector instances: the second re-sends everything
            ref = start_collector(tmp_path / str(round_), target, index_mode=mode,
                                  data_stream=stream)
            try:
                deliver(ref, replies, one)
                statuses.append(ref.ask(Query("status"), timeout=10)["counters"])
            finally:
                ref.stop(timeout=10)
    finally:
        replies.stop()
    if mode == "daily":
        assert target.count() == 50
        assert statuses[1]["docs_indexed"] == 50  # overwritten: same ids
        code, doc = target.node.request(
            "GET", f"/{daily_index(target.prefix, 1.7e9)}/_doc/{doc_id('web1', 'f1', 0)}")
        assert code == 200 and doc["_version"] == 2
    else:
        assert target.count(stream) == 50
        assert statuses[1]["docs_existing"] == 50 and "docs_indexed" not in statuses[1]
        code, answer = target.node.request("GET", f"/_data_stream/{stream}")
        assert code == 200, answer
        assert [d["name"] for d in answer["data_streams"]] == [stream]


@pytest.mark.timeout(120)
def test_a_mapping_conflict_refuses_one_document_and_indexes_the_rest(
        tmp_path: Path, target: Target, caplog: pytest.LogCaptureFixture) -> None:
    replies = Replies.start()
    ref = start_collector(tmp_path, target)
    try:
        deliver(ref, replies, batch(1, 0, [1.6e9] * 3, extra=[{"upstream": 5}] * 3))
        deliver(ref, replies, batch(2, 300, [1.6e9] * 4,
                                    extra=[{"upstream": "abc"}, None, {"upstream": 7}, None]))
        status = ref.ask(Query("status"), timeout=10)
    finally:
        ref.stop(timeout=10)
        replies.stop()
    assert status["counters"]["docs_refused"] == 1
    assert status["counters"]["docs_indexed"] == 6
    assert status["refused_by_type"] == {"mapper_parsing_exception": 1}
    assert target.count() == 6
    [message] = [r.getMessage() for r in caplog.records if "refused for good" in r.getMessage()]
    assert "(400): mapper_parsing_exception: failed to parse field [omphalos.extra.upstream]" \
        in message


# -- the node going away and coming back ---------------------------------------------------------
def drained(pipeline: Pipeline) -> dict[str, Any] | None:
    """The collector's status once nothing waits in its buffer, queue or spool."""
    status: dict[str, Any] = pipeline.query("status", collector="es")
    if status["spool"]["items"] or status["pending_payloads"] or status["buffered_docs"]:
        return None
    return status


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_node_going_away_and_coming_back_loses_and_duplicates_nothing(
        tmp_path: Path, target: Target) -> None:
    """Half the log indexed; the node stopped (a real process exit); the other half spools
    until the monitor is held back; the node started again: everything drains, once
    (``docs_indexed`` counts every document the node accepted: 10,000 means none twice)."""
    lines = REAL_LOG.read_bytes().splitlines(keepends=True)
    log = tmp_path / "access.log"
    log.write_bytes(b"".join(lines[:5000]))
    pipeline = Pipeline.from_config({
        "omphalos": {"state_dir": str(tmp_path / "state")},
        "monitor:web": {"paths": [str(log)], "follow": True, "max_in_flight": 2,
                        "poll_interval_secs": 0.05},
        "collector:summary": {},
        "collector:es": target.section(max_retries=2, spool_max_bytes=600_000,
                                       batch_docs=200),
    })
    pipeline.start()
    node = target.node
    try:
        wait_for(lambda: target.count_when_ready() == 5000, timeout=60)
        node.stop()
        with log.open("ab") as out:
            out.write(b"".join(lines[5000:]))

        def backed_up() -> bool:
            status = pipeline.query("status", collector="es")
            monitor = pipeline._statuses("monitor")[0]
            return (status["counters"].get("spool_full_waits", 0) > 0
                    and status["spool"]["items"] > 0 and monitor.get("in_flight", 0) > 0)
        wait_for(backed_up, timeout=90)
        status = pipeline.query("status", collector="es")
        assert status["down"] and status["spool"]["bytes"] <= 600_000
        assert status["counters"]["docs_indexed"] == 5000
        node.start()
        status = wait_for(lambda: (s := drained(pipeline)) and target.count_when_ready()
                          == 10_000 and s, timeout=180)
        summary = pipeline.query("summary", collector="summary")
        answer = pipeline.query("summary", collector="es")
    finally:
        pipeline.stop()
    counters = status["counters"]
    assert counters["payloads_drained"] > 0
    assert counters["docs_indexed"] == 10_000 and "docs_refused" not in counters
    assert target.count() == 10_000 and summary["requests"] == 10_000
    for key in ("requests", "bytes", "status", "status_class", "hosts", "methods"):
        assert answer[key] == summary[key], key


@pytest.mark.timeout(120)
def test_the_spool_outlives_the_collector(tmp_path: Path, target: Target) -> None:
    """Spooled while no cluster answers (a closed port), the collector stopped; a new one on
    the same spool and the real node drains it."""
    spool = tmp_path / "spool"
    replies = Replies.start()
    try:
        first = start_collector(tmp_path / "a", target, spool_dir=str(spool), max_retries=1,
                                hosts=(f"http://127.0.0.1:{free_port()}",))
        try:
            deliver(first, replies, batch(1, 0, [1.7e9 + i for i in range(30)]))
            assert first.ask(Query("status"), timeout=5)["spool"]["items"] == 30  # on disk
        finally:
            first.stop(timeout=10)
        second = start_collector(tmp_path / "b", target, spool_dir=str(spool))
        try:
            wait_for(lambda: target.count_when_ready() == 30, timeout=60)
            status = wait_for(lambda: (s := second.ask(Query("status"), timeout=5))
                              ["spool"]["items"] == 0 and s)
        finally:
            second.stop(timeout=10)
    finally:
        replies.stop()
    assert status["counters"]["payloads_drained"] == 30
    assert target.count() == 30


# -- queries answered from aggregations, against the summary collector ----------------------------
@pytest.fixture(scope="module")
def indexed(opensearch: OpenSearchNode, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[tuple[Pipeline, dict[str, Any]]]:
    """The real log through ``summary`` and ``elasticsearch`` side by side (one pipeline)."""
    if not opensearch.running:
        opensearch.start()
    t = Target(opensearch)
    pipeline = Pipeline.from_config({
        "omphalos": {"state_dir": str(tmp_path_factory.mktemp("state"))},
        "monitor:web": {"paths": [str(REAL_LOG)], "follow": False},
        "collector:summary": {"dimensions": ",".join(DIMENSIONS)},
        "collector:es": t.section(),
    })
    pipeline.start()
    try:
        assert pipeline.wait_idle(120)
        wait_for(lambda: drained(pipeline), timeout=60)
        assert t.count() == 10_000
        yield pipeline, pipeline.query("summary", collector="summary", limit=1000)
    finally:
        pipeline.stop()
        t.cleanup()


def comparable(rows: list[dict[str, Any]], limit: int) -> tuple[list[int], dict[str, Any]]:
    """The hits column in order, and the rows above the last tie by key (their order within
    a tie is each engine's own)."""
    hits = [r["hits"] for r in rows]
    cut = hits[-1] if len(rows) == limit else -1
    return hits, {r["key"]: r for r in rows if r["hits"] > cut}


@pytest.mark.timeout(300)
def test_summary_answer_equals_the_summary_collectors(indexed: tuple[Pipeline, Any]) -> None:
    pipeline, summary = indexed
    answer = pipeline.query("summary", collector="es", limit=1000)
    assert answer["source"] == "elasticsearch"
    for key in ("requests", "lines", "unparsed", "bytes", "status", "status_class", "hosts",
                "methods", "first_time", "last_time", "rate", "bytes_rate"):
        assert answer[key] == summary[key], key
    assert answer["duration"] == {"p50": None, "p95": None, "p99": None, "mean": None}
    assert answer["error_bounds"] == {d: 0 for d in ("path", "client", "host", "agent",
                                                     "referer")}
    assert set(summary["error_bounds"].values()) == {0}
    ours = [{**r, "key": r["path"]} for r in answer["top_paths"]]
    theirs = [{**r, "key": r["path"]} for r in summary["top_paths"]]
    same_rows(ours, theirs, 1000, "top_paths")
    for key in ("paths", "top_clients", "top_hosts", "top_agents", "top_referers"):
        same_rows(answer[key], summary[key], 1000, key)


def same_rows(ours: list[dict[str, Any]], theirs: list[dict[str, Any]], limit: int,
              what: str) -> None:
    """Equal top lists, up to the order of the keys tied with the last row. Bytes are
    compared where the in-memory collector counts them (paths; elsewhere it answers None)."""
    hits, by_key = comparable(ours, limit)
    their_hits, their_by_key = comparable(theirs, limit)
    assert hits == their_hits, (what, [(r["key"], r["hits"]) for r in ours[:15]],
                                [(r["key"], r["hits"]) for r in theirs[:15]])
    assert by_key.keys() == their_by_key.keys(), what
    for key, row in by_key.items():
        other = their_by_key[key]
        if other.get("bytes", 0) is None:
            assert isinstance(row["bytes"], int)
            row = {**row, "bytes": None}
        assert row == other, (what, key)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("dimension", BASE_DIMENSIONS)
def test_top_answers_equal_the_summary_collectors(indexed: tuple[Pipeline, Any],
                                                  dimension: str) -> None:
    pipeline, _ = indexed
    # the in-memory collector counts bytes of some dimensions only (None elsewhere, and no
    # such sort)
    first = pipeline.query("top", collector="summary", dimension=dimension, window="all")
    with_bytes = first["rows"][0]["bytes"] is not None
    for sort in ("hits", "bytes", "errors", *STATUS_CLASSES):
        if sort == "bytes" and not with_bytes:
            continue
        params: dict[str, Any] = {"dimension": dimension, "sort": sort, "limit": 50,
                                  "window": "all"}
        ours = pipeline.query("top", collector="es", **params)
        theirs = pipeline.query("top", collector="summary", **params)
        assert theirs["error_bound"] == 0 and ours["error_bound"] == 0
        assert len(ours["rows"]) == len(theirs["rows"]), sort
        if sort in ("hits", "bytes", "errors"):
            column = [[r[sort] for r in x["rows"]] for x in (ours, theirs)]
        else:
            column = [[r["status"][sort] for r in x["rows"]] for x in (ours, theirs)]
        assert column[0] == column[1], sort
        by_key = {r["key"]: r for r in theirs["rows"]}
        for row in ours["rows"]:
            if row["key"] in by_key:  # keys tied at the end may differ
                other = by_key[row["key"]]
                assert isinstance(row["bytes"], int)
                assert {**row, "bytes": row["bytes"] if with_bytes else None} == other, (
                    sort, row["key"])


@pytest.mark.timeout(300)
def test_series_overview_hosts_and_drill_agree_with_the_summary_collector(
        indexed: tuple[Pipeline, Any]) -> None:
    pipeline, summary = indexed
    series = pipeline.query("series", collector="es", window="all")
    points = series["points"]
    assert sum(p["requests"] for p in points) == summary["requests"]
    assert sum(p["bytes"] for p in points) == summary["bytes"]
    for c in STATUS_CLASSES:
        assert sum(p[c] for p in points) == summary["status_class"].get(c, 0), c
    assert series["step"] == pytest.approx(
        max(1, -(-(summary["last_time"] + 1e-3 - summary["first_time"]) // 60)))
    assert points[0]["t"] <= summary["first_time"] < points[0]["t"] + series["step"]
    assert points[-1]["t"] <= summary["last_time"] < points[-1]["t"] + series["step"]
    until = (int(summary["first_time"] + 86400) // 600) * 600  # whole steps
    part = pipeline.query("series", collector="es", window="1h", until=until, step_secs=600)
    assert [p["t"] for p in part["points"]] == [until - 3600 + 600 * i for i in range(6)]

    overview = pipeline.query("overview", collector="es", window="all")
    assert (overview["requests"], overview["bytes"], overview["hosts"]) == (
        summary["requests"], summary["bytes"], len(summary["hosts"]))
    assert overview["status_class"] == {c: summary["status_class"].get(c, 0)
                                        for c in STATUS_CLASSES}
    assert len(overview["sparkline"]) == len(points)

    hosts = pipeline.query("hosts", collector="es", window="all")
    assert [(r["host"], r["requests"]) for r in hosts["rows"]] == list(summary["hosts"].items())
    assert hosts["rows"][0]["last_seen"] == summary["last_time"]

    top = pipeline.query("top", collector="summary", dimension="path", limit=3, window="all")
    for row in top["rows"]:
        drill = pipeline.query("drill", collector="es", path=row["key"], window="all")
        assert drill["requests"] == row["hits"]
        classes = {c: 0 for c in STATUS_CLASSES}
        for code, n in drill["status"].items():
            classes[f"{code[0]}xx"] += n
        assert classes == row["status"]
        assert sum(p["requests"] for p in drill["series"]) == row["hits"]
        assert sum(r["hits"] for r in drill["clients"]) <= row["hits"]


@pytest.mark.timeout(300)
@pytest.mark.parametrize("dimension", DERIVED_DIMENSIONS)
def test_derived_dimensions_equal_the_summary_collectors(indexed: tuple[Pipeline, Any],
                                                        dimension: str) -> None:
    """GoAccess's panels from the fields stored in each document: the same keys and counts
    as the summary collector; a format's missing fields (vhost, TLS, MIME, cache in a
    combined log) give no rows in either; visitors per day by the engine's cardinality
    aggregation, within the HyperLogLog's error of the exact count made from the file."""
    pipeline, _ = indexed
    for sort in ("hits", "errors", "4xx"):
        params: dict[str, Any] = {"dimension": dimension, "sort": sort, "limit": 50,
                                  "window": "all"}
        ours = pipeline.query("top", collector="es", **params)
        theirs = pipeline.query("top", collector="summary", **params)
        assert theirs["error_bound"] == 0 and ours["error_bound"] == 0
        if dimension in ("vhost", "tls", "mime", "cache"):
            assert ours["rows"] == theirs["rows"] == []
            continue
        assert theirs["rows"], dimension
        visitors = {r["key"]: r.pop("visitors") for r in ours["rows"] if "visitors" in r}
        their_visitors = {r["key"]: r.pop("visitors") for r in theirs["rows"]
                          if "visitors" in r}
        same_rows(ours["rows"], theirs["rows"], 50, f"{dimension} by {sort}")
        if dimension == "visitors":
            exact = truth()["unique"]
            assert visitors.keys() == their_visitors.keys() == exact.keys()
            for day, n in exact.items():
                for got in (visitors[day], their_visitors[day]):
                    assert abs(got - n) <= 3 * standard_error() * n, (day, got, n)


@pytest.mark.timeout(300)
def test_rows_and_series_of_one_host(indexed: tuple[Pipeline, Any]) -> None:
    pipeline, summary = indexed
    (host,) = summary["hosts"]
    for dimension in ("path", "browser", "country"):
        params: dict[str, Any] = {"dimension": dimension, "limit": 20, "window": "all"}
        ours = pipeline.query("top", collector="es", host=host, **params)
        theirs = pipeline.query("top", collector="summary", host=host, **params)
        assert ours["host"] == host
        same_rows(ours["rows"], theirs["rows"], 20, dimension)
        other = pipeline.query("top", collector="es", host="not-" + host, **params)
        assert other["rows"] == [] and other["host"] == "not-" + host
    series = pipeline.query("series", collector="es", window="all", host=host)
    assert series["host"] == host
    assert sum(p["requests"] for p in series["points"]) == summary["requests"]
    none = pipeline.query("series", collector="es", window="all", host="not-" + host)
    assert none["points"] == []


# -- omphalos replay into the collector -----------------------------------------------------------
@pytest.mark.timeout(300)
def test_replay_of_the_real_log_twice_gives_10000_documents(tmp_path: Path,
                                                             target: Target) -> None:
    config = tmp_path / "es.ini"
    config.write_text("[omphalos]\nstate_dir = {}\n\n[collector:es]\n{}\n".format(
        tmp_path / "state", "\n".join(
            f"{k} = {', '.join(v) if isinstance(v, list) else v}"
            for k, v in target.section().items())))
    for round_ in (1, 2):
        proc = subprocess.run([sys.executable, "-m", "omphalos.cli.main", "replay", "--config",
                               str(config), str(REAL_LOG), "--json"], capture_output=True,
                              text=True, timeout=240, cwd=ROOT)
        assert proc.returncode == 0, proc.stderr
        assert target.count() == 10_000, round_
    first = REAL_LOG.read_text().splitlines()[0]
    when = datetime.strptime(first.split("[", 1)[1].split("]", 1)[0], "%d/%b/%Y:%H:%M:%S %z")
    code, answer = target.node.request("POST", f"/{target.prefix}-*/_search",
                                       {"query": {"term": {"log.offset": 0}}})
    assert code == 200, answer
    [hit] = answer["hits"]["hits"]
    doc = hit["_source"]
    assert hit["_index"] == daily_index(target.prefix, when.timestamp())
    assert hit["_id"] == doc_id(doc["host.name"], doc["omphalos.file_id"], 0)
    assert doc["@timestamp"] == when.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert doc["source.address"] == first.split()[0] and doc["log.offset"] == 0
