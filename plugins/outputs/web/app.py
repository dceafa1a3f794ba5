"""The aiohttp application: routes, middlewares, the page."""

from __future__ import annotations

import html

from aiohttp import web

from . import api, sse
from .errors import SECURITY_HEADERS, ApiError, Handler, json_errors, security_headers
from .state import STATE, STATIC, WebState

#: Largest request body accepted (clearing an alert needs a few bytes).
MAX_BODY_BYTES = 16 * 1024


@web.middleware
async def host_check(request: web.Request, handler: Handler) -> web.StreamResponse:
    """On loopback, refuse Host names that are not loopback ones (DNS rebinding)."""
    state: WebState = request.app[STATE]
    if not state.auth.host_allowed(request):
        raise ApiError(400, "unexpected Host header for a server bound to loopback")
    return await handler(request)


#: Content types of the files the page is made of.
CONTENT_TYPES = {".js": "application/javascript", ".css": "text/css", ".html": "text/html",
                 ".LICENSE": "text/plain"}


def static_files() -> dict[str, tuple[bytes, str]]:
    """Every file of ``static/`` by name, read once: only these names are ever served."""
    files = {}
    for path in sorted(STATIC.iterdir()):
        content_type = CONTENT_TYPES.get(path.suffix)
        if path.is_file() and content_type is not None:
            files[path.name] = (path.read_bytes(), content_type)
    return files


def static_handler(files: dict[str, tuple[bytes, str]]) -> Handler:
    """``GET /static/{name}``: one of ``files``, else 404."""
    async def serve(request: web.Request) -> web.StreamResponse:
        found = files.get(request.match_info["name"])
        if found is None:
            raise ApiError(404, f"no such path: {request.path}")
        body, content_type = found
        response = web.Response(body=body, content_type=content_type,
                                charset="utf-8" if content_type != "text/plain" else None)
        response.headers["Cache-Control"] = "no-cache"
        return response
    return serve


async def page(request: web.Request) -> web.Response:
    """``GET /``: the dashboard, with its settings (and on open loopback, the token)."""
    state: WebState = request.app[STATE]
    text = (STATIC / "index.html").read_text(encoding="utf-8")
    metas = {"omphalos-window": state.config.window,
             "omphalos-update-secs": str(state.config.update_secs),
             "omphalos-token": state.auth.token if state.auth.open_reads else ""}
    for name, value in metas.items():
        text = text.replace(f'<meta name="{name}" content="">',
                            f'<meta name="{name}" content="{html.escape(value)}">')
    response = web.Response(text=text, content_type="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


def build_app(state: WebState) -> web.Application:
    """The application serving ``state``'s pipeline."""
    app = web.Application(middlewares=[security_headers, json_errors, host_check],
                          client_max_size=MAX_BODY_BYTES)
    app[STATE] = state

    async def stopping(app: web.Application) -> None:
        state.stopping.set()

    app.on_shutdown.append(stopping)
    app.router.add_get("/", page)
    app.router.add_get("/static/{name}", static_handler(static_files()))
    app.router.add_get("/api/v1/query/{kind}", api.query)
    app.router.add_get("/api/v1/status", api.status)
    app.router.add_post("/api/v1/alerts/clear", api.clear_alerts)
    app.router.add_get("/api/v1/events", sse.events)
    app.router.add_get("/api/v1/snapshot", sse.snapshot)
    app.router.add_get("/api/v1/openapi.json", api.openapi)
    app.router.add_get("/metrics", api.metrics)
    return app


__all__ = ["SECURITY_HEADERS", "build_app"]
