"""Records/s through the ``elasticsearch`` collector into the local Elasticsearch stand-in.

The stand-in runs in another process as a sink (it answers every bulk item "created" without
reading it), so what this process spends is the collector's own work: ECS documents, ids,
JSON, bulk requests through the official client. Printed: records/s end to end, the
collector process's CPU microseconds per record, and the ECS encoding alone for comparison.

    python bench/storage.py [--records 100000] [--batch 1000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
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
from tests.storage.helpers import Replies, context, free_port  # noqa: E402

SINK = """
import sys, time
from tests.storage.es_standin import StandInElasticsearch
StandInElasticsearch(port=int(sys.argv[1]), store=False).start()
print("ready", flush=True)
sys.stdin.read()
"""


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
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    data = batches(args.records, args.batch)

    cpu = time.process_time()
    wall = time.perf_counter()
    docs = sum(len(bulk_lines(b)) for b in data)
    encode_wall = time.perf_counter() - wall
    encode_cpu = time.process_time() - cpu

    port = free_port()
    sink = subprocess.Popen([sys.executable, "-c", SINK, str(port)], cwd=ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert sink.stdout is not None and sink.stdout.readline().startswith(b"ready")
    with tempfile.TemporaryDirectory() as tmp:
        replies = Replies.start()
        ref = ElasticsearchCollector.start(context(Path(tmp), "collector:es"), ElasticsearchConfig(
            hosts=(f"http://127.0.0.1:{port}",), batch_docs=args.batch))
        try:
            ref.ask(Query("status"), timeout=10)
            cpu = time.process_time()
            wall = time.perf_counter()
            for batch in data:
                ref.tell(Deliver(batch, replies))
            while replies.ask("n", timeout=10) < len(data):
                time.sleep(0.005)
            total_wall = time.perf_counter() - wall
            total_cpu = time.process_time() - cpu
            status = ref.ask(Query("status"), timeout=10)
        finally:
            ref.stop(timeout=10)
            replies.stop()
            sink.communicate(b"", timeout=10)
    assert status["counters"]["docs_indexed"] == args.records, status["counters"]
    print(f"records                      {args.records:,} in batches of {args.batch}")
    print(f"ECS encoding alone           {docs / encode_wall:>10,.0f} records/s   "
          f"{encode_cpu / docs * 1e6:6.1f} us CPU/record")
    print(f"collector -> stand-in sink   {args.records / total_wall:>10,.0f} records/s   "
          f"{total_cpu / args.records * 1e6:6.1f} us CPU/record (collector process)")
    print(f"encoding share of the collector's CPU: {encode_cpu / total_cpu:.0%}")
    print(f"cores: {os.cpu_count()}  python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
