"""Records/s through the ``elasticsearch`` collector: into a real OpenSearch node, and into the
stand-in, in the same run.

The stand-in runs in another process as a sink (it answers every bulk item "created" without
reading it), so what this process spends there is the collector's own work: ECS documents,
ids, JSON, bulk requests through the official client; it plays Elasticsearch 8 (the
``elasticsearch8`` client) and OpenSearch (``opensearch-py``). The real node
(``tests/opensearch/start``, single node, 512 MiB heap, on this machine) indexes everything
and is counted afterwards. Printed per target: records/s end to end, the collector process's
CPU microseconds per record, and for the real node its own CPU per record; the ECS encoding
alone for comparison, and the ratios real node / stand-in.

    python bench/storage.py [--records 50000] [--batch 1000] [--no-node]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from omphalos.plugins.collectors.elasticsearch import (  # noqa: E402
    ElasticsearchCollector,
    ElasticsearchConfig,
)
from omphalos.plugins.collectors.elasticsearch.ecs import bulk_lines  # noqa: E402

from omphalos.messages import Batch, Deliver, Query, Source  # noqa: E402
from omphalos.records import Columns  # noqa: E402
from tests.opensearch.node import OpenSearchNode, build  # noqa: E402
from tests.storage.helpers import Replies, context, free_port  # noqa: E402

SINK = """
import sys, time
from tests.storage.es_standin import StandInElasticsearch
StandInElasticsearch(sys.argv[2], sys.argv[3] or None, port=int(sys.argv[1]),
                     store=False).start()
print("ready", flush=True)
sys.stdin.read()
"""


@dataclass
class Run:
    """One target's figures."""

    name: str
    wall: float
    cpu: float
    server_cpu: float | None = None


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def index(url: str, data: list[Batch], batch_docs: int, prefix: str,
          server_pid: int | None = None) -> tuple[float, float, float | None]:
    """Deliver ``data`` to a collector indexing into ``url``; (wall, CPU, server CPU) secs."""
    with tempfile.TemporaryDirectory() as tmp:
        replies = Replies.start()
        ref = ElasticsearchCollector.start(context(Path(tmp), "collector:es"), ElasticsearchConfig(
            hosts=(url,), batch_docs=batch_docs, index_prefix=prefix, replicas=0))
        try:
            ref.ask(Query("status"), timeout=10)
            server = proc_cpu(server_pid) if server_pid else 0.0
            cpu = time.process_time()
            wall = time.perf_counter()
            for batch in data:
                ref.tell(Deliver(batch, replies))
            while replies.ask("n", timeout=10) < len(data):
                time.sleep(0.005)
            total_wall = time.perf_counter() - wall
            total_cpu = time.process_time() - cpu
            server_cpu = proc_cpu(server_pid) - server if server_pid else None
            status = ref.ask(Query("status"), timeout=10)
        finally:
            ref.stop(timeout=10)
            replies.stop()
    records = sum(len(b.records) for b in data)
    assert status["counters"]["docs_indexed"] == records, status["counters"]
    assert status["spool"]["items"] == 0, status["spool"]
    return total_wall, total_cpu, server_cpu


def standin(version: str, distribution: str, data: list[Batch], batch_docs: int
            ) -> tuple[float, float, float | None]:
    port = free_port()
    sink = subprocess.Popen([sys.executable, "-c", SINK, str(port), version, distribution],
                            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert sink.stdout is not None and sink.stdout.readline().startswith(b"ready")
        return index(f"http://127.0.0.1:{port}", data, batch_docs, "bench", sink.pid)
    finally:
        sink.communicate(b"", timeout=10)


def real_node(data: list[Batch], batch_docs: int
              ) -> tuple[list[tuple[float, float, float | None]], str]:
    """Into a real OpenSearch node started for the run, twice (a cold JVM, then warm: the
    same records into other indices); also its start time and memory."""
    build()
    with tempfile.TemporaryDirectory() as tmp:
        node = OpenSearchNode(Path(tmp) / "home", free_port()).start()
        try:
            rss_idle = node.rss_bytes()
            assert node.proc is not None
            figures = []
            for prefix in ("cold", "warm"):
                figures.append(index(node.url, data, batch_docs, prefix, node.proc.pid))
                node.request("POST", f"/{prefix}-*/_refresh")
                code, answer = node.request("GET", f"/{prefix}-*/_count")
                records = sum(len(b.records) for b in data)
                assert code == 200 and answer["count"] == records, answer
            note = (f"node start {node.start_secs:.1f} s, RSS {rss_idle / 2**20:.0f} MiB idle, "
                    f"{node.rss_bytes() / 2**20:.0f} MiB after indexing")
        finally:
            node.stop()
    return figures, note


def batches(records: int, size: int) -> list[Batch]:
    """Synthetic combined-log records with durations, ``size`` per batch."""
    out = []
    agents = ["Mozilla/5.0 (X11; Linux x86_64) Firefox/118.0", "curl/8.4.0", "Googlebot/2.1"]
    for b in range(0, records, size):
        n = min(size, records - b)
        cols = Columns(time=[1.7e9 + (b + i) * 0.01 for i in range(n)],
                       client=[f"10.1.{i % 250}.{(b + i) % 250}" for i in range(n)],
                       path=[f"/shop/item/{(b + i) % 5000}" for i in range(n)],
                       status=[200 if i % 17 else 404 for i in range(n)],
                       bytes=[512 + i for i in range(n)],
                       offset=[(b + i) * 180 for i in range(n)],
                       method=["GET"] * n, protocol=["HTTP/1.1"] * n,
                       query=[None if i % 3 else "q=1" for i in range(n)],
                       referer=["https://example.org/"] * n,
                       agent=[agents[i % 3] for i in range(n)],
                       duration=[0.001 * (i % 300) for i in range(n)])
        out.append(Batch(Source("web1", "/var/log/nginx/access.log", "dev:ino:abcd",
                                "monitor:bench"), b // size + 1, b * 180, (b + n) * 180,
                         cols, n))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--no-node", action="store_true",
                        help="skip the real OpenSearch node (no Java/Maven)")
    args = parser.parse_args()
    data = batches(args.records, args.batch)

    cpu = time.process_time()
    wall = time.perf_counter()
    docs = sum(len(bulk_lines(b)) for b in data)
    encode_wall = time.perf_counter() - wall
    encode_cpu = time.process_time() - cpu

    runs = [Run("stand-in as Elasticsearch 8", *standin("8.15.0", "", data, args.batch)),
            Run("stand-in as OpenSearch 2.19", *standin("2.19.6", "opensearch", data,
                                                        args.batch))]
    note = ""
    if not args.no_node:
        (cold, warm), note = real_node(data, args.batch)
        runs.append(Run("real OpenSearch node (cold JVM)", *cold))
        runs.append(Run("real OpenSearch node (warm)", *warm))
    n = args.records
    print(f"records {n:,} in batches of {args.batch}; cores: {os.cpu_count()}, "
          f"python {sys.version.split()[0]}")
    print(f"{'ECS encoding alone':46}{docs / encode_wall:>10,.0f} records/s "
          f"{encode_cpu / docs * 1e6:7.1f} us CPU/record")
    for run in runs:
        server = "" if run.server_cpu is None else \
            f"   server {run.server_cpu / n * 1e6:7.1f} us CPU/record"
        print(f"{'collector -> ' + run.name:46}{n / run.wall:>10,.0f} records/s "
              f"{run.cpu / n * 1e6:7.1f} us CPU/record (collector){server}")
    if note:
        real, sink = runs[-1], runs[1]
        print(f"real node (warm) / stand-in (OpenSearch client): records/s "
              f"{sink.wall / real.wall:.3f}x, collector CPU/record {real.cpu / sink.cpu:.2f}x")
        print(note)
    print(f"encoding share of the collector's CPU (stand-in, ES 8): {encode_cpu / runs[0].cpu:.0%}")


if __name__ == "__main__":
    main()
