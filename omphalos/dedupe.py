"""What a collector applied of each file, as byte ranges: batches may arrive in any order.

A collector remembers, per de-duplication key (a file identity), the end offset of what it
applied and the **holes** below it: ranges never applied. A hole appears when a batch
arrives before an earlier one of the same file. That happens whenever a collector is
killed: the batches it had not yet acknowledged are re-sent after the sender's newer ones
have already reached its successor. With only an end offset, those re-sent batches would
look like duplicates and be dropped; with the holes, a batch is cut to its lines that lie
in a hole or past the end, so a re-sent batch is never counted twice and a late one is
never dropped.

Holes are few (one per batch overtaken) and filled as the late batches come; a key keeps at
most :data:`MAX_HOLES`, the oldest being given up (its lines, if they ever come, are then
taken for duplicates, which the caller counts).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from .messages import Batch

__all__ = ["MAX_HOLES", "Range", "unapplied", "record", "keep_ranges", "drop_before"]

#: Holes remembered per file; more are given up oldest first.
MAX_HOLES = 64

#: A half-open byte range ``[start, end)``.
Range = tuple[int, int]


def unapplied(done: int | None, holes: Sequence[Range], start: int, end: int) -> list[Range]:
    """The parts of ``[start, end)`` not applied yet, given the end offset ``done`` (None:
    nothing of the file was ever applied) and the ``holes`` below it (sorted)."""
    if done is None:
        return [(start, end)] if end > start else []
    out = [(max(start, lo), min(end, hi)) for lo, hi in holes if lo < end and hi > start]
    if end > done:
        out.append((max(start, done), end))
    return [(lo, hi) for lo, hi in out if hi > lo]


def record(done: int | None, holes: Sequence[Range], start: int, end: int
           ) -> tuple[int, list[Range], int]:
    """The end offset and holes once ``[start, end)`` is applied, and how many holes were
    given up to keep at most :data:`MAX_HOLES`."""
    kept: list[Range] = []
    for lo, hi in holes:
        if hi <= start or lo >= end:
            kept.append((lo, hi))
            continue
        if lo < start:
            kept.append((lo, start))
        if hi > end:
            kept.append((end, hi))
    previous = 0 if done is None else done
    if start > previous:
        kept.append((previous, start))  # the bytes this batch overtook
    kept.sort()
    given_up = max(0, len(kept) - MAX_HOLES)
    return max(previous, end), kept[given_up:], given_up


def keep_ranges(batch: Batch, ranges: Sequence[Range]) -> tuple[Batch, int]:
    """``batch`` with only its lines starting inside ``ranges`` (start and end kept), and
    how many records were dropped."""
    def inside(offset: int) -> bool:
        return any(lo <= offset < hi for lo, hi in ranges)

    offsets = batch.records.offsets()
    keep = [i for i, off in enumerate(offsets) if inside(off)]
    bad = tuple(b for b in batch.bad if inside(b.offset))
    lines = len(keep) + len(bad)
    start = min(lo for lo, _ in ranges) if ranges else batch.end
    trimmed = Batch(batch.source, batch.seq, max(batch.start, start), batch.end,
                    batch.records.select(keep), lines, unparsed=len(bad),
                    unparsed_reasons=dict(Counter(b.reason for b in bad)), bad=bad)
    return trimmed, len(offsets) - len(keep)


def drop_before(batch: Batch, start: int) -> tuple[Batch, int]:
    """``batch`` without its lines before byte ``start`` (now its start), and how many
    records were dropped."""
    return keep_ranges(batch, [(start, batch.end)])
