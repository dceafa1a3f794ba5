"""The web output: a live dashboard (D3.js), the JSON query API and Prometheus ``/metrics``.

Modules, one concern each: :mod:`.config` (options), :mod:`.plugin` (the actor),
:mod:`.server` (the event loop's thread), :mod:`.app` (routes, middlewares, the page),
:mod:`.api` (query, status, clear, metrics handlers), :mod:`.sse` (live updates),
:mod:`.snapshot` (what a live update holds), :mod:`.querier` (asking collectors off the
loop), :mod:`.auth` (token rules), :mod:`.errors` (JSON errors) and :mod:`.metrics`
(Prometheus families, fed by the ``metrics`` collector, ``omphalos.plugins.collectors.metrics``).
"""

from .config import WebConfig
from .plugin import WebOutput

__all__ = ["WebConfig", "WebOutput"]
