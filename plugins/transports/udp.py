"""``udp``: batches as msgpack datagrams, fire and forget, losses counted.

UDP delivers nothing twice and promises nothing: the sender acknowledges each batch to its
monitor as soon as it is handed to the kernel. It goes through the framework's durable
sender (:mod:`omphalos.delivery`, its fire-and-forget use): sent at once while the spool is
empty, spooled while sending fails (no route, no buffer), with the same full-disk
behaviour and status shape as every sender. A batch larger than ``max_datagram_bytes`` is
split (by lines) into several datagrams; a single line too big for a datagram meets the one
oversized policy (counted ``oversized``, acknowledged as refused). Each datagram carries
the sender's run identifier and a sequence number, so the receiver counts what never
arrived (``datagrams_lost`` and ``loss_ratio`` in its status) and what arrived out of
order. Use it where losing lines is acceptable and a connection is not (syslog-style
fan-in); use ``zmq`` or ``amqp`` otherwise.

**Unauthenticated.** Anyone who can reach the port can send well-formed batches under any
host name. ``allowed_sources`` restricts the receiver to source addresses (networks), and
``shared_key_file`` makes both ends sign each datagram (HMAC-SHA256 with a shared secret):
the receiver drops, and counts, datagrams from elsewhere or with a wrong signature.

Datagram: msgpack ``["ou", 1, sender_id, sequence, batch]`` where ``batch`` is the
:mod:`omphalos.wire` encoding of a batch; signed: ``b"OU2"``, the 32-byte HMAC of the
rest, then that msgpack array. Anything else is dropped and counted (``malformed``,
``refused_sources``, ``bad_signatures``); a datagram that makes the receive thread raise
anyway is counted (``message_errors``) and the thread goes on.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import socket
import threading
from collections import Counter
from dataclasses import dataclass, replace
from itertools import count
from typing import Any, ClassVar

import msgpack

from omphalos.config import option
from omphalos.delivery import OVERSIZED_POLICY, Backoff, Outbox, Pump
from omphalos.lib.transports.common import Incoming, RateLimitedLog, qualify
from omphalos.messages import Ack, Batch
from omphalos.plugin import TransportPlugin
from omphalos.spool import Spool, spool_apart, spool_path
from omphalos.wire import WireError, decode_batch, encode_batch

MAGIC = "ou"
VERSION = 1
#: The start of a signed datagram (then the 32-byte HMAC-SHA256, then the msgpack array).
SIGNED = b"OU2"
_MAX_DATAGRAM = 65507
#: Sender ids whose sequence numbers a receiver follows.
_MAX_SENDERS = 100_000


def _address(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    return host.strip("[]") or "0.0.0.0", int(port)


@dataclass(frozen=True)
class UdpConfig:
    """Options of the UDP transport."""

    connect: str = option("", "Sender role: the receiver's host:port.")
    bind: str = option("", "Receiver role: host:port to listen on (0.0.0.0:5557).")
    max_datagram_bytes: int = option(60000, "Sender: largest datagram; bigger batches are "
                                            "split by lines.")
    receive_buffer_bytes: int = option(0, "Receiver: kernel receive buffer (SO_RCVBUF); 0: "
                                          "the system default.")
    allowed_sources: tuple[str, ...] = option(
        [], "Receiver: source addresses or networks (10.0.0.0/8, 192.0.2.7) datagrams are "
            "taken from; empty: any (UDP is unauthenticated).")
    shared_key_file: str = option("", "Both ends: file holding a shared secret; each "
                                      "datagram is signed with HMAC-SHA256 and the receiver "
                                      "drops unsigned or wrongly signed ones. Empty: none.")
    spool_dir: str = option("", "Sender: spool directory (used while sending fails); empty: "
                                "spool/<component> in the state directory.")
    spool_max_bytes: int = option(64 << 20, "Sender: most bytes spooled; when full the "
                                            "monitors stop reading.")

    def validate(self) -> None:
        if bool(self.connect) == bool(self.bind):
            raise ValueError("set exactly one of connect (sender) or bind (receiver)",
                             "connect")
        for key in ("connect", "bind"):
            value = getattr(self, key)
            if value:
                try:
                    _address(value)
                except ValueError:
                    raise ValueError("expected host:port", key) from None
        if not 1024 <= self.max_datagram_bytes <= _MAX_DATAGRAM:
            raise ValueError(f"must be between 1024 and {_MAX_DATAGRAM}", "max_datagram_bytes")
        for source in self.allowed_sources:
            try:
                ipaddress.ip_network(source, strict=False)
            except ValueError:
                raise ValueError(f"not an address or network: {source!r}",
                                 "allowed_sources") from None
        if self.shared_key_file and not os.path.isfile(os.path.expanduser(
                self.shared_key_file)):
            raise ValueError(f"no such file: {self.shared_key_file}", "shared_key_file")


def read_key(path: str) -> bytes:
    """The shared secret in ``path`` (surrounding whitespace stripped); ValueError if empty."""
    key = open(os.path.expanduser(path), "rb").read().strip()
    if len(key) < 16:
        raise ValueError(f"{path}: a shared key needs at least 16 bytes")
    return key


def sign(key: bytes, body: bytes) -> bytes:
    """``body`` signed for a receiver that has ``key``."""
    return SIGNED + hmac.new(key, body, hashlib.sha256).digest() + body


def unsign(key: bytes, datagram: bytes) -> bytes | None:
    """The body of a datagram signed with ``key``; None when unsigned or wrongly signed."""
    if not datagram.startswith(SIGNED) or len(datagram) < len(SIGNED) + 32:
        return None
    mac, body = datagram[len(SIGNED):len(SIGNED) + 32], datagram[len(SIGNED) + 32:]
    if not hmac.compare_digest(mac, hmac.new(key, body, hashlib.sha256).digest()):
        return None
    return body


def split(batch: Batch, encoded: bytes, limit: int) -> list[bytes]:
    """``batch`` encoded in pieces of at most ``limit`` bytes, split by lines.

    Each piece covers its own byte range of the file and carries the unparsed lines that lie
    in it; the last piece carries the rest of the batch's line counts. A single line too big
    for a datagram cannot be sent and raises ValueError.
    """
    if len(encoded) <= limit:
        return [encoded]
    n = len(batch.records)
    if n < 2:
        raise ValueError(f"a batch of {n} line(s) and {len(encoded)} bytes does not fit in "
                         f"a datagram of {limit} bytes")
    offsets = batch.records.offsets()
    half = n // 2
    cut = offsets[half]
    pieces = []
    for lo, hi, start, end in ((0, half, batch.start, cut), (half, n, cut, batch.end)):
        bad = tuple(b for b in batch.bad if start <= b.offset < end)
        last = hi == n
        lines = (hi - lo) + len(bad)
        unparsed = len(bad)
        if last:
            lines = batch.lines - (half + sum(1 for b in batch.bad if b.offset < cut))
            unparsed = batch.unparsed - sum(1 for b in batch.bad if b.offset < cut)
        part = replace(batch, start=start, end=end, records=batch.records.select(
            range(lo, hi)), lines=lines, unparsed=unparsed, bad=bad,
            unparsed_reasons=dict(Counter(b.reason for b in bad)) if not last else
            dict(batch.unparsed_reasons))
        pieces.extend(split(part, encode_batch(part), limit))
    return pieces


class UdpTransport(TransportPlugin[UdpConfig]):
    """Sender (connect) or receiver (bind) of batches as UDP datagrams."""

    name = "udp"
    description = "UDP transport: msgpack datagrams, fire and forget, losses counted"
    Config: ClassVar[type] = UdpConfig

    @classmethod
    def for_worker(cls, config: UdpConfig, name: str, worker: int, state_dir: str
                   ) -> UdpConfig:
        """Each worker's sender spools apart: spool/NAME-worker-I, or worker-I under the
        configured spool_dir."""
        return spool_apart(config, name, worker, state_dir)

    def setup(self) -> None:
        cfg = self.config
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None
        self._key = read_key(cfg.shared_key_file) if cfg.shared_key_file else b""
        self.senders: dict[str, int] = {}  # receiver: next expected sequence per sender
        self._limited = RateLimitedLog(self.log)
        for key in ("datagrams", "datagrams_lost", "datagrams_late", "malformed",
                    "message_errors", "refused_sources", "bad_signatures", "send_errors"):
            self.counters[key] += 0
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        if cfg.connect:
            self._target = _address(cfg.connect)
            self._sender_id = os.urandom(6).hex()
            self._dseq = count(1)
            spool = Spool(spool_path(self.context.settings.state_path, self.context.name,
                                     cfg.spool_dir), cfg.spool_max_bytes)
            self.outbox = Outbox(self.context.name, spool, self.log, self.counters)
            self._pump = Pump(self.outbox, self._send_pieces, Backoff(0.2, 5.0), direct=True,
                              on_death=lambda exc: self.actor_ref.tell(_IoFailed(exc)),
                              name=f"{self.context.name}-io")
            self._thread = self._pump
            self._pump.start()
            return
        self._networks = [ipaddress.ip_network(s, strict=False) for s in cfg.allowed_sources]
        if cfg.receive_buffer_bytes:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, cfg.receive_buffer_bytes)
        self._sock.bind(_address(cfg.bind))
        self._sock.settimeout(0.2)
        self._seq = count(1)
        self._thread = threading.Thread(target=self._receive, name=f"{self.context.name}-io",
                                        daemon=True)
        self._thread.start()

    def teardown(self) -> None:
        self._halt.set()
        if self.config.connect and self._thread is not None:
            self._pump.stop(5.0)
            self.outbox.close()
        elif self._thread is not None:
            self._thread.join(5.0)
        self._thread = None
        self._sock.close()

    @property
    def address(self) -> tuple[str, int]:
        """Where the receiver listens (the port the kernel chose for ``:0``)."""
        host, port = self._sock.getsockname()[:2]
        return str(host), int(port)

    # -- sender ---------------------------------------------------------------------------
    def send_batch(self, batch: Batch) -> None:
        ack = Ack(batch.source.origin, batch.seq, batch.source.file_id, batch.end)
        tell = self.context.directory.tell
        try:
            pieces = split(batch, encode_batch(batch), self.config.max_datagram_bytes - 128)
        except ValueError as exc:  # one line larger than a datagram: the oversized policy
            self.counters["oversized"] += 1
            self.log.error("%s: batch of %s %s (%s)", self.context.name, batch.source.path,
                           OVERSIZED_POLICY, exc)
            tell(ack.origin, replace(ack, accepted=False))
            return

        def durable() -> None:
            tell(ack.origin, ack)

        def refused(_reason: str) -> None:
            tell(ack.origin, replace(ack, accepted=False))
        self.outbox.offer(msgpack.packb(pieces, use_bin_type=True), durable, refused,
                          (batch.source.file_id, batch.start, batch.end))

    def _send_pieces(self, payload: bytes) -> bytes:
        """The pump's send: every datagram of one batch to the kernel (raises OSError when
        it refuses: the batch is then spooled and sent again later)."""
        for piece in msgpack.unpackb(payload, raw=False):
            body = msgpack.packb([MAGIC, VERSION, self._sender_id, next(self._dseq), piece],
                                 use_bin_type=True)
            try:
                self._sock.sendto(sign(self._key, body) if self._key else body, self._target)
            except OSError:
                self.counters["send_errors"] += 1
                raise
            self.counters["datagrams"] += 1
        return b""

    # -- receiver -------------------------------------------------------------------------
    def _receive(self) -> None:
        """I/O thread: read datagrams, count gaps, hand batches to the actor."""
        try:
            while not self._halt.is_set():
                try:
                    data, peer = self._sock.recvfrom(_MAX_DATAGRAM + 1)
                except TimeoutError:
                    continue
                except OSError:
                    if self._halt.is_set():
                        return
                    raise
                try:
                    self._datagram(data, peer[0])
                except Exception as exc:  # noqa: BLE001 - that datagram's, not the thread's
                    self.counters["message_errors"] += 1
                    self._limited.warning("message", "%s: a datagram from %s could not be "
                                          "handled (%d so far): %r", self.context.name,
                                          peer[0], self.counters["message_errors"], exc)
        except BaseException as exc:
            self.log.exception("%s: receive thread died", self.context.name)
            self.actor_ref.tell(_IoFailed(exc))

    def _datagram(self, data: bytes, source: str) -> None:
        if self._networks and not any(ipaddress.ip_address(source) in net
                                      for net in self._networks):
            self.counters["refused_sources"] += 1
            self._limited.warning(f"source:{source}", "%s: dropped datagrams from %s (not "
                                  "among allowed_sources)", self.context.name, source)
            return
        if self._key:
            body = unsign(self._key, data)
            if body is None:
                self.counters["bad_signatures"] += 1
                self._limited.warning(f"sig:{source}", "%s: dropped datagrams from %s: "
                                      "unsigned or wrongly signed", self.context.name, source)
                return
            data = body
        try:
            message = msgpack.unpackb(data, raw=False)
            if not (isinstance(message, list) and len(message) == 5):
                raise WireError("not an omphalos datagram")
            magic, version, sender, dseq, payload = message
            if (magic != MAGIC or version != VERSION or not isinstance(sender, str)
                    or type(dseq) is not int or not isinstance(payload, bytes)):
                raise WireError("not an omphalos datagram")
            batch = decode_batch(payload)
        except (WireError, ValueError, TypeError, msgpack.UnpackException):
            self.counters["malformed"] += 1
            return
        self.counters["datagrams"] += 1
        expected = self.senders.get(sender, 1)  # a sender numbers from 1
        if dseq < expected:
            self.counters["datagrams_late"] += 1
            self.counters["datagrams_lost"] = max(0, self.counters["datagrams_lost"] - 1)
        else:
            if dseq > expected:
                self.counters["datagrams_lost"] += dseq - expected
            if sender not in self.senders and len(self.senders) >= _MAX_SENDERS:
                self.senders.clear()  # a flood of made-up sender ids: start counting again
            self.senders[sender] = dseq + 1
        self.actor_ref.tell(Incoming(batch, None))

    def handle(self, message: Any) -> Any:
        if isinstance(message, _IoFailed):
            raise RuntimeError(f"I/O thread failed: {message.error!r}")
        if isinstance(message, Incoming):
            batch = replace(qualify(message.batch), seq=next(self._seq))
            self.deliver(batch, lambda _b: None)
            return None
        return super().handle(message)

    def on_tick(self, now: float) -> None:
        super().on_tick(now)
        if self._thread is not None and not self._thread.is_alive() and not self._halt.is_set():
            raise RuntimeError(f"{self.context.name}: I/O thread is gone")

    def status(self) -> dict[str, Any]:
        out = super().status()
        out["io_thread_alive"] = self._thread is not None and self._thread.is_alive()
        if self.config.bind:
            got = self.counters["datagrams"]
            lost = self.counters["datagrams_lost"]
            out.update(role="receiver", endpoint=self.config.bind, senders=len(self.senders),
                       loss_ratio=round(lost / (got + lost), 6) if got + lost else 0.0,
                       signed=bool(self._key), allowed_sources=list(self.config.allowed_sources))
        else:
            out.update(role="sender", endpoint=self.config.connect, signed=bool(self._key),
                       **self.outbox.status())
        return out


@dataclass(frozen=True)
class _IoFailed:
    """Self-message from a failed I/O thread: the actor fails too, so it is restarted."""

    error: BaseException
