#!/usr/bin/env python3
"""Parse cost per MB for lines of 200 B, 16 KB, 64 KB and 2 MB, every format, same run.

  python bench/longlines.py [--mb 4] [--formats combined,w3c,...]

For each format (``omphalos/lib/parsers/format_examples.py``: one example line each) it
builds about ``--mb`` MB of lines of each size by stretching the example's request path, in
two shapes: ``path`` (a long path, the line otherwise valid) and ``no-proto`` (the same without the
request's protocol: the shape of a line cut at ``max_line_bytes``, which made the request
pattern backtrack before: 5 s at 16 KB, 90 s at 64 KB, a 2 MB line never finished). The
data is handed to the parser as the monitor does, in chunks of complete lines of at least
1 MiB. Figures are CPU seconds per MB (user+sys of this process: the machine is shared)
and the ratio to the format's ordinary 200-byte lines. Target: at most 3x at 2 MB.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from omphalos.lib.parsers.format_examples import EXAMPLES, stretched  # noqa: E402

SIZES = [("200 B", 200), ("16 KB", 16 << 10), ("64 KB", 64 << 10), ("2 MB", 2 << 20)]
CHUNK = 1 << 20


def chunks(header: str, line: str, total: int) -> list[tuple[bytes, int]]:
    """About ``total`` bytes of ``line`` (after ``header``), cut into chunks of complete
    lines of at least 1 MiB, with their offsets."""
    raw = (line + "\n").encode()
    count = max(2, total // len(raw))
    per_chunk = max(1, CHUNK // len(raw))
    out, offset = [], 0
    first = header.encode()
    for start in range(0, count, per_chunk):
        data = raw * min(per_chunk, count - start)
        if first:
            data, first = first + data, b""
        out.append((data, offset))
        offset += len(data)
    return out


def cost(name: str, line: str, total: int, repeat: int) -> tuple[float, int, int]:
    """(best CPU seconds per MB, records, unparsed) for about ``total`` bytes of ``line``."""
    factory, header, _ = EXAMPLES[name]
    data = chunks(header, line, total)
    size = sum(len(d) for d, _ in data)
    best = float("inf")
    records = unparsed = 0
    for _ in range(repeat):
        parser = factory()
        c0 = time.process_time()
        records = unparsed = 0
        for chunk, start in data:
            columns, _, _, reasons = parser.parse(chunk, start)
            records += len(columns)
            unparsed += sum(reasons.values())
        best = min(best, time.process_time() - c0)
    return best / (size / 1e6), records, unparsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=4.0, help="MB of lines per size and shape")
    ap.add_argument("--repeat", type=int, default=3, help="runs per figure; the best counts")
    ap.add_argument("--formats", default=",".join(EXAMPLES))
    a = ap.parse_args()
    total = int(a.mb * 1e6)
    print(f"parse cost per MB by line length, {a.mb:g} MB per figure, best of {a.repeat}, "
          f"Python {sys.version.split()[0]}; CPU ms per MB (ratio to 200-byte lines)\n")
    head = f"{'format':<22} {'shape':<9}" + "".join(f"{label:>17}" for label, _ in SIZES)
    print(head)
    worst = 0.0
    for name in a.formats.split(","):
        base = None
        for shape in ("path", "no-proto"):
            if shape == "no-proto" and " HTTP/1.1" not in EXAMPLES[name][2]:
                continue
            cells = []
            for _, size in SIZES:
                line = stretched(name, size, protocol=(shape == "path" or size == 200))
                per_mb, _, unparsed = cost(name, line, total, a.repeat)
                if base is None:
                    base = per_mb
                ratio = per_mb / base
                if size > 200:
                    worst = max(worst, ratio)
                flag = "" if unparsed == 0 else f" {unparsed}u"
                cells.append(f"{per_mb * 1000:8.1f} ({ratio:4.2f}x){flag}")
            print(f"{name:<22} {shape:<9}" + "".join(f"{c:>17}" for c in cells))
    print(f"\nworst long-line cost per byte / 200-byte lines: {worst:.2f}x (target: at most 3x)")
    print("(u: lines counted unparsed; no-proto lines of JSON formats are not hostile)")


if __name__ == "__main__":
    main()
