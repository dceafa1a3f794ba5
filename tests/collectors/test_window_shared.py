"""One second's counts added to every window's bucket and host part in one pass
(:func:`add_to_all`, :func:`add_to_tables`, :func:`add_uniques`) and keys shared across
batches (:class:`SharedKeys`): every table, sketch and saved state must be exactly what
adding the counts to each breakdown alone gives, key order included.

The reference (:func:`plain_add`) is the window's per-run algorithm with every breakdown
fed on its own: each table through its own ``TopTable.add``, each visitors' sketch
through its own ``KeyedUniques.add``. The batches are fleet-shaped: many hosts (more than
``max_hosts``), each batch decoded apart (new but equal key objects, as at a collector),
tables small enough to overflow, late lines, lines out of order across seconds and
one-line batches.
"""

from __future__ import annotations

import math
import pickle
import random
from itertools import groupby
from typing import Any

from omphalos.plugins.collectors.window import WindowConfig, WindowStore

from omphalos.counting import aggregate
from omphalos.counts import BatchAgg
from omphalos.lib.collectors.aggregate import Breakdown, SharedKeys, add_to_all
from omphalos.lib.collectors.topk import TopTable, add_to_tables
from omphalos.lib.hll import KeyedUniques, add_uniques, hash64, sparse_limit
from omphalos.lib.parsers.clf_format import COMBINED_TOKENS
from omphalos.lib.parsers.linefmt import LineFormat
from omphalos.records import Columns

from ..conftest import REAL_LOG
from .helpers import Clock

BASE = 1_700_000_000.0


def ordered(value: Any) -> Any:
    """``value`` with every dict as its list of items: equal only in the same order."""
    if isinstance(value, dict):
        return [(ordered(k), ordered(v)) for k, v in value.items()]
    if isinstance(value, list | tuple):
        return [ordered(v) for v in value]
    return value


def state_of(s: WindowStore) -> Any:
    """Every ring's counts and buckets as saved (a full save), in order."""
    parts, _ = s.state_parts(True)
    return ordered(pickle.loads(pickle.dumps(parts)))


def alone(b: Breakdown, agg: BatchAgg) -> None:
    """``agg`` added to ``b`` alone (not its host parts), table by table."""
    b.requests += agg.requests
    b.bytes += agg.bytes
    b.status.update(agg.status)
    if agg.durations:
        b.durations.add_buckets(agg.durations)
    b.first = agg.first if b.first is None else min(b.first, agg.first)
    b.last = agg.last if b.last is None else max(b.last, agg.last)
    for dim, d in agg.dims.items():
        table = b.tables.get(dim)
        if table is not None:
            table.add(d.hits, d.bytes, d.classes, d.durations, d.cut, d.total)
    if agg.visitors and "visitors" in b.tables:
        b.visitors.add(agg.visitors)


def plain_add(s: WindowStore, cols: Columns, host: str, lines: int) -> None:
    """The per-run algorithm, each bucket and host part fed on its own."""
    s.lines += lines
    times = cols.time
    newest = max(times)
    s.newest = newest if s.newest is None else max(s.newest, newest)
    s.host_last[host] = max(s.host_last.get(host, -math.inf), newest)
    head = s.head()
    start = 0
    for key, group in groupby(math.floor(t / s.fine) for t in times):
        length = len(list(group))
        part = cols.slice(start, start + length)
        start += length
        t = key * s.fine
        live = [r for r in s.rings.values() if r.live(t, length, head)]
        if not live:
            continue
        agg = aggregate(part, host, s.dimensions, s.byte_dimensions,
                        static_extensions=s.config.static_extensions)
        for ring in live:
            bucket, *host_part = ring.targets(t, host)
            for b in host_part:
                alone(b, agg)
            alone(bucket, agg)


def fleet_batches() -> list[tuple[str, Columns]]:
    """The real log at 50 lines a second, each batch (250 lines, 5 s) sent by each of 12
    hosts in turn and decoded apart; every fifth batch of a host comes 100 s late, one in
    four has its lines shuffled across its seconds, and some are one line."""
    fmt = LineFormat("combined", COMBINED_TOKENS)
    raw = REAL_LOG.read_bytes().splitlines(keepends=True)[:3000]
    rng = random.Random(15)
    out = []
    for n, start in enumerate(range(0, len(raw), 250)):
        cols, _lines, bad, _ = fmt.parse(b"".join(raw[start:start + 250]), 0)
        assert not bad
        cols.time = [BASE + (start + i) / 50 for i in range(len(cols))]
        blob = pickle.dumps(cols)
        for h in range(12):
            one: Columns = pickle.loads(blob)  # decoded apart: equal, not the same, keys
            if (n + h) % 5 == 4:
                one.time = [t - 100.0 for t in one.time]
            order = list(range(len(one)))
            if (n + h) % 4 == 1:
                rng.shuffle(order)
                one = one.select(order)
            if (n + h) % 7 == 3:
                for i in (0, 17, 101):
                    out.append((f"web{h:02d}", one.slice(i, i + 1)))
                continue
            out.append((f"web{h:02d}", one))
    return out


def make(**options: Any) -> WindowStore:
    config = WindowConfig(clock="event", history=False, capacity=8, max_hosts=5, **options)
    return WindowStore(config, Clock(0.0))


def test_one_pass_and_shared_keys_give_the_state_of_each_breakdown_fed_alone() -> None:
    """Many hosts (12, parts kept for 5), tables of 8 keys (they overflow and prune),
    late, shuffled and one-line batches: the buckets, parts, late counts and every
    answer are those of the plain algorithm; the overflow really happens."""
    data = fleet_batches()
    mine, ref = make(), make()
    for n, (host, cols) in enumerate(data):
        mine.add(cols, host, len(cols))
        plain_add(ref, cols, host, len(cols))
        if n % 40 == 39:
            mine.expire()
            ref.expire()
    assert state_of(mine) == state_of(ref)
    assert {k: r.late for k, r in mine.rings.items()} == {k: r.late
                                                          for k, r in ref.rings.items()}
    assert mine.rings["1m"].late > 0
    floors = [b.tables["client"].floor for r in mine.rings.values()
              for b in r.buckets.values()]
    assert max(floors) > 0  # the tables overflowed
    parts = [len(b.per_host.hosts) for b in mine.rings["1h"].buckets.values()
             if b.per_host is not None]
    assert max(parts) == 5  # more hosts than parts
    for w in ("1m", "5m", "1h"):
        for host in (None, "web00", "web04"):
            for dim in ("path", "client", "visitors", "path_client", "status"):
                p = {"window": w, "dimension": dim, "limit": 20, "sort": "hits",
                     "filter": None, "host": host}
                assert mine.top(p) == ref.top(p)
            assert mine.series(w, host=host) == ref.series(w, host=host)
        assert mine.overview(w) == ref.overview(w)
        assert mine.hosts(w) == ref.hosts(w)


def test_keys_of_equal_values_are_one_object_across_buckets_and_hosts() -> None:
    """Batches decoded apart: every bucket and host part holds the same path and pair
    objects (what made the window hold a copy per host)."""
    data = fleet_batches()[:24]  # the first batch from 12 hosts, then the second
    s = make(windows=["1m/1s", "5m/5s"], baseline_window="5m")
    for host, cols in data:
        s.add(cols, host, len(cols))
    seen: dict[Any, set[int]] = {}
    for ring in s.rings.values():
        for bucket in ring.buckets.values():
            assert bucket.per_host is not None
            for b in (bucket, *bucket.per_host.hosts.values()):
                for dim in ("path", "client", "path_client"):
                    for key in b.tables[dim].hits:
                        seen.setdefault(key, set()).add(id(key))
    assert seen
    assert all(len(ids) == 1 for ids in seen.values())


def test_shared_keys_keep_types_order_and_counts_and_start_afresh_at_the_limit() -> None:
    shared = SharedKeys()
    a, b = "/index.html", "".join(["/index", ".html"])
    assert a == b and a is not b
    shared.share(aggregate_of({"path": {a: 2, "/x": 1}}))
    second = aggregate_of({"path": {"/y": 1, b: 5}, "browser": {b: 1}})
    shared.share(second)
    path = second.dims["path"]
    for counts in (path.hits, path.bytes, path.classes["4xx"]):
        assert list(counts.items()) == [("/y", counts["/y"]), (a, counts[a])]
        assert next(k for k in counts if k == a) is a
    assert path.hits == {"/y": 1, a: 5} and path.bytes == {"/y": 1, a: 5}
    assert next(iter(second.dims["browser"].hits)) is b  # a dimension of few keys: as is
    shared.share(aggregate_of({"path": {1: 1}}))
    bools = aggregate_of({"path": {True: 3}})  # equal to 1, of another type: kept apart
    shared.share(bools)
    assert [type(k) for k in bools.dims["path"].hits] == [bool]
    assert list(shared.keys["path"]) == ["/index.html", "/x", "/y", 1]
    small = SharedKeys(limit=1)
    small.share(aggregate_of({"path": {"/p": 1, "/q": 1}}))
    assert small.keys == {"path": {"/p": "/p", "/q": "/q"}} and small.count == 2
    small.share(aggregate_of({"client": {"/z": 1}}))  # over the limit: afresh
    assert small.keys == {"client": {"/z": "/z"}} and small.count == 1


def aggregate_of(hits: dict[str, dict[Any, int]]) -> BatchAgg:
    from omphalos.counts import DimAgg

    agg = BatchAgg(requests=1)
    for dim, counts in hits.items():
        agg.dims[dim] = DimAgg(dict(counts), dict(counts), {"4xx": dict(counts)})
    return agg


def test_add_to_tables_is_each_tables_own_add() -> None:
    """Tables empty, full, of another capacity; counts above the capacity (reduced once),
    adds that make a table prune: the same hits, bytes, classes, durations, floor, total
    and key order as ``add`` on each."""
    rng = random.Random(3)

    def counts(n: int) -> tuple[dict[Any, int], dict[Any, int], dict[str, dict[Any, int]],
                                dict[Any, dict[int, int]]]:
        hits = {f"k{rng.randrange(40)}": rng.randrange(1, 9) for _ in range(n)}
        return (hits, {k: 10 * v for k, v in hits.items()},
                {"5xx": {k: 1 for k in list(hits)[::3]}},
                {k: {rng.randrange(5): v} for k, v in hits.items()})

    def tables() -> list[TopTable]:
        out = [TopTable(6, 2), TopTable(6, 2), TopTable(6, 2), TopTable(9, 3)]
        out[1].add(*counts(10))
        out[2].add(*counts(4))
        return out

    together = tables()
    rng = random.Random(3)
    each = tables()
    for n in (1, 5, 30, 2, 12, 80, 3):
        batch = counts(n)
        add_to_tables(together, *batch)
        for t in each:
            t.add(*batch)
    assert [ordered(t.to_state()) for t in together] == [ordered(t.to_state()) for t in each]
    assert max(t.floor for t in together) > 0


def test_add_uniques_is_each_sketchs_own_add() -> None:
    """Sketches empty, sparse, dense and of another precision; hashes fewer than the tail
    minimum, a chunk's worth, and more than a chunk: the same registers and saved form."""
    def sketches() -> list[KeyedUniques]:
        out = [KeyedUniques(), KeyedUniques(), KeyedUniques(), KeyedUniques(precision=10)]
        out[1].add({"d": [hash64(f"s{i}") for i in range(300)]})
        out[2].add({"d": [hash64(f"b{i}") for i in range(3 * sparse_limit())]})
        return out

    together, each = sketches(), sketches()
    assert isinstance(together[2].sketches["d"]._data, bytearray)
    for size in (10, 65, 200, 2 * sparse_limit(), 5 * sparse_limit()):
        batch = {"d": [hash64(f"{size}-{i}") for i in range(size)],
                 "e": [hash64(f"e{size}-{i}") for i in range(size)]}
        add_uniques(together, batch)
        for u in each:
            u.add(batch)
    for mine, theirs in zip(together, each):
        assert mine.to_state() == theirs.to_state()
        for key, sketch in mine.sketches.items():
            assert sketch.registers == theirs.sketches[key].registers
            assert sketch.estimate() == theirs.sketches[key].estimate()


def test_an_empty_sketch_given_settled_entries_is_the_one_that_settled_them() -> None:
    hashes = [hash64(str(i)) for i in range(100)]
    given, added = KeyedUniques(), KeyedUniques()
    add_uniques([given, KeyedUniques()], {"d": hashes})
    added.add({"d": hashes})
    mine, theirs = given.sketches["d"], added.sketches["d"]
    assert mine._data == theirs._data and mine._settled == theirs._settled
    assert mine.is_sparse and mine.estimate() == theirs.estimate() == 99  # two share a register


def test_add_to_all_adds_to_breakdowns_not_their_host_parts() -> None:
    dims = ("path", "status", "host")
    whole = Breakdown(10, dims, max_hosts=2)
    other = Breakdown(10, dims)
    agg = aggregate(parsed(20), "web1", dims)
    add_to_all([whole, other], agg)
    assert whole.per_host is not None and not whole.per_host
    assert whole.requests == other.requests == 20
    assert ordered(whole.tables["path"].to_state()) == ordered(other.tables["path"].to_state())


def parsed(n: int) -> Columns:
    fmt = LineFormat("combined", COMBINED_TOKENS)
    raw = REAL_LOG.read_bytes().splitlines(keepends=True)[:n]
    cols, _lines, bad, _ = fmt.parse(b"".join(raw), 0)
    assert not bad
    return cols
