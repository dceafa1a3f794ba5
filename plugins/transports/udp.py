"""``udp``: batches as msgpack datagrams, fire and forget, losses counted.

UDP delivers nothing twice and promises nothing: the sender acknowledges each batch to its
monitor as soon as it is handed to the kernel. A batch larger than ``max_datagram_bytes`` is
split (by lines) into several datagrams. Each datagram carries the sender's run identifier
and a sequence number, so the receiver counts what never arrived (``datagrams_lost`` and
``loss_ratio`` in its status) and what arrived out of order. Use it where losing lines is
acceptable and a connection is not (syslog-style fan-in); use ``zmq`` or ``amqp`` otherwise.

Datagram: msgpack ``["ou", 1, sender_id, sequence, batch]`` where ``batch`` is the
:mod:`omphalos.wire` encoding of a batch. Anything else is dropped and counted.
"""

from __future__ import annotations

import os
import socket
import threading
from collections import Counter
from dataclasses import dataclass, replace
from itertools import count
from typing import Any, ClassVar

import msgpack

from omphalos.config import option
from omphalos.messages import Batch
from omphalos.plugin import TransportPlugin
from omphalos.wire import WireError, decode_batch, encode_batch

from .common import Incoming, qualify

MAGIC = "ou"
VERSION = 1
_MAX_DATAGRAM = 65507


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

    def setup(self) -> None:
        cfg = self.config
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None
        self.senders: dict[str, int] = {}  # receiver: next expected sequence per sender
        for key in ("datagrams", "datagrams_lost", "datagrams_late", "malformed"):
            self.counters[key] += 0
        if cfg.connect:
            self._target = _address(cfg.connect)
            self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self._sender_id = os.urandom(6).hex()
            self._dseq = count(1)
            return
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
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
        if self._thread is not None:
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
        try:
            pieces = split(batch, encode_batch(batch), self.config.max_datagram_bytes - 64)
        except ValueError as exc:
            self.counters["oversized"] += 1
            self.log.error("%s: batch dropped: %s", self.context.name, exc)
            pieces = []
        for piece in pieces:
            datagram = msgpack.packb([MAGIC, VERSION, self._sender_id, next(self._dseq), piece],
                                     use_bin_type=True)
            try:
                self._sock.sendto(datagram, self._target)
                self.counters["datagrams"] += 1
            except OSError as exc:
                self.counters["send_errors"] += 1
                self.log.debug("sendto failed: %s", exc)
        self.ack_local(batch)  # fire and forget: nothing will ever acknowledge it

    # -- receiver -------------------------------------------------------------------------
    def _receive(self) -> None:
        """I/O thread: read datagrams, count gaps, hand batches to the actor."""
        while not self._halt.is_set():
            try:
                data = self._sock.recv(_MAX_DATAGRAM + 1)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                magic, version, sender, dseq, payload = msgpack.unpackb(data, raw=False)
                if magic != MAGIC or version != VERSION or not isinstance(dseq, int):
                    raise WireError("not an omphalos datagram")
                batch = decode_batch(payload)
            except (WireError, ValueError, TypeError, msgpack.UnpackException):
                self.counters["malformed"] += 1
                continue
            self.counters["datagrams"] += 1
            expected = self.senders.get(sender, 1)  # a sender numbers from 1
            if dseq < expected:
                self.counters["datagrams_late"] += 1
                self.counters["datagrams_lost"] = max(0, self.counters["datagrams_lost"] - 1)
            else:
                if dseq > expected:
                    self.counters["datagrams_lost"] += dseq - expected
                self.senders[sender] = dseq + 1
            self.actor_ref.tell(Incoming(batch, None))

    def handle(self, message: Any) -> Any:
        if isinstance(message, Incoming):
            batch = replace(qualify(message.batch), seq=next(self._seq))
            self.deliver(batch, lambda _b: None)
            return None
        return super().handle(message)

    def status(self) -> dict[str, Any]:
        out = super().status()
        if self.config.bind:
            got = self.counters["datagrams"]
            lost = self.counters["datagrams_lost"]
            out.update(role="receiver", endpoint=self.config.bind, senders=len(self.senders),
                       loss_ratio=round(lost / (got + lost), 6) if got + lost else 0.0)
        else:
            out.update(role="sender", endpoint=self.config.connect)
        return out
