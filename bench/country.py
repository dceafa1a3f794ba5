"""What the ``country`` dimension costs per line, against counting the clients alone.

``python bench/country.py`` (``--lines 300000 --runs 3``): the first lines of the combined
log ``../shared/bench/genlog.py`` makes (nearly every line a new client address: the worst
case, every address looked up once) in batches of 5,000, counted in this process by
``omphalos.counting.aggregate`` with the dimensions ``client`` and then ``client,
country``, in alternated rounds (a fresh look-up cache each round); then the same with a
``.mmdb`` file (``geoip_database``) written here with ``mmdb-writer`` (one network per /8).
The best round counts. The keys of both sources are checked to cover every line.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from common import generate

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from omphalos.counting import aggregate
from omphalos.lib import geoip
from omphalos.records import Columns

BATCH = 5000


def batches(log: Path, lines: int) -> list[Columns]:
    """Client, path, status and bytes of the first ``lines`` lines (split on spaces)."""
    out, rows = [], []
    with open(log, encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if i == lines:
                break
            parts = line.split(" ", 10)
            rows.append((parts[0], parts[6], int(parts[8]), int(parts[9]) if parts[9].isdigit()
                         else 0))
    for start in range(0, len(rows), BATCH):
        part = rows[start:start + BATCH]
        n = len(part)
        clients, paths, status, sizes = (list(c) for c in zip(*part))
        out.append(Columns(time=[1.4e9 + start + i for i in range(n)], client=clients,
                           path=paths, status=status, bytes=sizes, offset=list(range(n))))
    return out


def best_secs(data: list[Columns], dims: tuple[str, ...], database: str, runs: int
              ) -> float:
    best = float("inf")
    for _ in range(runs):
        geoip._LOOKUPS.clear()  # a fresh cache: every address is new again
        t0 = time.perf_counter()
        for cols in data:
            agg = aggregate(cols, "web1", dims, geoip_database=database)
            if "country" in dims:
                assert sum(agg.dims["country"].hits.values()) == len(cols)
        best = min(best, time.perf_counter() - t0)
    return best


def write_mmdb(path: Path) -> None:
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    writer = MMDBWriter(ip_version=4, database_type="GeoLite2-Country")
    codes = ["US", "DE", "FR", "JP", "BR", "IN", "CN", "GB"]
    for first in range(1, 224):
        writer.insert_network(IPSet([f"{first}.0.0.0/8"]),
                              {"country": {"iso_code": codes[first % len(codes)]}})
    writer.to_db_file(str(path))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=300_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    data = batches(generate(1_000_000, "combined"), args.lines)
    n = sum(len(c) for c in data)
    distinct = len({c for cols in data for c in cols.client})
    print(f"input: {n:,} lines, {distinct:,} distinct clients, batches of {BATCH:,}")
    with tempfile.TemporaryDirectory() as tmp:
        mmdb = Path(tmp) / "country.mmdb"
        write_mmdb(mmdb)
        rows = {"client": best_secs(data, ("client",), "", args.runs),
                "client + country (iptocc)": best_secs(data, ("client", "country"), "",
                                                       args.runs),
                "client + country (.mmdb)": best_secs(data, ("client", "country"), str(mmdb),
                                                      args.runs)}
    base = rows["client"]
    print(f"{'dimensions':<28}{'us/line':>9}{'ratio':>8}{'country us/line':>17}")
    for name, secs in rows.items():
        extra = "" if name == "client" else f"{(secs - base) / n * 1e6:>17.2f}"
        print(f"{name:<28}{secs / n * 1e6:>9.2f}{secs / base:>8.2f}{extra}")


if __name__ == "__main__":
    main()
