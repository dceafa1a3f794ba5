"""``extra`` kept as the parser's columns until someone reads it (:class:`.LazyExtra`).

A preset's line carries 8 to 24 fields the record schema lacks; building one dict of them
per line cost up to a third of parsing it, and most batches are counted without anyone
looking at them. :class:`ExtraColumns` holds the columns (name -> one value per line) and
the per-line extras of the few targets that fill them only on some lines, and builds the
dicts with the very functions the parsers used before (:func:`.convert.extra_dicts`,
:func:`.convert.row_dicts`, :func:`.convert.merge_extra`), so every answer is the same.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from operator import itemgetter
from typing import Any

from omphalos.records import LazyExtra

from .convert import extra_dicts, merge_extra, row_dicts

__all__ = ["ExtraColumns"]

Rows = list[dict[str, Any] | None]


class ExtraColumns(LazyExtra):
    """``extra`` as columns (every line has every key, maybe None) plus per-line extras
    merged over them (``rows``: None, or a dict or None per line).

    ``text`` says the column values are text or None (a regex format's): the dicts then
    come from :func:`.extra_dicts`, which shares one dict between lines with the same
    values; otherwise (JSON values, maybe unhashable) from :func:`.row_dicts`, one dict a
    line. Read-only once built, like every ``extra``."""

    __slots__ = ("columns", "n", "rows", "text")

    def __init__(self, columns: Mapping[str, Sequence[Any]], rows: Rows | None, n: int,
                 *, text: bool = True) -> None:
        self.columns = dict(columns)
        self.rows = rows
        self.n = n
        self.text = text

    def __len__(self) -> int:
        return self.n

    def materialise(self) -> Rows:
        dicts: Rows | None = None
        if self.columns:
            dicts = (extra_dicts(self.columns) if self.text else
                     row_dicts(tuple(self.columns))(list(self.columns.values())))
        if self.rows is not None:
            return merge_extra(dicts, self.rows)
        return dicts if dicts is not None else [None] * self.n

    def slice(self, start: int, stop: int) -> ExtraColumns:
        rows = self.rows[start:stop] if self.rows is not None else None
        return ExtraColumns({k: v[start:stop] for k, v in self.columns.items()}, rows,
                            len(range(self.n)[start:stop]), text=self.text)

    def select(self, keep: Sequence[int]) -> ExtraColumns:
        if not keep:
            return ExtraColumns({}, [], 0, text=self.text)
        pick = itemgetter(*keep)
        if len(keep) == 1:
            def pick_list(values: Sequence[Any]) -> list[Any]:
                return [values[keep[0]]]
        else:
            def pick_list(values: Sequence[Any]) -> list[Any]:
                return list(pick(values))
        rows = pick_list(self.rows) if self.rows is not None else None
        return ExtraColumns({k: pick_list(v) for k, v in self.columns.items()}, rows,
                            len(keep), text=self.text)

    def values(self, name: str) -> list[Any] | None:
        column = self.columns.get(name)
        rows = self.rows
        if rows is None:
            return list(column) if column is not None else None
        # a per-line extra wins over the column's value for the same key
        found = column is not None
        out = list(column) if column is not None else [None] * self.n
        for i, row in enumerate(rows):
            if row is not None and name in row:
                out[i] = row[name]
                found = True
        return out if found else None
