"""``local``: the in-process transport; batches go straight to this process's collectors."""

from __future__ import annotations

from typing import ClassVar

from omphalos.messages import AwaitingSave, Batch
from omphalos.plugin import NoConfig, TransportPlugin


class LocalTransport(TransportPlugin[NoConfig]):
    """Hands each batch to the collectors and acknowledges it once all have applied it."""

    name = "local"
    description = "In-process transport: parsers and collectors in the same process"
    #: With ``workers = N`` the parsers run in other processes: zmq carries their batches.
    across_processes: ClassVar[str | None] = "zmq"

    def setup(self) -> None:
        if not self.context.outputs:
            self.log.warning("no collector reads from %s: batches are acknowledged unread",
                             self.context.name)

    def send_batch(self, batch: Batch) -> None:
        self.deliver(batch, self.ack_local)

    def awaiting_save(self, batch: Batch) -> None:
        """Every collector applied ``batch``, a durable one waits for a save to acknowledge
        it: its monitor may read on (it commits nothing before the acknowledgement)."""
        origin = batch.source.origin
        self.context.directory.tell(origin, AwaitingSave(self.context.name, origin, batch.seq))
