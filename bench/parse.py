#!/usr/bin/env python3
"""Parser throughput: CPU per line for each format, its ratio to the combined parser's in
the same run, and the combined parser's ratio to the pure-Python floor.

  python bench/parse.py [-n 1000000] [--formats combined,common,combined_rt,w3c,json,presets]
                        [--rounds 5] [--repeat 3] [--against REV [--against-presets]]

Generates the logs with ``../shared/bench/genlog.py`` (relative to the project root) into a
temporary directory and parses each one the way the pipeline does (the file read in 1 MiB
chunks of complete lines, each chunk given to the parser, its columns range-checked). Every
format is timed ``--rounds`` times, each time in a fresh child process of this tree (nothing
another format left in the heap or the caches counts against it), the formats' order rotated
by one each round so a burst of load falls on all of them; in that process the first chunk is
parsed once untimed by a throwaway parser (imports, the regex cache: paid once per process by
a pipeline), garbage collected, then a new parser reads the whole file. The figure is the
median of the rounds' CPU seconds (user + system: on a shared, loaded machine wall time
mostly measures the neighbours) of each chunk's parse and range check, the file's reading
shown apart (``read s``: the monitor's cost, larger for the presets' longer lines, and
the same work for every format otherwise), and each format's ratio is to the combined
parser's median of the same rounds (``combined`` is always run). ``../shared/bench/floor.py``
then runs on the combined file ``--repeat`` times, alternated with the combined parser
(parse and read, as the floor's time includes its reading; target: within 1.3x the
floor). JSON lines are derived from the combined log (genlog has no JSON), and so
are the logs of the server presets (``presets`` in ``--formats``: Traefik, Caddy, ALB, ELB,
CloudFront, S3, Squid, HAProxy, vhost_common; each line carries the combined line's request
with that server's other fields; target: each within 1.5x the combined parser's CPU per
line). ``--against REV`` also runs the combined parser of git revision REV (exported with
``git archive``) on the same file, alternated with this one, to show it did not slow;
``--against-presets`` does the same for each preset (its format and the range check every
parser plugin runs), for before/after figures.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
#: ``../shared`` beside the project (``OMPHALOS_SHARED`` overrides it, for a worktree).
SHARED = Path(os.environ.get("OMPHALOS_SHARED", ROOT.parent / "shared")) / "bench"
sys.path.insert(0, str(ROOT))

from omphalos.plugins.parsers.auto import candidates  # noqa: E402

from omphalos.lib.parsers.clf_format import COMBINED_TOKENS, clf_format  # noqa: E402
from omphalos.lib.parsers.format_examples import EXAMPLES  # noqa: E402
from omphalos.lib.parsers.json_format import JsonFormat  # noqa: E402
from omphalos.lib.parsers.linefmt import LineFormat  # noqa: E402
from omphalos.lib.parsers.nginx_format import compile_nginx  # noqa: E402
from omphalos.lib.parsers.w3c_format import W3CStream  # noqa: E402
from omphalos.validate import out_of_range_rows  # noqa: E402

CHUNK = 1 << 20


def chunks(path: Path) -> Iterator[tuple[bytes, int]]:
    """The file as the monitor hands it over: chunks of complete lines, with offsets."""
    with open(path, "rb") as fh:
        rest, offset = b"", 0
        while True:
            block = fh.read(CHUNK)
            if not block:
                break
            block = rest + block
            end = block.rfind(b"\n") + 1
            yield block[:end], offset
            offset += end
            rest = block[end:]
        if rest:
            yield rest, offset


PRESETS = ["traefik", "caddy", "traefik_json", "alb", "elb", "cloudfront", "s3", "squid",
           "haproxy", "vhost_common"]


def parser_for(name: str) -> Any:
    """What the plugin of that name uses (``combined``/``common``: the whole family)."""
    if name in ("combined", "common"):
        return clf_format(name)
    if name in PRESETS:
        return EXAMPLES[name][0]()
    if name == "combined_rt":
        return compile_nginx("combined_rt")
    if name == "w3c":
        return W3CStream()
    if name == "json":
        return JsonFormat()
    raise ValueError(name)


def run(parser: Any, path: Path) -> tuple[float, float, int, int, float]:
    """(CPU seconds, wall seconds, records, unparsed, CPU seconds reading) for parsing
    ``path`` with ``parser``: the CPU figure is each chunk's parse and range check (and
    freeing the previous chunk's columns), the reading of the file apart."""
    c0, t0 = time.process_time(), time.perf_counter()
    records = unparsed = 0
    parsing = 0.0
    for data, start in chunks(path):
        c = time.process_time()
        columns, _, _, reasons = parser.parse(data, start)
        out_of_range = len(out_of_range_rows(columns))  # what every ParserPlugin checks
        parsing += time.process_time() - c
        records += len(columns) - out_of_range
        unparsed += sum(reasons.values()) + out_of_range
    total = time.process_time() - c0
    return parsing, time.perf_counter() - t0, records, unparsed, total - parsing


def child_run(name: str, path: Path) -> tuple[float, float, int, int, float]:
    """:func:`run` as one round's measurement in a fresh process: the first chunk parsed
    once, untimed, by a throwaway parser (first-call costs: lazy imports, the regex
    cache; a pipeline pays them once per process, not per chunk), the garbage of that
    collected, then a new parser (its caches cold, as for each new file) times the file."""
    data, start = next(chunks(path))
    parser_for(name).parse(data, start)
    del data
    gc.collect()
    return run(parser_for(name), path)


def isolated(name: str, path: Path) -> tuple[float, float, int, int, float]:
    """:func:`child_run` in a child process of this tree (nothing another format left in
    the heap, the allocator or the caches counts against this one)."""
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", name,
                          str(path)], check=True, capture_output=True, text=True).stdout
    cpu, wall, records, unparsed, reading = json.loads(out)
    return float(cpu), float(wall), int(records), int(unparsed), float(reading)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def floor(path: Path) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of ``floor.py`` on ``path``."""
    c0, t0 = _children_cpu(), time.perf_counter()
    subprocess.run([sys.executable, str(SHARED / "floor.py"), str(path)], check=True,
                   stdout=subprocess.DEVNULL)
    return _children_cpu() - c0, time.perf_counter() - t0


def make_json(combined: Path, out: Path) -> None:
    """JSON lines carrying the same requests as the combined log, nginx escape=json keys."""
    fmt = LineFormat("combined", COMBINED_TOKENS)
    with open(out, "w") as fh:
        for data, start in chunks(combined):
            for r in fmt.parse(data, start)[0].rows():
                fh.write(json.dumps({
                    "msec": r.time, "remote_addr": r.client, "request_method": r.method,
                    "request_uri": r.path + (f"?{r.query}" if r.query else ""),
                    "server_protocol": r.protocol, "status": r.status,
                    "body_bytes_sent": r.bytes, "http_referer": r.referer,
                    "http_user_agent": r.agent}) + "\n")


ALB_TAIL = ('ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:us-east-2:'
            '123456789012:targetgroup/web/73e2d6bc "Root=1-{n:08x}-1d84f3d73c47ec4e5857{n:04x}"'
            ' "example.com" "-" 0 {iso} "forward" "-" "-" "10.0.0.1:80" "{status}" "-" "-"')


def preset_line(name: str, r: Any, n: int, iso: str, clf: str) -> str:
    """Record ``r`` of the combined log as preset ``name`` writes it."""
    uri = r.path + (f"?{r.query}" if r.query else "")
    request = f"{r.method} {uri} {r.protocol}"
    ref, agent = r.referer or "-", r.agent or "-"
    if name == "traefik":
        return (f'{r.client} - - [{clf}] "{request}" {r.status} {r.bytes} "{ref}" "{agent}" '
                f'{n} "web@docker" "http://172.17.0.3:8080" {n % 500}ms')
    if name == "vhost_common":
        return f'www.example.com {r.client} - - [{clf}] "{request}" {r.status} {r.bytes}'
    if name == "alb":
        return (f"https {iso} app/my-lb/50dc6c495c0c9188 {r.client}:{n % 60000} 10.0.0.1:80 "
                f"0.001 0.048 0.000 {r.status} {r.status} 34 {r.bytes} "
                f'"{r.method} https://example.com:443{uri} {r.protocol}" "{agent}" '
                + ALB_TAIL.format(n=n, iso=iso, status=r.status))
    if name == "elb":
        return (f"{iso} my-lb {r.client}:{n % 60000} 10.0.0.1:80 0.000073 0.001048 0.000057 "
                f"{r.status} {r.status} 0 {r.bytes} "
                f'"{r.method} http://example.com:80{uri} {r.protocol}" "{agent}" - -')
    if name == "s3":
        return (f"79a59df900b949e5 bucket1 [{clf}] {r.client} - 3E57{n:08X} REST.GET.OBJECT "
                f'key{n % 100} "{request}" {r.status} - {r.bytes} {r.bytes} 7 6 "{ref}" '
                f'"{agent}" - hostid{n}= SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader '
                "bucket1.s3.amazonaws.com TLSv1.2 - -")
    if name == "squid":
        return (f"{r.time:.3f} {n % 100000:6d} {r.client} TCP_MISS/{r.status} {r.bytes} "
                f"{r.method} http://example.com{uri} - HIER_DIRECT/93.184.216.34 text/html")
    if name == "haproxy":
        return (f"{r.client}:{n % 60000} [{clf.split(' ')[0]}.{n % 1000:03d}] http-in "
                f"static/srv1 10/0/30/69/{n % 1000} {r.status} {r.bytes} - - ---- "
                f'1/1/1/1/0 0/0 "{request}"')
    if name == "cloudfront":
        date, clock = iso[:10], iso[11:19]
        return "\t".join([date, clock, "LAX1", str(r.bytes), r.client, r.method or "-",
                          "d1.cloudfront.net", r.path, str(r.status), ref,
                          agent.replace(" ", "%20"), r.query or "-", "0.001",
                          r.protocol or "-"])
    if name == "caddy":
        return json.dumps({
            "level": "info", "ts": r.time, "logger": "http.log.access",
            "msg": "handled request",
            "request": {"remote_ip": r.client, "remote_port": str(n % 60000),
                        "proto": r.protocol, "method": r.method, "host": "example.com",
                        "uri": uri, "headers": {"User-Agent": [agent], "Referer": [ref]}},
            "bytes_read": 0, "user_id": "", "duration": 0.0012, "size": r.bytes,
            "status": r.status, "resp_headers": {}}, separators=(",", ":"))
    if name == "traefik_json":
        return json.dumps({
            "ClientHost": r.client, "DownstreamContentSize": r.bytes,
            "DownstreamStatus": r.status, "Duration": 1234567 + n,
            "RequestHost": "example.com", "RequestMethod": r.method, "RequestPath": uri,
            "RequestProtocol": r.protocol, "RouterName": "web@docker",
            "StartUTC": iso, "request_User-Agent": agent}, separators=(",", ":"))
    raise ValueError(name)


def make_presets(combined: Path, logs: dict[str, Path], tmp: str) -> None:
    """The preset logs, derived from the combined one (the same requests)."""
    files = {}
    for name in PRESETS:
        logs[name] = Path(tmp) / f"{name}.log"
        files[name] = open(logs[name], "w")
        header = EXAMPLES[name][1]
        if name == "cloudfront":
            header = ("#Version: 1.0\n#Fields: date time x-edge-location sc-bytes c-ip "
                      "cs-method cs(Host) cs-uri-stem sc-status cs(Referer) cs(User-Agent) "
                      "cs-uri-query time-taken cs-protocol-version\n")
        files[name].write(header)
    fmt = LineFormat("combined", COMBINED_TOKENS)
    n = 0
    stamps: dict[float, tuple[str, str]] = {}
    for data, start in chunks(combined):
        for r in fmt.parse(data, start)[0].rows():
            n += 1
            stamp = stamps.get(r.time)
            if stamp is None:
                moment = datetime.fromtimestamp(r.time, UTC)
                stamp = stamps[r.time] = (moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                                          moment.strftime("%d/%b/%Y:%H:%M:%S +0000"))
            for name, fh in files.items():
                fh.write(preset_line(name, r, n, *stamp) + "\n")
    for fh in files.values():
        fh.close()


#: The tree to time, from the child's arguments (ROOT, PATH[, PRESET]).
_TREE = """
import sys, time
root, path = sys.argv[1], sys.argv[2]
sys.path.insert(0, root)
import omphalos.plugins.parsers as pp
pp.__path__[:] = [root + "/plugins/parsers"]
"""
#: The file in chunks of whole lines (about 1 MiB), then the CPU time of ``PARSE`` on each.
_TIMED = """
data = open(path, "rb").read()
pieces, i = [], 0
while i < len(data):
    j = data.rfind(b"\\n", i, i + (1 << 20)) + 1
    pieces.append((data[i:j], i))
    i = j
c0 = time.process_time()
for chunk, start in pieces:
    PARSE
print(time.process_time() - c0)
"""

AGAINST = _TREE + """
from omphalos.plugins.parsers.clf import CombinedParser
fmt = CombinedParser.make_format(None)
""" + _TIMED.replace("PARSE", "fmt.parse(chunk, start)")

AGAINST_PRESET = _TREE + """
try:
    from omphalos.lib.parsers.presets import PRESETS
except ImportError:  # before the presets' table moved out of the plugin folder
    from omphalos.plugins.parsers.preset import PRESETS
from omphalos.validate import out_of_range_rows
fmt = PRESETS[sys.argv[3]][0]()
""" + _TIMED.replace("PARSE", "out_of_range_rows(fmt.parse(chunk, start)[0])")


def against(rev: str, tmp: str, path: Path, preset: str = "") -> float:
    """CPU seconds of revision ``rev``'s combined parser on ``path`` (child process; ``rev``
    empty: this tree's, the same way, so both sides run in a fresh process); with
    ``preset``, that preset's format and the range check instead."""
    tree = Path(tmp) / f"rev-{rev}" if rev else ROOT
    if not tree.exists():
        tree.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    script, args = (AGAINST_PRESET, [preset]) if preset else (AGAINST, [])
    out = subprocess.run([sys.executable, "-c", script, str(tree), str(path), *args],
                         check=True, capture_output=True, text=True).stdout
    return float(out.strip())


def _listed(runs: list[float]) -> str:
    return ", ".join(f"{x:.2f}" for x in runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=1_000_000, help="lines per generated log")
    ap.add_argument("--formats", default="combined,common,combined_rt,w3c,json,presets")
    ap.add_argument("--rounds", type=int, default=5,
                    help="rounds; each times every format once, in a fresh child process, "
                         "the order rotated by one each round; the median is shown")
    ap.add_argument("--against", default="", metavar="REV",
                    help="also run git revision REV's combined parser, alternated")
    ap.add_argument("--against-presets", action="store_true",
                    help="with --against: also each preset's format (and the range check) "
                         "of REV and of this tree, alternated in child processes")
    ap.add_argument("--repeat", type=int, default=3,
                    help="floor.py runs (and --against pairs), alternated with the combined "
                         "parser; medians compared")
    ap.add_argument("--child", nargs=2, metavar=("FORMAT", "PATH"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:  # one measurement (see isolated()): its figures as JSON
        print(json.dumps(child_run(a.child[0], Path(a.child[1]))))
        return
    formats = a.formats.split(",")
    if "presets" in formats:
        formats = [f for f in formats if f != "presets"] + PRESETS
    if "combined" not in formats:
        formats.insert(0, "combined")  # every ratio is to it, measured in the same rounds
    with tempfile.TemporaryDirectory(prefix="omphalos-bench-") as tmp:
        logs: dict[str, Path] = {}
        for name in {"combined", *formats} - {"json", *PRESETS}:
            logs[name] = Path(tmp) / f"{name}.log"
            with open(logs[name], "wb") as fh:
                subprocess.run([sys.executable, str(SHARED / "genlog.py"), "-n", str(a.n),
                                "--format", name], stdout=fh, check=True)
        if "json" in formats:
            logs["json"] = Path(tmp) / "json.log"
            make_json(logs["combined"], logs["json"])
        if set(PRESETS) & set(formats):
            make_presets(logs["combined"], logs, tmp)
        assert candidates()  # the auto parser's formats compile
        print(f"parser throughput, {a.n:,} generated lines per format, Python "
              f"{sys.version.split()[0]}, {a.rounds} rounds\n")
        print("CPU seconds of parsing and the range check (user+sys, median of the rounds; "
              "each run a fresh child process, the formats' order rotated each round; the "
              "machine is shared, wall time in brackets; reading the file apart, 'read s')\n")
        print(f"{'format':<12} {'cpu s':>7} {'us/line':>8} {'(wall s)':>9} {'read s':>7} "
              f"{'records':>10} {'unparsed':>9} {'/combined':>9}  rounds' CPU s")
        runs: dict[str, list[tuple[float, float, int, int, float]]] = {f: [] for f in formats}
        for r in range(a.rounds):  # alternated, so a burst of load hits every format
            for name in formats[r % len(formats):] + formats[:r % len(formats)]:
                runs[name].append(isolated(name, logs[name]))
        results = {name: statistics.median(x[0] for x in runs[name]) for name in formats}
        combined = results["combined"]
        for name in formats:
            cpu = results[name]
            wall = statistics.median(x[1] for x in runs[name])
            reading = statistics.median(x[4] for x in runs[name])
            records, unparsed = runs[name][0][2:4]
            assert all(x[2:4] == (records, unparsed) for x in runs[name]), name
            print(f"{name:<12} {cpu:7.2f} {1e6 * cpu / a.n:8.2f} {f'({wall:.2f})':>9} "
                  f"{reading:7.2f} {records:10,} {unparsed:9,} {cpu / combined:8.2f}x  "
                  f"{_listed([x[0] for x in runs[name]])}")
        floor_runs: list[float] = []
        old_runs: list[float] = []
        new_runs: list[float] = []
        combined_runs: list[float] = []
        for _ in range(a.repeat):
            floor_runs.append(floor(logs["combined"])[0])
            if a.against:
                old_runs.append(against(a.against, tmp, logs["combined"]))
                new_runs.append(against("", tmp, logs["combined"]))
            figures = isolated("combined", logs["combined"])  # with its reading, as the
            combined_runs.append(figures[0] + figures[4])      # floor's time has it
        floor_cpu, combined_alt = (statistics.median(floor_runs),
                                   statistics.median(combined_runs))
        print(f"{'combined*':<12} {combined_alt:7.2f} {1e6 * combined_alt / a.n:8.2f}   "
              f"(parse and read, median of {len(combined_runs)}, alternated with floor.py: "
              f"{_listed(combined_runs)})")
        print(f"{'floor.py':<12} {floor_cpu:7.2f} {1e6 * floor_cpu / a.n:8.2f}   (median of "
              f"{len(floor_runs)}: {_listed(floor_runs)}; one regex match + two Counter "
              "updates per line)")
        if old_runs:
            for label, times in ((f"combined@{a.against[:8]}", old_runs),
                                 ("combined@this", new_runs)):
                print(f"{label:<12} {statistics.median(times):7.2f} "
                      f"{1e6 * statistics.median(times) / a.n:8.2f}   (median of "
                      f"{len(times)}: {_listed(times)}; child process, same file)")
        presets = [p for p in PRESETS if p in results]
        print(f"\ncombined parser / floor.py CPU time: {combined_alt / floor_cpu:.2f}x "
              f"(target: within 1.3x)")
        if old_runs:
            print(f"combined parser / {a.against}'s, both in a child process: "
                  f"{statistics.median(new_runs) / statistics.median(old_runs):.2f}x "
                  "(target: no slower)")
        if a.against and a.against_presets:
            print(f"\npresets, {a.against} -> this tree (CPU s, median of {a.repeat}, child "
                  "processes alternated, parse + range check; /combined: this tree's against "
                  "this tree's combined in the same kind of process)")
            for name in (p for p in PRESETS if p in logs):
                old, new = [], []
                for _ in range(a.repeat):
                    old.append(against(a.against, tmp, logs[name], name))
                    new.append(against("", tmp, logs[name], name))
                o, w = statistics.median(old), statistics.median(new)
                print(f"{name:<12} {o:7.2f} -> {w:5.2f}  ({w / o:.2f}x; /combined "
                      f"{w / statistics.median(new_runs):.2f}x)")
        if presets:
            slowest = max((results[p] / combined, p) for p in presets)
            print("\npresets / combined CPU per line (medians of the same rounds): "
                  + ", ".join(f"{p} {results[p] / combined:.2f}x" for p in presets))
            print(f"slowest preset / combined CPU per line: {slowest[0]:.2f}x ({slowest[1]}; "
                  "target: within 1.5x)")


if __name__ == "__main__":
    main()
