"""``amqp``: batches through an AMQP broker (RabbitMQ) with kombu.

The role follows the wiring: a component fed by parsers **publishes**; one read by collectors
**consumes**.

* Publisher: each batch is published persistent to a durable queue with publisher confirms
  (the broker has it on disk when ``publish`` returns); only then is it acknowledged to its
  monitor. While the broker is unreachable, batches go to the bounded on-disk spool (and are
  acknowledged, since the spool is durable); every tick the publisher reconnects and drains
  the spool in order before publishing anything new. When the spool is full, batches are
  held unacknowledged: the monitors run out of credit and stop reading (status says so).
* Consumer: an I/O thread owns its connection (kombu connections are not thread-safe),
  consumes with a prefetch window of ``max_pending``, hands each batch to the collectors and
  acknowledges the message to the broker only after every collector applied it. It
  reconnects when the broker goes away; messages it had not acknowledged are delivered again
  and the collectors skip what they already applied. Messages that are not batches are
  acknowledged (dropped) and counted.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import kombu

from omphalos.config import option
from omphalos.messages import Ack, Batch
from omphalos.plugin import TransportPlugin
from omphalos.spool import Spool, SpoolError, spool_path, worker_spool_dir
from omphalos.wire import DEFAULT_MAX_BYTES, WireError, decode_batch, encode_batch

from .common import Incoming, qualify

CONTENT_TYPE = "application/x-omphalos-batch"


@dataclass(frozen=True)
class AmqpConfig:
    """Options of the AMQP transport."""

    url: str = option("amqp://guest:guest@127.0.0.1:5672//", "Broker URL.")
    queue: str = option("omphalos", "Durable queue the batches go through.")
    connect_timeout_secs: float = option(2.0, "Longest wait for the broker when connecting.")
    max_pending: int = option(32, "Consumer: prefetch window (batches delivered to the "
                                  "collectors and not yet applied).")
    max_message_bytes: int = option(DEFAULT_MAX_BYTES, "Consumer: larger messages are "
                                                       "dropped and counted.")
    spool_dir: str = option("", "Publisher: spool directory; empty: spool/<component> in the "
                                "state directory.")
    spool_max_bytes: int = option(256 << 20, "Publisher: most bytes spooled while the broker "
                                             "is unreachable; when full the monitors stop "
                                             "reading.")

    def validate(self) -> None:
        if not self.queue:
            raise ValueError("a queue name is needed", "queue")
        if self.max_pending < 1:
            raise ValueError("must be at least 1", "max_pending")


@dataclass(frozen=True)
class _Drain:
    """Self-message: keep draining the spool."""


class AmqpTransport(TransportPlugin[AmqpConfig]):
    """Publisher (fed by parsers) or consumer (read by collectors) of an AMQP queue."""

    name = "amqp"
    description = "AMQP transport (RabbitMQ): durable queue, publisher confirms, late acks"
    Config: ClassVar[type] = AmqpConfig
    tick_secs = 0.5
    durable = True  # a publisher spools every batch; the broker confirms it durably

    @classmethod
    def for_worker(cls, config: AmqpConfig, name: str, worker: int, state_dir: str
                   ) -> AmqpConfig:
        """Each worker's publisher spools apart: spool/NAME-worker-I, or worker-I under
        the configured spool_dir."""
        return replace(config, spool_dir=worker_spool_dir(config.spool_dir, state_dir, name,
                                                          worker))

    def setup(self) -> None:
        self.publisher = bool(self.context.inputs) or not self.context.outputs
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: kombu.Connection | None = None
        self._out: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._tokens: dict[tuple[str, int], Any] = {}
        for key in ("published", "spooled", "malformed", "reconnects", "broker_errors",
                    "acks_sent", "acks_lost"):
            self.counters[key] += 0
        if self.publisher:
            self.spool = Spool(spool_path(self.context.settings.state_path, self.context.name,
                                          self.config.spool_dir), self.config.spool_max_bytes)
            self.held: deque[tuple[bytes, Ack]] = deque()
            self._was_full = False
            self._connect()
            return
        self._thread = threading.Thread(target=self._consume, name=f"{self.context.name}-io",
                                        daemon=True)
        self._thread.start()

    def teardown(self) -> None:
        self._halt.set()
        if self._thread is not None:
            self._thread.join(5.0)
            self._thread = None
        if self._conn is not None:
            self._close(self._conn)
            self._conn = None
        if self.publisher:
            self.spool.close()

    def _queue(self) -> kombu.Queue:
        return kombu.Queue(self.config.queue, durable=True, auto_delete=False)

    def _new_connection(self) -> kombu.Connection:
        return kombu.Connection(self.config.url, connect_timeout=self.config.connect_timeout_secs,
                                transport_options={"confirm_publish": True})

    @staticmethod
    def _close(conn: kombu.Connection) -> None:
        try:
            conn.release()
        except Exception:  # noqa: BLE001 - the connection is broken already
            pass

    # -- publisher -----------------------------------------------------------------------
    def _connect(self) -> bool:
        """Connect (once, without retrying); False when the broker is unreachable."""
        if self._conn is not None:
            return True
        conn = self._new_connection()
        try:
            conn.connect()
            self._producer = conn.Producer(serializer=None)
            self._queue()(conn.default_channel).declare()
        except Exception as exc:  # noqa: BLE001 - any failure means: spool and retry
            self._close(conn)
            self.counters["broker_errors"] += 1
            self.log.warning("%s: broker %s unreachable: %s", self.context.name,
                             conn.as_uri(), exc)
            return False
        if self.counters["broker_errors"]:
            self.counters["reconnects"] += 1
            self.log.info("%s: connected to %s", self.context.name, conn.as_uri())
        self._conn = conn
        return True

    def _publish(self, body: bytes) -> bool:
        """Publish and wait for the broker's confirm; False (disconnected) on any failure."""
        if self._conn is None:
            return False
        try:
            self._producer.publish(body, routing_key=self.config.queue, delivery_mode=2,
                                   content_type=CONTENT_TYPE, content_encoding="binary",
                                   retry=False, mandatory=False)
        except Exception as exc:  # noqa: BLE001 - broken connection, nack, timeout
            self.counters["broker_errors"] += 1
            self.log.warning("%s: publishing failed (%s): spooling until the broker is back",
                             self.context.name, exc)
            self._close(self._conn)
            self._conn = None
            return False
        self.counters["published"] += 1
        return True

    def send_batch(self, batch: Batch) -> None:
        body = encode_batch(batch)
        ack = Ack(batch.source.origin, batch.seq, batch.source.file_id, batch.end)
        if not self.held and not len(self.spool) and self._publish(body):
            self.context.directory.tell(ack.origin, ack)
            return
        self.held.append((body, ack))
        self._spool_held()

    def _spool_held(self) -> None:
        while self.held:
            body, ack = self.held[0]
            try:
                if not self.spool.append(body):
                    if not self._was_full:
                        self._was_full = True
                        self.counters["spool_full"] += 1
                        self.log.warning("%s: spool full: monitors stop reading until the "
                                         "broker takes batches again", self.context.name)
                    return
            except SpoolError as exc:
                self.held.popleft()
                self.counters["oversized"] += 1
                self.log.error("%s: batch dropped: %s", self.context.name, exc)
                self.context.directory.tell(ack.origin, Ack(ack.origin, ack.seq, ack.file_id,
                                                            ack.end, False))
                continue
            self._was_full = False
            self.held.popleft()
            self.counters["spooled"] += 1
            self.context.directory.tell(ack.origin, ack)

    def _drain(self, budget_secs: float = 0.3) -> None:
        """Publish the spool in order (for at most ``budget_secs``, then come back)."""
        if not len(self.spool) or not self._connect():
            self._spool_held()
            return
        deadline = time.monotonic() + budget_secs
        while len(self.spool) and time.monotonic() < deadline:
            item = self.spool.peek(1)[0]
            if not self._publish(item):
                return
            self.spool.pop(1)
        self._spool_held()
        if len(self.spool) or self.held:
            self.actor_ref.tell(_Drain())

    def on_tick(self, now: float) -> None:
        super().on_tick(now)
        if self.publisher:
            self._drain()
        else:
            for key in [k for k in self._tokens if k not in self._pending]:
                del self._tokens[key]  # given up on by deliver(): the broker re-delivers it

    # -- consumer ------------------------------------------------------------------------
    def handle(self, message: Any) -> Any:
        if isinstance(message, _Drain):
            self._drain()
            return None
        if isinstance(message, Incoming):
            self.counters["batches_in"] += 1
            batch = qualify(message.batch)
            key = (batch.source.origin, batch.seq)
            old = self._tokens.pop(key, None)
            if old is not None:
                self._out.put(old)  # an earlier copy of the same batch: settle it too
            self._tokens[key] = message.token
            self.deliver(batch, lambda _b: self._out.put(self._tokens.pop(key, None)))
            return None
        return super().handle(message)

    def _consume(self) -> None:
        """I/O thread: consume, pass batches on, acknowledge applied ones; reconnect."""
        generation = 0
        backoff = 0.2
        while not self._halt.is_set():
            conn = self._new_connection()
            try:
                conn.connect()
                channel = conn.channel()
                channel.basic_qos(0, self.config.max_pending, False)
                generation += 1
                gen = generation

                def on_message(message: Any, gen: int = gen) -> None:
                    self._on_message(message, gen)

                consumer = kombu.Consumer(channel, queues=[self._queue()],
                                          on_message=on_message, accept=[CONTENT_TYPE])
                consumer.consume()
                if generation > 1:
                    self.counters["reconnects"] += 1
                    self.log.info("%s: consuming again from %s", self.context.name,
                                  conn.as_uri())
                backoff = 0.2
                while not self._halt.is_set():
                    self._settle(channel, gen)
                    try:
                        conn.drain_events(timeout=0.05)
                    except TimeoutError:
                        pass
                    self._settle(channel, gen)
            except Exception as exc:  # noqa: BLE001 - any broker failure: reconnect
                self.counters["broker_errors"] += 1
                self.log.warning("%s: broker connection lost (%s): reconnecting",
                                 self.context.name, exc)
                self._halt.wait(backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                self._close(conn)

    def _on_message(self, message: Any, gen: int) -> None:
        try:
            batch = decode_batch(message.body, self.config.max_message_bytes)
        except WireError as exc:
            self.counters["malformed"] += 1
            self.log.warning("%s: dropped a malformed message: %s", self.context.name, exc)
            message.ack()
            return
        self.actor_ref.tell(Incoming(batch, (gen, message.delivery_tag)))

    def _settle(self, channel: Any, gen: int) -> None:
        while True:
            try:
                token = self._out.get_nowait()
            except queue.Empty:
                return
            if token is None:
                continue
            token_gen, tag = token
            if token_gen != gen:
                self.counters["acks_lost"] += 1  # that connection is gone: re-delivered
                continue
            channel.basic_ack(tag)
            self.counters["acks_sent"] += 1

    def status(self) -> dict[str, Any]:
        out = super().status()
        if self.publisher:
            full = bool(self.held)
            out.update(role="publisher", connected=self._conn is not None,
                       spool=self.spool.status(), held=len(self.held), paused=full)
            if full:
                out["warning"] = ("spool full: monitors are not given credit back and have "
                                  "stopped reading; the log files are the buffer now")
        else:
            out.update(role="consumer", pending=len(self._tokens))
        return out
