"""The JSON API: queries, status, clearing alerts, the OpenAPI description, /metrics.

``GET /api/v1/query/{kind}?param=value`` answers exactly what the collectors answer in the
process (:mod:`omphalos.query` validates the parameters for both). State-changing kinds
(``clear_alert``, ``reset``) are not reachable by GET; clearing alerts is
``POST /api/v1/alerts/clear`` with a JSON body and the token.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from omphalos import query as contract
from omphalos.validate import finite_json

from .errors import ApiError
from .metrics import render
from .querier import BadQuery, Unavailable
from .state import OPENAPI, STATE, WebState

#: Kinds that change state: never answered over GET.
WRITE_KINDS = frozenset({"clear_alert", "reset"})
#: Longest value of one query parameter.
MAX_PARAM_CHARS = 2048


def json_response(data: Any, status: int = 200, state: WebState | None = None
                  ) -> web.Response:
    """``data`` as strict JSON: values JSON cannot hold are written as strings, NaN and
    Infinity (which are not JSON) as null, counted in ``state``."""
    text, sanitized = finite_json(data)
    if sanitized and state is not None:
        state.counters["answers_sanitized"] += 1
    return web.Response(status=status, text=text, content_type="application/json")


def single_params(request: web.Request, ignore: tuple[str, ...] = ()) -> dict[str, str]:
    """Query-string parameters, each given once and not too long (else 400)."""
    out: dict[str, str] = {}
    for key in request.query:
        if key in ignore:
            continue
        values = request.query.getall(key)
        if len(values) > 1:
            raise ApiError(400, f"parameter {key!r} given more than once")
        if len(values[0]) > MAX_PARAM_CHARS:
            raise ApiError(400, f"parameter {key!r} is longer than {MAX_PARAM_CHARS} "
                                f"characters")
        out[key] = values[0]
    return out


async def ask(state: WebState, kind: str, params: dict[str, Any],
              collector: str | None = None) -> Any:
    """Ask the collectors; 400 when they refuse the query, 503 when none can answer."""
    try:
        return await state.querier.ask(kind, params, collector)
    except BadQuery as exc:
        raise ApiError(400, str(exc)) from None
    except Unavailable as exc:
        raise ApiError(503, str(exc), {"Retry-After": "1"}) from None


def checked(kind: str, raw: dict[str, Any]) -> dict[str, Any]:
    """``raw`` validated by the query contract (400 with the reason), None values dropped;
    a kind the contract does not know (a third-party collector's) gets ``raw`` as it is."""
    if kind not in contract.KINDS:
        return raw
    try:
        params = contract.validate(kind, raw)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    return {k: v for k, v in params.items() if v is not None}


async def query(request: web.Request) -> web.Response:
    """``GET /api/v1/query/{kind}``."""
    state: WebState = request.app[STATE]
    state.auth.check(request, write=False)
    kind = request.match_info["kind"]
    if kind in WRITE_KINDS:
        raise ApiError(405, f"{kind} changes state: not available over GET"
                            + (" (POST /api/v1/alerts/clear)" if kind == "clear_alert" else ""),
                       {"Allow": ""})
    served = state.querier.kinds()
    if kind not in served:  # served: exactly what the collectors declare they answer
        readable = sorted(served - WRITE_KINDS)
        raise ApiError(404, f"unknown query kind {kind!r}: no collector here answers it "
                            f"(served: {', '.join(readable) or 'none'})")
    raw: dict[str, Any] = single_params(request)
    collector = raw.pop("collector", None)
    if collector is not None:
        full = collector if ":" in collector else f"collector:{collector}"
        if full not in state.querier.names():
            raise ApiError(400, f"collector: no collector named {collector!r} (known: "
                                f"{', '.join(state.querier.names())})")
        collector = full
    return json_response(await ask(state, kind, checked(kind, raw), collector), state=state)


async def status(request: web.Request) -> web.Response:
    """``GET /api/v1/status``: :meth:`Pipeline.status`."""
    state: WebState = request.app[STATE]
    state.auth.check(request, write=False)
    if single_params(request):
        raise ApiError(400, "status takes no parameters")
    if state.querier.pipeline is None:
        raise ApiError(503, "no pipeline")
    return json_response(await state.querier.status(), state=state)


async def clear_alerts(request: web.Request) -> web.Response:
    """``POST /api/v1/alerts/clear`` with ``{"path": "..."}`` or ``{"all": true}``."""
    state: WebState = request.app[STATE]
    state.auth.check(request, write=True)
    if request.content_type != "application/json":
        raise ApiError(400, "expected a JSON body (Content-Type: application/json)")
    try:
        body = await request.json()
    except ValueError:
        raise ApiError(400, "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, 'expected a JSON object: {"path": "..."} or {"all": true}')
    if "all" in body and not isinstance(body["all"], bool):
        raise ApiError(400, "all: expected true or false")
    if "path" in body and not isinstance(body["path"], str):
        raise ApiError(400, "path: expected a string")
    params = checked("clear_alert", body)
    if params.get("all") and "path" in params:
        raise ApiError(400, "give either path or all, not both")
    if not params.get("all"):
        params.pop("all", None)
    answer = await ask(state, "clear_alert", params)
    state.snapshots.invalidate()
    return json_response(answer, state=state)


async def openapi(request: web.Request) -> web.Response:
    """``GET /api/v1/openapi.json``: the API's description (no token needed)."""
    return web.Response(body=OPENAPI.read_bytes(), content_type="application/json")


async def metrics(request: web.Request) -> web.Response:
    """``GET /metrics``: Prometheus text format."""
    state: WebState = request.app[STATE]
    state.auth.check(request, write=False)
    body = await state.querier.run(render, state.registry)
    response = web.Response(body=body)
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response
