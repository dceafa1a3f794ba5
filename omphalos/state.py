"""Durable collector state: counts and de-duplication offsets saved together, in SQLite.

A collector that counts (``summary``, ``window`` and its alerts) keeps its tables in
memory; :class:`StateStore` keeps a copy of them on disk that a restarted collector (clean
stop, crash, SIGKILL) loads back. What makes it exact is that each save holds, in **one**
SQLite transaction, both the collector's tables and the de-duplication offsets of the
batches those tables include (:meth:`omphalos.plugin.CollectorPlugin.admit`): after a
restart the collector skips precisely what the restored tables already count, and counts
the rest when the senders send it again. A batch is acknowledged to its sender only once a
save includes it (:class:`DurableConfig`'s ``ack_when_saved``), so a batch the collector
applied and then lost in a crash is still in its sender's spool, or still unread behind
the monitor's checkpoint.

A collector's state is a set of named *parts* (a summary's breakdown, one window bucket,
the firing alerts...), each plain data (dicts, lists, tuples, numbers, strings, None)
pickled without any class reference: loading a part can build nothing but plain data
(:func:`decode` refuses every global), so a state file cannot run code. Saves are
incremental: a collector hands over only the parts that changed since its last save and
the names of those it dropped; the size of a save is bounded by the tables' capacities,
not by the lines seen. A save has two halves: :meth:`StateStore.prepare` encodes it (in
the collector's thread, where the tables hold still) and :meth:`StateStore.commit` writes
it (in a writer thread, :mod:`omphalos.state_writer`).

One file (``STATE_DIR/collectors.sqlite`` unless a collector names another) holds the
states of every collector of the process, each under its own key. Like the checkpoint
store (:mod:`omphalos.checkpoint`) it is opened in WAL mode with ``synchronous=NORMAL``:
a commit is durable across process crashes; a power loss may forget the last commits (the
senders then send those batches again, and they are counted once). Its write-ahead log is
never checkpointed inside a commit (``wal_autocheckpoint = 0``): SQLite would otherwise
copy it into the database, with an ``fsync``, in whichever commit crosses a thousand
pages, and the acknowledgements that commit holds would wait for it. The writer calls
:meth:`StateStore.checkpoint` once the acknowledgements are sent instead.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import io
import json
import os
import pickle
import sqlite3
import threading
import time
from collections import Counter, deque
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .checkpoint import create_database
from .config import option

__all__ = ["DurableConfig", "PreparedSave", "SavedState", "StateError", "StateStore", "decode",
           "encode", "key_text", "text_key", "object_state", "restore_object", "DEFAULT_FILE"]

#: File name of the state store in the state directory.
DEFAULT_FILE = "collectors.sqlite"
#: Version of the layout of the parts; a store written by another version is refused.
FORMAT = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS parts (
    collector TEXT NOT NULL, part TEXT NOT NULL, data BLOB NOT NULL,
    PRIMARY KEY (collector, part));
CREATE TABLE IF NOT EXISTS applied (
    collector TEXT NOT NULL, key TEXT NOT NULL, end_offset INTEGER NOT NULL,
    updated INTEGER NOT NULL, holes TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (collector, key));
CREATE TABLE IF NOT EXISTS saves (
    collector TEXT PRIMARY KEY, format INTEGER NOT NULL, saved REAL NOT NULL,
    generation INTEGER NOT NULL);
"""


class StateError(RuntimeError):
    """A state file that cannot be read back (damaged, or written by another version)."""


@dataclass(frozen=True)
class DurableConfig:
    """Options of every collector whose state survives restarts (its config inherits them)."""

    durable: bool = option(True, "Keep the counts and the de-duplication offsets on disk "
                                 "(state_path) and resume from them after any restart: "
                                 "no line lost, none counted twice. no: in memory only (a "
                                 "restart starts from zero; use the reset query to start "
                                 "over while keeping durability).")
    state_path: str = option("", "SQLite file of the saved state; empty: "
                                 "STATE_DIR/collectors.sqlite (shared by the collectors of "
                                 "a process, each under its state_key).")
    state_key: str = option("", "Name the state is saved under in state_path; empty: the "
                                "component name (collector:summary). One collector at a "
                                "time may hold it: a second is refused, naming the holder.")
    save_interval_secs: float = option(1.0, "Longest a batch waits, once applied, for the "
                                            "save that includes it (and for its "
                                            "acknowledgement); a save is made sooner when "
                                            "no batch is waiting. Saves that take long are "
                                            "spaced out so that they take at most about a "
                                            "tenth of the time (the wait is then longer), "
                                            "except when the senders have stopped (no "
                                            "batch for twice the usual gap: their credit "
                                            "is all held here): then at once. A "
                                            "writer thread commits each save while "
                                            "batches are applied; its batches are "
                                            "acknowledged once it is committed.")
    ack_when_saved: bool = option(True, "Acknowledge a batch to its sender only once a save "
                                        "includes it, so a crash loses nothing. no: once "
                                        "applied (only safe when the sources are read again "
                                        "from their start after a crash, as replay does).")

    def validate(self) -> None:
        if self.save_interval_secs <= 0:
            raise ValueError("must be more than 0", "save_interval_secs")


class _PlainUnpickler(pickle.Unpickler):
    """Builds plain data only: every class or function reference is refused."""

    def find_class(self, module: str, name: str) -> Any:
        raise StateError(f"a state part refers to {module}.{name}: only plain data is "
                         "loaded from a state file")


def encode(data: Any) -> bytes:
    """Plain data (dicts, lists, tuples, sets, numbers, strings, None) as bytes."""
    return pickle.dumps(data, protocol=5)


def decode(blob: bytes) -> Any:
    """The plain data of :func:`encode`; StateError for anything else."""
    try:
        return _PlainUnpickler(io.BytesIO(blob)).load()
    except StateError:
        raise
    except Exception as exc:  # a damaged part: say so, whatever broke
        raise StateError(f"a state part cannot be read: {type(exc).__name__}: {exc}"
                         ) from exc


def key_text(key: Hashable) -> str:
    """A de-duplication key (a string, or a tuple of strings and numbers) as text."""
    return json.dumps(list(key) if isinstance(key, tuple) else key, separators=(",", ":"))


def text_key(text: str) -> Hashable:
    """The key :func:`key_text` wrote (lists come back as tuples)."""
    value = json.loads(text)
    return _tupled(value)


def _tupled(value: Any) -> Any:
    return tuple(_tupled(v) for v in value) if isinstance(value, list) else value


_MISSING = object()
#: Types taken as they are (containers of them are checked by their first value only).
_PLAIN = frozenset({int, float, str, bool, type(None), bytes, tuple, list, set, frozenset})


def _plain(value: Any) -> Any:
    """``value`` as plain data: objects with ``to_state()`` become their state, counters
    plain dicts, deques lists, and a dict of such objects (a breakdown's tables) a dict of
    their states. Anything else is taken as it is (it must already be plain data)."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is dict:
        if not value:
            return value
        first = next(iter(value.values()))
        if type(first) in _PLAIN or type(first) is dict:
            return value
        if callable(getattr(first, "to_state", None)):
            return {k: v.to_state() for k, v in value.items()}
        return value
    to_state = getattr(value, "to_state", None)
    if callable(to_state):
        return to_state()
    if isinstance(value, Counter):
        return dict(value)
    if isinstance(value, deque):
        return list(value)
    return value


@functools.lru_cache(maxsize=256)
def _slot_names(cls: Any) -> tuple[str, ...]:
    return tuple(name for c in cls.__mro__ for name in getattr(c, "__slots__", ()))


def _attribute_names(obj: Any) -> tuple[str, ...]:
    cls: Any = type(obj)
    return _slot_names(cls) or tuple(vars(obj))


def object_state(obj: Any, skip: Iterable[str] = ()) -> dict[str, Any]:
    """Every attribute of ``obj`` (its ``__slots__``, else its ``__dict__``) but ``skip``,
    as plain data (see :func:`_plain`): generic, so that a field or a table added to a
    class is saved without a change here."""
    left_out = frozenset(skip)
    missing = _MISSING
    out = {}
    for name in _attribute_names(obj):
        if name not in left_out:
            value = getattr(obj, name, missing)
            if value is not missing:
                out[name] = _plain(value)
    return out


def restore_object(obj: Any, data: Mapping[str, Any], keep: Iterable[str] = ()) -> None:
    """Overlay the saved attributes ``data`` on ``obj``, a freshly built object of the
    current config: attributes ``keep`` (options: capacity...) and those the saved state
    lacks keep their fresh value; saved ones the object no longer has are ignored.
    An attribute holding an object with ``restore_state`` is restored into it, a dict of
    such objects key by key (a table of a dimension no longer configured is dropped, a new
    dimension starts empty); counters and deques keep their type."""
    kept = set(keep)
    names = set(_attribute_names(obj))
    for name, saved in data.items():
        if name in kept or name not in names or not hasattr(obj, name):
            continue
        current = getattr(obj, name)
        if callable(getattr(current, "restore_state", None)):
            current.restore_state(saved)
        elif isinstance(current, dict) and current and callable(
                getattr(next(iter(current.values())), "restore_state", None)):
            for key, item in current.items():
                if key in saved:
                    item.restore_state(saved[key])
        elif isinstance(current, Counter):
            setattr(obj, name, Counter(saved))
        elif isinstance(current, deque):
            setattr(obj, name, deque(saved, maxlen=current.maxlen))
        elif isinstance(current, set):
            setattr(obj, name, set(saved))
        else:
            setattr(obj, name, saved)


@dataclass
class SavedState:
    """What a collector saved last: its parts, its de-duplication offsets (oldest first)
    with the holes below them (:mod:`omphalos.dedupe`), and when (epoch seconds; None when
    nothing was ever saved)."""

    parts: dict[str, Any] = field(default_factory=dict)
    applied: list[tuple[Hashable, int]] = field(default_factory=list)
    holes: dict[Hashable, list[tuple[int, int]]] = field(default_factory=dict)
    saved: float | None = None
    generation: int = 0


def _holes_of(text: str) -> list[tuple[int, int]]:
    """The holes saved as ``text`` (a JSON list of ``[start, end]``)."""
    try:
        value = json.loads(text)
        return [(int(lo), int(hi)) for lo, hi in value]
    except (ValueError, TypeError) as exc:
        raise StateError(f"unreadable de-duplication holes {text[:80]!r}") from exc


@dataclass(frozen=True)
class PreparedSave:
    """One save of a collector, encoded and ready to commit (:meth:`StateStore.prepare`):
    rows of ``parts`` (collector, part, blob), of parts dropped (collector, part), of
    de-duplication offsets (collector, key, end, order, holes) and of keys forgotten
    (collector, key); ``replace``: the parts are the whole state; ``saved``: when it was
    taken (epoch seconds)."""

    collector: str
    blobs: list[tuple[str, str, bytes]]
    dropped: list[tuple[str, str]]
    applied: list[tuple[str, str, int, int, str]]
    forgotten: list[tuple[str, str]]
    replace: bool
    saved: float

    @property
    def size(self) -> int:
        """Bytes of parts it writes."""
        return sum(len(b[2]) for b in self.blobs)


class StateStore:
    """Saved states per collector key, each save one transaction.

    One connection per store, guarded by a lock (any thread may use it); WAL mode, so
    readers never wait for the writer and a commit costs no fsync of the database; the
    log is checkpointed by :meth:`checkpoint` only, never inside a commit.
    """

    def __init__(self, path: str) -> None:
        if path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            if not os.path.exists(path):
                create_database(path, SCHEMA)
        self.path = path
        self._lock = threading.Lock()
        self._claims: list[int] = []  # lock files held by claim()
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None,
                                       timeout=30)
            self._db.executescript(SCHEMA)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(applied)")}
            if "holes" not in columns:  # a store of the version before holes were kept
                self._db.execute("ALTER TABLE applied ADD COLUMN holes TEXT NOT NULL "
                                 "DEFAULT ''")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA wal_autocheckpoint=0")
        except sqlite3.DatabaseError as exc:
            raise StateError(f"{path}: not a state file: {exc}") from exc

    def load(self, collector: str) -> SavedState:
        """The last save of ``collector`` (empty when there is none)."""
        with self._lock:
            row = self._db.execute("SELECT format, saved, generation FROM saves WHERE "
                                   "collector = ?", (collector,)).fetchone()
            if row is None:
                return SavedState()
            if row[0] != FORMAT:
                raise StateError(f"{self.path}: the state of {collector} has format "
                                 f"{row[0]}, this version reads {FORMAT}")
            parts = self._db.execute("SELECT part, data FROM parts WHERE collector = ?",
                                     (collector,)).fetchall()
            applied = self._db.execute("SELECT key, end_offset, holes FROM applied WHERE "
                                       "collector = ? ORDER BY updated", (collector,)
                                       ).fetchall()
        try:
            decoded = {name: decode(data) for name, data in parts}
            holes = {text_key(k): _holes_of(text) for k, _, text in applied if text}
        except StateError as exc:
            raise StateError(f"{self.path}: state of {collector}: {exc}") from exc
        return SavedState(decoded, [(text_key(k), int(end)) for k, end, _ in applied],
                          holes, float(row[1]), int(row[2]))

    def save(self, collector: str, parts: Mapping[str, Any], dropped: Iterable[str] = (),
             applied: Mapping[Hashable, int] | None = None,
             forgotten: Iterable[Hashable] = (), *, replace: bool = False,
             holes: Mapping[Hashable, Iterable[tuple[int, int]]] | None = None) -> int:
        """Save, in one transaction, the ``parts`` that changed (plain data), drop the
        parts ``dropped``, record the de-duplication offsets ``applied`` (with the
        ``holes`` below them, none for a key not in it) and forget the keys
        ``forgotten``. ``replace``: the parts given are the whole state (every other part
        is dropped). Returns the number of bytes of parts written. The same as
        :meth:`commit` of :meth:`prepare`."""
        return self.commit(self.prepare(collector, parts, dropped, applied, forgotten,
                                        replace=replace, holes=holes))

    @staticmethod
    def prepare(collector: str, parts: Mapping[str, Any], dropped: Iterable[str] = (),
                applied: Mapping[Hashable, int] | None = None,
                forgotten: Iterable[Hashable] = (), *, replace: bool = False,
                holes: Mapping[Hashable, Iterable[tuple[int, int]]] | None = None
                ) -> PreparedSave:
        """The rows of a :meth:`save` (arguments as there), encoded now: the result holds
        no reference to ``parts``, so the tables they came from may change at once while
        :meth:`commit` writes it (from another thread: :mod:`omphalos.state_writer`)."""
        blobs = [(collector, name, encode(data)) for name, data in parts.items()]
        stamp = time.time_ns()
        gaps = holes or {}
        rows = [(collector, key_text(k), int(end), stamp + i,
                 json.dumps([[int(lo), int(hi)] for lo, hi in gaps[k]]) if k in gaps else "")
                for i, (k, end) in enumerate((applied or {}).items())]
        return PreparedSave(collector, blobs, [(collector, name) for name in dropped], rows,
                            [(collector, key_text(k)) for k in forgotten], replace,
                            time.time())

    def commit(self, prepared: PreparedSave) -> int:
        """Write ``prepared`` in one transaction (every row of it or none); the bytes of
        parts written. Saves of one collector must be committed in the order they were
        prepared (each holds what changed since the one before)."""
        collector = prepared.collector
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                if prepared.replace:
                    db.execute("DELETE FROM parts WHERE collector = ?", (collector,))
                else:
                    db.executemany("DELETE FROM parts WHERE collector = ? AND part = ?",
                                   prepared.dropped)
                db.executemany("INSERT OR REPLACE INTO parts VALUES (?, ?, ?)",
                               prepared.blobs)
                db.executemany("INSERT OR REPLACE INTO applied (collector, key, end_offset, "
                               "updated, holes) VALUES (?, ?, ?, ?, ?)", prepared.applied)
                db.executemany("DELETE FROM applied WHERE collector = ? AND key = ?",
                               prepared.forgotten)
                db.execute("INSERT INTO saves VALUES (?, ?, ?, 1) ON CONFLICT (collector) DO "
                           "UPDATE SET format = excluded.format, saved = excluded.saved, "
                           "generation = generation + 1", (collector, FORMAT, prepared.saved))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return prepared.size

    def checkpoint(self) -> int:
        """Copy the write-ahead log into the database (``PASSIVE``: what no reader still
        needs; it waits for nobody) so that it stays small; the log's pages left to copy.
        Called after a commit's acknowledgements are sent, off their path; the commits
        before are durable without it."""
        with self._lock:
            row = self._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return max(0, int(row[1]) - int(row[2])) if row is not None else 0

    def clear(self, collector: str) -> None:
        """Forget everything ``collector`` saved (its next start begins from zero)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            for table in ("parts", "applied", "saves"):
                self._db.execute(f"DELETE FROM {table} WHERE collector = ?", (collector,))
            self._db.execute("COMMIT")

    def keys(self) -> list[str]:
        """The collector keys that saved something."""
        with self._lock:
            rows = self._db.execute("SELECT collector FROM saves ORDER BY collector")
            return [str(row[0]) for row in rows]

    def size(self, collector: str) -> int:
        """Bytes of parts saved for ``collector``."""
        with self._lock:
            row = self._db.execute("SELECT coalesce(sum(length(data)), 0) FROM parts WHERE "
                                   "collector = ?", (collector,)).fetchone()
        return int(row[0])

    def claim(self, collector: str) -> None:
        """Make the state of ``collector`` this store's alone until :meth:`close`: a second
        collector (in this process or another) saving under the same key in the same file
        would overwrite it, and is refused with a :class:`StateError` naming both. The
        claim is a ``flock`` on a small file beside the store, which the kernel releases
        when the process dies, however it dies."""
        if self.path == ":memory:":
            return
        folder = self.path + ".claims"
        os.makedirs(folder, exist_ok=True)
        digest = hashlib.sha1(collector.encode("utf-8")).hexdigest()[:20]
        fd = os.open(os.path.join(folder, f"{digest}.lock"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
            os.close(fd)
            raise StateError(f"{self.path}: the state of {collector} is in use by another "
                             f"collector ({holder or 'unknown process'}); give this one "
                             "its own state_key or state_path") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"process {os.getpid()}, since {time.strftime('%Y-%m-%d %H:%M:%S')}"
                  .encode(), 0)
        self._claims.append(fd)

    def close(self) -> None:
        with self._lock:
            self._db.close()
            for fd in self._claims:
                os.close(fd)  # releases the flock
            self._claims.clear()
