"""A report's panels as CSV: one row per panel row (``panel,key,hits,...``)."""

from __future__ import annotations

import csv
import io
from typing import Any

__all__ = ["COLUMNS", "to_csv"]

#: The CSV header.
COLUMNS = ("panel", "key", "hits", "visitors", "bytes", "errors", "4xx", "p95", "min",
           "avg", "max")


def to_csv(report: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for panel in report["panels"]:
        for row in panel["rows"]:
            writer.writerow([panel["dimension"], row["key"], row["hits"],
                             row.get("visitors", ""), _blank(row.get("bytes")),
                             row.get("errors", 0), row.get("status", {}).get("4xx", 0),
                             *(_blank(row.get(k)) for k in ("p95", "min", "avg", "max"))])
    return out.getvalue()


def _blank(value: Any) -> Any:
    return "" if value is None else value
