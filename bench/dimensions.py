"""The cost of GoAccess's dimensions, and ``omphalos report`` against ``goaccess -o``.

``python bench/dimensions.py`` (``--lines 1000000 --runs 2``): one combined log from
``../shared/bench/genlog.py``; alternated rounds of

* ``omphalos replay`` counting only the seven column dimensions (the summary before issue
  20: ``dimensions`` = path, client, host, status, agent, referer, method; ``max_hosts =
  0``),
* the same plus the user-agent and visitor dimensions (browser, os, device, crawler,
  visitors),
* every dimension but ``country``, and every dimension, both with ``max_hosts = 0``
  (what ``country`` costs: one look-up per new client address),
* the default summary (every dimension but the opt-in ``country``, hosts kept apart),
* ``omphalos report -o report.html`` (the default summary plus the report),

then once ``goaccess LOG --log-format=COMBINED -o report.html``. The counts of every run
are checked against each other before the figures are printed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from common import alternated, ensure_goaccess, generate, timed

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from omphalos.query import DIMENSIONS

BASE = "path, client, host, status, agent, referer, method"
UA = BASE + ", browser, os, device, crawler, visitors"
NO_COUNTRY = ", ".join(d for d in DIMENSIONS if d != "country")


def config(directory: Path, name: str, dimensions: str) -> Path:
    path = directory / f"{name}.conf"
    # durable = false: a [collector:summary] section of a config replaces the replay's own
    # (in memory), and a durable summary would add every run to the last
    path.write_text(f"[collector:summary]\ndurable = false\ndimensions = {dimensions}\n"
                    "max_hosts = 0\n")
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=2, help="alternated rounds; the best counts")
    ap.add_argument("--no-goaccess", action="store_true")
    ap.add_argument("--workers", type=int, default=1,
                    help="replay processes (default 1: the per-line cost, and the CPU time "
                         "then counts every process)")
    args = ap.parse_args()
    log = generate(args.lines, "combined")
    print(f"input: {args.lines:,} combined lines, {log.stat().st_size / 1e6:.0f} MB ({log})")
    cmd = [sys.executable, "-m", "omphalos.cli.main"]
    w = ["-w", str(args.workers)]
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        best = alternated({
            "replay, 7 base dims": [*cmd, "-c", str(config(d, "base", BASE)), "replay",
                                    *w, "--json", "--format", "combined", str(log)],
            "replay, + agent/visitors": [*cmd, "-c", str(config(d, "ua", UA)), "replay",
                                         *w, "--json", "--format", "combined", str(log)],
            "replay, all but country": [*cmd, "-c", str(config(d, "nc", NO_COUNTRY)),
                                        "replay", *w, "--json", "--format", "combined",
                                        str(log)],
            "replay, all, no hosts": [*cmd, "-c", str(config(d, "all", ", ".join(DIMENSIONS))),
                                      "replay", *w, "--json", "--format", "combined",
                                      str(log)],
            "replay, default dims": [*cmd, "replay", *w, "--json", "--format", "combined",
                                  str(log)],
            "omphalos report -o": [*cmd, "report", "--format", "combined", "-o",
                                   str(d / "omphalos.html"), str(log)],
        }, args.runs)
        counts = {n: json.loads(best[n].output)["requests"] for n in best if "replay" in n}
        if set(counts.values()) != {args.lines}:
            raise SystemExit(f"the runs counted {counts}, not {args.lines}")
        rows = list(best.values())
        if not args.no_goaccess and (goaccess := ensure_goaccess()):
            rows.append(timed("goaccess -o report.html",
                              [goaccess, str(log), "--log-format=COMBINED", "--no-progress",
                               "-o", str(d / "goaccess.html")], 1))
    base = best["replay, 7 base dims"]
    print(f"{'run':<26}{'wall s':>9}{'cpu s':>9}{'wall/base':>11}")
    for row in rows:
        print(f"{row.name:<26}{row.wall:>9.2f}{row.cpu:>9.2f}{row.wall / base.wall:>11.2f}")
    every = best["replay, default dims"].wall / base.wall - 1
    every_cpu = best["replay, default dims"].cpu / base.cpu - 1
    print(f"the default's new dimensions (all but the opt-in country) add {every:.0%} wall, "
          f"{every_cpu:.0%} cpu to replay "
          f"(target <= 40%): {'met' if every <= 0.40 else 'NOT met'} by wall")
    per_line = (best["replay, + agent/visitors"].wall - base.wall) / args.lines * 1e6
    print(f"agent and visitor dimensions: {per_line:.2f} us per line")
    without, every = best["replay, all but country"], best["replay, all, no hosts"]
    print(f"country: {every.wall / without.wall - 1:+.0%} wall, "
          f"{every.cpu / without.cpu - 1:+.0%} cpu against every other dimension, "
          f"{(every.cpu - without.cpu) / args.lines * 1e6:.2f} us cpu per line")


if __name__ == "__main__":
    main()
