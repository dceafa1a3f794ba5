"""``amqp``: batches through an AMQP broker (RabbitMQ) with kombu.

The role follows the wiring: a component fed by parsers **publishes**; one read by collectors
**consumes**.

* Publisher: batches go through the framework's durable sender (:mod:`omphalos.delivery`)
  in a thread that owns the publishing connection. While the spool is empty, each batch is
  published persistent to a durable queue with publisher confirms (the broker has it on
  disk when ``publish`` returns) and only then acknowledged to its monitor; while the
  broker is unreachable, batches go to the bounded on-disk spool (acknowledged once there)
  and are published from it, in order, once the broker is back. Full spool, full disk and
  oversized batches follow :mod:`omphalos.delivery`. Every message carries the broker user
  as its ``user_id``, which RabbitMQ checks against the connection's credentials.
* Consumer: an I/O thread owns its connection (kombu connections are not thread-safe),
  consumes with a prefetch window of ``max_pending``, hands each batch to the collectors and
  acknowledges the message to the broker only after every collector applied it. It
  reconnects when the broker goes away; messages it had not acknowledged are delivered again
  and the collectors skip what they already applied. Messages that are not batches are
  acknowledged (dropped) and counted. The sender of a batch is the broker user that
  published it: collectors keep each user's de-duplication state apart, and with
  ``host_is_user`` a batch whose host is not its publishing user is refused and counted.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import kombu

from omphalos.config import option
from omphalos.delivery import Backoff, Outbox, Pump
from omphalos.lib.transports.common import Incoming, RateLimitedLog, qualify
from omphalos.messages import Ack, Batch
from omphalos.plugin import TransportPlugin
from omphalos.spool import Spool, spool_apart, spool_path
from omphalos.wire import DEFAULT_MAX_BYTES, WireError, decode_batch, encode_batch

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
    host_is_user: bool = option(False, "Consumer: refuse (and count) batches whose host is "
                                       "not the broker user that published them (give each "
                                       "host its own broker user).")

    def validate(self) -> None:
        if not self.queue:
            raise ValueError("a queue name is needed", "queue")
        if self.max_pending < 1:
            raise ValueError("must be at least 1", "max_pending")


@dataclass(frozen=True)
class _IoFailed:
    """Self-message from a failed I/O thread: the actor fails too, so it is restarted."""

    error: BaseException


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
        return spool_apart(config, name, worker, state_dir)

    def setup(self) -> None:
        self.publisher = bool(self.context.inputs) or not self.context.outputs
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: kombu.Connection | None = None
        self._out: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._tokens: dict[tuple[str, int], Any] = {}
        self._limited = RateLimitedLog(self.log)
        for key in ("published", "malformed", "reconnects", "broker_errors", "acks_sent",
                    "acks_lost", "message_errors", "forged_host"):
            self.counters[key] += 0
        if self.publisher:
            spool = Spool(spool_path(self.context.settings.state_path, self.context.name,
                                     self.config.spool_dir), self.config.spool_max_bytes)
            self.outbox = Outbox(self.context.name, spool, self.log, self.counters)
            self._user = kombu.Connection(self.config.url).userid or ""
            self._pump = Pump(self.outbox, self._publish, Backoff(0.2, 5.0), direct=True,
                              on_death=lambda exc: self.actor_ref.tell(_IoFailed(exc)),
                              name=f"{self.context.name}-io")
            self._thread = self._pump
        else:
            self._thread = threading.Thread(target=self._consume,
                                            name=f"{self.context.name}-io", daemon=True)
        self._thread.start()

    def teardown(self) -> None:
        self._halt.set()
        if self.publisher:
            self._pump.stop(5.0)
        elif self._thread is not None:
            self._thread.join(5.0)
        self._thread = None
        if self._conn is not None:
            self._close(self._conn)
            self._conn = None
        if self.publisher:
            self.outbox.close()

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

    # -- publisher (the pump's thread) ---------------------------------------------------
    def _connect(self) -> kombu.Connection:
        """The publishing connection, connecting (once, without retrying) if needed."""
        if self._conn is not None:
            return self._conn
        conn = self._new_connection()
        try:
            conn.connect()
            self._producer = conn.Producer(serializer=None)
            self._queue()(conn.default_channel).declare()
        except Exception as exc:
            self._close(conn)
            self.counters["broker_errors"] += 1
            self._limited.warning("connect", "%s: broker %s unreachable: %s",
                                  self.context.name, conn.as_uri(), exc)
            raise
        if self.counters["broker_errors"]:
            self.counters["reconnects"] += 1
            self.log.info("%s: connected to %s", self.context.name, conn.as_uri())
        self._conn = conn
        return conn

    def _publish(self, body: bytes) -> bytes:
        """Publish and wait for the broker's confirm (the pump's send); raises on failure."""
        self._connect()
        try:
            self._producer.publish(body, routing_key=self.config.queue, delivery_mode=2,
                                   content_type=CONTENT_TYPE, content_encoding="binary",
                                   retry=False, mandatory=False, user_id=self._user or None)
        except Exception as exc:
            self.counters["broker_errors"] += 1
            self._limited.warning("publish", "%s: publishing failed (%s): spooling until "
                                  "the broker is back", self.context.name, exc)
            if self._conn is not None:
                self._close(self._conn)
            self._conn = None
            raise
        self.counters["published"] += 1
        return b""

    def send_batch(self, batch: Batch) -> None:
        ack = Ack(batch.source.origin, batch.seq, batch.source.file_id, batch.end)
        tell = self.context.directory.tell

        def durable() -> None:
            tell(ack.origin, ack)

        def refused(_reason: str) -> None:
            tell(ack.origin, replace(ack, accepted=False))
        self.outbox.offer(encode_batch(batch), durable, refused,
                          (batch.source.file_id, batch.start, batch.end))

    def on_tick(self, now: float) -> None:
        super().on_tick(now)
        if self._thread is not None and not self._thread.is_alive() and not self._halt.is_set():
            raise RuntimeError(f"{self.context.name}: I/O thread is gone")
        if not self.publisher:
            for key in [k for k in self._tokens if k not in self._pending]:
                del self._tokens[key]  # given up on by deliver(): the broker re-delivers it

    # -- consumer ------------------------------------------------------------------------
    def handle(self, message: Any) -> Any:
        if isinstance(message, _IoFailed):
            raise RuntimeError(f"I/O thread failed: {message.error!r}")
        if isinstance(message, Incoming):
            self.counters["batches_in"] += 1
            user = message.token[2]
            host = message.batch.source.host
            batch = qualify(message.batch, f"{user}:{host}" if user and user != host else "")
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
        try:
            self._consume_loop()
        except BaseException as exc:
            self.log.exception("%s: I/O thread died", self.context.name)
            self.actor_ref.tell(_IoFailed(exc))

    def _consume_loop(self) -> None:
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
                    try:
                        self._on_message(message, gen)
                    except Exception as exc:  # noqa: BLE001 - that message's, not the thread's
                        self.counters["message_errors"] += 1
                        self._limited.warning("message", "%s: a message could not be handled "
                                              "(%d so far): %r", self.context.name,
                                              self.counters["message_errors"], exc)

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
            self._limited.warning("malformed", "%s: dropped a malformed message: %s",
                                  self.context.name, exc)
            message.ack()
            return
        user = message.properties.get("user_id") or ""
        if not isinstance(user, str):
            user = ""
        if self.config.host_is_user and batch.source.host != user:
            self.counters["forged_host"] += 1
            self._limited.warning(f"forged:{user}", "%s: refused a batch claiming host %r "
                                  "published by broker user %r (%d refused so far)",
                                  self.context.name, batch.source.host, user,
                                  self.counters["forged_host"])
            message.ack()
            return
        self.actor_ref.tell(Incoming(batch, (gen, message.delivery_tag, user)))

    def _settle(self, channel: Any, gen: int) -> None:
        while True:
            try:
                token = self._out.get_nowait()
            except queue.Empty:
                return
            if token is None:
                continue
            token_gen, tag, _user = token
            if token_gen != gen:
                self.counters["acks_lost"] += 1  # that connection is gone: re-delivered
                continue
            channel.basic_ack(tag)
            self.counters["acks_sent"] += 1

    def status(self) -> dict[str, Any]:
        out = super().status()
        alive = self._thread is not None and self._thread.is_alive()
        if self.publisher:
            out.update(role="publisher", connected=self._conn is not None,
                       io_thread_alive=alive, **self.outbox.status())
        else:
            out.update(role="consumer", pending=len(self._tokens), io_thread_alive=alive)
        return out
