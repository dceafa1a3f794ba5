"""A STAND-IN for Elasticsearch, for the tests only: Elasticsearch cannot run on these machines.

It is a small local HTTP server implementing the part of the REST API the ``elasticsearch``
collector uses, with the same wire format: the root info (version, and the
``X-Elastic-Product`` header the official client checks), composable index templates,
``_bulk`` with per-item results (including 429 rejections and mapping conflicts from a
simple dynamic mapping), ``_search`` with the aggregations the collector asks
(``terms``, ``filter``, ``date_histogram``, ``sum``, ``min``, ``max``, ``avg``,
``cardinality``, ``percentiles``, ``stats``), ``_refresh``, ``_doc`` and data streams
(``create`` only, 409 on an existing id). Faults are injected through attributes (``reject_items``,
``reject_requests``). Exact where Elasticsearch approximates (percentiles, cardinality).
"""

from __future__ import annotations

import fnmatch
import json
import math
import operator
import threading
from collections import Counter, defaultdict
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

__all__ = ["StandInElasticsearch"]


class MappingConflict(Exception):
    """A value that does not fit the field's mapped type."""


def _flatten(doc: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in doc.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out[f"\0object:{name}"] = True
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out


def _millis(value: Any) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    text = str(value)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    return datetime.fromisoformat(text).timestamp() * 1000.0


def _template_types(properties: dict[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for name, spec in properties.items():
        if "properties" in spec or spec.get("type") == "object":
            out[prefix + name] = "object"
            out.update(_template_types(spec.get("properties", {}), f"{prefix}{name}."))
        else:
            out[prefix + name] = spec.get("type", "keyword")
    return out


def _dynamic_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "long"
    if isinstance(value, float):
        return "float"
    return "keyword"


class Index:
    """One index: documents (flattened, dates as epoch ms) and its mapping."""

    def __init__(self, name: str, types: dict[str, str], data_stream: bool) -> None:
        self.name = name
        self.types = dict(types)
        self.data_stream = data_stream
        self.docs: dict[str, dict[str, Any]] = {}
        self.sources: dict[str, dict[str, Any]] = {}

    def check(self, flat: dict[str, Any]) -> dict[str, Any]:
        """The stored form of a flattened document; MappingConflict when a value misfits."""
        new_types: dict[str, str] = {}
        stored: dict[str, Any] = {}
        for key, value in flat.items():
            if key.startswith("\0object:"):
                name = key[len("\0object:"):]
                kind = self.types.get(name) or new_types.get(name)
                if kind not in (None, "object"):
                    raise MappingConflict(f"failed to parse field [{name}] of type [{kind}]: "
                                          "found an object")
                if kind is None:
                    new_types[name] = "object"
                continue
            kind = self.types.get(key) or new_types.get(key)
            if value is None:
                continue
            if kind is None:
                kind = new_types[key] = _dynamic_type(value)
            stored[key] = self._coerce(key, kind, value)
        self.types.update(new_types)
        return stored

    @staticmethod
    def _coerce(key: str, kind: str, value: Any) -> Any:
        try:
            if kind == "object":
                raise ValueError("tried to parse field as object, but found a concrete value")
            if kind == "date":
                return _millis(value)
            if kind in ("long", "integer", "short"):
                if isinstance(value, bool):
                    raise ValueError("not a number")
                return int(float(value))
            if kind in ("float", "double"):
                return float(value)
            if kind == "boolean":
                if isinstance(value, bool):
                    return value
                if value in ("true", "false"):
                    return value == "true"
                raise ValueError("not a boolean")
            return value if isinstance(value, str) else json.dumps(value)
        except (ValueError, TypeError) as exc:
            raise MappingConflict(f"failed to parse field [{key}] of type [{kind}] in "
                                  f"document: {exc}: [{value!r}]") from None


class StandInElasticsearch:
    """The stand-in server; ``url`` once started. See the module doc."""

    def __init__(self, version: str = "8.15.0", distribution: str | None = None,
                 port: int = 0, store: bool = True) -> None:
        #: False: a sink for benchmarks, answering every bulk item "created" unread.
        self.store = store
        self.version = version
        self.distribution = distribution
        self.port = port
        self.templates: dict[str, dict[str, Any]] = {}
        self.indices: dict[str, Index] = {}
        self.lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        #: The next N bulk items answered 429 (es_rejected_execution_exception).
        self.reject_items = 0
        #: The next N bulk requests answered 429 as a whole.
        self.reject_requests = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> StandInElasticsearch:
        standin = self

        class Handler(_Handler):
            server_state = standin

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="es-standin", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def count(self, pattern: str = "*") -> int:
        with self.lock:
            return sum(len(i.docs) for i in self._resolve(pattern))

    # -- API --------------------------------------------------------------------------------
    def info(self) -> tuple[dict[str, Any], dict[str, str]]:
        version: dict[str, Any] = {"number": self.version, "build_flavor": "default",
                                   "lucene_version": "9.11.1"}
        headers = {}
        if self.distribution:
            version["distribution"] = self.distribution
        else:
            headers["X-Elastic-Product"] = "Elasticsearch"
        return ({"name": "standin", "cluster_name": "omphalos-standin", "version": version,
                 "tagline": "You Know, for Search"}, headers)

    def _template_for(self, index: str) -> dict[str, Any] | None:
        best = None
        for body in self.templates.values():
            if any(fnmatch.fnmatchcase(index, p) for p in body.get("index_patterns", [])):
                if best is None or body.get("priority", 0) > best.get("priority", 0):
                    best = body
        return best

    def _index(self, name: str) -> Index:
        index = self.indices.get(name)
        if index is None:
            template = self._template_for(name) or {}
            props = template.get("template", {}).get("mappings", {}).get("properties", {})
            index = Index(name, _template_types(props), "data_stream" in template)
            self.indices[name] = index
        return index

    def _resolve(self, pattern: str) -> list[Index]:
        out = []
        for part in pattern.split(","):
            out += [i for n, i in sorted(self.indices.items()) if fnmatch.fnmatchcase(n, part)]
        return out

    def bulk(self, body: bytes, default_index: str | None) -> tuple[int, dict[str, Any]]:
        with self.lock:
            if self.reject_requests > 0:
                self.reject_requests -= 1
                return 429, {"error": {"type": "es_rejected_execution_exception",
                                       "reason": "rejected execution (stand-in)"},
                             "status": 429}
            lines = [ln for ln in body.split(b"\n") if ln.strip()]
            if not self.store:
                return 200, {"took": 0, "errors": False, "items": [
                    {"index": {"status": 201}} for _ in lines[0::2]]}
            items = []
            errors = False
            for action_line, doc_line in zip(lines[0::2], lines[1::2]):
                (op, meta), = json.loads(action_line).items()
                doc = json.loads(doc_line)
                result = self._bulk_item(op, meta, doc, default_index)
                errors = errors or result["status"] >= 300
                items.append({op: result})
            return 200, {"took": 1, "errors": errors, "items": items}

    def _bulk_item(self, op: str, meta: dict[str, Any], doc: dict[str, Any],
                   default_index: str | None) -> dict[str, Any]:
        name = meta.get("_index") or default_index or ""
        _id = meta.get("_id") or f"auto-{sum(len(i.docs) for i in self.indices.values())}"
        result: dict[str, Any] = {"_index": name, "_id": _id}
        if self.reject_items > 0:
            self.reject_items -= 1
            return {**result, "status": 429, "error": {
                "type": "es_rejected_execution_exception",
                "reason": "rejected execution of coordinating operation (stand-in)"}}
        index = self._index(name)
        if index.data_stream and op != "create":
            return {**result, "status": 400, "error": {
                "type": "illegal_argument_exception",
                "reason": "only write ops with an op_type of create are allowed in data "
                          "streams"}}
        if op == "create" and _id in index.docs:
            return {**result, "status": 409, "error": {
                "type": "version_conflict_engine_exception",
                "reason": f"[{_id}]: version conflict, document already exists"}}
        try:
            stored = index.check(_flatten(doc))
        except MappingConflict as exc:
            return {**result, "status": 400, "error": {
                "type": "document_parsing_exception", "reason": str(exc)}}
        created = _id not in index.docs
        index.docs[_id] = stored
        index.sources[_id] = doc
        return {**result, "status": 201 if created else 200,
                "result": "created" if created else "updated", "_version": 1}

    def search(self, pattern: str, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            docs = [d for i in self._resolve(pattern) for d in i.docs.values()]
            hits = [d for d in docs if _matches(d, body.get("query"))]
            return {"took": 1, "timed_out": False,
                    "hits": {"total": {"value": len(hits), "relation": "eq"}, "hits": []},
                    "aggregations": _aggregate(hits, body.get("aggs", {}))}


# -- queries and aggregations ---------------------------------------------------------------------
def _matches(doc: dict[str, Any], query: dict[str, Any] | None) -> bool:
    if not query or "match_all" in query:
        return True
    if "bool" in query:
        clauses = query["bool"].get("filter", []) + query["bool"].get("must", [])
        if isinstance(clauses, dict):
            clauses = [clauses]
        return all(_matches(doc, c) for c in clauses)
    if "term" in query:
        (field, value), = query["term"].items()
        value = value["value"] if isinstance(value, dict) else value
        return doc.get(field) == value
    if "terms" in query:
        (field, values), = query["terms"].items()
        return doc.get(field) in values
    if "range" in query:
        (field, bounds), = query["range"].items()
        value = doc.get(field)
        if value is None:
            return False
        checks = {"gte": operator.ge, "gt": operator.gt, "lte": operator.le, "lt": operator.lt}
        return all(checks[k](value, float(v)) for k, v in bounds.items() if k in checks)
    raise ValueError(f"stand-in: unsupported query {query!r}")


def _percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100.0
    lo, hi = math.floor(rank), math.ceil(rank)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (rank - lo)


def _interval_ms(text: str) -> float:
    units = {"ms": 1, "s": 1000, "m": 60000, "h": 3600000, "d": 86400000}
    for unit in ("ms", "s", "m", "h", "d"):
        if text.endswith(unit) and text[: -len(unit)].replace(".", "").isdigit():
            return float(text[: -len(unit)]) * units[unit]
    raise ValueError(f"stand-in: bad interval {text!r}")


def _order_value(bucket: dict[str, Any], path: str) -> Any:
    if path == "_count":
        return bucket["doc_count"]
    if path == "_key":
        return bucket["key"]
    name, _, metric = path.partition(".")
    name = name.split(">")[0]
    agg = bucket[name]
    if metric:
        return agg["values"].get(f"{float(metric):.1f}")
    if "value" in agg:
        return agg["value"]
    return agg["doc_count"]


def _aggregate(docs: list[dict[str, Any]], aggs: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for name, spec in aggs.items():
        sub = spec.get("aggs") or spec.get("aggregations") or {}
        kind = next(k for k in spec if k not in ("aggs", "aggregations"))
        params = spec[kind]
        out[name] = _one(docs, kind, params, sub)
    return out


def _one(docs: list[dict[str, Any]], kind: str, params: dict[str, Any],
         sub: dict[str, Any]) -> dict[str, Any]:
    field = params.get("field", "") if isinstance(params, dict) else ""
    values = [d[field] for d in docs if d.get(field) is not None] if field else []
    if kind == "sum":
        return {"value": float(sum(values))}
    if kind == "avg":
        return {"value": (sum(values) / len(values)) if values else None}
    if kind in ("min", "max"):
        value = (min if kind == "min" else max)(values) if values else None
        return {"value": None if value is None else float(value)}
    if kind == "stats":  # the shape Elasticsearch and OpenSearch answer
        floats = [float(v) for v in values]
        return {"count": len(floats), "min": min(floats) if floats else None,
                "max": max(floats) if floats else None,
                "avg": sum(floats) / len(floats) if floats else None,
                "sum": float(sum(floats))}
    if kind == "value_count":
        return {"value": len(values)}
    if kind == "cardinality":
        return {"value": len(set(values))}
    if kind == "percentiles":
        floats = [float(v) for v in values]
        return {"values": {f"{float(p):.1f}": _percentile(floats, float(p))
                           for p in params.get("percents", [1, 5, 25, 50, 75, 95, 99])}}
    if kind == "filter":
        chosen = [d for d in docs if _matches(d, params)]
        return {"doc_count": len(chosen), **_aggregate(chosen, sub)}
    if kind == "terms":
        groups: defaultdict[Any, list[dict[str, Any]]] = defaultdict(list)
        missing_key = params.get("missing")  # the bucket of documents lacking the field
        for d in docs:
            value = d.get(field, missing_key)
            if value is not None:
                groups[value].append(d)
        buckets = [{"key": key, "doc_count": len(group), **_aggregate(group, sub)}
                   for key, group in groups.items()]
        order = params.get("order", {"_count": "desc"})
        criteria = [next(iter(o.items())) for o in
                    ([order] if isinstance(order, dict) else order)]
        path = criteria[0][0]
        buckets.sort(key=lambda b: str(b["key"]))
        present = [b for b in buckets if _order_value(b, path) is not None]
        missing = [b for b in buckets if _order_value(b, path) is None]
        for crit, direction in reversed(criteria):  # stable sorts: the first criterion last
            present.sort(key=lambda b, c=crit: _order_value(b, c) or 0,
                         reverse=direction == "desc")
        size = int(params.get("size", 10))
        chosen = (present + missing)[:size]
        return {"doc_count_error_upper_bound": 0,
                "sum_other_doc_count": sum(b["doc_count"] for b in buckets[size:]),
                "buckets": chosen}
    if kind == "date_histogram":
        step = _interval_ms(params.get("fixed_interval") or params.get("interval", "1m"))
        groups = defaultdict(list)
        for d in docs:
            if d.get(field) is not None:
                groups[math.floor(d[field] / step) * step].append(d)
        keys = set(groups)
        bounds = params.get("extended_bounds")
        if bounds and int(params.get("min_doc_count", 1)) == 0:
            key = math.floor(float(bounds["min"]) / step) * step
            while key <= float(bounds["max"]):
                keys.add(key)
                key += step
        if keys and int(params.get("min_doc_count", 1)) == 0:
            key = min(keys)
            while key <= max(keys):
                keys.add(key)
                key += step
        buckets = []
        for key in sorted(keys):
            group = groups.get(key, [])
            if not group and int(params.get("min_doc_count", 1)) > 0:
                continue
            buckets.append({"key": int(key), "key_as_string": str(int(key)),
                            "doc_count": len(group), **_aggregate(group, sub)})
        return {"buckets": buckets}
    raise ValueError(f"stand-in: unsupported aggregation {kind!r}")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes
    server_state: StandInElasticsearch

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if not self.server_state.distribution:
            self.send_header("X-Elastic-Product", "Elasticsearch")
        for key, value in (headers or {}).items():
            if key != "X-Elastic-Product":
                self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _route(self, method: str) -> None:
        state = self.server_state
        url = urlsplit(self.path)
        parts = [p for p in url.path.split("/") if p]
        body = self._body()
        state.requests[f"{method} /{'/'.join(p if p.startswith('_') else '*' for p in parts)}"] += 1
        try:
            if method in ("GET", "HEAD") and not parts:
                info, headers = state.info()
                return self._send(200, info, headers)
            if parts and parts[0] == "_index_template" and len(parts) == 2:
                if method == "PUT":
                    state.templates[parts[1]] = json.loads(body)
                    return self._send(200, {"acknowledged": True})
                if parts[1] in state.templates:
                    return self._send(200, {"index_templates": [
                        {"name": parts[1], "index_template": state.templates[parts[1]]}]})
                return self._send(404, {"error": {"type": "resource_not_found_exception",
                                                  "reason": "no such template"}, "status": 404})
            if parts and parts[-1] == "_bulk":
                status, answer = state.bulk(body, parts[0] if len(parts) == 2 else None)
                return self._send(status, answer)
            if len(parts) == 2 and parts[1] == "_search":
                return self._send(200, state.search(parts[0], json.loads(body or b"{}")))
            if parts and parts[-1] == "_refresh":
                return self._send(200, {"_shards": {"total": 1, "successful": 1, "failed": 0}})
            if len(parts) == 3 and parts[1] == "_doc" and method == "GET":
                with state.lock:
                    for index in state._resolve(parts[0]):
                        if parts[2] in index.sources:
                            return self._send(200, {"_index": index.name, "_id": parts[2],
                                                    "found": True,
                                                    "_source": index.sources[parts[2]]})
                return self._send(404, {"_id": parts[2], "found": False})
            if method == "DELETE" and len(parts) == 1:
                with state.lock:
                    for index in state._resolve(parts[0]):
                        del state.indices[index.name]
                return self._send(200, {"acknowledged": True})
        except (ValueError, KeyError) as exc:
            return self._send(400, {"error": {"type": "parsing_exception", "reason": str(exc)},
                                    "status": 400})
        return self._send(404, {"error": {"type": "no_handler", "reason": self.path}})

    def do_GET(self) -> None:
        self._route("GET")

    def do_HEAD(self) -> None:
        self._route("HEAD")

    def do_PUT(self) -> None:
        self._route("PUT")

    def do_POST(self) -> None:
        self._route("POST")

    def do_DELETE(self) -> None:
        self._route("DELETE")
