"""The Elasticsearch collector's shipper: the framework's (:mod:`omphalos.shipping`), shared
with the time-series collector, on the one durable sender (:mod:`omphalos.delivery`)."""

from omphalos.shipping import (
    RetryPolicy,
    Sender,
    Shipper,
    check_delivery_options,
    check_url,
    nothing,
    open_shipper,
    replier,
    reply_later,
    snapshot,
)

__all__ = ["Shipper", "RetryPolicy", "Sender", "replier", "snapshot", "nothing",
           "check_delivery_options", "check_url", "open_shipper", "reply_later"]
