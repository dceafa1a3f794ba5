"""The composable index template installed at start: ECS field types for our documents.

Keyword fields are what the query API aggregates on (top lists by path, client, host...);
``@timestamp`` is a date, ``event.duration`` a long in nanoseconds (ECS), byte counts longs.
``omphalos.extra`` (fields a log format has and the record schema lacks) is mapped
dynamically, so a value of another type than the first one seen is a per-document mapping
error, which the collector counts and logs but never retries.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MAPPING", "index_template"]

_KEYWORD = {"type": "keyword", "ignore_above": 2048}
_LONG = {"type": "long"}

#: ECS key -> Elasticsearch field type, flat (the template nests it).
MAPPING: dict[str, dict[str, Any]] = {
    "@timestamp": {"type": "date"},
    "host.name": _KEYWORD,
    "log.file.path": _KEYWORD,
    "log.offset": _LONG,
    "omphalos.file_id": _KEYWORD,
    "source.address": _KEYWORD,
    "user.name": _KEYWORD,
    "http.request.method": _KEYWORD,
    "http.request.referrer": _KEYWORD,
    "http.version": _KEYWORD,
    "http.response.status_code": _LONG,
    "http.response.body.bytes": _LONG,
    "url.path": _KEYWORD,
    "url.query": _KEYWORD,
    "url.original": _KEYWORD,
    "user_agent.original": _KEYWORD,
    "event.duration": _LONG,
    "event.kind": _KEYWORD,
    "event.category": _KEYWORD,
    "event.outcome": _KEYWORD,
    # the derived dimensions (.derived_fields)
    "user_agent.name": _KEYWORD,
    "user_agent.os.name": _KEYWORD,
    "user_agent.device.name": _KEYWORD,
    "url.domain": _KEYWORD,
    "url.extension": _KEYWORD,
    "http.response.mime_type": _KEYWORD,
    "source.geo.country_iso_code": _KEYWORD,
    "omphalos.crawler": _KEYWORD,
    "omphalos.protocol": _KEYWORD,
    "omphalos.referring_site": _KEYWORD,
    "omphalos.hour": _KEYWORD,
    "omphalos.tls": _KEYWORD,
    "omphalos.cache": _KEYWORD,
    "omphalos.day": _KEYWORD,
    "omphalos.visitor": _KEYWORD,
}


def _nested(flat: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``{"a.b": spec}`` as ``{"a": {"properties": {"b": spec}}}``."""
    root: dict[str, Any] = {}
    for key, spec in flat.items():
        parts = key.split(".")
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {"properties": {}})["properties"]
        node[parts[-1]] = dict(spec)
    return root


def index_template(patterns: list[str], *, data_stream: bool, priority: int = 200,
                   shards: int = 1, replicas: int | None = None) -> dict[str, Any]:
    """The body of ``PUT _index_template/NAME`` for indices (or a data stream) ``patterns``.

    ``priority`` is above the built-in ``logs-*-*`` template (100) so ours wins for the
    default data stream name.
    """
    properties = _nested(MAPPING)
    properties.setdefault("omphalos", {"properties": {}})["properties"]["extra"] = {
        "type": "object", "dynamic": True}
    settings: dict[str, Any] = {"number_of_shards": shards}
    if replicas is not None:
        settings["number_of_replicas"] = replicas
    body: dict[str, Any] = {
        "index_patterns": patterns,
        "priority": priority,
        "template": {
            "settings": settings,
            "mappings": {"dynamic": True, "properties": properties},
        },
        "_meta": {"managed_by": "omphalos", "schema": "ecs"},
    }
    if data_stream:
        body["data_stream"] = {}
    return body
