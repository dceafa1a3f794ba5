"""The JSON API over real HTTP: every query kind, the stream, auth, and bad input.

Bad input must get 400/401/404/405 with a JSON reason; never a 500, never a stack trace.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import urllib.request
from typing import Any

import pytest

from omphalos import query as contract
from omphalos.config import ConfigError
from omphalos.messages import Query
from omphalos.pipeline import Pipeline
from tests.conftest import wait_for

from .conftest import WebRun, http, windowed_collector

TOKEN = "test-token-0123456789abcdef"

#: Kinds a GET answers, with parameters to ask them with.
READ_QUERIES: dict[str, dict[str, str]] = {
    "summary": {"limit": "5"},
    "top": {"dimension": "path", "window": "all", "limit": "5"},
    "series": {"window": "1m", "step_secs": "5"},
    "overview": {"window": "1m"},
    "drill": {"path": "/favicon.ico", "window": "5m"},
    "hosts": {"window": "5m"},
    "alerts": {},
    "status": {},
}


def page_token(run: WebRun) -> str:
    """The token the page carries on an open loopback server."""
    text = run.get("/").body.decode()
    match = re.search(r'<meta name="omphalos-token" content="([^"]*)">', text)
    assert match is not None
    return match.group(1)


def assert_error(reply: Any, status: int) -> str:
    """``reply`` is a JSON error with ``status`` and a reason free of stack traces."""
    assert reply.status == status, (reply.status, reply.body[:300])
    assert reply.headers["Content-Type"].startswith("application/json")
    reason = reply.json()["error"]
    assert isinstance(reason, str) and reason
    assert "Traceback" not in reason and 'File "' not in reason
    return reason


@pytest.fixture
def run(start_web: Any) -> WebRun:
    web: WebRun = start_web()
    assert web.pipeline.wait_idle(30)
    wait_for(lambda: web.pipeline.query("summary")["requests"] == 10_000, timeout=20)
    return web


@pytest.mark.timeout(60)
def test_every_query_kind_answers_what_the_pipeline_answers(run: WebRun) -> None:
    served = 0
    for kind, params in READ_QUERIES.items():
        reply = run.get(f"/api/v1/query/{kind}?" + "&".join(f"{k}={v}" for k, v in
                                                              params.items()))
        try:
            expected = run.pipeline.query(kind, **contract.validate(kind, params))
        except Exception as exc:  # noqa: BLE001 - no collector of this pipeline serves it
            assert_error(reply, 400 if "answer" in str(exc) else 503)
            assert windowed_collector() is None, f"{kind}: {exc}"
            continue
        served += 1
        assert reply.status == 200, (kind, reply.body[:300])
        answer = reply.json()
        assert set(answer) == set(json.loads(json.dumps(expected, default=str))), kind
        if kind == "summary":
            assert answer["requests"] == 10_000
            assert answer["status"]["200"] == 9126
            assert answer["top_paths"][0]["path"] == "/favicon.ico"
            assert len(answer["top_paths"]) == 5
        if kind == "top":
            assert answer["rows"][0]["key"] == "/favicon.ico"
            assert answer["rows"][0]["hits"] == 807
    assert served >= 2  # summary and status at least


@pytest.mark.timeout(60)
def test_status_and_named_collector(run: WebRun) -> None:
    status = run.get("/api/v1/status").json()
    assert status["degraded"] is False
    assert status["actors"]["output:web"]["port"] == int(run.url.rsplit(":", 1)[1])
    assert status["actors"]["collector:summary"]["counters"]["records"] == 10_000
    one = run.get("/api/v1/query/summary?collector=summary&limit=1").json()
    assert one["requests"] == 10_000 and len(one["top_paths"]) == 1
    reason = assert_error(run.get("/api/v1/query/summary?collector=metrics"), 400)
    assert "does not answer" in reason


#: Malformed queries and a word their 400's reason must contain.
MALFORMED = [
    ("summary?limit=x", "limit"),
    ("summary?limit=0", "limit"),
    ("summary?limit=99999999", "limit"),
    ("summary?bogus=1", "unknown parameter"),
    ("summary?limit=1&limit=2", "more than once"),
    ("summary?collector=nobody", "no collector named"),
    ("top?dimension=colour", "dimension"),
    ("top?sort=sideways", "sort"),
    ("top?filter=(unclosed", "regular expression"),
    ("top?window=forever", "window"),
    ("top?window=-5m", "window"),
    ("series?step_secs=nan", "step_secs"),
    ("drill", "path"),
    ("overview?window=" + "9" * 3000, "longer than"),
]


@pytest.mark.timeout(60)
def test_malformed_parameters_get_400_with_a_reason(run: WebRun) -> None:
    for query, words in MALFORMED:
        reason = assert_error(run.get("/api/v1/query/" + query), 400)
        assert words in reason, (query, reason)


@pytest.mark.timeout(60)
def test_unknown_paths_and_methods(run: WebRun) -> None:
    for path in ("/api/v1/query/nope", "/nope", "/api/v2/query/summary",
                 "/static/missing.js", "/static/../plugin.py", "/static/%2e%2e/plugin.py",
                 "/api/v1/query/"):
        assert_error(run.get(path), 404)
    assert "unknown query kind" in assert_error(run.get("/api/v1/query/nope"), 404)
    assert_error(run.get("/api/v1/query/summary", method="POST"), 405)
    assert_error(run.get("/api/v1/alerts/clear"), 405)
    assert_error(run.get("/metrics", method="DELETE"), 405)
    assert "POST" in assert_error(run.get("/api/v1/query/clear_alert?all=true"), 405)
    assert_error(run.get("/api/v1/query/reset"), 405)
    assert run.pipeline.query("summary")["requests"] == 10_000  # nothing was reset


@pytest.mark.timeout(60)
def test_clearing_alerts_is_post_only_with_the_token_and_a_valid_body(run: WebRun) -> None:
    token = page_token(run)
    assert len(token) >= 16
    assert_error(run.post_json("/api/v1/alerts/clear", {"all": True}), 401)
    assert_error(run.post_json("/api/v1/alerts/clear", {"all": True}, token="wrong"), 401)
    bad_bodies: list[Any] = [[], "all", 3, {}, {"path": 3}, {"path": ""}, {"all": "yes"},
                             {"path": "/a", "all": True}, {"path": "/a", "extra": 1}]
    for body in bad_bodies:
        assert_error(run.post_json("/api/v1/alerts/clear", body, token=token), 400)
    url = run.url + "/api/v1/alerts/clear"
    auth = {"Authorization": f"Bearer {token}"}
    assert "JSON" in assert_error(http(url, "POST", auth, b'{"all": true}'), 400)
    assert "JSON" in assert_error(http(url, "POST", {**auth, "Content-Type":
                                                     "application/json"}, b"{not json"), 400)
    big = json.dumps({"path": "/" + "x" * 20_000}).encode()
    assert_error(http(url, "POST", {**auth, "Content-Type": "application/json"}, big), 413)
    reply = run.post_json("/api/v1/alerts/clear", {"all": True}, token=token)
    if windowed_collector() is None:
        assert "does not answer" in assert_error(reply, 400)
    else:
        assert reply.status == 200 and reply.json()["cleared"] >= 0


@pytest.mark.timeout(60)
def test_beyond_loopback_every_call_needs_the_token(start_web: Any) -> None:
    run: WebRun = start_web({"listen": "0.0.0.0", "token": TOKEN})
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for path in ("/api/v1/query/summary", "/api/v1/status", "/metrics", "/api/v1/events"):
        assert "token" in assert_error(run.get(path), 401)
        assert_error(run.get(path, headers={"Authorization": "Bearer nope"}), 401)
        assert_error(run.get(path, headers={"Authorization": f"Basic {TOKEN}"}), 401)
    assert run.get("/api/v1/query/summary", headers=auth).status == 200
    assert run.get("/metrics", headers=auth).status == 200
    # ?token= only opens the event stream (EventSource cannot send headers)
    assert_error(run.get(f"/api/v1/query/summary?token={TOKEN}"), 401)
    with urllib.request.urlopen(f"{run.url}/api/v1/events?token={TOKEN}", timeout=10) as resp:
        assert resp.headers["Content-Type"].startswith("text/event-stream")
    assert run.get("/api/v1/openapi.json").status == 200
    page = run.get("/")
    assert page.status == 200 and TOKEN not in page.body.decode()
    assert 'name="omphalos-token" content=""' in page.body.decode()
    # any Host is fine beyond loopback (a proxy may name it)
    assert run.get("/api/v1/status", headers={**auth, "Host": "dash.example"}).status == 200


@pytest.mark.timeout(60)
def test_a_generated_token_is_logged_when_bound_beyond_loopback(
        start_web: Any, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="omphalos"):
        run: WebRun = start_web({"listen": "0.0.0.0"})
    match = re.search(r"generated API token (\S+)", caplog.text)
    assert match is not None
    token = match.group(1)
    assert_error(run.get("/api/v1/query/summary"), 401)
    assert run.get("/api/v1/query/summary",
                   headers={"Authorization": f"Bearer {token}"}).status == 200


@pytest.mark.timeout(60)
def test_on_loopback_the_generated_token_is_logged_for_tools(
        start_web: Any, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="omphalos"):
        run: WebRun = start_web()
    match = re.search(r"clearing alerts; the page has it\): (\S+)", caplog.text)
    assert match is not None and match.group(1) == page_token(run)
    assert run.get("/api/v1/query/summary").status == 200  # reads stay open


@pytest.mark.timeout(60)
def test_loopback_refuses_foreign_host_names(run: WebRun) -> None:
    """A DNS-rebinding page reaches 127.0.0.1 under its own name: refused."""
    assert "Host" in assert_error(run.get("/", headers={"Host": "evil.example"}), 400)
    assert_error(run.get("/api/v1/status", headers={"Host": "evil.example:80"}), 400)
    assert run.get("/", headers={"Host": "localhost"}).status == 200


@pytest.mark.timeout(60)
def test_security_headers_on_pages_and_errors(run: WebRun) -> None:
    for reply in (run.get("/"), run.get("/nope"), run.get("/static/app.js")):
        assert reply.headers["X-Content-Type-Options"] == "nosniff"
        assert "default-src 'self'" in reply.headers["Content-Security-Policy"]
    assert run.get("/static/d3.min.js").body.startswith(b"// https://d3js.org v7")
    assert run.get("/static/d3.LICENSE").status == 200


def read_event(resp: Any) -> dict[str, Any]:
    """The data of the next ``update`` event of a stream."""
    event = None
    while True:
        line = resp.readline().decode().rstrip("\n")
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:") and event == "update":
            data: dict[str, Any] = json.loads(line.split(":", 1)[1])
            return data


@pytest.mark.timeout(60)
def test_event_stream_pushes_snapshots(run: WebRun) -> None:
    with urllib.request.urlopen(run.url + "/api/v1/events?window=all", timeout=10) as resp:
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        assert resp.headers["Cache-Control"] == "no-cache"
        first = read_event(resp)
        second = read_event(resp)
    assert first["window"] == "all"
    assert first["summary"]["requests"] == 10_000
    assert second["time"] > first["time"]
    # since start: totals from the summary; the chart and hosts of the longest window
    assert first["series_window"] == "1h" and first["series"]["window"] == "1h"
    assert first["hosts"]["window"] == "1h" and "overview" not in first
    assert first["files"] == []
    assert_error(run.get("/api/v1/events?window=soon"), 400)
    assert_error(run.get("/api/v1/events?colour=blue"), 400)


@pytest.mark.timeout(60)
def test_snapshot_is_one_event_and_names_unread_files(start_web: Any) -> None:
    """What the page polls: the event's snapshot; a missing monitored file is listed."""
    run: WebRun = start_web()
    reply = run.get("/api/v1/snapshot?window=5m")
    assert reply.status == 200 and reply.headers["Cache-Control"] == "no-store"
    snap = reply.json()
    assert snap["window"] == "5m" and set(snap) >= {"overview", "series", "paths", "hosts",
                                                    "alerts", "summary", "files"}
    assert snap["files"] == []
    assert_error(run.get("/api/v1/snapshot?colour=blue"), 400)
    missing = run.log.with_name("gone.log")
    run.pipeline.stop()
    config = {"monitor:web": {"paths": f"{run.log}, {missing}", "checkpoints": False},
              "collector:summary": {}, "output:web": {"port": 0}}
    with Pipeline.from_config(config) as pipeline:
        port = pipeline.ask("output:web", Query("status"))["port"]
        snap = http(f"http://127.0.0.1:{port}/api/v1/snapshot?window=all").json()
        assert snap["files"] == [{"monitor": "monitor:web", "path": str(missing),
                                  "state": "missing", "error": "No such file or directory"}]


@pytest.mark.timeout(60)
def test_too_many_live_clients_get_503(start_web: Any) -> None:
    run: WebRun = start_web({"max_clients": 1})
    with urllib.request.urlopen(run.url + "/api/v1/events", timeout=10) as resp:
        read_event(resp)
        assert "too many" in assert_error(run.get("/api/v1/events"), 503)


@pytest.mark.timeout(60)
def test_stopping_with_a_client_connected_leaves_no_thread(start_web: Any) -> None:
    run: WebRun = start_web()
    resp = urllib.request.urlopen(run.url + "/api/v1/events", timeout=10)
    read_event(resp)
    run.pipeline.stop()
    resp.close()
    assert not [t.name for t in threading.enumerate() if t.name.startswith("omphalos-web")]


@pytest.mark.timeout(60)
def test_openapi_description_is_valid_and_covers_every_route(run: WebRun) -> None:
    from openapi_spec_validator import validate

    doc = run.get("/api/v1/openapi.json").json()
    validate(doc)
    routes = {r.resource.canonical for r in _routes(run) if r.resource is not None}
    routes.discard("/static/{name}")  # the page's own files
    assert routes <= set(doc["paths"]), routes - set(doc["paths"])
    kinds = doc["paths"]["/api/v1/query/{kind}"]["get"]["parameters"][0]["schema"]["enum"]
    assert set(kinds) == set(contract.KINDS) - {"clear_alert", "reset"}


def _routes(run: WebRun) -> list[Any]:
    from omphalos.plugins.outputs.web.app import build_app

    ref = run.pipeline.directory.get("output:web")
    assert ref is not None
    state = ref.proxy().state.get(timeout=5)
    return list(build_app(state).router.routes())


@pytest.mark.parametrize(("options", "key"), [
    ({"port": 70000}, "port"), ({"token": "short"}, "token"), ({"update_secs": 0}, "update_secs"),
    ({"window": "2h"}, "window"), ({"listen": " "}, "listen"), ({"colour": "blue"}, "colour"),
])
def test_bad_options_are_config_errors_naming_the_key(options: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        Pipeline.from_config({"collector:summary": {}, "output:web": options})
    assert info.value.key == key and info.value.section == "output:web"


@pytest.mark.timeout(60)
def test_a_busy_port_marks_the_pipeline_degraded_with_the_reason(
        start_web: Any, caplog: pytest.LogCaptureFixture) -> None:
    run: WebRun = start_web()
    port = int(run.url.rsplit(":", 1)[1])
    # The first pipeline's summary holds the default saved state; this one must
    # not share it, or its refusal can degrade the pipeline before the port does.
    pipeline = Pipeline.from_config({"collector:summary": {"durable": False},
                                     "output:web": {"port": port},
                                     "omphalos": {"max_restarts": 0}})
    pipeline.start()
    try:
        wait_for(lambda: pipeline.degraded, timeout=20)
        status = pipeline.status()
        assert "output:web" in " ".join(status["reasons"])
    finally:
        pipeline.stop()
    assert "cannot listen" in caplog.text
    assert run.get("/api/v1/status").status == 200  # the first server is unharmed


@pytest.mark.timeout(60)
def test_a_dead_collector_gets_503_not_500() -> None:
    pipeline = Pipeline.from_config({"collector:summary": {}, "output:web": {"port": 0},
                                     "omphalos": {"max_restarts": 0}})
    with pipeline:
        url = pipeline.ask("output:web", Query("status"))["url"]
        ref = pipeline.directory.get("collector:summary")
        assert ref is not None
        ref.stop(timeout=5)
        reply = http(url + "/api/v1/query/summary")
        assert "not running" in assert_error(reply, 503)
        assert reply.headers["Retry-After"] == "1"
        assert http(url + "/api/v1/status").status == 200
        assert http(url + "/metrics").status == 200
