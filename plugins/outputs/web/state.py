"""What the handlers share: config, auth policy, the querier, snapshots, the metrics."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web
from prometheus_client import CollectorRegistry

from .auth import AuthPolicy
from .config import WebConfig
from .querier import Querier
from .snapshot import Snapshots

STATIC = Path(__file__).parent / "static"
OPENAPI = Path(__file__).parent / "openapi.json"


@dataclass
class WebState:
    """One server's shared state (created by the web output, read by the handlers)."""

    config: WebConfig
    auth: AuthPolicy
    querier: Querier
    snapshots: Snapshots
    registry: CollectorRegistry
    #: Live-update connections open now.
    clients: int = 0
    #: Set when the server shuts down, so live streams end at once.
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    #: ``request_failures`` (unexpected errors answered 500), ``stream_failures`` (live
    #: streams ended by an error), ``answers_sanitized`` (non-finite numbers written as
    #: null): counted by the server thread, shown in the web output's status.
    counters: Counter[str] = field(default_factory=Counter)


#: Where the application keeps its :class:`WebState`.
STATE: web.AppKey[WebState] = web.AppKey("state", WebState)
