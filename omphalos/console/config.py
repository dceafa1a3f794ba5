"""Options of the console, from ``[httptop]`` in the config or from the command line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from omphalos.config import option

#: The config section the console's options are read from.
SECTION = "httptop"


@dataclass(frozen=True)
class HttptopConfig:
    """What the console can be told before it starts."""

    theme: Literal["auto", "dark", "light", "mono"] = option(
        "auto", "Colours: dark, light, mono, or auto (from COLORFGBG; dark when unset).")
    refresh_secs: float = option(1.0, "Seconds between two refreshes of the screen's data.")
    stale_after_secs: float = option(
        3.0, "An answer older than this (or a query pending longer) is marked stale.")
    query_timeout_secs: float = option(
        30.0, "Longest wait for one answer; a slower collector shows as unavailable.")
    window: Literal["1m", "5m", "1h", "all"] = option("5m", "Window shown at start.")
    view: Literal["paths", "clients", "hosts", "status", "agents", "referers"] = option(
        "paths", "View shown at start.")
    rows: int = option(200, "Most rows a table asks for.")

    def validate(self) -> None:
        if self.refresh_secs <= 0:
            raise ValueError("must be more than 0", "refresh_secs")
        if self.stale_after_secs <= 0:
            raise ValueError("must be more than 0", "stale_after_secs")
        if self.query_timeout_secs <= 0:
            raise ValueError("must be more than 0", "query_timeout_secs")
        if not 1 <= self.rows <= 1000:
            raise ValueError("must be between 1 and 1000", "rows")
