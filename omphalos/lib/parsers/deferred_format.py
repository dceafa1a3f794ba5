"""A server preset's line format that cuts its ``extra`` fields only when someone reads them.

A load balancer's or S3's line has two to three times the fields of a combined line, and
the regex ``split`` pays for every captured group (each becomes a string): capturing the
fields the record schema lacks was half of an ALB chunk's parsing, and the dicts built
from them most of the rest, though most batches are counted without anyone reading
``extra``. :class:`DeferredExtraFormat` therefore reads a chunk with a *light* pattern,
the preset's own strict pattern with its ``extra:NAME`` groups made non-capturing (which
matches the same lines) and maybe some variables read by narrower tokens (which match
fewer), and stores ``extra`` as a :class:`Reparse`: the chunk's text, cut by the preset's
full pattern and converted by the same code as before the first time ``Columns.extra`` is
read. A chunk with any line the light pattern does not match is read by the full format,
as before (its first ``split`` then is wasted: such chunks are rare and already slow).
Every answer is the same, down to the order of each dict's keys
(``tests/parsers/test_deferred_extra.py``).
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from omphalos.records import LazyExtra

from .linefmt import CONVERSION_ERRORS, LineFormat, Result, Token, Variable

__all__ = ["DeferredExtraFormat", "Picked", "Reparse", "uncaptured"]

#: An opening parenthesis that starts a capturing group (not ``\(``, not ``(?``).
_CAPTURING = re.compile(r"(?<!\\)\((?!\?)")


def uncaptured(pattern: str) -> str:
    """``pattern`` with its capturing groups made non-capturing (it matches the same text).
    For the presets' own patterns, which hold no parenthesis inside a character class."""
    out = _CAPTURING.sub("(?:", pattern)
    if re.compile(out).groups:
        raise ValueError(f"cannot make {pattern!r} non-capturing")
    return out


def _is_extra(token: Token) -> bool:
    """Whether ``token`` fills only ``extra`` fields, straight from the line's text."""
    if isinstance(token, str):
        return False
    if token.groups:
        return all(g.startswith("extra:") for g in token.groups)
    return token.target.startswith("extra:")


def light_tokens(tokens: Sequence[Token],
                 narrower: Mapping[Variable, Sequence[Token]] | None = None) -> list[Token]:
    """``tokens`` with every plain ``extra`` field matched but not captured, and each
    variable in ``narrower`` replaced by its tokens there (see :class:`DeferredExtraFormat`)."""
    out: list[Token] = []
    for t in tokens:
        if isinstance(t, Variable) and narrower and t in narrower:
            out.extend(narrower[t])
        elif isinstance(t, Variable) and _is_extra(t):
            out.append(Variable("ignore", uncaptured(t.strict), uncaptured(t.lenient)))
        else:
            out.append(t)
    return out


class Reparse(LazyExtra):
    """A chunk's ``extra`` column, cut when first read: the chunk's text (every line of
    which the full format's strict pattern matches) cut and converted by that format's own
    fast path, the one that read such a chunk before. That gives the extras as columns
    (:class:`.ExtraColumns`), so one field's values still need no dicts."""

    __slots__ = ("_done", "_inner", "_lock", "fmt", "n", "text")

    def __init__(self, fmt: LineFormat, text: str, n: int) -> None:
        self.fmt, self.text, self.n = fmt, text, n
        self._inner: list[dict[str, Any] | None] | LazyExtra | None = None
        self._done = False
        #: Collectors in other threads may read one batch's extras at once: one cuts.
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self.n

    def inner(self) -> list[dict[str, Any] | None] | LazyExtra | None:
        """The full format's ``extra`` of the chunk, as it stored it (cut once)."""
        with self._lock:
            if not self._done:
                fmt = self.fmt
                columns = fmt.value_columns(fmt.strict.split(self.text), self.text)
                # the light pattern matched every line and its columns converted, so the
                # full one matches them too and converts the same values (extra: text
                # never fails to convert)
                self._inner = fmt.columns(columns, [], strict=True).lazy_extra()
                self._done = True
                self.text = ""  # no longer needed
            return self._inner

    def materialise(self) -> list[dict[str, Any] | None] | None:
        inner = self.inner()
        return inner.materialise() if isinstance(inner, LazyExtra) else inner

    def values(self, name: str) -> list[Any] | None:
        inner = self.inner()
        if isinstance(inner, LazyExtra):
            return inner.values(name)
        return super().values(name)

    def slice(self, start: int, stop: int) -> LazyExtra:
        return Picked(self, range(self.n)[start:stop])

    def select(self, keep: Sequence[int]) -> LazyExtra:
        return Picked(self, list(keep))


class Picked(LazyExtra):
    """Some lines of another lazy column, in the given order (made when read)."""

    __slots__ = ("keep", "parent")

    def __init__(self, parent: LazyExtra, keep: Sequence[int]) -> None:
        self.parent, self.keep = parent, keep

    def __len__(self) -> int:
        return len(self.keep)

    def materialise(self) -> list[dict[str, Any] | None] | None:
        rows = self.parent.materialise()
        return None if rows is None else [rows[i] for i in self.keep]

    def slice(self, start: int, stop: int) -> LazyExtra:
        return Picked(self.parent, self.keep[start:stop])

    def select(self, keep: Sequence[int]) -> LazyExtra:
        return Picked(self.parent, [self.keep[i] for i in keep])


class DeferredExtraFormat(LineFormat):
    """A preset's :class:`.LineFormat` (every attribute and the slow paths are its own)
    whose fast path defers cutting the ``extra`` fields until they are read (see the
    module doc)."""

    def __init__(self, name: str, tokens: Sequence[Token], *, absolute_urls: bool = False,
                 narrower: Mapping[Variable, Sequence[Token]] | None = None,
                 light_absolute_urls: bool | None = None) -> None:
        """``narrower``: variables the light pattern reads with other tokens, which must
        match only values the variable matches and give the same record fields for them
        (an ``addr:port`` as its address and an uncaptured port, say: no column split
        afterwards); a line they do not match sends its chunk to the full format.
        ``light_absolute_urls``: the light format's ``absolute_urls`` (default: the same)."""
        super().__init__(name, tokens, absolute_urls=absolute_urls)
        #: The same format with the ``extra`` fields matched but not captured.
        self.light = LineFormat(name, light_tokens(tokens, narrower),
                                absolute_urls=absolute_urls if light_absolute_urls is None
                                else light_absolute_urls)

    def parse(self, data: bytes, start: int) -> Result:
        """As :meth:`.LineFormat.parse`, with ``extra`` deferred when every line matched
        the strict pattern; any other chunk is read as before."""
        if data:
            fast = self._fast(data if data.endswith(b"\n") else data + b"\n", start)
            if fast is not None:
                return fast
        return super().parse(data, start)

    def _fast(self, data: bytes, start: int) -> Result | None:
        """Every line matched by the light pattern and converted; None otherwise."""
        n = data.count(b"\n")
        text = data.decode("utf-8", "replace")
        if "\r" in text:
            text = text.replace("\r", "")
        light = self.light
        flat = light.strict.split(text)
        between = flat[0 :: len(light.targets) + 1]
        if len(between) != n + 1 or any(between):
            return None
        try:
            out = light.columns(light.value_columns(flat, text), [], (data, start),
                                strict=True)
        except CONVERSION_ERRORS:
            return None
        out.set_lazy_extra(Reparse(self, text, n))
        out.extra_checked = self.extra_plain
        return out, n, [], Counter()

