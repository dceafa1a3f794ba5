"""Replay answers are the same before and after the speed work: golden JSON of every
dimension.

A faster replay must not change a single answer. ``tests/data/replay_golden/*.json`` hold,
for each input, what the replay answered before the speed work of issue 22 (the summary,
and the ``top`` list of every dimension with every key, hits, bytes, error classes,
durations and unique visitors). The test replays the same input in one process (a real
pipeline of actors, as ``omphalos replay -w 1`` runs it) and on two worker processes
(:mod:`omphalos.replaying`, as ``-w 2``), and both must give exactly that JSON.

Inputs: the two real corpora of ``tests/data`` and a JSON-lines file written here with a
fixed seed (durations, virtual hosts, TLS, MIME and cache fields, over a thousand distinct
clients, two UTC days). Every input has fewer distinct keys per dimension than the top
tables' capacity: counts are then exact, whatever the batching (above it they are within
the ``error_bounds`` the answer gives, and depend on how lines were batched). Regenerate
the files only for a change that is meant to change answers:
``python tests/core/test_replay_golden.py``.
"""

from __future__ import annotations

import json
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script to regenerate
    sys.path.insert(0, str(ROOT))

from omphalos.cli.common import files_pipeline  # noqa: E402
from omphalos.cli.signals import StopFlag  # noqa: E402
from omphalos.config import ConfigSource  # noqa: E402
from omphalos.pipeline import Pipeline  # noqa: E402
from omphalos.query import DEFAULT_DIMENSIONS  # noqa: E402
from omphalos.replaying import ParallelReplay  # noqa: E402

DATA = ROOT / "tests" / "data"
GOLDEN = DATA / "replay_golden"
#: Inputs: (golden name, file, format).
CASES = [("apache_combined", "apache_logs.combined.log", "combined"),
         ("w3c_multiblock", "w3c_iis_multiblock.log", "auto")]
GENERATED = ("generated_json", "generated.jsonl", "json")
#: Rows per top list kept (the corpus has more distinct clients and paths).
LIMIT = 200
#: Answer fields that are not counts: the wall clock at start and what is divided by it.
WALL_CLOCK = ("since", "rate", "bytes_rate")


def write_generated(path: Path, n: int = 6000, seed: int = 22) -> Path:
    """JSON lines with every field the derived dimensions read, deterministic."""
    rng = random.Random(seed)
    start = datetime(2026, 11, 1, 22, 0, tzinfo=UTC)
    agents = ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
              "Gecko) Chrome/120.0 Safari/537.36",
              "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15",
              "Googlebot/2.1 (+http://www.google.com/bot.html)", "curl/8.4.0", "-",
              "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"]
    paths = [f"/p/{i}" for i in range(50)] + ["/s/app.js", "/s/site.CSS", "/img/a.png"]
    with path.open("w") as out:
        for i in range(n):
            when = start + timedelta(seconds=i * 4)  # crosses midnight: two UTC days
            rec = {"time": when.isoformat(),
                   "remote_addr": f"10.{i % 7}.{rng.randrange(4)}.{rng.randrange(60)}",
                   "remote_user": rng.choice(["-", "alice", "bob"]),
                   "request_method": rng.choice(["GET"] * 8 + ["POST", "HEAD"]),
                   "path": rng.choice(paths), "status": rng.choice(
                       [200] * 12 + [206, 301, 304, 404, 404, 500, 503]),
                   "body_bytes_sent": rng.randrange(0, 90_000),
                   "http_user_agent": rng.choice(agents),
                   "http_referer": rng.choice(["-", "https://a.example/x?q=1",
                                               "http://b.example:8080/", "not a url"]),
                   "request_time": rng.randrange(0, 4000) / 1000,
                   "server_protocol": rng.choice(["HTTP/1.1", "HTTP/2.0"]),
                   "host": rng.choice(["www.example", "api.example"]),
                   "ssl_protocol": "TLSv1.3", "ssl_cipher": "TLS_AES_128_GCM_SHA256",
                   "content_type": rng.choice(["text/html", "image/png"]),
                   "upstream_cache_status": rng.choice(["HIT", "MISS"])}
            out.write(json.dumps(rec) + "\n")
    return path


def _clean(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in summary.items() if k not in WALL_CLOCK}


def _answers(ask: Any) -> dict[str, Any]:
    """The summary and every dimension's full top list from ``ask(kind, **params)``."""
    out: dict[str, Any] = {"summary": _clean(ask("summary", limit=LIMIT))}
    for dim in DEFAULT_DIMENSIONS:
        try:
            top = ask("top", dimension=dim, window="all", limit=LIMIT)
        except ValueError as exc:  # a dimension the format lacks
            out[dim] = str(exc)
            continue
        for row in top["rows"]:
            row.pop("rate", None)
        out[dim] = top
    # tuples (path_status keys...) and floats as JSON gives them
    return json.loads(json.dumps(out, sort_keys=True, default=str))


def _source(path: Path, fmt: str) -> ConfigSource:
    """``omphalos replay``'s config, the source host named (not this machine's name)."""
    source = files_pipeline(ConfigSource(), [str(path)], parser=fmt, follow=False,
                            checkpoints=False,
                            extra={"monitor:files": {"max_in_flight": 1},
                                   "collector:summary": {"whole_batches": True}})
    source.merge(ConfigSource.from_dict({"omphalos": {"host": "golden"}}))
    return source


def one_process(path: Path, fmt: str) -> dict[str, Any]:
    """A real pipeline of actors, as ``omphalos replay -w 1`` runs."""
    source = _source(path, fmt)
    pipeline = Pipeline.from_config(source).start()
    try:
        from omphalos.cli.common import replay_until_done

        assert replay_until_done(pipeline, StopFlag(), path.stat().st_size) == "done"
        assert pipeline.wait_idle(30)
        return _answers(lambda kind, **p: pipeline.query(kind, **p))
    finally:
        pipeline.stop()


def two_workers(path: Path, fmt: str) -> dict[str, Any]:
    """Two worker processes on ranges of about 300 KB (``omphalos replay -w 2``)."""
    replay = ParallelReplay(_source(path, fmt))
    try:
        assert replay.run([str(path)], 2, 300_000)
        return _answers(replay.query)
    finally:
        replay.close()


def _input(name: str, file: str, tmp: Path) -> Path:
    return write_generated(tmp / file) if name == GENERATED[0] else DATA / file


@pytest.mark.timeout(180)
@pytest.mark.parametrize("name,file,fmt", [*CASES, ("apache_combined", CASES[0][1], "auto"),
                                           GENERATED])
def test_replay_answers_are_the_golden_ones(tmp_path: Path, name: str, file: str,
                                            fmt: str) -> None:
    """``auto`` on the combined corpus must find the combined answer."""
    path = _input(name, file, tmp_path)
    golden = json.loads((GOLDEN / f"{name}.json").read_text())
    assert one_process(path, fmt) == golden
    if name != "w3c_multiblock":  # its blocks lack fields: see omphalos.replaying's limits
        assert two_workers(path, fmt) == golden


if __name__ == "__main__":  # regenerate (only for a change meant to change answers)
    import tempfile

    GOLDEN.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name, file, fmt in [*CASES, GENERATED]:
            answers = one_process(_input(name, file, Path(tmp)), fmt)
            (GOLDEN / f"{name}.json").write_text(json.dumps(answers, sort_keys=True)
                                                 + "\n")
            print(name, len(json.dumps(answers)))
