"""Records to Elastic Common Schema documents, with stable ids and index names.

A document is a flat JSON object with dotted ECS keys (``url.path``, ``http.response.
status_code``...), which Elasticsearch and OpenSearch index exactly like nested objects and
which is cheaper to build. Its ``_id`` is derived from where the line was read (source host,
file identity, byte offset), so sending the same line twice overwrites one document instead
of adding a second: a batch re-sent after a crash or a retry is idempotent.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Iterator
from typing import Any

from omphalos.messages import Batch

from .derived_fields import derived_columns

__all__ = ["doc_id", "documents", "bulk_lines", "daily_index", "Op"]

#: Fields of the common record and the ECS key each one is stored under.
ECS_FIELDS: dict[str, str] = {
    "time": "@timestamp",
    "host": "host.name",
    "file": "log.file.path",
    "client": "source.address",
    "user": "user.name",
    "method": "http.request.method",
    "path": "url.path",
    "query": "url.query",
    "protocol": "http.version",
    "status": "http.response.status_code",
    "bytes": "http.response.body.bytes",
    "referer": "http.request.referrer",
    "agent": "user_agent.original",
    "duration": "event.duration",
    "offset": "log.offset",
    "extra": "omphalos.extra",
}

#: One bulk operation: the action line and the document line, both JSON without newline.
Op = tuple[bytes, bytes]

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def doc_id(host: str, file_id: str, offset: int) -> str:
    """The document id of the line at ``offset`` of file ``file_id`` read on ``host``."""
    key = f"{host}\0{file_id}\0{offset}".encode("utf-8", "surrogatepass")
    return base64.urlsafe_b64encode(hashlib.blake2b(key, digest_size=15).digest()).decode()


class _Timestamps:
    """ISO 8601 UTC strings with milliseconds, the formatting of each second cached."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""
        self._day = ""

    def format(self, t: float) -> str:
        second = int(t // 1)
        if second != self._second:
            self._second = second
            tm = time.gmtime(second)
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", tm)
            self._day = time.strftime("%Y.%m.%d", tm)
        return f"{self._prefix}.{int((t - second) * 1000):03d}Z"

    @property
    def day(self) -> str:
        """``YYYY.MM.DD`` of the last formatted time."""
        return self._day


def daily_index(prefix: str, t: float) -> str:
    """The daily index of a record at epoch ``t``: ``prefix-YYYY.MM.DD`` (UTC)."""
    return f"{prefix}-{time.strftime('%Y.%m.%d', time.gmtime(t))}"


def documents(batch: Batch, geoip_database: str = ""
              ) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """``(id, day, document)`` for each record of ``batch``; ``day`` is ``YYYY.MM.DD``.
    Documents carry the derived dimensions too (:mod:`.derived_fields`; ``geoip_database``:
    the ``.mmdb`` file of the country, empty for the data ``iptocc`` ships)."""
    cols = batch.records
    n = len(cols)
    if not n:
        return
    source = batch.source
    nones = [None] * n
    stamps = _Timestamps()
    offsets = cols.offsets()
    optional = [c if c is not None else nones for c in (
        cols.user, cols.method, cols.query, cols.protocol, cols.referer, cols.agent,
        cols.duration, cols.extra)]
    derived = derived_columns(cols, geoip_database)
    id_prefix = f"{source.host}\0{source.file_id}\0"
    blake = hashlib.blake2b
    b64 = base64.urlsafe_b64encode
    for i, (t, client, path, status, size, offset, user, method, query, protocol, referer,
            agent, duration, extra) in enumerate(zip(cols.time, cols.client, cols.path,
                                                     cols.status, cols.bytes, offsets,
                                                     *optional)):
        doc: dict[str, Any] = {
            "@timestamp": stamps.format(t),
            "host.name": source.host,
            "log.file.path": source.path,
            "log.offset": offset,
            "omphalos.file_id": source.file_id,
            "source.address": client,
            "url.path": path,
            "http.response.status_code": status,
            "http.response.body.bytes": size,
            "event.kind": "event",
            "event.category": "web",
            "event.outcome": "failure" if status >= 400 else "success",
        }
        if query is not None:
            doc["url.query"] = query
            doc["url.original"] = f"{path}?{query}"
        else:
            doc["url.original"] = path
        if method is not None:
            doc["http.request.method"] = method
        if protocol is not None:
            doc["http.version"] = protocol.rpartition("/")[2]
        if user is not None:
            doc["user.name"] = user
        if referer is not None:
            doc["http.request.referrer"] = referer
        if agent is not None:
            doc["user_agent.original"] = agent
        if duration is not None:
            doc["event.duration"] = int(duration * 1e9)
        if extra:
            doc["omphalos.extra"] = extra
        for field, values in derived:
            value = values[i]
            if value is not None:
                doc[field] = value
        key = f"{id_prefix}{offset}".encode("utf-8", "surrogatepass")
        yield b64(blake(key, digest_size=15).digest()).decode(), stamps.day, doc


def bulk_lines(batch: Batch, *, index_prefix: str = "omphalos",
               data_stream: str | None = None, geoip_database: str = "") -> list[Op]:
    """The bulk operations indexing ``batch``: ``index`` into daily indices, or ``create``
    into ``data_stream`` (a data stream accepts only ``create``; a re-sent line then gets a
    409 conflict, which means it is already there)."""
    ops: list[Op] = []
    for _id, day, doc in documents(batch, geoip_database):
        if data_stream:
            action = {"create": {"_index": data_stream, "_id": _id}}
        else:
            action = {"index": {"_index": f"{index_prefix}-{day}", "_id": _id}}
        ops.append((_dumps(action).encode("utf-8", "surrogatepass"),
                    _dumps(doc).encode("utf-8", "surrogatepass")))
    return ops
