"""``web``: the web output actor. It owns the HTTP server's thread and the ask pool."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

from omphalos.plugin import OutputPlugin

from .app import build_app
from .auth import AuthPolicy
from .config import WebConfig
from .metrics import make_registry
from .querier import Querier
from .server import WebServer
from .snapshot import Snapshots
from .state import WebState


class WebOutput(OutputPlugin[WebConfig]):
    """Serves the live dashboard, the JSON query API and ``/metrics``.

    ``setup`` (actor thread) starts the server thread and returns once it listens;
    ``teardown`` stops it and joins it and the ask pool. Handlers never run in the actor's
    thread: they ask collectors through the pool, with a timeout.
    """

    name = "web"
    description = "Live dashboard, JSON query API and Prometheus /metrics over HTTP"
    Config: ClassVar[type] = WebConfig
    #: Seconds between checks that the server thread is alive.
    tick_secs: ClassVar[float] = 1.0

    def setup(self) -> None:
        config: WebConfig = self.config
        self.auth = AuthPolicy(config.listen, config.token)
        short = self.context.name.split(":", 1)[-1]
        self.executor = ThreadPoolExecutor(max_workers=config.workers,
                                           thread_name_prefix=f"omphalos-web-{short}-ask")
        # released by the base class (last in, first out) when the actor stops, dies or
        # fails to start
        self.resources.callback(self.executor.shutdown, wait=True, cancel_futures=True)
        querier = Querier(self.context.pipeline, self.context.inputs, config.query_timeout_secs,
                          self.executor)
        self.state = WebState(config=config, auth=self.auth, querier=querier,
                              snapshots=Snapshots(querier, config.top,
                                                  max_age=config.update_secs * 0.8),
                              registry=make_registry(querier))
        self.server = WebServer(lambda: build_app(self.state), config.listen, config.port,
                                name=f"omphalos-web-{short}")
        self.port = self.server.start()
        self.resources.callback(self.server.stop)
        self.log.info("dashboard at %s", self.url)
        if self.auth.configured:
            return
        if self.auth.loopback:
            self.log.info("generated token for state-changing calls (clearing alerts; the "
                          "page has it): %s", self.auth.token)
        else:
            self.log.warning("listening beyond loopback: generated API token %s "
                             "(open %s/#token=%s)", self.auth.token, self.url, self.auth.token)

    @property
    def url(self) -> str:
        host = self.config.listen
        return f"http://{'[' + host + ']' if ':' in host else host}:{self.port}"

    def status(self) -> dict[str, Any]:
        out = super().status()
        out.update(url=self.url, port=self.port, live_clients=self.state.clients,
                   token_required=not self.auth.open_reads)
        out["counters"].update(self.state.counters)
        return out

    def on_tick(self, now: float) -> None:
        """A server thread that died anyway is this actor's failure: the supervisor sees it
        and restarts the output (never a silent "running")."""
        if not self.server.running:  # ticks start once setup is complete
            raise RuntimeError("the web server's thread died")
