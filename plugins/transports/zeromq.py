"""``zmq``: batches over ZeroMQ (DEALER -> ROUTER), acknowledged, spooled, optionally CURVE.

One plugin, two roles chosen by the config:

* ``connect = tcp://collector:5556``: the **sender**, on a web server, fed by parsers. Every
  batch is first written to the component's bounded on-disk spool (:mod:`omphalos.spool`)
  and acknowledged to its monitor at once (the spool is durable, so the monitor may commit
  its offset); the sender's I/O thread then sends the spool's oldest batches, at most
  ``max_in_flight`` unacknowledged, and forgets each once the collector side acknowledged
  it. While the collector is unreachable (no connection: ``ZMQ_IMMEDIATE`` makes sending
  fail) or pushes back (high-water mark reached), batches simply stay in the spool; when the
  connection breaks or an acknowledgement is overdue, everything unacknowledged is sent again
  in order (collectors skip what they already applied). When the spool is full, batches are
  held without acknowledging them: the monitors run out of credit and stop reading, and the
  status says so.
* ``bind = tcp://*:5556``: the **receiver**, in the collector process, feeding collectors.
  Each batch is handed to every collector and acknowledged to the sender only once all of
  them applied it. Malformed or oversized messages are dropped and counted (and refused to
  their sender so it does not re-send them forever); failed handshakes are counted.

CURVE: with ``secret_key_file`` (a key pair made by ``omphalos keys``) the sockets encrypt and
authenticate; the receiver admits only senders whose public key is in ``allowed_keys_dir``
(a ZAP authenticator) and logs every refusal. Binding beyond loopback without CURVE is a
config error.

ZeroMQ sockets are not thread-safe: each lives in exactly one thread. The actor thread owns
only the wake-up socket it uses to poke its I/O thread; the I/O thread owns the data socket.
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
from dataclasses import dataclass, replace
from itertools import count
from typing import Any, ClassVar

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator
from zmq.utils.monitor import recv_monitor_message

from omphalos.config import option
from omphalos.lib.collectors.aggregate import aggregate, reduce_counts
from omphalos.messages import Ack, Batch
from omphalos.plugin import CountedBatches, Loopback, TransportPlugin, drop_before
from omphalos.query import DIMENSIONS
from omphalos.records import Columns
from omphalos.spool import Spool, SpoolError, spool_path, worker_spool_dir
from omphalos.wire import DEFAULT_MAX_BYTES, WireError, decode_ack, decode_batch, encode_ack
from omphalos.wire import encode_batch as encode

from .common import Incoming, is_loopback, qualify

_ID = struct.Struct("<Q")
_REFUSED = encode_ack(Ack("", 0, "", 0, accepted=False))
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
    max_in_flight: int = option(32, "Sender: batches sent and not yet acknowledged.")
    ack_timeout_secs: float = option(10.0, "Sender: send again what is not acknowledged "
                                           "after this many seconds.")
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
    max_pending: int = option(64, "Receiver: batches handed to collectors and not yet "
                                  "applied before reading pauses.")
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
        if self.aggregate and not self.connect:
            raise ValueError("only a sender (connect) counts batches", "aggregate")
        if self.aggregate_capacity < 0:
            raise ValueError("must be 0 or more", "aggregate_capacity")
        unknown = sorted(set(self.aggregate) - set(DIMENSIONS))
        if unknown:
            raise ValueError(f"unknown dimension(s) {', '.join(unknown)} (known: "
                             f"{', '.join(DIMENSIONS)})", "aggregate")


@dataclass(frozen=True)
class _IoFailed:
    """Self-message from a failed I/O thread: the actor fails too, so it is restarted."""

    error: BaseException


class _KeyCheck:
    """ZAP credentials provider: admits known public keys, logs and counts refusals."""

    def __init__(self, directory: str, counters: Counter[str], log: logging.Logger) -> None:
        self.allowed: set[bytes] = set()
        for name in sorted(os.listdir(directory)):
            path = os.path.join(directory, name)
            if name.endswith(".key") and os.path.isfile(path):
                public, _ = zmq.auth.load_certificate(path)
                self.allowed.add(public)
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
    description = "ZeroMQ transport: acknowledged, spooled, CURVE-encrypted batches"
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
        return replace(config, spool_dir=worker_spool_dir(config.spool_dir, state_dir, name,
                                                       worker))

    def setup(self) -> None:
        cfg = self.config
        self._ctx = zmq.Context()
        self._auth: ThreadAuthenticator | None = None
        self._wake_addr = f"inproc://wake-{id(self)}"
        self._halt = threading.Event()
        self._out: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._tokens: dict[tuple[str, int], tuple[bytes, bytes, bytes]] = {}
        self._wake: zmq.Socket[Any] | None = None
        self._closed = False
        self.spool: Spool | None = None
        if cfg.connect:
            self.spool = Spool(spool_path(self.context.settings.state_path, self.context.name,
                                          cfg.spool_dir), cfg.spool_max_bytes,
                               fsync=cfg.spool_fsync)
            self._spooled_end: OrderedDict[str, int] = OrderedDict()
            if len(self.spool):
                self.log.info("%d spooled batches to deliver to %s", len(self.spool),
                              cfg.connect)
                if cfg.aggregate:
                    self._remember_spooled()
            self._loop: _Loop = _SenderLoop(self)
        else:
            if cfg.secret_key_file:
                self._auth = ThreadAuthenticator(self._ctx, log=logging.getLogger(
                    f"{self.log.name}.zap"))
                self._auth.start()
                self._auth.configure_curve_callback(
                    ZAP_DOMAIN, _KeyCheck(os.path.expanduser(cfg.allowed_keys_dir), self.counters,
                                   self.log))
            self._loop = _ReceiverLoop(self)
        self._loop.start()
        if not self._loop.ready.wait(10.0) or self._loop.error is not None:
            error = self._loop.error
            self.teardown()
            raise RuntimeError(f"{self.context.name}: cannot start: {error}")
        wake = self._ctx.socket(zmq.PAIR)
        wake.linger = 0
        wake.connect(self._wake_addr)
        self._wake = wake

    def teardown(self) -> None:
        if getattr(self, "_closed", True):
            return
        self._closed = True
        self._halt.set()
        wake = getattr(self, "_wake", None)
        if wake is not None:
            self._poke()
            wake.close(linger=0)
            self._wake = None
        loop = getattr(self, "_loop", None)
        if loop is not None and loop.is_alive():
            loop.join(5.0)
        if self._auth is not None:
            self._auth.stop()
            self._auth = None
        if self.spool is not None:
            self.spool.close()
        if loop is not None and loop.is_alive():
            self.log.error("%s: I/O thread did not stop; leaving its sockets open",
                           self.context.name)
            return
        self._ctx.destroy(linger=0)  # closes what a failed start left open, then terminates

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
        if self.config.aggregate:
            batch = self._counted(batch)
        self._out.put((encode(batch), ack))
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
        assert self.spool is not None
        for skip in range(0, len(self.spool), 256):
            for item in self.spool.peek(256, skip):
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
        if isinstance(message, Incoming):
            self.counters["batches_in"] += 1
            batch = qualify(message.batch)
            key = (batch.source.origin, batch.seq)
            old = self._tokens.pop(key, None)
            if old is not None:  # the same batch again: only the newest one is answered
                self._acknowledge(None)
            self._tokens[key] = message.token
            self.deliver(batch, lambda _b: self._acknowledge(self._tokens.pop(key, None)))
            return None
        return super().handle(message)

    def on_tick(self, now: float) -> None:
        super().on_tick(now)
        for key in [k for k in self._tokens if k not in self._pending]:
            del self._tokens[key]  # given up on by deliver(): the sender will re-send it
            self._acknowledge(None)

    def _acknowledge(self, token: tuple[bytes, bytes, bytes] | None) -> None:
        """Queue ``token``'s acknowledgement (None: only release its slot) for the I/O thread."""
        self._out.put(token)
        self._poke()

    def status(self) -> dict[str, Any]:
        out = super().status()
        out.update(self._loop.status())
        return out


class _Loop(threading.Thread):
    """The I/O thread: owns the data socket and its monitor socket."""

    COUNTERS: ClassVar[tuple[str, ...]] = ("handshakes_failed", "connections",
                                           "disconnections", "io_failures", "refused_keys")

    def __init__(self, plugin: ZmqTransport) -> None:
        super().__init__(name=f"{plugin.context.name}-io", daemon=True)
        self.plugin = plugin
        self.cfg: ZmqConfig = plugin.config
        self.counters = plugin.counters
        for key in self.COUNTERS:
            self.counters[key] += 0  # every key exists before two threads touch the Counter
        self.log = plugin.log
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
                events = dict(poller.poll(_POLL_MS))
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


class _SenderLoop(_Loop):
    """Spool first, then send the spool's head; forget what the receiver acknowledged."""

    COUNTERS = (*_Loop.COUNTERS, "resends", "malformed_replies", "refused_by_receiver", "sent",
                "ack_timeouts", "pushed_back", "oversized", "spooled", "spool_full")

    def __init__(self, plugin: ZmqTransport) -> None:
        super().__init__(plugin)
        assert plugin.spool is not None
        self.spool: Spool = plugin.spool
        self.held: deque[tuple[bytes, Ack]] = deque()
        #: (message id, time sent) of the spool's first items, in order.
        self.sent: deque[tuple[bytes, float]] = deque()
        self.acked: set[bytes] = set()
        self.ids = count(1)
        self.full_since: float | None = None
        self.tell = plugin.context.directory.tell

    def open(self) -> zmq.Socket[Any]:
        sock = self.socket(zmq.DEALER)
        sock.immediate = 1  # no connection: sending fails, batches stay in the spool
        if self.cfg.server_key_file:
            public, _ = zmq.auth.load_certificate(os.path.expanduser(self.cfg.server_key_file))
            sock.curve_serverkey = public
        sock.connect(self.cfg.connect)
        return sock

    def on_disconnected(self) -> None:
        super().on_disconnected()
        self.resend("connection lost")

    def resend(self, why: str) -> None:
        if self.sent:
            self.log.info("%s: %s: sending %d unacknowledged batches again",
                          self.plugin.context.name, why, len(self.sent))
            self.counters["resends"] += len(self.sent)
        self.sent.clear()
        self.acked.clear()

    def on_readable(self, sock: zmq.Socket[Any]) -> None:
        while True:
            try:
                frames = sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            if len(frames) != 2:
                self.counters["malformed_replies"] += 1
                continue
            msg_id, body = frames
            try:
                ack = decode_ack(body)
            except WireError:
                self.counters["malformed_replies"] += 1
                continue
            if not ack.accepted:
                self.counters["refused_by_receiver"] += 1
                self.log.error("%s: the receiver refused a batch (see its log)",
                               self.plugin.context.name)
            self.acked.add(msg_id)
        # forget the acknowledged head of the spool, in order

    def work(self, sock: zmq.Socket[Any]) -> None:
        done = 0
        while self.sent and self.sent[0][0] in self.acked:
            self.acked.discard(self.sent.popleft()[0])
            done += 1
        if done:
            self.spool.pop(done)
            self.counters["sent"] += done
        self.take_new()
        now = time.monotonic()
        if self.sent and now - self.sent[0][1] > self.cfg.ack_timeout_secs:
            self.counters["ack_timeouts"] += 1
            self.resend("acknowledgement overdue")
        while len(self.sent) < self.cfg.max_in_flight and len(self.spool) > len(self.sent):
            item = self.spool.peek(1, skip=len(self.sent))[0]
            msg_id = _ID.pack(next(self.ids))
            try:
                sock.send_multipart([msg_id, item], zmq.NOBLOCK)
            except zmq.Again:
                self.counters["pushed_back"] += 1
                break
            self.sent.append((msg_id, now))

    def take_new(self) -> None:
        """Move new batches into the spool; acknowledge each to its monitor once spooled."""
        while True:
            if self.held:
                frame, ack = self.held[0]
            else:
                try:
                    frame, ack = self.plugin._out.get_nowait()
                except queue.Empty:
                    return
                self.held.append((frame, ack))
            try:
                spooled = self.spool.append(frame)
            except SpoolError as exc:
                self.held.popleft()
                self.counters["oversized"] += 1
                self.log.error("%s: batch of %s dropped: %s", self.plugin.context.name,
                               ack.file_id, exc)
                self.tell(ack.origin, Ack(ack.origin, ack.seq, ack.file_id, ack.end, False))
                continue
            if not spooled:
                if self.full_since is None:
                    self.full_since = time.time()
                    self.counters["spool_full"] += 1
                    self.log.warning("%s: spool full (%d bytes): monitors stop reading until "
                                     "%s takes batches again", self.plugin.context.name,
                                     self.spool.queued_bytes, self.cfg.connect)
                return
            self.full_since = None
            self.held.popleft()
            self.counters["spooled"] += 1
            self.tell(ack.origin, ack)

    def status(self) -> dict[str, Any]:
        out = super().status()
        full = bool(self.held)
        out.update(role="sender", endpoint=self.cfg.connect, unacknowledged=len(self.sent),
                   spool=self.spool.status(), held=len(self.held), paused=full)
        if full:
            out["warning"] = ("spool full: monitors are not given credit back and have "
                              "stopped reading; the log files are the buffer now")
        return out


class _ReceiverLoop(_Loop):
    """Read batches, hand them to the actor, send its acknowledgements back."""

    COUNTERS = (*_Loop.COUNTERS, "malformed", "acks_sent", "acks_lost")

    def __init__(self, plugin: ZmqTransport) -> None:
        super().__init__(plugin)
        self.pending = 0
        self.tell: Callable[[Any], None] = plugin.actor_ref.tell

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

    def readable(self) -> bool:
        return self.pending < self.cfg.max_pending

    def on_readable(self, sock: zmq.Socket[Any]) -> None:
        while self.pending < self.cfg.max_pending:
            try:
                frames = sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            if len(frames) != 3:
                self.counters["malformed"] += 1
                continue
            identity, msg_id, body = frames
            try:
                batch = decode_batch(body, self.cfg.max_message_bytes)
            except WireError as exc:
                self.counters["malformed"] += 1
                self.log.warning("%s: dropped a malformed message: %s",
                                 self.plugin.context.name, exc)
                self.reply(sock, (identity, msg_id, _REFUSED))
                continue
            ack = Ack(batch.source.origin, batch.seq, batch.source.file_id, batch.end)
            self.pending += 1
            self.tell(Incoming(batch, (identity, msg_id, encode_ack(ack))))

    def work(self, sock: zmq.Socket[Any]) -> None:
        while True:
            try:
                token = self.plugin._out.get_nowait()
            except queue.Empty:
                return
            self.pending -= 1
            if token is not None:
                self.reply(sock, token)

    def reply(self, sock: zmq.Socket[Any], token: tuple[bytes, bytes, bytes]) -> None:
        try:
            sock.send_multipart(list(token), zmq.NOBLOCK)
            self.counters["acks_sent"] += 1
        except (zmq.Again, zmq.ZMQError):
            self.counters["acks_lost"] += 1  # the sender re-sends; collectors skip it

    def status(self) -> dict[str, Any]:
        return {"role": "receiver", "endpoint": self.cfg.bind, "pending": self.pending,
                "curve": bool(self.cfg.secret_key_file)}
