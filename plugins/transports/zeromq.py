"""``zmq``: batches over ZeroMQ (DEALER -> ROUTER), acknowledged, spooled, credited, CURVE.

One plugin, two roles chosen by the config:

* ``connect = tcp://collector:5556``: the **sender**, on a web server, fed by parsers. Every
  batch goes through the framework's durable sender (:mod:`omphalos.delivery`): spooled
  and acknowledged to its monitor once on disk, held unacknowledged while the spool is
  full or the disk is (monitors stop reading), refused as ``oversized`` when it can never
  fit. The I/O thread sends the spool's oldest batches, as many unacknowledged as the
  receiver's **credit** allows (at most ``max_in_flight``), and forgets each once
  acknowledged.
* ``bind = tcp://*:5556``: the **receiver**, in the collector process, feeding collectors.
  Each batch is handed to every collector and acknowledged once all of them applied it.
  The receiver grants each sender credit (``max_pending`` shared among the senders seen,
  at most ``max_pending_per_sender`` each), which bounds the decoded batches it holds, per
  sender and in total.

**Slow is not lost.** A sender re-sends a batch only when its connection broke or when the
receiver says it does not have it. When an acknowledgement is overdue
(``ack_timeout_secs``) the sender asks (a probe); the receiver's I/O thread answers at
once, whatever its collectors are doing, for each batch: being applied (wait), done (the
acknowledgement was lost: forget it) or unknown (send it again). Liveness is ZeroMQ's
heartbeat, answered by libzmq's own threads.

**Frames.** Sender to receiver: ``[id, batch]`` (``id`` 8 bytes) or a probe ``[b"?", ids]``
(an empty one on connecting says the sender reads credits). Receiver to sender:
``[id, ack, credit]`` (``credit`` a u32; ``[id, ack]`` to a sender that never probed, as
before credits, so older senders keep working) or a probe answer
``[b"?", ids, states, credit]`` (one state byte per id: 0 unknown, 1 being applied, 2 done).

**CURVE and identity.** With ``secret_key_file`` (a key pair made by ``omphalos keys``) the
sockets encrypt and authenticate; the receiver admits only senders whose public key is in
``allowed_keys_dir`` (a ZAP authenticator) and logs every refusal. The key file's name is
the host that key may send as (``web1.key``: host ``web1``): a batch claiming another host is
refused (``Ack(accepted=False)``), counted (``forged_host``) and logged at most once a minute
per key; collectors then keep the de-duplication state of each host apart. Binding beyond
loopback without CURVE is a config error.

ZeroMQ sockets are not thread-safe: each lives in exactly one thread. The actor thread owns
only the wake-up socket it uses to poke its I/O thread; the I/O thread owns the data socket.
Per-message failures of the I/O thread are counted (``message_errors``); if it dies anyway
the actor fails on its next tick and the supervisor restarts it.
"""

from __future__ import annotations

import logging
import os
import queue
import struct
import threading
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from itertools import count
from typing import Any, ClassVar

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator
from zmq.utils.monitor import recv_monitor_message

from omphalos.config import option
from omphalos.counting import aggregate, reduce_counts
from omphalos.dedupe import drop_before
from omphalos.delivery import Outbox
from omphalos.lib.transports.common import Incoming, RateLimitedLog, is_loopback, qualify
from omphalos.messages import Ack, Batch
from omphalos.plugin import CountedBatches, Loopback, TransportPlugin
from omphalos.query import DIMENSIONS
from omphalos.records import Columns
from omphalos.spool import Spool, spool_apart, spool_path
from omphalos.validate import Rejects
from omphalos.wire import DEFAULT_MAX_BYTES, WireError, decode_ack, decode_batch, encode_ack
from omphalos.wire import encode_batch as encode

_ID = struct.Struct("<Q")
_CREDIT = struct.Struct("<I")
_PROBE = b"?"
UNKNOWN, APPLYING, DONE = 0, 1, 2
_REFUSED = encode_ack(Ack("", 0, "", 0, accepted=False))
#: Acknowledged message ids a receiver remembers per sender (to answer a probe "done").
_DONE_REMEMBERED = 4096
#: A sender not heard of for this long no longer shares the receiver's credit.
_SENDER_IDLE_SECS = 10.0
_POLL_MS = 200
#: Files whose spooled end a counting sender remembers (least recently used forgotten).
_TRACKED_FILES = 100_000
ZAP_DOMAIN = "omphalos"
_HANDSHAKE_FAILURES = {
    getattr(zmq, "EVENT_HANDSHAKE_FAILED_AUTH", 0): "authentication refused",
    getattr(zmq, "EVENT_HANDSHAKE_FAILED_PROTOCOL", 0): "protocol error (not ZeroMQ, or "
                                                        "security mechanism mismatch)",
    getattr(zmq, "EVENT_HANDSHAKE_FAILED_NO_DETAIL", 0): "handshake failed",
}


@dataclass(frozen=True)
class ZmqConfig:
    """Options of the ZeroMQ transport."""

    connect: str = option("", "Sender role: the collector's endpoint (tcp://host:5556).")
    bind: str = option("", "Receiver role: endpoint to listen on (tcp://*:5556, ipc://path).")
    secret_key_file: str = option("", "This side's CURVE key pair file (omphalos keys); "
                                      "empty: no encryption (loopback only).")
    server_key_file: str = option("", "Sender: the collector's public key file.")
    allowed_keys_dir: str = option("", "Receiver: directory of the public key files of the "
                                       "senders let in.")
    max_in_flight: int = option(32, "Sender: most batches sent and not yet acknowledged "
                                    "(the receiver's credit may allow fewer).")
    ack_timeout_secs: float = option(10.0, "Sender: ask the receiver about a batch not "
                                           "acknowledged after this many seconds (it is sent "
                                           "again only if the receiver does not have it).")
    high_water_mark: int = option(64, "Messages queued in a socket before it pushes back "
                                      "(the sender then keeps batches in its spool).")
    spool_dir: str = option("", "Sender: spool directory; empty: spool/<component> in the "
                                "state directory.")
    spool_max_bytes: int = option(256 << 20, "Sender: most bytes spooled; when full the "
                                             "monitors stop reading.")
    spool_fsync: bool = option(False, "Sender: fsync every spool write (survives power "
                                      "loss, slower).")
    max_message_bytes: int = option(DEFAULT_MAX_BYTES, "Receiver: larger messages are "
                                                       "dropped and counted.")
    max_pending: int = option(16, "Receiver: batches decoded and not yet applied, all "
                                  "senders together (shared out as credit); batches "
                                  "beyond it wait undecoded (a decoded 1 MiB read of a "
                                  "combined log takes about 1.3 MB, undecoded 0.7; 8 "
                                  "halves the rate of counted batches at 50 senders).")
    max_pending_bytes: int = option(8 << 20, "Receiver: most bytes (as received) of the "
                                             "batches decoded and not yet applied, all "
                                             "senders together; batches beyond it wait "
                                             "undecoded (one is always decoded). Bounds "
                                             "the memory of large record batches without "
                                             "cutting the many small counted ones "
                                             "max_pending lets by. Default 8 MiB (eleven "
                                             "1 MiB reads of a combined log, 0.7 MB each "
                                             "on the wire: batches waiting for a "
                                             "collector's save keep their place, so a "
                                             "smaller bound can leave the collectors "
                                             "idle).")
    max_pending_per_sender: int = option(8, "Receiver: most such batches of one sender (its "
                                            "credit when few senders are connected).")
    reconnect_secs: float = option(0.1, "First reconnection delay (grows to 5 s).")
    aggregate: tuple[str, ...] = option(
        [], "Sender: send each batch reduced to counts per key of these dimensions (path, "
            "client, host, status, agent, referer, method) instead of its records: much "
            "less to encode, send and decode. Only for a receiver whose collectors all count "
            "(the summary collector; others refuse counted batches and say so); workers = N "
            "sets it by itself when that is so. Empty: send records.")
    aggregate_capacity: int = option(
        0, "Sender with aggregate: keep at most this many keys per dimension of each "
           "batch, cut the way the collectors' top tables cut a batch (their capacity, whose "
           "tables then end exactly as if sent every key): far fewer keys to send when "
           "almost every line has a new client. workers = N sets it; 0: send every key.")

    def validate(self) -> None:
        if bool(self.connect) == bool(self.bind):
            raise ValueError("set exactly one of connect (sender) or bind (receiver)",
                             "connect")
        if self.bind and not self.secret_key_file and not is_loopback(self.bind):
            raise ValueError("binding beyond loopback needs CURVE: set secret_key_file and "
                             "allowed_keys_dir (make keys with 'omphalos keys')", "bind")
        if self.bind and self.secret_key_file and not self.allowed_keys_dir:
            raise ValueError("CURVE receiver needs the senders' public keys", "allowed_keys_dir")
        if self.connect and self.secret_key_file and not self.server_key_file:
            raise ValueError("CURVE sender needs the collector's public key", "server_key_file")
        if self.max_in_flight < 1:
            raise ValueError("must be at least 1", "max_in_flight")
        if self.max_pending < 1:
            raise ValueError("must be at least 1", "max_pending")
        if self.max_pending_per_sender < 1:
            raise ValueError("must be at least 1", "max_pending_per_sender")
        if self.max_pending_bytes < 1:
            raise ValueError("must be at least 1", "max_pending_bytes")
        if self.aggregate and not self.connect:
            raise ValueError("only a sender (connect) counts batches", "aggregate")
        if self.aggregate_capacity < 0:
            raise ValueError("must be 0 or more", "aggregate_capacity")
        unknown = sorted(set(self.aggregate) - set(DIMENSIONS))
        if unknown:
            raise ValueError(f"unknown dimension(s) {', '.join(unknown)} (known: "
                             f"{', '.join(DIMENSIONS)})", "aggregate")


@dataclass(frozen=True)
class EncodedBatch:
    """A batch already in wire form (a replay of recorded batches, a benchmark): a sender
    delivers ``payload`` like any batch and acknowledges ``ack`` to its origin."""

    payload: bytes
    ack: Ack


@dataclass(frozen=True)
class _IoFailed:
    """Self-message from a failed I/O thread: the actor fails too, so it is restarted."""

    error: BaseException


class _KeyCheck:
    """ZAP credentials provider: admits known public keys, logs and counts refusals.

    ``hosts`` maps each allowed key (z85, as ZeroMQ reports it in a message's ``User-Id``)
    to the host it may send as: its file's name without ``.key``.
    """

    def __init__(self, directory: str, counters: Counter[str], log: logging.Logger) -> None:
        self.allowed: set[bytes] = set()
        self.hosts: dict[str, str] = {}
        for name in sorted(os.listdir(directory)):
            path = os.path.join(directory, name)
            if name.endswith(".key") and os.path.isfile(path):
                public, _ = zmq.auth.load_certificate(path)
                self.allowed.add(public)
                self.hosts[public.decode("ascii")] = name[:-len(".key")]
        self.counters = counters
        self.log = log

    def callback(self, domain: str, key: bytes) -> bool:
        if key in self.allowed:
            return True
        self.counters["refused_keys"] += 1
        self.log.warning("refused a sender: its key %s is not among the allowed keys",
                         key.decode("ascii", "replace"))
        return False


class ZmqTransport(TransportPlugin[ZmqConfig]):
    """Sender (connect) or receiver (bind) of batches over ZeroMQ."""

    name = "zmq"
    description = "ZeroMQ transport: acknowledged, spooled, credited, CURVE-encrypted batches"
    Config: ClassVar[type] = ZmqConfig
    durable = True  # a sender spools every batch before it acknowledges it

    @classmethod
    def loopback(cls, state_dir: str, workers: int,
                 counted: CountedBatches | None) -> Loopback[ZmqConfig]:
        """A receiver on an ``ipc://`` socket in the state directory and one sender per
        worker, each with its own spool kept across runs (spool/workers-I: the monitors
        commit what is spooled, so what a crash left there is sent at the next start)."""
        endpoint = f"ipc://{os.path.join(state_dir, f'workers-{os.getpid()}.sock')}"
        senders = tuple(ZmqConfig(
            connect=endpoint, spool_dir=os.path.join(state_dir, "spool", f"workers-{i}"),
            aggregate=counted.dimensions if counted else (),
            aggregate_capacity=counted.capacity if counted else 0) for i in range(workers))
        return Loopback(ZmqConfig(bind=endpoint), senders)

    @classmethod
    def for_worker(cls, config: ZmqConfig, name: str, worker: int, state_dir: str
                   ) -> ZmqConfig:
        """Each worker's sender spools apart: spool/NAME-worker-I, or worker-I under the
        configured spool_dir."""
        return spool_apart(config, name, worker, state_dir)

    def setup(self) -> None:
        """Context, spool (sender) or authenticator (receiver), I/O thread, wake socket:
        each registered in ``self.resources`` as soon as it is taken, so a setup that fails
        half-way releases exactly what it took (last taken, first released)."""
        cfg = self.config
        self._halt = threading.Event()
        self._out: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._tokens: dict[tuple[str, int], list[tuple[bytes, bytes, bytes]]] = {}
        self._wake_addr = f"inproc://wake-{id(self)}"
        self._wake: zmq.Socket[Any] | None = None
        self._auth: ThreadAuthenticator | None = None
        self._keys: _KeyCheck | None = None
        self.outbox: Outbox | None = None
        self._loop_stuck = False  # the I/O thread did not stop: its sockets stay open
        self._ctx = zmq.Context()
        self.resources.callback(self._destroy_context)
        self._loop: _Loop
        if cfg.connect:
            spool = Spool(spool_path(self.context.settings.state_path, self.context.name,
                                     cfg.spool_dir), cfg.spool_max_bytes, fsync=cfg.spool_fsync)
            self.resources.callback(spool.close)
            self.outbox = Outbox(self.context.name, spool, self.log, self.counters)
            self._spooled_end: OrderedDict[str, int] = OrderedDict()
            if len(spool):
                self.log.info("%d spooled batches to deliver to %s", len(spool), cfg.connect)
                if cfg.aggregate:
                    self._remember_spooled()
            self._loop = _SenderLoop(self)
        else:
            if cfg.secret_key_file:
                auth = ThreadAuthenticator(self._ctx, log=logging.getLogger(
                    f"{self.log.name}.zap"))
                auth.start()
                self.resources.callback(auth.stop)
                self._auth = auth
                self._keys = _KeyCheck(os.path.expanduser(cfg.allowed_keys_dir), self.counters,
                                       self.log)
                auth.configure_curve_callback(ZAP_DOMAIN, self._keys)
            self._loop = _ReceiverLoop(self)
        self._loop.start()
        self.resources.callback(self._stop_loop)
        if not self._loop.ready.wait(10.0) or self._loop.error is not None:
            raise RuntimeError(f"{self.context.name}: cannot start: {self._loop.error}")
        wake = self._ctx.socket(zmq.PAIR)
        wake.linger = 0
        self.resources.callback(self._close_wake)
        wake.connect(self._wake_addr)
        self._wake = wake

    @property
    def spool(self) -> Spool | None:
        """The sender's spool (None for a receiver)."""
        return self.outbox.spool if self.outbox is not None else None

    def _close_wake(self) -> None:
        """Released first: the I/O thread is told to stop (``_halt``, then a wake-up)."""
        self._halt.set()
        wake, self._wake = self._wake, None
        if wake is not None:
            try:
                wake.send(b"", zmq.NOBLOCK)
            except zmq.Again:
                pass  # the I/O thread has wake-ups queued already
            wake.close(linger=0)

    def _stop_loop(self) -> None:
        self._halt.set()
        self._loop.join(5.0)
        self._loop_stuck = self._loop.is_alive()

    def _destroy_context(self) -> None:
        """Released last: closes what the I/O thread left open, then terminates."""
        if self._loop_stuck:
            self.log.error("%s: I/O thread did not stop; leaving its sockets open",
                           self.context.name)
            return
        self._ctx.destroy(linger=0)

    def _poke(self) -> None:
        if self._wake is None:
            return
        try:
            self._wake.send(b"", zmq.NOBLOCK)
        except zmq.Again:
            pass  # the I/O thread has wake-ups queued already

    # -- sender ---------------------------------------------------------------------------
    def send_batch(self, batch: Batch) -> None:
        ack = Ack(batch.source.origin, batch.seq, batch.source.file_id, batch.end)
        key: Any = (batch.source.file_id, batch.start, batch.end)
        if self.config.aggregate:  # a copy read again is cut to nothing: not the same item
            batch, key = self._counted(batch), None
        self._offer(encode(batch), ack, key)

    def _offer(self, payload: bytes, ack: Ack, key: Any = None) -> None:
        """Hand ``payload`` to the durable sender; ``ack`` goes back once it is durable."""
        assert self.outbox is not None
        tell = self.context.directory.tell

        def durable() -> None:
            tell(ack.origin, ack)

        def refused(_reason: str) -> None:
            tell(ack.origin, replace(ack, accepted=False))
        self.outbox.offer(payload, durable, refused, key)
        self._poke()

    def _counted(self, batch: Batch) -> Batch:
        """``batch`` reduced to counts, without the lines already spooled.

        A collector cuts a re-sent batch at the lines it already applied, which counts do
        not allow; so the sender cuts first: lines a monitor reads again (after a rewind or
        a restart) that lie before the end of what this spool already took are dropped
        here. What remains, even nothing, is spooled and acknowledged in order as usual.
        """
        file_id = batch.source.file_id
        done = self._spooled_end.get(file_id, 0)
        if batch.start < done:
            if batch.end <= done:
                self.counters["lines_read_again"] += len(batch.records)
                batch = replace(batch, records=Columns(), lines=0, unparsed=0,
                                unparsed_reasons={}, bad=())
            else:
                batch, dropped = drop_before(batch, done)
                self.counters["lines_read_again"] += dropped
        self._spooled_end[file_id] = max(done, batch.end)
        self._spooled_end.move_to_end(file_id)
        if len(self._spooled_end) > _TRACKED_FILES:
            self._spooled_end.popitem(last=False)
        counts = aggregate(batch.records, batch.source.host, self.config.aggregate)
        if self.config.aggregate_capacity:
            counts = reduce_counts(counts, self.config.aggregate_capacity)
        return replace(batch, records=Columns(), counts=counts)

    def _remember_spooled(self) -> None:
        """Where the spooled batches of each file end (so a restarted sender still cuts
        lines read again)."""
        spool = self.spool
        assert spool is not None
        for skip in range(0, len(spool), 256):
            for item in spool.peek(256, skip):
                try:
                    batch = decode_batch(item)
                except WireError:
                    continue
                file_id = batch.source.file_id
                self._spooled_end[file_id] = max(self._spooled_end.get(file_id, 0), batch.end)

    # -- receiver -------------------------------------------------------------------------
    def handle(self, message: Any) -> Any:
        if isinstance(message, _IoFailed):
            raise RuntimeError(f"I/O thread failed: {message.error!r}")
        if isinstance(message, EncodedBatch) and self.outbox is not None:
            self.counters["received"] += 1
            self._offer(message.payload, message.ack)
            return None
        if isinstance(message, Incoming):
            self.counters["batches_in"] += 1
            batch = qualify(message.batch)
            key = (batch.source.origin, batch.seq)
            copies = self._tokens.get(key)
            if copies is not None:  # a copy (new connection) while the first is being applied
                copies.append(message.token)
                self.counters["copies_in_progress"] += 1
                return None
            self._tokens[key] = [message.token]
            self.deliver(batch, lambda _b: self._settle(key, True))
            return None
        return super().handle(message)

    def on_tick(self, now: float) -> None:
        super().on_tick(now)
        if not self._loop.is_alive() and not self._halt.is_set():
            raise RuntimeError(f"{self.context.name}: I/O thread is gone")
        for key in [k for k in self._tokens if k not in self._pending]:
            self._settle(key, False)  # given up on by deliver(): the sender will re-send it

    def _settle(self, key: tuple[str, int], applied: bool) -> None:
        """Every copy of batch ``key``: acknowledge it (``applied``) or forget it."""
        for token in self._tokens.pop(key, ()):
            self._out.put((token, applied))
        self._poke()

    def status(self) -> dict[str, Any]:
        out = super().status()
        out.update(self._loop.status())
        out["io_thread_alive"] = self._loop.is_alive()
        return out


class _Loop(threading.Thread):
    """The I/O thread: owns the data socket and its monitor socket."""

    COUNTERS: ClassVar[tuple[str, ...]] = ("handshakes_failed", "connections",
                                           "disconnections", "io_failures", "refused_keys",
                                           "message_errors")

    def __init__(self, plugin: ZmqTransport) -> None:
        super().__init__(name=f"{plugin.context.name}-io", daemon=True)
        self.plugin = plugin
        self.cfg: ZmqConfig = plugin.config
        self.counters = plugin.counters
        for key in self.COUNTERS:
            self.counters[key] += 0  # every key exists before two threads touch the Counter
        self.log = plugin.log
        self.limited = RateLimitedLog(self.log)
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.connected = False

    def socket(self, kind: int) -> zmq.Socket[Any]:
        cfg = self.cfg
        sock = self.plugin._ctx.socket(kind)
        sock.linger = 0
        sock.sndhwm = sock.rcvhwm = cfg.high_water_mark
        sock.reconnect_ivl = int(cfg.reconnect_secs * 1000)
        sock.reconnect_ivl_max = 5000
        sock.heartbeat_ivl = 1000
        sock.heartbeat_timeout = 5000
        if cfg.secret_key_file:
            public, secret = zmq.auth.load_certificate(os.path.expanduser(cfg.secret_key_file))
            if secret is None:
                raise ValueError(f"{cfg.secret_key_file} holds no secret key")
            sock.curve_publickey = public
            sock.curve_secretkey = secret
        return sock

    def run(self) -> None:
        try:
            sock = self.open()
            monitor = sock.get_monitor_socket()
            wake = self.plugin._ctx.socket(zmq.PAIR)
            wake.bind(self.plugin._wake_addr)
        except Exception as exc:  # noqa: BLE001 - reported to setup, which raises it
            self.error = exc
            self.ready.set()
            return
        self.ready.set()
        poller = zmq.Poller()
        poller.register(wake, zmq.POLLIN)
        poller.register(monitor, zmq.POLLIN)
        try:
            while not self.plugin._halt.is_set():
                poller.register(sock, zmq.POLLIN if self.readable() else 0)
                events = dict(poller.poll(self.poll_ms()))
                if wake in events:
                    while True:
                        try:
                            wake.recv(zmq.NOBLOCK)
                        except zmq.Again:
                            break
                if monitor in events:
                    self.on_monitor(monitor)
                if sock in events:
                    self.on_readable(sock)
                self.work(sock)
        except Exception as exc:
            self.log.exception("%s: I/O thread failed", self.plugin.context.name)
            self.counters["io_failures"] += 1
            self.plugin.actor_ref.tell(_IoFailed(exc))  # the actor dies and is restarted
        finally:
            sock.disable_monitor()
            monitor.close(linger=0)
            sock.close(linger=0)
            wake.close(linger=0)

    def poll_ms(self) -> int:
        return _POLL_MS

    def message_failed(self, exc: Exception) -> None:
        """One message made the I/O thread raise: count it, log it now and then, go on."""
        self.counters["message_errors"] += 1
        self.limited.warning("message", "%s: a message could not be handled (%d so far): %r",
                             self.plugin.context.name, self.counters["message_errors"], exc)

    def on_monitor(self, monitor: zmq.Socket[Any]) -> None:
        while True:
            try:
                event = recv_monitor_message(monitor, zmq.NOBLOCK)
            except zmq.Again:
                return
            kind = event["event"]
            endpoint = event.get("endpoint", b"")
            where = endpoint.decode("utf-8", "replace") if isinstance(endpoint, bytes) else ""
            if kind in _HANDSHAKE_FAILURES and kind:
                self.counters["handshakes_failed"] += 1
                self.log.warning("%s: refused a connection on %s: %s",
                                 self.plugin.context.name, where, _HANDSHAKE_FAILURES[kind])
            elif kind == getattr(zmq, "EVENT_HANDSHAKE_SUCCEEDED", -1):
                self.counters["connections"] += 1
                self.on_connected()
            elif kind == zmq.EVENT_DISCONNECTED:
                self.counters["disconnections"] += 1
                self.on_disconnected()

    # -- role hooks ----------------------------------------------------------------------
    def open(self) -> zmq.Socket[Any]:
        raise NotImplementedError

    def readable(self) -> bool:
        return True

    def on_readable(self, sock: zmq.Socket[Any]) -> None:
        raise NotImplementedError

    def work(self, sock: zmq.Socket[Any]) -> None:
        """Send what can be sent now."""

    def on_connected(self) -> None:
        self.connected = True

    def on_disconnected(self) -> None:
        self.connected = False

    def status(self) -> dict[str, Any]:
        return {"connected": self.connected}


@dataclass
class _Slot:
    """One of the spool's oldest batches: its message id and where it stands."""

    msg_id: bytes
    sent_at: float | None = None  # None: to be sent
    heard_at: float = 0.0  # last time the receiver said it is being applied
    acked: bool = False
    sends: int = field(default=0)


class _SenderLoop(_Loop):
    """Spool first, then send the spool's head within the credit; forget what is
    acknowledged; probe what is overdue; re-send only what the receiver does not have."""

    COUNTERS = (*_Loop.COUNTERS, "resends", "malformed_replies", "refused_by_receiver",
                "sent", "ack_timeouts", "probes", "acks_recovered", "pushed_back")

    def __init__(self, plugin: ZmqTransport) -> None:
        super().__init__(plugin)
        assert plugin.outbox is not None
        self.outbox: Outbox = plugin.outbox
        self.slots: deque[_Slot] = deque()
        self.by_id: dict[bytes, _Slot] = {}
        self.ids = count(1)
        self.credit = 1  # until the receiver grants more
        self.probed_at = 0.0
        self.hello_due = False

    def open(self) -> zmq.Socket[Any]:
        sock = self.socket(zmq.DEALER)
        sock.immediate = 1  # no connection: sending fails, batches stay in the spool
        if self.cfg.server_key_file:
            public, _ = zmq.auth.load_certificate(os.path.expanduser(self.cfg.server_key_file))
            sock.curve_serverkey = public
        sock.connect(self.cfg.connect)
        return sock

    def poll_ms(self) -> int:
        due = self.outbox.retry_due(time.monotonic())
        return max(10, min(_POLL_MS, int(due * 1000))) if due else _POLL_MS

    def on_connected(self) -> None:
        super().on_connected()
        self.hello_due = True  # an empty probe: "I read credits and probe answers"

    def on_disconnected(self) -> None:
        super().on_disconnected()
        self.resend([s for s in self.slots if s.sent_at is not None and not s.acked],
                    "connection lost")

    def resend(self, slots: list[_Slot], why: str) -> None:
        if not slots:
            return
        self.log.info("%s: %s: sending %d unacknowledged batches again",
                      self.plugin.context.name, why, len(slots))
        self.counters["resends"] += len(slots)
        for slot in slots:
            slot.sent_at = None

    def on_readable(self, sock: zmq.Socket[Any]) -> None:
        while True:
            try:
                frames = sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            try:
                self.on_reply(frames)
            except Exception as exc:  # noqa: BLE001 - one reply's failure, not the thread's
                self.message_failed(exc)

    def on_reply(self, frames: list[bytes]) -> None:
        if len(frames) == 4 and frames[0] == _PROBE:
            self.on_probe_answer(frames[1], frames[2])
            self.grant(frames[3])
            return
        if len(frames) not in (2, 3):
            self.counters["malformed_replies"] += 1
            return
        msg_id, body = frames[0], frames[1]
        try:
            ack = decode_ack(body)
        except WireError:
            self.counters["malformed_replies"] += 1
            return
        if len(frames) == 3:
            self.grant(frames[2])
        if not ack.accepted:
            self.counters["refused_by_receiver"] += 1
            self.limited.warning("refused", "%s: the receiver refused a batch (see its log)",
                                 self.plugin.context.name)
        slot = self.by_id.get(msg_id)
        if slot is not None:
            slot.acked = True

    def grant(self, frame: bytes) -> None:
        if len(frame) == _CREDIT.size:
            self.credit = max(1, min(self.cfg.max_in_flight, _CREDIT.unpack(frame)[0]))

    def on_probe_answer(self, ids: bytes, states: bytes) -> None:
        now = time.monotonic()
        lost = []
        for n in range(min(len(ids) // _ID.size, len(states))):
            slot = self.by_id.get(ids[n * _ID.size:(n + 1) * _ID.size])
            if slot is None or slot.acked or slot.sent_at is None:
                continue
            state = states[n]
            if state == APPLYING:
                slot.heard_at = now  # slow, not lost: keep waiting
            elif state == DONE:
                slot.acked = True  # applied; its acknowledgement was lost
                self.counters["acks_recovered"] += 1
            else:
                lost.append(slot)
        self.resend(lost, "the receiver does not have them")

    def work(self, sock: zmq.Socket[Any]) -> None:
        done = 0
        while self.slots and self.slots[0].acked:
            del self.by_id[self.slots.popleft().msg_id]
            done += 1
        if done:
            self.counters["sent"] += done
            self.outbox.delivered(done)
        self.outbox.take()
        if self.hello_due:
            try:
                sock.send_multipart([_PROBE, b""], zmq.NOBLOCK)
                self.hello_due = False
            except zmq.Again:
                pass
        while len(self.slots) < self.cfg.max_in_flight and len(self.outbox) > len(self.slots):
            slot = _Slot(_ID.pack(next(self.ids)))
            self.slots.append(slot)
            self.by_id[slot.msg_id] = slot
        now = time.monotonic()
        outstanding = sum(1 for s in self.slots if s.sent_at is not None and not s.acked)
        for position, slot in enumerate(self.slots):
            if outstanding >= self.credit:
                break
            if slot.sent_at is not None or slot.acked:
                continue
            item = self.outbox.head(1, skip=position)[0]
            try:
                sock.send_multipart([slot.msg_id, item], zmq.NOBLOCK)
            except zmq.Again:
                self.counters["pushed_back"] += 1
                break
            slot.sent_at = slot.heard_at = now
            slot.sends += 1
            outstanding += 1
        self.probe(sock, now)

    def probe(self, sock: zmq.Socket[Any], now: float) -> None:
        """Ask about batches unacknowledged for ``ack_timeout_secs`` (once per timeout)."""
        timeout = self.cfg.ack_timeout_secs
        if now - self.probed_at < timeout:
            return
        overdue = [s for s in self.slots if s.sent_at is not None and not s.acked
                   and now - s.heard_at > timeout]
        if not overdue:
            return
        try:
            sock.send_multipart([_PROBE, b"".join(s.msg_id for s in overdue)], zmq.NOBLOCK)
        except zmq.Again:
            return
        self.probed_at = now
        self.counters["ack_timeouts"] += 1
        self.counters["probes"] += 1

    def status(self) -> dict[str, Any]:
        out = super().status()
        slots = list(self.slots)  # a copy made at C speed: the I/O thread may change them
        out.update(role="sender", endpoint=self.cfg.connect, credit=self.credit,
                   unacknowledged=sum(1 for s in slots if s.sent_at is not None and not s.acked))
        out.update(self.outbox.status())
        return out


@dataclass
class _Peer:
    """What a receiver knows of one connected sender (a ROUTER routing id)."""

    applying: set[bytes] = field(default_factory=set)
    done: OrderedDict[bytes, bytes] = field(default_factory=OrderedDict)
    seen: float = 0.0
    #: It probes, so it reads credits: acknowledgements carry a third frame. A sender of
    #: the protocol before credits never probes and gets two-frame acknowledgements.
    credited: bool = False


class _ReceiverLoop(_Loop):
    """Read batches within each sender's credit, hand them to the actor, send its
    acknowledgements back; answer probes at once."""

    COUNTERS = (*_Loop.COUNTERS, "malformed", "acks_sent", "acks_lost", "probes_answered",
                "over_credit", "duplicates_in_progress", "forged_host")

    def __init__(self, plugin: ZmqTransport) -> None:
        super().__init__(plugin)
        self.pending = 0
        #: Bytes (as received) of the ``pending`` batches, and each one's, by sender and id.
        self.pending_bytes = 0
        self.sizes: dict[tuple[bytes, bytes], int] = {}
        self.peers: dict[bytes, _Peer] = {}
        self.keys = plugin._keys
        self.tell: Callable[[Any], None] = plugin.actor_ref.tell
        #: Malformed messages per sender, each sender logged at most once a minute.
        self.rejects = Rejects(self.log, plugin.context.name)
        self.swept_at = time.monotonic()
        #: Batches read beyond ``max_pending``, kept undecoded (their senders' credit bounds
        #: them) so that reading, and answering probes, never stops.
        self.parked: deque[tuple[bytes, bytes, zmq.Frame]] = deque()

    def open(self) -> zmq.Socket[Any]:
        sock = self.socket(zmq.ROUTER)
        if self.cfg.secret_key_file:
            sock.curve_server = True
            sock.zap_domain = ZAP_DOMAIN.encode()
        if self.cfg.bind.startswith("ipc://"):
            path = self.cfg.bind[len("ipc://"):]
            if os.path.exists(path):
                os.unlink(path)
        sock.bind(self.cfg.bind)
        self.connected = True
        return sock

    def on_connected(self) -> None:
        """A sender completed its handshake."""

    def on_disconnected(self) -> None:
        """A sender went away; it re-sends what we did not acknowledge."""

    def credit(self) -> bytes:
        """The credit of each sender: the total shared among the senders heard of lately."""
        share = self.cfg.max_pending // max(1, len(self.peers))
        return _CREDIT.pack(max(1, min(self.cfg.max_pending_per_sender, share)))

    def on_readable(self, sock: zmq.Socket[Any]) -> None:
        while True:
            try:
                frames = sock.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            try:
                self.on_message(sock, frames)
            except Exception as exc:  # noqa: BLE001 - one message's failure, not the thread's
                self.message_failed(exc)

    def on_message(self, sock: zmq.Socket[Any], frames: list[zmq.Frame]) -> None:
        if len(frames) != 3:
            self.counters["malformed"] += 1
            return
        identity, msg_id = frames[0].bytes, frames[1].bytes
        peer = self.peers.get(identity)
        if peer is None:
            peer = self.peers[identity] = _Peer()
        peer.seen = time.monotonic()
        if msg_id == _PROBE:
            peer.credited = True
            self.answer_probe(sock, identity, peer, frames[2].bytes)
            return
        if msg_id in peer.applying:
            self.counters["duplicates_in_progress"] += 1  # acknowledged once applied
            return
        done = peer.done.get(msg_id)
        if done is not None:  # applied already: its acknowledgement was lost
            self.reply(sock, (identity, msg_id, done))
            return
        if len(peer.applying) >= self.cfg.max_pending_per_sender:
            self.counters["over_credit"] += 1  # not taken: a probe will say so
            return
        peer.applying.add(msg_id)
        if self.parked or not self.room(len(frames[2])):  # undecoded until there is room
            self.parked.append((identity, msg_id, frames[2]))
            return
        self.take(sock, identity, msg_id, frames[2])

    def room(self, size: int) -> bool:
        """Whether a batch of ``size`` bytes may be decoded now: fewer than ``max_pending``
        batches are, of fewer than ``max_pending_bytes`` with it (one always may)."""
        if not self.pending:
            return True
        return (self.pending < self.cfg.max_pending
                and self.pending_bytes + size <= self.cfg.max_pending_bytes)

    def take(self, sock: zmq.Socket[Any], identity: bytes, msg_id: bytes,
             frame: zmq.Frame) -> None:
        """Decode a batch, check its sender, hand it to the actor (or refuse it)."""
        peer = self.peers.get(identity)
        try:
            batch = decode_batch(frame.bytes, self.cfg.max_message_bytes)
        except WireError as exc:
            self.counters["malformed"] += 1
            self.rejects.note(identity.hex(), str(exc))
            self.forget(peer, msg_id)
            self.reply(sock, (identity, msg_id, _REFUSED))
            return
        if self.keys is not None and not self.admitted(frame, batch):
            self.forget(peer, msg_id)
            self.reply(sock, (identity, msg_id, encode_ack(Ack(
                batch.source.origin, batch.seq, batch.source.file_id, batch.end, False))))
            return
        ack = Ack(batch.source.origin, batch.seq, batch.source.file_id, batch.end)
        self.pending += 1
        size = len(frame)
        self.pending_bytes += size
        self.sizes[(identity, msg_id)] = size
        self.tell(Incoming(batch, (identity, msg_id, encode_ack(ack))))

    @staticmethod
    def forget(peer: _Peer | None, msg_id: bytes) -> None:
        if peer is not None:
            peer.applying.discard(msg_id)

    def admitted(self, frame: zmq.Frame, batch: Batch) -> bool:
        """Does the batch claim the host its sender's key may send as? Refusals are
        counted and logged (once a minute per key)."""
        assert self.keys is not None
        user = frame.get("User-Id")
        allowed = self.keys.hosts.get(user) if isinstance(user, str) else None
        if allowed is not None and batch.source.host == allowed:
            return True
        self.counters["forged_host"] += 1
        self.limited.warning(f"forged:{user}", "%s: refused a batch claiming host %r from "
                             "the key of %r (%d refused so far)", self.plugin.context.name,
                             batch.source.host, allowed, self.counters["forged_host"])
        return False

    def answer_probe(self, sock: zmq.Socket[Any], identity: bytes, peer: _Peer,
                     ids: bytes) -> None:
        states = bytearray()
        for n in range(len(ids) // _ID.size):
            msg_id = ids[n * _ID.size:(n + 1) * _ID.size]
            states.append(APPLYING if msg_id in peer.applying
                          else DONE if msg_id in peer.done else UNKNOWN)
        try:
            sock.send_multipart([identity, _PROBE, ids, bytes(states), self.credit()],
                                zmq.NOBLOCK)
            if ids:  # an empty one is a sender's hello
                self.counters["probes_answered"] += 1
        except (zmq.Again, zmq.ZMQError):
            self.counters["acks_lost"] += 1

    def work(self, sock: zmq.Socket[Any]) -> None:
        while True:
            try:
                token, applied = self.plugin._out.get_nowait()
            except queue.Empty:
                break
            identity, msg_id, ack = token
            peer = self.peers.get(identity)
            if peer is not None and msg_id in peer.applying:
                peer.applying.discard(msg_id)
                self.pending -= 1
                self.pending_bytes -= self.sizes.pop((identity, msg_id), 0)
                if applied:
                    peer.done[msg_id] = ack
                    if len(peer.done) > _DONE_REMEMBERED:
                        peer.done.popitem(last=False)
            if applied:
                self.reply(sock, token)
        while self.parked and self.room(len(self.parked[0][2])):
            identity, msg_id, frame = self.parked.popleft()
            if identity in self.peers:
                self.take(sock, identity, msg_id, frame)
        now = time.monotonic()
        if now - self.swept_at > 1.0:
            self.swept_at = now
            for identity in [i for i, p in self.peers.items()
                             if not p.applying and now - p.seen > _SENDER_IDLE_SECS]:
                del self.peers[identity]

    def reply(self, sock: zmq.Socket[Any], token: tuple[bytes, bytes, bytes]) -> None:
        peer = self.peers.get(token[0])
        frames = [*token, self.credit()] if peer is not None and peer.credited else list(token)
        try:
            sock.send_multipart(frames, zmq.NOBLOCK)
            self.counters["acks_sent"] += 1
        except (zmq.Again, zmq.ZMQError):
            self.counters["acks_lost"] += 1  # the sender's probe finds it done

    def status(self) -> dict[str, Any]:
        return {"role": "receiver", "endpoint": self.cfg.bind, "pending": self.pending,
                "pending_bytes": self.pending_bytes,
                "parked": len(self.parked), "senders": len(self.peers),
                "curve": bool(self.cfg.secret_key_file),
                "malformed_by_sender": self.rejects.by_sender()}
