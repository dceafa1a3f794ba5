"""The summary as text for people and as JSON for scripts (the ``--json`` shape).

JSON shape (stable; keys are only ever added)::

    {"requests": int, "lines": int, "unparsed": int, "unparsed_reasons": {reason: int},
     "bytes": int, "status": {"200": int, ...}, "status_class": {"2xx": int, ...},
     "top_paths": [{"path": str, "hits": int, "bytes": int}, ...],
     "hosts": {host: int}, "first_time": float|null, "last_time": float|null, ...}
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .validate import finite_json


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def format_summary(summary: dict[str, Any], top: int = 10) -> str:
    """A short report: totals, status mix, top paths, unparsed lines."""
    lines = [
        f"requests  {summary['requests']:,}   bytes {human_bytes(summary['bytes'])}   "
        f"unparsed {summary['unparsed']:,}",
        f"period    {_when(summary.get('first_time'))} .. {_when(summary.get('last_time'))}",
        "status    " + "  ".join(f"{code}: {n:,}" for code, n in summary["status"].items()),
    ]
    if summary.get("hosts") and len(summary["hosts"]) > 1:
        lines.append("hosts     " + "  ".join(f"{h}: {n:,}" for h, n in
                                              summary["hosts"].items()))
    if summary["top_paths"]:
        lines.append("top paths")
        width = max(len(f"{p['hits']:,}") for p in summary["top_paths"][:top])
        for item in summary["top_paths"][:top]:
            lines.append(f"  {item['hits']:>{width},}  {human_bytes(item['bytes']):>10}  "
                         f"{item['path']}")
    if summary["unparsed"]:
        reasons = ", ".join(f"{r}: {n:,}" for r, n in summary["unparsed_reasons"].items())
        lines.append(f"unparsed  {reasons}")
    return "\n".join(lines)


def summary_json(summary: dict[str, Any]) -> str:
    """``summary`` as strict JSON (never NaN or Infinity: see :func:`finite_json`)."""
    return finite_json(summary, sort_keys=True, indent=2)[0]
