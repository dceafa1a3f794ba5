"""Fleet benchmark: N sender processes replay pre-encoded batches into one collector over zmq.

    python bench/fleet.py --senders 20 50 --lines-per-sender 20000

Each sender process runs the real ``zmq`` sender (spool, credit, probes) and is handed its
batches already encoded (each sender with its own host and file identity), so the senders
are cheap and the collector process is what is measured: one ``zmq`` receiver on loopback
feeding ``summary`` and ``window`` (record batches), or ``summary`` alone (counted batches:
the window collector needs records). For each N it prints the lines/s at the collector,
the collector's peak RSS, re-sent batches as a share of all batches, whether every line was
counted exactly once, and, measured in the same run, the collectors' own apply rate in one
process (the same decoded batches handed to ``summary`` and ``window`` directly, each from
every sender's host in turn, as the collector receives them) as the reference. The log is
made by ../shared/bench/genlog.py (cached, see bench/common.py).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import generate  # bench/ is not a package: found through sys.path

#: Lines per batch: about what the file monitor reads at once (read_bytes, 1 MiB).
BATCH_LINES = 5000


def set_batch_lines(n: int) -> None:
    global BATCH_LINES
    BATCH_LINES = n


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _plugin(kind: str, name: str, state: str) -> Any:
    """A plugin object used directly, in this thread (no actor thread): for parsing the
    templates and for the in-process reference."""
    from omphalos.directory import Directory
    from omphalos.plugin import PluginContext
    from omphalos.registry import default_registry
    from omphalos.settings import Settings

    cls = default_registry().get(kind, name)
    obj = cls(PluginContext(name=f"{kind}:{name}", settings=Settings(state_dir=state),
                            directory=Directory()), cls.Config())
    obj.setup()
    return obj


def templates(lines: int, state: str) -> list[Any]:
    """Batches of ``BATCH_LINES`` parsed lines of a generated combined log."""
    from omphalos.messages import LineChunk, Source

    data = generate(lines).read_bytes().splitlines(keepends=True)[:lines]
    parser = _plugin("parser", "combined", state)
    out = []
    offset = 0
    for i in range(0, len(data), BATCH_LINES):
        chunk = b"".join(data[i:i + BATCH_LINES])
        out.append(parser.parse(LineChunk(Source("tpl", "/var/log/access.log", "0:0:0",
                                                 "monitor:web"), i + 1, offset,
                                          offset + len(chunk), chunk)))
        offset += len(chunk)
    return out


def for_sender(batches: list[Any], index: int, counted: bool) -> list[tuple[bytes, Any]]:
    """``batches`` as sender ``index`` sends them (its host, its file), encoded, with the
    acknowledgement of each."""
    from dataclasses import replace

    from omphalos.counting import aggregate, reduce_counts
    from omphalos.messages import Ack
    from omphalos.records import Columns
    from omphalos.wire import encode_batch

    host = f"web{index:03d}"
    out = []
    for b in batches:
        source = replace(b.source, host=host, file_id=f"1:{index}:fleet", origin="monitor:web")
        one = replace(b, source=source)
        if counted:
            dims = ("path", "client", "host", "status", "agent", "referer", "method")
            counts = reduce_counts(aggregate(one.records, host, dims), 2000)
            one = replace(one, records=Columns(), counts=counts)
        out.append((encode_batch(one), Ack(source.origin, one.seq, source.file_id, one.end)))
    return out


# -- the processes ---------------------------------------------------------------------------
def sender_main(args: argparse.Namespace) -> None:
    """One sender: encode its batches, wait for the start, hand them all to a real zmq
    sender, wait until all are acknowledged, print its counters."""
    from omphalos.plugins.transports.zeromq import EncodedBatch, ZmqConfig, ZmqTransport

    from omphalos.directory import Directory
    from omphalos.messages import Query
    from omphalos.plugin import PluginContext
    from omphalos.settings import Settings

    state = tempfile.mkdtemp(prefix="fleet-sender-")
    encoded = for_sender(templates(args.lines, state), args.index, args.counted)
    ctx = PluginContext(name="transport:zmq", settings=Settings(state_dir=state),
                        directory=Directory())
    ref = ZmqTransport.start(ctx, ZmqConfig(connect=f"tcp://127.0.0.1:{args.port}"))
    print("ready", flush=True)
    while not Path(args.go).exists():
        time.sleep(0.01)
    for payload, ack in encoded:
        ref.tell(EncodedBatch(payload, ack))
    while True:
        status = ref.ask(Query("status"), timeout=30)
        if (status["counters"]["sent"] == len(encoded) and not status["held"]
                and not status["spool"]["items"]):
            break
        time.sleep(0.05)
    ref.stop(timeout=10)
    print(json.dumps(status["counters"]), flush=True)


def collector_main(args: argparse.Namespace) -> None:
    """The collector: a zmq receiver, summary (+ window for records); prints when all the
    expected lines are counted, with its peak RSS and receiver counters."""
    from omphalos.messages import Query
    from omphalos.pipeline import Pipeline

    config: dict[str, Any] = {
        "omphalos": {"state_dir": tempfile.mkdtemp(prefix="fleet-collector-")},
        "transport:zmq": {"bind": f"tcp://127.0.0.1:{args.port}"},
        "collector:summary": {}}
    if not args.counted:
        config["collector:window"] = {}
    pipeline = Pipeline.from_config(config).start()
    print("ready", flush=True)
    try:
        names = pipeline.names("collector")
        while True:  # every collector has applied every line
            if all(pipeline.ask(name, Query("status"), 30.0)["counters"].get("records", 0)
                   >= args.expect for name in names):
                break
            time.sleep(0.02)
        done = time.time()
        time.sleep(0.5)  # late copies, if any, would show now
        statuses = {name: pipeline.ask(name, Query("status"), 30.0)["counters"]
                    for name in pipeline.names("collector") + pipeline.names("transport")}
        summary = pipeline.query("summary", collector="summary")
        with open("/proc/self/status") as fh:
            peak = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM"))
        print(json.dumps({"done": done, "peak_rss_kib": peak, "counters": statuses,
                          "lines": summary["lines"], "hosts": summary["hosts"]}), flush=True)
        # the senders finish once their last acknowledgements (sent after a save) are in:
        # the collector stays up until the driver says they are all done
        sys.stdin.readline()
    finally:
        pipeline.stop(timeout=10)


# -- the driver ------------------------------------------------------------------------------
def in_process_rate(batches: list[Any], hosts: int, most: int = 200_000) -> float:
    """Lines/s of summary + window applying the decoded batches in this one process, each
    batch from each of ``hosts`` hosts in turn, as the fleet's senders send them (every
    window bucket then holds the hosts' parts, as at the collector), up to ``most`` lines."""
    from dataclasses import replace

    state = tempfile.mkdtemp(prefix="fleet-inproc-")
    summary = _plugin("collector", "summary", state)
    window = _plugin("collector", "window", state)
    n = 0
    started = time.perf_counter()
    for i, b in enumerate(batches):
        for h in range(hosts):
            one = replace(b, source=replace(b.source, host=f"web{h:03d}",
                                            file_id=f"1:{h}:{i}:inproc"))
            summary.receive(one)
            window.receive(one)
            n += len(one.records)
            if n >= most:
                return n / (time.perf_counter() - started)
    return n / (time.perf_counter() - started)


def run(senders: int, lines: int, counted: bool) -> dict[str, Any]:
    port = free_port()
    go = Path(tempfile.mkdtemp(prefix="fleet-go-")) / "go"
    me = [sys.executable, str(Path(__file__).resolve())]
    expect = senders * lines
    me = [*me, "--batch-lines", str(BATCH_LINES)]
    collector = subprocess.Popen([*me, "collector", "--port", str(port), "--expect",
                                  str(expect), *(["--counted"] if counted else [])],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert collector.stdout is not None and collector.stdout.readline().strip() == "ready"
    procs = [subprocess.Popen([*me, "sender", "--port", str(port), "--index", str(i),
                               "--lines", str(lines), "--go", str(go),
                               *(["--counted"] if counted else [])],
                              stdout=subprocess.PIPE, text=True) for i in range(senders)]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    started = time.time()
    go.touch()
    result = json.loads(collector.stdout.readline())
    outs = []
    for p in procs:
        out, _ = p.communicate(timeout=1800)
        outs.append(json.loads(out.strip().splitlines()[-1]))
    collector.communicate("stop\n", timeout=600)
    batches = sum(o["sent"] for o in outs)
    resends = sum(o["resends"] for o in outs)
    summary_counters = result["counters"]["collector:summary"]
    hosts = result["hosts"]
    exact = (result["lines"] == expect and len(hosts) == senders
             and all(v == lines for v in hosts.values())
             and not summary_counters.get("duplicate_batches")
             and not summary_counters.get("duplicate_lines"))
    return {"senders": senders, "counted": counted, "lines": expect,
            "secs": result["done"] - started,
            "lines_per_sec": expect / (result["done"] - started),
            "peak_rss_mb": result["peak_rss_kib"] / 1024, "batches": batches,
            "resends": resends, "resent_share": resends / max(1, batches + resends),
            "probes": sum(o["probes"] for o in outs), "exactly_once": exact,
            "receiver": result["counters"]["transport:zmq"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="role")
    s = sub.add_parser("sender")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--index", type=int, required=True)
    s.add_argument("--lines", type=int, required=True)
    s.add_argument("--go", required=True)
    s.add_argument("--counted", action="store_true")
    c = sub.add_parser("collector")
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--expect", type=int, required=True)
    c.add_argument("--counted", action="store_true")
    parser.add_argument("--senders", type=int, nargs="+", default=[20, 50])
    parser.add_argument("--lines-per-sender", type=int, default=20000)
    parser.add_argument("--batch-lines", type=int, default=BATCH_LINES,
                        help="lines per batch (default: about one 1 MiB read of a monitor)")
    args = parser.parse_args()
    set_batch_lines(getattr(args, "batch_lines", BATCH_LINES))
    if args.role == "sender":
        sender_main(args)
        return
    if args.role == "collector":
        collector_main(args)
        return
    load = os.getloadavg()
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on "
          f"{os.cpu_count()} cores; {args.lines_per_sender:,} lines per sender in batches of "
          f"{BATCH_LINES:,}")
    batches = templates(args.lines_per_sender, tempfile.mkdtemp(prefix="fleet-tpl-"))
    for n in args.senders:
        before = in_process_rate(batches, n)  # just before and just after, same load
        for counted in (False, True):
            r = run(n, args.lines_per_sender, counted)
            if not counted:
                after = in_process_rate(batches, n)
                reference = (before + after) / 2
                print(f"in-process apply rate (summary + window, same batches from "
                      f"{n} hosts): "
                      f"{before:,.0f} before, {after:,.0f} after the fleet run")
            kind = "counted" if counted else "records"
            ratio = "" if counted else f" ({r['lines_per_sec'] / reference:.2f}x in-process)"
            print(f"N={n:3d} {kind:8s} {r['lines']:>9,} lines in {r['secs']:6.2f}s: "
                  f"{r['lines_per_sec']:>11,.0f} lines/s{ratio}; peak RSS "
                  f"{r['peak_rss_mb']:.0f} MB; re-sent {r['resends']}/{r['batches']} "
                  f"({100 * r['resent_share']:.2f}%), probes {r['probes']}; exactly once: "
                  f"{r['exactly_once']}", flush=True)
    load = os.getloadavg()
    print(f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
