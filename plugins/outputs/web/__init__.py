"""The web output: a live dashboard (D3.js), the JSON query API and Prometheus ``/metrics``.

Modules, one concern each: :mod:`.config` (options), :mod:`.plugin` (the actor),
:mod:`.server` (the event loop's thread), :mod:`.app` (routes, middlewares, the page),
:mod:`.api` (query, status, clear, metrics handlers), :mod:`.sse` (live updates),
:mod:`.snapshot` (what a live update holds), :mod:`.querier` (asking collectors off the
loop), :mod:`.auth` (token rules), :mod:`.errors` (JSON errors), :mod:`.metrics`
(Prometheus families) and :mod:`.counters` (the ``metrics`` collector feeding them).
"""

from .config import WebConfig
from .counters import MetricsCollector
from .plugin import WebOutput

__all__ = ["MetricsCollector", "WebConfig", "WebOutput"]
