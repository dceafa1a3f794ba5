"""The derived dimensions (GoAccess's panels) stored in each document, so that the cluster
answers them with terms aggregations.

Each value is the key the in-memory collectors count (:mod:`omphalos.derived`, computed
here with the same functions, column by column, with the same caches), stored in an ECS
field where ECS has one (``user_agent.name``, ``source.geo.country_iso_code``...) and under
``omphalos.`` otherwise. A value the line lacks is left out of the document, so it falls in
the terms aggregation's ``-`` bucket, as a missing value does in the in-memory answers.

Two fields serve dimensions that are not one value per line:

* ``omphalos.visitor``: a 64-bit hash (hex) of the line's (client, UTC date, agent), the
  unique visitor of GoAccess; ``visitors`` rows are a terms aggregation on ``omphalos.day``
  with a ``cardinality`` aggregation of it below;
* ``url.extension`` (ECS: lower case, without the dot): ``static`` rows are the paths
  whose extension is in the collector's ``static_extensions``, ``not_found`` rows the paths
  of the documents answered 404, both filters at query time.

Documents indexed before these fields existed lack them (they count under ``-``).
"""

from __future__ import annotations

from typing import Any

from omphalos.derived import derived_keys
from omphalos.lib.hll import hash64, seeded_hashes
from omphalos.records import Columns

__all__ = ["STORED", "VISITOR", "DAY", "EXTENSION", "derived_columns"]

#: Derived dimension -> the keyword field its key is stored in.
STORED: dict[str, str] = {
    "browser": "user_agent.name",
    "os": "user_agent.os.name",
    "device": "user_agent.device.name",
    "crawler": "omphalos.crawler",
    "vhost": "url.domain",
    "protocol": "omphalos.protocol",
    "referring_site": "omphalos.referring_site",
    "hour": "omphalos.hour",
    "tls": "omphalos.tls",
    "mime": "http.response.mime_type",
    "cache": "omphalos.cache",
    "country": "source.geo.country_iso_code",
}
#: The UTC date of the line (``visitors`` keys) and its unique-visitor hash.
DAY = "omphalos.day"
VISITOR = "omphalos.visitor"
#: The path's extension, lower case, without the dot (ECS ``url.extension``).
EXTENSION = "url.extension"


def _extension(path: str) -> str | None:
    name = path.rsplit("/", 1)[-1]
    dot = name.rfind(".")
    return name[dot + 1:].lower() or None if dot >= 0 else None


def derived_columns(cols: Columns, geoip_database: str = "") -> list[tuple[str, list[Any]]]:
    """``(field, one value per line)`` of every stored field the batch's format gives."""
    cache: dict[str, Any] = {}
    out: list[tuple[str, list[Any]]] = []
    for dim, field in STORED.items():
        keys = derived_keys(cols, dim, cache, geoip_database=geoip_database)
        if keys is not None:
            out.append((field, keys))
    days = derived_keys(cols, "visitors", cache)
    if days is not None:
        agents = cols.agent if cols.agent is not None else [None] * len(cols)
        seeds = {(d, a): hash64(f"{d}|{a or ''}") for d, a in set(zip(days, agents))}
        hashes = seeded_hashes(cols.client, [seeds[k] for k in zip(days, agents)])
        out.append((DAY, days))
        out.append((VISITOR, [f"{h:016x}" for h in hashes]))
    extensions: dict[str, str | None] = {p: _extension(p) for p in set(cols.path)}
    out.append((EXTENSION, [extensions[p] for p in cols.path]))
    return out
