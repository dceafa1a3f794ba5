"""The HTTP server's own thread: an asyncio event loop running an aiohttp application.

The web output's actor owns one :class:`WebServer`: :meth:`start` (from ``setup``) starts the
thread and returns once the socket is bound (or raises why it could not bind);
:meth:`stop` (from ``teardown``) closes the listener, ends the live streams, and joins the
thread, so no thread is left behind.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable

from aiohttp import web

log = logging.getLogger("omphalos.output.web.server")


class WebServer:
    """Runs ``make_app()`` on ``host:port`` in a thread of its own."""

    def __init__(self, make_app: Callable[[], web.Application], host: str, port: int,
                 name: str = "omphalos-web", shutdown_secs: float = 2.0) -> None:
        self.make_app = make_app
        self.host = host
        self.port = port
        self.name = name
        self.shutdown_secs = shutdown_secs
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def start(self, timeout: float = 10.0) -> int:
        """Start serving; the port actually bound (``port=0`` picks a free one)."""
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            self.stop()
            raise RuntimeError(f"web server did not start within {timeout:g}s")
        if self._error is not None:
            self._thread.join(timeout)
            self._thread = None
            error = self._error
            why = (os.strerror(error.errno) if isinstance(error, OSError) and error.errno
                   else str(error))
            raise OSError(f"cannot listen on {self.host}:{self.port}: {why.lower()}")
        return self.port

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            try:
                loop.run_until_complete(self._bind())
            except Exception as exc:  # noqa: BLE001 - reported to start()
                self._error = exc
                self._ready.set()
                if self._runner is not None:
                    loop.run_until_complete(self._runner.cleanup())
                return
            self._ready.set()
            loop.run_forever()
            assert self._runner is not None
            loop.run_until_complete(self._runner.cleanup())
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()
            asyncio.set_event_loop(None)

    async def _bind(self) -> None:
        runner = web.AppRunner(self.make_app(), access_log=None,
                               shutdown_timeout=self.shutdown_secs)
        self._runner = runner
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        await site.start()
        for address in runner.addresses:
            if isinstance(address, tuple) and len(address) >= 2:
                self.port = int(address[1])
                break

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and join the thread (at most ``timeout`` seconds)."""
        thread, loop = self._thread, self._loop
        if thread is None:
            return
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(loop.stop)
            except RuntimeError:  # closed meanwhile
                pass
        thread.join(timeout)
        if thread.is_alive():
            log.warning("web server thread did not stop within %gs", timeout)
        self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()
