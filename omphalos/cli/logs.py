"""Log set-up of the command: where lines go, and which library noise is left out.

pykka logs every exception an actor returns to a caller at INFO level, with its traceback
("Exception returned from ... to caller"). A collector refusing a query kind or a window it
does not serve raises ``ValueError`` by contract, and the caller handles it: such a refusal
is no bug and must not fill the log with tracebacks (an open dashboard asks every second).
Any other exception returned to a caller is still logged, with its traceback.

pykka also logs an actor that dies in its start-up with a traceback. When the cause is an
``OSError`` (a port already taken, a file it may not open), that is the machine's state,
not a bug: the plugin already logged its death with the reason, and the supervisor the
restart, so the traceback is dropped too.
"""

from __future__ import annotations

import logging
import sys

__all__ = ["RefusedQueries", "quiet_refusals", "configure_logging"]


class RefusedQueries(logging.Filter):
    """Drops pykka's records of a refused query and of an actor that met an OSError."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("pykka") or not record.exc_info:
            return True
        exc = record.exc_info[1]
        message = record.getMessage()
        if message.startswith("Exception returned from"):
            return not isinstance(exc, ValueError)
        if message.startswith("Unhandled exception in"):
            return not isinstance(exc, OSError)
        return True


def quiet_refusals(handler: logging.Handler) -> logging.Handler:
    """Add :class:`RefusedQueries` to ``handler`` (once); returns it."""
    if not any(isinstance(f, RefusedQueries) for f in handler.filters):
        handler.addFilter(RefusedQueries())
    return handler


def configure_logging(debug: bool, level: str = "info") -> None:
    """Log to stderr at ``level`` (``--debug``: everything), without refused queries."""
    logging.basicConfig(
        level=logging.DEBUG if debug else getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for handler in logging.getLogger().handlers:
        quiet_refusals(handler)
