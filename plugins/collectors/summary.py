"""``summary``: running totals since start: requests, bytes, status mix, top paths."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any, ClassVar

from omphalos.config import option
from omphalos.messages import BadLine, Batch, Query
from omphalos.plugin import CollectorPlugin


@dataclass(frozen=True)
class SummaryConfig:
    """Options of the summary collector."""

    top: int = option(20, "Entries in each top list a query returns by default.")
    bad_lines_kept: int = option(100, "Most recent unparsed lines kept to show.")


class SummaryCollector(CollectorPlugin):
    """Counts everything since start (or the last reset)."""

    name = "summary"
    description = "Running summary since start: totals, status mix, top paths"
    Config: ClassVar[type] = SummaryConfig

    def setup(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.started = time.time()
        self.requests = 0
        self.lines = 0
        self.unparsed = 0
        self.unparsed_reasons: Counter[str] = Counter()
        self.bad_lines: list[BadLine] = []
        self.bytes = 0
        self.status_codes: Counter[int] = Counter()
        self.path_hits: Counter[str] = Counter()
        self.path_bytes: defaultdict[str, int] = defaultdict(int)
        self.hosts: Counter[str] = Counter()
        self.first_time: float | None = None
        self.last_time: float | None = None

    def apply(self, batch: Batch) -> None:
        cols = batch.records
        n = len(cols)
        self.lines += batch.lines
        self.unparsed += batch.unparsed
        if batch.unparsed_reasons:
            self.unparsed_reasons.update(batch.unparsed_reasons)
        if batch.bad:
            self.bad_lines.extend(batch.bad)
            del self.bad_lines[: -self.config.bad_lines_kept]
        if not n:
            return
        self.requests += n
        self.hosts[batch.source.host] += n
        self.status_codes.update(cols.status)
        self.path_hits.update(cols.path)
        sizes = cols.bytes
        self.bytes += sum(sizes)
        path_bytes = self.path_bytes
        for path, size in zip(cols.path, sizes):
            path_bytes[path] += size
        lo, hi = min(cols.time), max(cols.time)
        self.first_time = lo if self.first_time is None else min(lo, self.first_time)
        self.last_time = hi if self.last_time is None else max(hi, self.last_time)

    def answer(self, query: Query) -> Any:
        if query.kind == "summary":
            return self.summary(int(query.params.get("limit", self.config.top)))
        if query.kind == "reset":
            self.reset()
            return {"reset": True}
        return super().answer(query)

    def summary(self, limit: int) -> dict[str, Any]:
        classes: Counter[str] = Counter()
        for code, count in self.status_codes.items():
            classes[f"{code // 100}xx"] += count
        return {
            "requests": self.requests,
            "lines": self.lines,
            "unparsed": self.unparsed,
            "unparsed_reasons": dict(self.unparsed_reasons),
            "bytes": self.bytes,
            "status": {str(k): v for k, v in sorted(self.status_codes.items())},
            "status_class": dict(sorted(classes.items())),
            "top_paths": [{"path": p, "hits": h, "bytes": self.path_bytes[p]}
                          for p, h in self.path_hits.most_common(limit)],
            "hosts": dict(self.hosts.most_common()),
            "first_time": self.first_time,
            "last_time": self.last_time,
            "since": self.started,
            "bad_lines": [{"offset": b.offset, "reason": b.reason, "line": b.line}
                          for b in self.bad_lines[-10:]],
        }
