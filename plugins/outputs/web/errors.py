"""Every error is a small JSON object ``{"error": reason}``; never a stack trace."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from .state import STATE

log = logging.getLogger("omphalos.output.web")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: Words for statuses raised without a reason.
_ROUTER_REASONS = {401: "a bearer token is required", 413: "request body too large"}


class ApiError(Exception):
    """An error answer: HTTP ``status`` and a reason for the caller."""

    def __init__(self, status: int, reason: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = headers or {}


def error_response(status: int, reason: str,
                   headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, text=json.dumps({"error": reason}),
                        content_type="application/json", headers=headers)


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every failure into a JSON error with the right status; log unexpected ones."""
    try:
        response = await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.reason, exc.headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _from_http_exception(request, exc)
    except Exception:  # the one place that turns the unexpected into a 500
        log.exception("error answering %s %s", request.method, request.path)
        state = request.app.get(STATE)
        if state is not None:
            state.counters["request_failures"] += 1
        return error_response(500, "internal error (see the collector's log)")
    if isinstance(response, web.HTTPException) and response.status >= 400:
        return _from_http_exception(request, response)  # returned, not raised (static files)
    return response


def _from_http_exception(request: web.Request, exc: web.HTTPException) -> web.Response:
    """An aiohttp HTTP error (router, static files, auth) as a JSON error."""
    reason = exc.reason or _ROUTER_REASONS.get(exc.status, "error")
    if exc.status == 404:
        reason = f"no such path: {request.path}"
    elif exc.status == 405:
        allowed = exc.headers.get("Allow", "")
        reason = f"method {request.method} not allowed here (allowed: {allowed})"
    headers = {k: v for k, v in exc.headers.items()
               if k in ("Allow", "WWW-Authenticate", "Retry-After")}
    return error_response(exc.status, reason, headers)


#: Headers on every answer: no framing, no sniffing, nothing loaded from elsewhere.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                               "style-src 'self'; script-src 'self'; connect-src 'self'; "
                               "frame-ancestors 'none'",
}


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Add :data:`SECURITY_HEADERS` to every answer."""
    response = await handler(request)
    if not response.prepared:
        response.headers.update(SECURITY_HEADERS)
    return response
