"""Which country a client address is in (the ``country`` dimension), cached per address.

Two sources, both offline (nothing is downloaded at run time):

* by default, the data the ``iptocc`` package ships inside its wheel: the countries the
  five Regional Internet Registries assigned each block to (their delegation files,
  refreshed with every release of the package; MIT or Apache-2.0). That is where a block
  is registered, not always where it is used: about 95% of IPv4 addresses agree with
  MaxMind's GeoLite2;
* a MaxMind DB file (``.mmdb``) named by the collectors' ``geoip_database`` option, read
  with MaxMind's ``maxminddb`` reader (``pip install 'omphalos[geoip]'``): GeoLite2-Country
  or GeoIP2-Country from MaxMind, DB-IP's "IP to Country Lite", or any ``.mmdb`` whose
  records carry ``country.iso_code`` (or ``registered_country.iso_code``, or a top-level
  ``country_code`` / ``country`` string). The file is read in place (memory-mapped) and
  reopened when it is replaced (its modification time or size changes), so a monthly
  update needs no restart.

Keys are ISO 3166-1 alpha-2 codes (``US``, ``DE``); an address the data has no country
for (private, reserved, not an address) is :data:`UNKNOWN`. Answers are kept per address
string in a bounded cache (:data:`CACHE_SIZE` addresses per source, emptied when full), so
a batch costs one dictionary look-up per distinct client it has seen before.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Collection
from typing import Any

from iptocc import country_code  # 1 ms; imported before a daemon drops to its user

__all__ = ["CountryLookup", "UNKNOWN", "CACHE_SIZE", "lookup", "check_database"]

#: The key of an address the data knows no country for.
UNKNOWN = "-"
#: Distinct addresses whose country each source keeps.
CACHE_SIZE = 200_000


class CountryLookup:
    """The country of client addresses, from ``database`` (a ``.mmdb`` path) or, when it
    is empty, from the data ``iptocc`` ships. ValueError when the file cannot be used."""

    def __init__(self, database: str = "") -> None:
        self.database = database
        self._cache: dict[str, str] = {}
        self._lock = threading.Lock()
        self._reader: Any = None
        if database:
            self._reader = _open_mmdb(database)

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()

    def countries(self, addresses: Collection[str]) -> dict[str, str]:
        """Address -> country code (or :data:`UNKNOWN`) for each of ``addresses``."""
        cache = self._cache
        found = dict(zip(addresses, map(cache.get, addresses)))  # None: not known yet
        new = [a for a, code in found.items() if code is None]
        if new:
            fresh = dict(zip(new, self._look_up(new)))
            found.update(fresh)
            with self._lock:
                if len(cache) + len(fresh) > CACHE_SIZE:
                    cache.clear()  # cheaper than evicting one by one; only hits are lost
                cache.update(fresh)
        # every None was replaced by a code or UNKNOWN
        return found  # type: ignore[return-value]

    def _look_up(self, addresses: list[str]) -> list[str]:
        if self._reader is None:
            return [code or UNKNOWN for code in country_code(addresses)]
        get = self._reader.get
        out = []
        for address in addresses:
            try:
                record = get(address)
            except ValueError:  # not an address (a host name in the client field...)
                record = None
            out.append(_code(record))
        return out


def _code(record: Any) -> str:
    """The ISO code in a MaxMind DB record (GeoLite2 / DB-IP shapes, or a flat one)."""
    if not isinstance(record, dict):
        return UNKNOWN
    for key in ("country", "registered_country"):
        value = record.get(key)
        if isinstance(value, dict) and isinstance(value.get("iso_code"), str):
            return str(value["iso_code"])
    for key in ("country_code", "country"):
        value = record.get(key)
        if isinstance(value, str) and value:
            return value
    return UNKNOWN


def _open_mmdb(path: str) -> Any:
    try:
        import maxminddb
    except ImportError:
        raise ValueError(f"{path}: reading a .mmdb file needs the maxminddb package "
                         "(pip install 'omphalos[geoip]')") from None
    try:
        return maxminddb.open_database(path)
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except OSError as exc:
        raise ValueError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (maxminddb.InvalidDatabaseError, ValueError) as exc:
        raise ValueError(f"{path}: not a MaxMind DB (.mmdb) file: {exc}") from None


_LOOKUPS: dict[str, tuple[tuple[int, int], CountryLookup]] = {}
_LOOKUPS_LOCK = threading.Lock()


def lookup(database: str = "") -> CountryLookup:
    """The process's :class:`CountryLookup` of ``database`` (shared, so its cache lasts
    across batches), reopened when the file was replaced since."""
    stamp = (0, 0)
    if database:
        try:
            st = os.stat(database)
            stamp = (st.st_mtime_ns, st.st_size)
        except OSError:
            stamp = (-1, -1)  # gone: keep answering from the file opened before
    found = _LOOKUPS.get(database)
    if found is not None and (found[0] == stamp or stamp == (-1, -1)):
        return found[1]
    with _LOOKUPS_LOCK:
        found = _LOOKUPS.get(database)
        if found is not None and (found[0] == stamp or stamp == (-1, -1)):
            return found[1]
        fresh = CountryLookup(database)
        _LOOKUPS[database] = (stamp, fresh)
        return fresh


def check_database(database: str) -> None:
    """ValueError(message, ``"geoip_database"``) when ``database`` is set and not a
    readable ``.mmdb`` (a collector's config check, so the error names the option)."""
    if not database:
        return
    try:
        lookup(database)
    except ValueError as exc:
        raise ValueError(str(exc), "geoip_database") from None
