"""
Rows in lists: a lazy chunker, ``RowBlocks`` for a writer that takes whole lists, and where each row came from.

A writer names a bad row by its ``RowOrigin``: the source (a file's URL) and the row's line there. Rows reach a
writer by their position in what it was given (1, 2, ...); ``LineMap`` turns that back into the file's line,
which differs by the header, records spanning lines, rows rejected on the way and rows a resumed import skipped.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


def batched(iterable: Iterable[T], size: int) -> Iterator[list[T]]:
    """
    Return an iterator of lists of ``size`` items from ``iterable`` (the last one may be shorter).

    Items are pulled only as batches are asked for, so at most one batch is held. ``size`` must be
    an integer of at least 1; a bad size raises ``ValueError`` at once, not at the first batch.
    """
    if isinstance(size, bool) or not isinstance(size, int):
        raise TypeError(f"batch size must be an integer, not {type(size).__name__}")
    if size < 1:
        raise ValueError(f"batch size must be at least 1, not {size}")
    return _batches(iter(iterable), size)


def _batches(iterator: Iterator[T], size: int) -> Iterator[list[T]]:
    while batch := list(itertools.islice(iterator, size)):
        yield batch


class LineMap:
    """
    The source line of each row of a stream, by the row's 1-based position in it, kept as runs of lines.

    Rows of a file are on consecutive lines but where a record spans lines or a row was rejected, so a block of
    the reader is usually one run: one entry, not one per row.
    """

    def __init__(self) -> None:
        self._positions: list[int] = []  # the first position of each run
        self._lines: list[int] = []  # the line of that position
        self.count = 0

    def add(self, lines: Sequence[int]) -> None:
        """Add the lines of the next rows, in order (lines increase)."""
        if not lines:
            return
        if lines[-1] - lines[0] == len(lines) - 1:  # one run: the common case, no step per row
            self._run(self.count + 1, lines[0])
        else:
            for offset, line in enumerate(lines, start=self.count + 1):
                self._run(offset, line)
        self.count += len(lines)

    def _run(self, position: int, line: int) -> None:
        if self._positions and line - self._lines[-1] == position - self._positions[-1]:
            return  # it goes on the last run
        self._positions.append(position)
        self._lines.append(line)

    def line(self, position: int) -> int:
        """Return the line of the row at ``position`` (the position itself before the first run)."""
        index = bisect.bisect_right(self._positions, position) - 1
        if index < 0:
            return position
        return self._lines[index] + position - self._positions[index]


@dataclass(frozen=True)
class RowOrigin:
    """
    Where the rows given to a writer come from: ``source``, and the line of each by its position there.

    :param lines: the lines of the stream the rows are part of (``None``: the position is the line).
    :param offset: rows of that stream before these (a window of an import after the first).
    """

    source: str = "rows"
    lines: LineMap | None = None
    offset: int = 0

    def line(self, position: int) -> int:
        """Return the source line of the row at ``position`` (1-based) of these rows."""
        return position if self.lines is None else self.lines.line(self.offset + position)

    def span(self, first: int, last: int) -> str:
        """Return ``"lines 12-40 of <source>"`` for the rows at positions ``first`` to ``last``."""
        start, end = self.line(first), self.line(last)
        lines = f"line {start}" if start == end else f"lines {start}-{end}"
        return lines if self.source == "rows" else f"{lines} of {self.source}"


class RowBlocks(Iterable[T]):
    """
    Items that arrive in lists: iterate them one at a time, or take the lists whole with ``blocks()``.

    Used once, like an iterator. A consumer that knows this type (the Datasette hook's ``write_rows``)
    takes the lists and spares a Python step per item; any other consumer just iterates the items.
    ``keys_checked`` names key columns that every row is known to have a value (not NULL) for;
    ``origin`` says where the rows come from (``source``, a file's URL; ``lines``, the rows' lines there,
    from ``offset`` on), for the writer's errors about a row.
    """

    def __init__(
        self,
        blocks: Iterable[list[T]],
        *,
        keys_checked: Iterable[str] = (),
        source: str = "rows",
        lines: LineMap | None = None,
        offset: int = 0,
    ) -> None:
        self._blocks = iter(blocks)
        self.keys_checked = frozenset(keys_checked)
        self.origin = RowOrigin(source, lines, offset)

    @property
    def source(self) -> str:
        return self.origin.source

    def __iter__(self) -> Iterator[T]:
        return itertools.chain.from_iterable(self._blocks)

    def blocks(self) -> Iterator[list[T]]:
        """Return the iterator of the lists (none of them empty)."""
        return self._blocks
