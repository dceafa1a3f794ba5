"""Per-minute rollups kept in SQLite, so a restarted collector still answers the last minutes.

The ``window`` collector writes one row per minute of event time (``minute`` = epoch seconds
of the minute's start): totals, status codes, duration sketch buckets and the top rows of
each dimension, as JSON, and the minute's unique-visitor HyperLogLog (of its one UTC date:
the registers zlib-compressed, base64; at most 16 KiB whatever the traffic, a few hundred
bytes for a quiet minute), so visitors per day merge back from the minutes of the day. A
minute that changes again (late lines) is written again. Rows older than the retention are
deleted. On start the collector loads the newest rows back
into its windows; ``series`` queries longer than the in-memory windows read them.

The database is opened in WAL mode by the collector's own thread (SQLite connections are
not shared between threads).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import sqlite3
import zlib
from collections.abc import Iterable
from typing import Any

from omphalos.lib.hll import HyperLogLog

from .aggregate import Breakdown

__all__ = ["History", "rollup", "restore", "sketch_out", "sketch_in"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS minutes (minute INTEGER PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def _key_out(key: Any) -> Any:
    return list(key) if isinstance(key, tuple) else key


def _key_in(key: Any) -> Any:
    return tuple(key) if isinstance(key, list) else key


def sketch_out(sketch: HyperLogLog) -> dict[str, Any]:
    """A HyperLogLog as JSON: its precision and its registers, compressed (mostly zeros
    in a quiet minute)."""
    return {"p": sketch.precision,
            "z": base64.b64encode(zlib.compress(bytes(sketch.registers), 6)).decode("ascii")}


def sketch_in(data: Any) -> HyperLogLog:
    """The HyperLogLog of :func:`sketch_out`; ValueError when it is not one."""
    try:
        # at most the largest sketch's registers (precision 18), whatever the stored bytes
        registers = zlib.decompressobj().decompress(
            base64.b64decode(data["z"], validate=True), (1 << 18) + 1)
        return HyperLogLog.from_state({"precision": int(data["p"]), "registers": registers})
    except (KeyError, TypeError, binascii.Error, zlib.error) as exc:
        raise ValueError(f"a stored visitors sketch is damaged: {exc}") from None


def rollup(b: Breakdown, top: int) -> dict[str, Any]:
    """A JSON-able rollup of a breakdown, keeping the ``top`` rows of each table."""
    tables: dict[str, Any] = {}
    for dim, t in b.tables.items():
        keys = sorted(t.hits, key=t.hits.__getitem__, reverse=True)[:top]
        tables[dim] = {"floor": t.floor, "truncated": len(t.hits) > top, "rows": [
            [_key_out(k), t.hits[k], 0, t.bytes.get(k, 0),
             {c: d[k] for c, d in t.classes.items() if k in d},
             [[i, n] for i, n in t.durations[k].items()] if k in t.durations else None]
            for k in keys]}
    return {"requests": b.requests, "bytes": b.bytes, "first": b.first, "last": b.last,
            "status": [[code, n] for code, n in b.status.items()],
            "durations": [[i, n] for i, n in b.durations.counts.items()],
            "tables": tables,
            "visitors": {day: sketch_out(sk) for day, sk in b.visitors.sketches.items()}}


def restore(data: dict[str, Any], capacity: int, dimensions: Iterable[str],
            byte_dimensions: Iterable[str]) -> Breakdown:
    """A breakdown rebuilt from a :func:`rollup` (its tables hold the stored top rows; keys
    beyond them are gone, which the restored ``floor`` accounts for)."""
    b = Breakdown(capacity, dimensions, tuple(byte_dimensions))
    b.requests = int(data["requests"])
    b.bytes = int(data["bytes"])
    b.first, b.last = data.get("first"), data.get("last")
    b.status.update({int(code): int(n) for code, n in data["status"]})
    b.durations.add_buckets({int(i): int(n) for i, n in data["durations"]})
    for dim, stored in data["tables"].items():
        table = b.tables.get(dim)
        if table is None:
            continue
        rows = stored["rows"]
        table.floor = int(stored["floor"])
        for key, hits, _unused, nbytes, classes, durations in rows:
            k = _key_in(key)
            table.hits[k] = int(hits)
            if nbytes:
                table.bytes[k] = int(nbytes)
            for c, n in classes.items():
                table.classes.setdefault(c, {})[k] = int(n)
            if durations:
                table.durations[k] = {int(i): int(n) for i, n in durations}
        table.total = sum(table.hits.values())
        # keys beyond the stored rows are unknown: each counted at most the smallest stored
        # count (plus the floor)
        if rows and stored.get("truncated"):
            table.floor += min(int(r[1]) for r in rows)
    if "visitors" in b.tables:  # rollups written before the sketches were kept have none
        b.visitors.merge_sketches({day: sketch_in(v)
                                   for day, v in dict(data.get("visitors") or {}).items()})
    return b


class History:
    """The SQLite file of per-minute rollups (one per collector)."""

    def __init__(self, path: str, retention_secs: float) -> None:
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        self.path = path
        self.retention_secs = retention_secs
        self.db = sqlite3.connect(path, timeout=10.0)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        self.db.commit()

    def close(self) -> None:
        self.db.close()

    def write(self, rows: Iterable[tuple[int, dict[str, Any]]], meta: dict[str, Any],
              now: float) -> None:
        """Store minute rollups and the collector's meta data; drop rows past retention."""
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO minutes (minute, data) VALUES (?, ?)",
                                [(int(m), json.dumps(d, separators=(",", ":")))
                                 for m, d in rows])
            self.db.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                                [(k, json.dumps(v)) for k, v in meta.items()])
            self.db.execute("DELETE FROM minutes WHERE minute < ?",
                            (int(now - self.retention_secs),))

    def meta(self) -> dict[str, Any]:
        return {k: json.loads(v) for k, v in self.db.execute("SELECT key, value FROM meta")}

    def load(self, since: float, until: float | None = None) -> list[tuple[int, dict[str, Any]]]:
        """Rollups of the minutes starting at or after ``since`` (and before ``until``)."""
        if until is None:
            cur = self.db.execute("SELECT minute, data FROM minutes WHERE minute >= ? "
                                  "ORDER BY minute", (int(since),))
        else:
            cur = self.db.execute("SELECT minute, data FROM minutes WHERE minute >= ? AND "
                                  "minute < ? ORDER BY minute", (int(since), int(until)))
        return [(int(m), json.loads(d)) for m, d in cur]

    def newest(self) -> int | None:
        row = self.db.execute("SELECT max(minute) FROM minutes").fetchone()
        return int(row[0]) if row and row[0] is not None else None
