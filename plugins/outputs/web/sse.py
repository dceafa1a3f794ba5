"""``GET /api/v1/events``: server-sent events, one ``update`` event per interval; and
``GET /api/v1/snapshot``: the same snapshot once (what the page polls).

Each event's data is a snapshot (see :mod:`.snapshot`) of the window the client asked for
(``?window=5m``). The stream ends when the client goes away or the server stops.
"""

from __future__ import annotations

import asyncio
import logging
from itertools import count

from aiohttp import web

from omphalos.query import window_label, window_secs
from omphalos.validate import finite_json

from .api import single_params
from .errors import SECURITY_HEADERS, ApiError
from .state import STATE, WebState

log = logging.getLogger("omphalos.output.web.sse")


def checked_window(raw: str | None, default: str) -> str:
    """A window parameter as its label (400 with the reason when it is not one)."""
    try:
        return window_label(window_secs(raw if raw is not None else default))
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None


async def snapshot(request: web.Request) -> web.Response:
    """``GET /api/v1/snapshot?window=W``: one snapshot, what each ``update`` event carries.

    The page fetches one per update interval instead of holding a stream open: between two
    fetches no request is pending, so a page in a headless browser with a virtual time
    budget (or a screenshot tool waiting for the network to be idle) settles.
    """
    state: WebState = request.app[STATE]
    state.auth.check(request, write=False, allow_query=True)
    params = single_params(request, ignore=("token",))
    unknown = sorted(set(params) - {"window"})
    if unknown:
        raise ApiError(400, f"snapshot: unknown parameter(s) {', '.join(unknown)} "
                            f"(known: window)")
    window = checked_window(params.get("window"), state.config.window)
    data = await state.snapshots.get(window)
    text, sanitized = finite_json(data, separators=(",", ":"))
    if sanitized:
        state.counters["answers_sanitized"] += 1
    response = web.Response(text=text, content_type="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


async def events(request: web.Request) -> web.StreamResponse:
    """Stream snapshots of one window until the client leaves or the server stops."""
    state: WebState = request.app[STATE]
    state.auth.check(request, write=False, allow_query=True)
    params = single_params(request, ignore=("token",))
    unknown = sorted(set(params) - {"window"})
    if unknown:
        raise ApiError(400, f"events: unknown parameter(s) {', '.join(unknown)} "
                            f"(known: window)")
    window = checked_window(params.get("window"), state.config.window)
    if state.clients >= state.config.max_clients:
        raise ApiError(503, f"too many live clients (max_clients = {state.config.max_clients})",
                       {"Retry-After": "5"})
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                           "Cache-Control": "no-cache",
                                           "X-Accel-Buffering": "no", **SECURITY_HEADERS})
    state.clients += 1
    try:
        await response.prepare(request)
        await response.write(b"retry: 2000\n\n")
        for number in count(1):
            if state.stopping.is_set():
                break
            snapshot = await state.snapshots.get(window)
            data, sanitized = finite_json(snapshot, separators=(",", ":"))
            if sanitized:
                state.counters["answers_sanitized"] += 1
            await response.write(f"event: update\nid: {number}\ndata: {data}\n\n".encode())
            try:
                await asyncio.wait_for(state.stopping.wait(), state.config.update_secs)
            except TimeoutError:
                pass
    except ConnectionError:
        log.debug("live client left")
    except Exception:  # one stream's failure ends that stream only, counted
        state.counters["stream_failures"] += 1
        log.exception("live stream failed")
    finally:
        state.clients -= 1
    return response
