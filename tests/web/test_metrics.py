"""``/metrics`` scraped over HTTP and parsed with Prometheus's own text-format parser."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from omphalos.messages import Batch, Query, Source
from omphalos.pipeline import Pipeline
from omphalos.records import Columns
from tests.conftest import wait_for

from .conftest import WebRun, combined_line, http, windowed_collector


def scrape(url: str, **kwargs: Any) -> dict[str, Any]:
    """Families by name, from the text a real scrape returns."""
    reply = http(url + "/metrics", **kwargs)
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("text/plain; version=")
    return {f.name: f for f in text_string_to_metric_families(reply.body.decode())}


def value(family: Any, sample_name: str, **labels: str) -> float:
    found = [s.value for s in family.samples
             if s.name == sample_name and all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(found) == 1, (sample_name, labels, family.samples[:5])
    return float(found[0])


@pytest.mark.timeout(60)
def test_metrics_count_the_real_log_by_host_and_status(start_web: Any) -> None:
    run: WebRun = start_web()
    assert run.pipeline.wait_idle(30)
    host = run.pipeline.settings.host_name
    wait_for(lambda: value(scrape(run.url)["omphalos_http_requests"],
                           "omphalos_http_requests_total", host=host, status="200") == 9126,
             timeout=20)
    families = scrape(run.url)
    requests = families["omphalos_http_requests"]
    assert requests.type == "counter"
    assert sum(s.value for s in requests.samples if s.name.endswith("_total")) == 10_000
    assert value(requests, "omphalos_http_requests_total", host=host, status="404") == 213
    sent = families["omphalos_http_response_bytes"]
    assert value(sent, "omphalos_http_response_bytes_total", host=host) == 2_747_282_740
    assert value(families["omphalos_log_lines"], "omphalos_log_lines_total", host=host) == 10_000
    duration = families["omphalos_http_request_duration_seconds"]
    assert duration.type == "histogram"
    # the combined format logs no duration: an empty histogram, still well formed
    assert value(duration, "omphalos_http_request_duration_seconds_count", host=host) == 0
    assert value(duration, "omphalos_http_request_duration_seconds_bucket", host=host,
                 le="+Inf") == 0
    assert value(families["omphalos_metrics_source_up"], "omphalos_metrics_source_up") == 1
    assert value(families["omphalos_pipeline_degraded"], "omphalos_pipeline_degraded") == 0


@pytest.mark.timeout(60)
def test_duration_histogram_from_batches_with_durations() -> None:
    """Batches whose format logs durations fill the histogram (sent straight to the actor)."""
    pipeline = Pipeline.from_config({"collector:metrics": {"buckets": "0.1, 1"},
                                     "output:web": {"port": 0}})
    with pipeline:
        durations = [0.05, 0.1, 0.5, 2.0, None]
        cols = Columns(time=[1.7e9] * 5, client=["10.0.0.1"] * 5, path=["/a"] * 5,
                       status=[200, 200, 500, 200, 304], bytes=[10, 20, 30, 40, 0],
                       offset=[0, 10, 20, 30, 40], duration=durations)
        source = Source("web-1", "/var/log/access.log", "file-1", "monitor:none")
        pipeline.directory.tell("collector:metrics", Batch(source, 1, 0, 50, cols, lines=6,
                                                           unparsed=1))
        url = pipeline.ask("output:web", Query("status"))["url"]
        wait_for(lambda: "web-1" in http(url + "/metrics").body.decode(), timeout=10)
        families = scrape(url)
    duration = families["omphalos_http_request_duration_seconds"]
    bucket = "omphalos_http_request_duration_seconds_bucket"
    assert value(duration, bucket, host="web-1", le="0.1") == 2
    assert value(duration, bucket, host="web-1", le="1.0") == 3
    assert value(duration, bucket, host="web-1", le="+Inf") == 4
    assert value(duration, "omphalos_http_request_duration_seconds_count", host="web-1") == 4
    assert value(duration, "omphalos_http_request_duration_seconds_sum",
                 host="web-1") == pytest.approx(2.65)
    requests = families["omphalos_http_requests"]
    assert value(requests, "omphalos_http_requests_total", host="web-1", status="500") == 1
    unparsed = families["omphalos_log_unparsed_lines"]
    assert value(unparsed, "omphalos_log_unparsed_lines_total", host="web-1") == 1


@pytest.mark.timeout(60)
def test_without_a_metrics_collector_the_source_is_reported_down() -> None:
    pipeline = Pipeline.from_config({"collector:summary": {}, "output:web": {"port": 0}})
    with pipeline:
        url = pipeline.ask("output:web", Query("status"))["url"]
        families = scrape(url)
    assert value(families["omphalos_metrics_source_up"], "omphalos_metrics_source_up") == 0
    assert "omphalos_http_requests" not in families


@pytest.mark.timeout(60)
def test_durations_of_a_real_nginx_log_fill_the_histogram_and_percentiles(
        tmp_path: Any) -> None:
    """nginx ``combined`` plus ``$request_time``: 100 requests of 0.05 s, 100 of 0.5 s."""
    log = tmp_path / "access.log"
    lines = [combined_line(f"/p{i % 3}").rstrip("\n") + (" 0.050\n" if i % 2 else " 0.500\n")
             for i in range(200)]
    log.write_text("".join(lines))
    config: dict[str, dict[str, Any]] = {
        "monitor:web": {"paths": str(log), "checkpoints": False, "poll_interval_secs": 0.1},
        "parser:nginx": {"format": "combined_rt"},
        "collector:metrics": {}, "output:web": {"port": 0}}
    if windowed_collector() is not None:
        config = {**config, f"collector:{windowed_collector()}": {"history": False}}
    with Pipeline.from_config(config) as pipeline:
        assert pipeline.wait_idle(30)
        url = pipeline.ask("output:web", Query("status"))["url"]
        host = pipeline.settings.host_name
        families = scrape(url)
        if windowed_collector() is not None:
            overview = http(url + "/api/v1/query/overview?window=5m").json()
            assert overview["requests"] == 200
            assert overview["p95"] == pytest.approx(0.5, rel=0.05)
    duration = families["omphalos_http_request_duration_seconds"]
    bucket = "omphalos_http_request_duration_seconds_bucket"
    assert value(duration, bucket, host=host, le="0.01") == 0
    assert value(duration, bucket, host=host, le="0.05") == 100
    assert value(duration, bucket, host=host, le="0.5") == 200
    assert value(duration, "omphalos_http_request_duration_seconds_sum",
                 host=host) == pytest.approx(55.0)
