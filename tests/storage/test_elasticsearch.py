"""The ``elasticsearch`` collector against the Elasticsearch STAND-IN server (``es_standin.py``),
only where a real node cannot serve: the Elasticsearch 8/9 client path (the official
``elasticsearch`` clients refuse servers that are not Elasticsearch, and no Elasticsearch runs
here; ``OMPHALOS_TEST_ES_URL`` points these tests at a real one), servers of other versions,
and faults injected on demand (429s). Everything else runs against the real OpenSearch node in
``test_opensearch.py``; each test here says why it needs the stand-in.
"""

from __future__ import annotations

import importlib
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import iptocc
import pytest
from omphalos.plugins.collectors.elasticsearch import ElasticsearchCollector, ElasticsearchConfig
from omphalos.plugins.collectors.elasticsearch.client import Auth, Cluster, ClusterError, detect
from omphalos.plugins.collectors.elasticsearch.ecs import daily_index, doc_id

from omphalos import Pipeline
from omphalos.messages import Deliver, Query
from omphalos.query import DIMENSIONS
from tests.conftest import REAL_LOG, omphalos_threads, wait_for
from tests.report.test_dimensions import truth

from .es_standin import StandInElasticsearch
from .helpers import Replies, batch, context, free_port, http

REAL_ES = os.environ.get("OMPHALOS_TEST_ES_URL", "")
#: The stand-in plays the newest version the installed client speaks to (an environment may
#: hold elasticsearch8, or only the 9.x ``elasticsearch`` package, which refuses ES 8).
try:
    importlib.import_module("elasticsearch8")
    HAS_ES8_CLIENT = True
except ImportError:  # absent, or beside elastic-transport 9 (which it refuses)
    HAS_ES8_CLIENT = False
STANDIN_VERSION = "8.15.0" if HAS_ES8_CLIENT else "9.1.0"
standin_only = pytest.mark.skipif(bool(REAL_ES), reason="injects faults into the stand-in")


@dataclass
class Target:
    """Where the test indexes: the stand-in (``standin`` set) or a real cluster."""

    url: str
    prefix: str
    standin: StandInElasticsearch | None

    def count(self) -> int:
        http("POST", f"{self.url}/{self.prefix}-*/_refresh")
        status, answer = http("POST", f"{self.url}/{self.prefix}-*/_search",
                              {"size": 0, "track_total_hits": True})
        assert status == 200, answer
        return int(answer["hits"]["total"]["value"])


@pytest.fixture
def es() -> Iterator[Target]:
    prefix = f"omphalos-test-{uuid.uuid4().hex[:8]}"
    if REAL_ES:
        yield Target(REAL_ES.rstrip("/"), prefix, None)
        http("DELETE", f"{REAL_ES.rstrip('/')}/{prefix}-*")
        http("DELETE", f"{REAL_ES.rstrip('/')}/_index_template/{prefix}")
        return
    standin = StandInElasticsearch(STANDIN_VERSION).start()
    yield Target(standin.url, prefix, standin)
    standin.stop()


def es_section(target: Target, **extra: Any) -> dict[str, Any]:
    return {"plugin": "elasticsearch", "hosts": [target.url], "index_prefix": target.prefix,
            "template_name": target.prefix, "flush_interval_secs": 0.2,
            "retry_backoff_secs": 0.05, "max_backoff_secs": 0.5, **extra}


def run_real_log(tmp_path: Path, target: Target, state: str = "state",
                 **extra: Any) -> tuple[dict[str, Any], dict[str, Any], Pipeline]:
    pipeline = Pipeline.from_config({
        "omphalos": {"state_dir": str(tmp_path / state)},
        "monitor:web": {"paths": [str(REAL_LOG)], "follow": False},
        "collector:summary": {"dimensions": ",".join(DIMENSIONS)},  # country too
        "collector:es": es_section(target, **extra),
    })
    pipeline.start()
    try:
        assert pipeline.wait_idle(60)
        summary = pipeline.query("summary", collector="summary")
        status = pipeline.query("status", collector="es")
    except BaseException:
        pipeline.stop()
        raise
    return summary, status, pipeline


def drained(pipeline: Pipeline) -> dict[str, Any] | None:
    """The collector's status once nothing waits in its buffer, queue or spool."""
    status: dict[str, Any] = pipeline.query("status", collector="es")
    if status["spool"]["items"] or status["pending_payloads"] or status["buffered_docs"]:
        return None
    return status


@pytest.mark.timeout(120)
def test_real_log_indexed_as_ecs_and_queried_by_aggregations(tmp_path: Path, es: Target) -> None:
    """The Elasticsearch client path end to end. Stand-in: the ``elasticsearch`` client checks
    the ``X-Elastic-Product`` header and refuses OpenSearch; no Elasticsearch runs here."""
    summary, status, pipeline = run_real_log(tmp_path, es)
    try:
        assert status["counters"]["docs_indexed"] == 10_000
        assert es.count() == 10_000
        answer = pipeline.query("summary", collector="es")
        for key in ("requests", "bytes", "status", "status_class", "hosts"):
            assert answer[key] == summary[key], key
        assert answer["top_paths"][:10] == summary["top_paths"][:10]
        top = pipeline.query("top", collector="es", dimension="path", limit=5)
        assert [(r["key"], r["hits"]) for r in top["rows"]] == [
            (p["path"], p["hits"]) for p in summary["top_paths"][:5]]
        by_errors = pipeline.query("top", collector="es", dimension="path", sort="4xx", limit=3)
        assert by_errors["rows"][0]["status"]["4xx"] >= by_errors["rows"][1]["status"]["4xx"] > 0
        series = pipeline.query("series", collector="es", window="all")
        assert sum(p["requests"] for p in series["points"]) == 10_000
        assert sum(p["5xx"] for p in series["points"]) == summary["status_class"]["5xx"]
        since = (int(summary["first_time"] + 86400) // 600) * 600  # whole steps
        part = pipeline.query("series", collector="es", window="1h", until=since,
                              step_secs=600)
        assert len(part["points"]) == 6
        overview = pipeline.query("overview", collector="es", window="all")
        assert overview["requests"] == 10_000 and overview["hosts"] == 1
        hosts = pipeline.query("hosts", collector="es", window="all")
        assert [(r["host"], r["requests"]) for r in hosts["rows"]] == list(
            summary["hosts"].items())
        drill = pipeline.query("drill", collector="es", path="/favicon.ico", window="all")
        assert drill["requests"] == next(p["hits"] for p in summary["top_paths"]
                                         if p["path"] == "/favicon.ico")
        # GoAccess's panels from the stored fields, per host too; the stand-in's
        # cardinality is exact, so visitors per day are the count made from the file
        hostname = next(iter(summary["hosts"]))
        for dim in ("browser", "crawler", "not_found", "static", "country", "hour"):
            for host in (None, hostname):
                ours = pipeline.query("top", collector="es", dimension=dim, limit=1000,
                                      window="all", host=host)
                theirs = pipeline.query("top", collector="summary", dimension=dim,
                                        limit=1000, window="all", host=host)
                assert theirs["rows"] and len(theirs["rows"]) < 1000  # every key, both
                # (the order within a tie is each one's own)
                assert sorted((-r["hits"], r["key"]) for r in ours["rows"]) == sorted(
                    (-r["hits"], r["key"]) for r in theirs["rows"]), (dim, host)
        days = pipeline.query("top", collector="es", dimension="visitors", window="all")
        assert {r["key"]: r["visitors"] for r in days["rows"]} == dict(truth()["unique"])
        assert pipeline.query("top", collector="es", dimension="path", window="all",
                              host="elsewhere")["rows"] == []
        with pytest.raises(ValueError, match="dimension"):
            pipeline.ask("collector:es", Query("top", {"dimension": "nope"}))
    finally:
        pipeline.stop()
    assert not [t for t in omphalos_threads() if t.startswith("shipper-")]
    # the template was installed, and the first line is an ECS document under its own id
    code, template = http("GET", f"{es.url}/_index_template/{es.prefix}")
    assert code == 200
    mapping = template["index_templates"][0]["index_template"]["template"]["mappings"]
    assert mapping["properties"]["http"]["properties"]["response"]["properties"][
        "status_code"]["type"] == "long"
    first = REAL_LOG.read_text().splitlines()[0]
    when = datetime.strptime(first.split("[", 1)[1].split("]", 1)[0], "%d/%b/%Y:%H:%M:%S %z")
    hostname = next(iter(summary["hosts"]))
    ids = [doc_id(hostname, fid, 0) for fid in _file_ids(es)]
    found = [http("GET", f"{es.url}/{daily_index(es.prefix, when.timestamp())}/_doc/{i}")
             for i in ids]
    doc = next(body["_source"] for code, body in found if code == 200)
    assert doc["url.path"] and doc["source.address"] == first.split()[0]
    assert doc["http.request.method"] == "GET" and doc["log.offset"] == 0
    assert doc["user_agent.original"] and doc["log.file.path"] == str(REAL_LOG)
    assert (doc["user_agent.name"], doc["user_agent.os.name"], doc["omphalos.crawler"],
            doc["url.extension"], doc["omphalos.day"], doc["omphalos.hour"],
            doc["omphalos.protocol"], doc["omphalos.referring_site"]) == (
        "Chrome", "Mac OS X", "no", "png", "2015-05-17", "10", "HTTP/1.1", "semicomplete.com")
    assert doc["source.geo.country_iso_code"] == iptocc.country_code(first.split()[0])
    assert "user.name" not in doc and "url.domain" not in doc  # not in a combined log


def _file_ids(target: Target) -> list[str]:
    """File identities stored with the documents (a terms aggregation)."""
    code, answer = http("POST", f"{target.url}/{target.prefix}-*/_search", {
        "size": 0, "aggs": {"ids": {"terms": {"field": "omphalos.file_id", "size": 10}}}})
    assert code == 200, answer
    return [b["key"] for b in answer["aggregations"]["ids"]["buckets"]]


@standin_only
@pytest.mark.timeout(120)
def test_a_cluster_answering_429_for_a_while_loses_nothing(tmp_path: Path, es: Target) -> None:
    """Stand-in: a real node cannot be made to reject whole requests and single items with
    429 on demand (it does only under real overload)."""
    assert es.standin is not None
    es.standin.reject_requests = 4
    es.standin.reject_items = 3000
    _, _, pipeline = run_real_log(tmp_path, es, batch_docs=500)
    try:  # acknowledged batches are indexed or spooled; wait for the spool to drain
        status = wait_for(lambda: drained(pipeline), timeout=60)
    finally:
        pipeline.stop()
    counters = status["counters"]
    assert counters["docs_retried"] == 3000 and counters["retries"] > 0
    assert es.count() == 10_000
    assert es.standin.reject_items == 0 and es.standin.reject_requests == 0


def start_collector(tmp_path: Path, **options: Any) -> Any:
    # no scheduler here (no ticks): batch_docs=1 sends each batch as it comes
    config = ElasticsearchConfig(**{"batch_docs": 1, "retry_backoff_secs": 0.05,
                                    "max_backoff_secs": 0.3, **options})
    return ElasticsearchCollector.start(context(tmp_path, "collector:es"), config)


@standin_only
@pytest.mark.timeout(60)
@pytest.mark.parametrize(("version", "distribution", "mode"), [
    ("8.15.0", None, "daily"), ("9.1.0", None, "datastream"), ("2.17.0", "opensearch", "daily")])
def test_server_versions_and_index_modes(tmp_path: Path, version: str,
                                         distribution: str | None, mode: str) -> None:
    """Stand-in: the client chosen for each server version (Elasticsearch 8 and 9, and an
    OpenSearch older than the real node's 2.19) needs servers of those versions on demand."""
    if distribution == "opensearch":
        pytest.importorskip("opensearchpy")
    elif version.startswith("8") and not HAS_ES8_CLIENT:
        pytest.skip("only the 9.x client is installed: it refuses Elasticsearch 8")
    standin = StandInElasticsearch(version, distribution).start()
    auth = Auth((standin.url,))
    info = detect(auth)
    assert (info.flavor, info.major) == (distribution or "elasticsearch", int(version[0]))
    cluster = Cluster(auth, info)
    assert cluster.module.__name__ == ("opensearchpy" if distribution else cluster.module.__name__)
    cluster.close()
    replies = Replies.start()
    one = batch(1, 0, [1.7e9 + i for i in range(50)])
    try:
        for round_ in (1, 2):  # two collector instances: the second re-sends everything
            ref = start_collector(tmp_path / str(round_), hosts=(standin.url,), index_mode=mode)
            ref.tell(Deliver(one, replies))
            wait_for(lambda r=round_: replies.ask("n", timeout=2) == r)
            status = ref.ask(Query("status"), timeout=5)
            ref.stop(timeout=10)
            assert status["cluster"]["version"] == version
        assert standin.count() == 50
        if mode == "datastream":
            assert status["counters"]["docs_existing"] == 50
            assert list(standin.indices) == ["logs-omphalos.access-default"]
    finally:
        replies.stop()
        standin.stop()


@standin_only
def test_old_or_unknown_servers_are_refused_with_a_reason() -> None:
    """Stand-in: an Elasticsearch 7 cannot be had here; the unreachable port is real."""
    standin = StandInElasticsearch("7.17.0").start()
    try:
        with pytest.raises(ClusterError, match="too old"):
            detect(Auth((standin.url,)))
    finally:
        standin.stop()
    with pytest.raises(ClusterError) as info:
        detect(Auth((f"http://127.0.0.1:{free_port()}",), timeout_secs=2))
    assert info.value.status is None and info.value.retryable
    assert time.monotonic() > 0
