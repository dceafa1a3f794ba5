"""The optional compiled core of the combined/common hot path, and the switch to do without.

``omphalos._speedups`` (``omphalos/_speedups.c``, built by ``setup.py`` where a C compiler
is found; a failed build is not an error) does three things the pure-Python path does,
with the same answers:

* :func:`clf_columns` cuts a chunk of common/combined lines into the value columns of the
  strict pattern of :mod:`omphalos.lib.parsers.clf_format` or of Apache's and nginx's
  ``combined`` and ``common`` presets (:data:`CLF_MODES`; status and bytes already ints).
  It takes a chunk only when every line is one it is sure the regex reads the same way
  (characters up to U+00FF, no field running over its line's end); for any other it
  returns None and the regex decides, as without it. Equal values of a column are one
  object (their hash is worked out once; counting compares identities).
* :func:`sum_by`: bytes per key (:func:`omphalos.counting._sum_by`).
* :func:`add_dense`: a HyperLogLog's dense registers raised to a batch's hashes
  (:func:`omphalos.lib.hll._add_dense`).

The pure-Python path stays the reference (tests compare both on real, generated and
hostile lines). Set ``OMPHALOS_PURE_PYTHON=1`` in the environment to run without the
compiled core even where it is built; :data:`CORE` says which runs (``omphalos replay``
logs it at level INFO, ``bench/replay.py`` prints it).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

__all__ = ["CORE", "PURE_ENV", "CLF_MODES", "CLF_PATTERN", "clf_columns", "sum_by", "add_dense",
           "core_line", "log_core"]

#: Environment variable that, set to anything but empty or ``0``, keeps the compiled core
#: out (default: unset, the core is used where it is built).
PURE_ENV = "OMPHALOS_PURE_PYTHON"

_HEAD = (r'^(\S++)\ (?:\S++)\ (\S++)\ \[([^\]]{1,64}+)\]\ "(?:([A-Z]++) ([^\s?"]*+)\??'
         r'([^\s"]*+) (HTTP/[0-9.]++))"\ (\d{3})\ (\d++|-)')
_DASH_HEAD = _HEAD.replace(r"\ (?:\S++)\ ", r"\ \-\ ", 1)  # nginx: "$remote_addr - "
_TAILS = {
    0: r'(?:(?: "([^"]*+)" "([^"]*+)"(?: ([^\n]++))?)?)',  # the family's (clf_format)
    1: r'\ "([^"]*+)"\ "([^"]*+)"',  # combined (Apache's and nginx's presets)
    2: "",  # common
}
#: The strict patterns :func:`clf_columns` stands in for, and the mode that names each to
#: it: the common/combined family's (:func:`omphalos.lib.parsers.clf_format.clf_format`,
#: mode 0), Apache's and nginx's ``combined`` (1) and ``common`` (2), plus 4 where the
#: ident is nginx's literal ``-``. A format compiled to any other pattern never uses it.
CLF_MODES: dict[str, int] = {
    head + tail + "\n": mode + dash
    for head, dash in ((_HEAD, 0), (_DASH_HEAD, 4)) for mode, tail in _TAILS.items()}
#: The family's pattern (mode 0).
CLF_PATTERN = _HEAD + _TAILS[0] + "\n"

clf_columns: Callable[[str, int], list[list[Any]] | None] | None = None
sum_by: Callable[..., dict[Any, int]] | None = None
add_dense: Callable[[bytearray, list[int], int, int], bool] | None = None


def _wanted() -> bool:
    return os.environ.get(PURE_ENV, "") in ("", "0")


def _load() -> str:
    """Bind the compiled functions when they are built and wanted; what runs, in words."""
    global clf_columns, sum_by, add_dense
    if not _wanted():
        return f"pure Python ({PURE_ENV} is set)"
    try:
        from . import _speedups
    except ImportError:
        return "pure Python (omphalos._speedups is not built)"
    clf_columns, sum_by, add_dense = (_speedups.clf_columns, _speedups.sum_by,
                                      _speedups.add_dense)
    return "compiled (omphalos._speedups)"


#: Which core runs: ``compiled (omphalos._speedups)`` or ``pure Python (why)``.
CORE = _load()


def core_line() -> str:
    """The one-line status: which core parses and counts combined/common lines."""
    return f"parse core: {CORE}"


def log_core(log: logging.Logger | None = None) -> None:
    """Log :func:`core_line` at DEBUG (once per command that parses: ``--debug`` shows it;
    a command's own output and its one-line errors stay as they are)."""
    (log or logging.getLogger("omphalos.speedups")).debug("%s", core_line())
