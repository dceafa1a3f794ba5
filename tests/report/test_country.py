"""The ``country`` dimension: real look-ups in the data ``iptocc`` ships, counts on the real
log against a count made here from the raw file, and a real ``.mmdb`` file (written here
with ``mmdb-writer``, read by MaxMind's ``maxminddb``) named by ``geoip_database``."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path
from typing import Any

import iptocc
import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from omphalos.config import ConfigError
from omphalos.counting import aggregate
from omphalos.counts import counts_from_wire, counts_to_wire
from omphalos.lib import geoip
from omphalos.lib.collectors.aggregate import Breakdown
from omphalos.records import Columns
from tests.conftest import REAL_LOG

ROOT = Path(__file__).resolve().parents[2]


def test_known_addresses_in_the_shipped_data() -> None:
    """Blocks whose registry assignment does not move: Google's resolvers (ARIN, US),
    APNIC's 1.0.16.0/20 (JPNIC, JP), RIPE NCC's own 193.0.0.0/21 (NL); private, loopback
    and non-addresses are unknown."""
    found = geoip.CountryLookup().countries(
        ["8.8.8.8", "1.0.16.1", "193.0.6.139", "2001:4860:4860::8888", "10.1.2.3",
         "127.0.0.1", "::1", "not-an-address", ""])
    assert found == {"8.8.8.8": "US", "1.0.16.1": "JP", "193.0.6.139": "NL",
                     "2001:4860:4860::8888": "US", "10.1.2.3": "-", "127.0.0.1": "-",
                     "::1": "-", "not-an-address": "-", "": "-"}


def test_country_counts_of_the_real_log_match_a_count_from_the_file() -> None:
    done = subprocess.run([sys.executable, "-m", "omphalos.cli.main", "report", str(REAL_LOG),
                           "--json", "--top", "1000"], capture_output=True, text=True,
                          timeout=300, check=True, cwd=ROOT)
    panel = next(p for p in json.loads(done.stdout)["panels"] if p["dimension"] == "country")
    clients = [line.split(" ", 1)[0]
               for line in REAL_LOG.read_text(encoding="utf-8").splitlines()]
    codes = dict(zip(clients, iptocc.country_code(clients)))  # the library itself, no cache
    expected = Counter(codes[c] or "-" for c in clients)
    assert panel["error_bound"] == 0
    assert {r["key"]: r["hits"] for r in panel["rows"]} == dict(expected)
    assert expected["US"] > 3000 and len(expected) > 50  # a real spread, not one key


def write_mmdb(path: Path, networks: dict[str, dict[str, Any]]) -> None:
    """A real MaxMind DB file: each network's record, GeoLite2-Country's shape or another."""
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True,
                        database_type="GeoLite2-Country", languages=["en"],
                        description={"en": "omphalos test"})
    for network, record in networks.items():
        writer.insert_network(IPSet([network]), record)
    writer.to_db_file(str(path))


def cols_of(clients: list[str]) -> Columns:
    n = len(clients)
    return Columns(time=[1431857100.0 + i for i in range(n)], client=clients,
                   path=["/"] * n, status=[200] * n, bytes=[1] * n, offset=list(range(n)))


def test_a_mmdb_file_named_by_geoip_database(tmp_path: Path) -> None:
    db = tmp_path / "country.mmdb"
    write_mmdb(db, {"83.149.0.0/16": {"country": {"iso_code": "RU", "names": {"en": "Russia"}}},
                    "66.249.64.0/19": {"registered_country": {"iso_code": "US"}},
                    "2a00:1450::/32": {"country_code": "IE"},  # ip-location-db's shape
                    "192.0.2.0/24": {"continent": {"code": "EU"}}})  # no country in it
    clients = ["83.149.9.216", "83.149.9.216", "66.249.73.135", "2a00:1450:4001::1",
               "192.0.2.7", "8.8.8.8", "not-an-address"]
    b = Breakdown(100, ("country", "client"))
    agg = aggregate(cols_of(clients), "web1", ("client", "country"), geoip_database=str(db))
    b.add(agg, "web1")
    rows = {r["key"]: r["hits"] for r in b.top("country", 10)[0]}
    assert rows == {"RU": 2, "US": 1, "IE": 1, "-": 3}  # 8.8.8.8 is not in this file
    # counted where parsed: the same keys arrive over the wire
    assert counts_from_wire(counts_to_wire(agg)).dims["country"].hits == agg.dims["country"].hits
    # without the option: the shipped data (8.8.8.8 is US there)
    default = aggregate(cols_of(clients), "web1", ("country",))
    assert default.dims["country"].hits["US"] == 2

    # the file replaced (a monthly update): read anew without a restart (the old file's time
    # set back first, so the two differ even within the file system's time resolution)
    os.utime(db, ns=(0, 0))
    replacement = tmp_path / "new.mmdb"
    write_mmdb(replacement, {"83.149.0.0/16": {"country": {"iso_code": "EE"}}})
    os.replace(replacement, db)
    again = aggregate(cols_of(["83.149.9.216"]), "web1", ("country",), geoip_database=str(db))
    assert again.dims["country"].hits == {"EE": 1}


def test_the_cache_of_addresses_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(geoip, "CACHE_SIZE", 100)
    look = geoip.CountryLookup()
    for start in range(0, 1000, 50):
        found = look.countries([f"8.8.{start // 250}.{i}" for i in range(start % 250,
                                                                          start % 250 + 50)])
        assert set(found.values()) == {"US"}
        assert len(look._cache) <= 100


def config_error(tmp_path: Path, value: str, plugin: str) -> str:
    """The error a config file with ``geoip_database = value`` gets."""
    from omphalos.config import build_config, load_ini
    from plugins.collectors.summary import SummaryConfig
    from plugins.collectors.window import WindowConfig

    conf = tmp_path / "omphalos.ini"
    conf.write_text(textwrap.dedent(f"""\
        [collector:counts]
        plugin = {plugin}
        geoip_database = {value}
        """), encoding="utf-8")
    section = load_ini([conf]).section("collector:counts")
    config_class = SummaryConfig if plugin == "summary" else WindowConfig
    with pytest.raises(ConfigError) as caught:
        build_config(config_class, section, ignore=("plugin",))
    return str(caught.value)


@pytest.mark.parametrize("plugin", ["summary", "window"])
def test_a_bad_geoip_database_names_file_section_and_key(tmp_path: Path, plugin: str) -> None:
    missing = config_error(tmp_path, str(tmp_path / "nothing.mmdb"), plugin)
    assert "omphalos.ini" in missing and "collector:counts" in missing
    assert "geoip_database" in missing and "no such file" in missing
    not_mmdb = tmp_path / "GeoLite2-Country.mmdb"
    not_mmdb.write_bytes(b"this is not a MaxMind DB\n" * 100)
    bad = config_error(tmp_path, str(not_mmdb), plugin)
    assert re.search(r"geoip_database.*not a MaxMind DB|not a MaxMind DB.*geoip_database",
                     bad, re.S), bad
