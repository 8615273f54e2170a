"""Split a stream of items into lists of a fixed size, lazily."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
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


class RowBlocks(Iterable[T]):
    """
    Items that arrive in lists: iterate them one at a time, or take the lists whole with ``blocks()``.

    Used once, like an iterator. A consumer that knows this type (the Datasette hook's ``write_rows``)
    takes the lists and spares a Python step per item; any other consumer just iterates the items.
    ``keys_checked`` names key columns that every row is known to have a value (not NULL) for;
    ``source`` names where the rows come from (a file's URL), for the writer's errors about a row.
    """

    def __init__(
        self, blocks: Iterable[list[T]], *, keys_checked: Iterable[str] = (), source: str = "rows"
    ) -> None:
        self._blocks = iter(blocks)
        self.keys_checked = frozenset(keys_checked)
        self.source = source

    def __iter__(self) -> Iterator[T]:
        return itertools.chain.from_iterable(self._blocks)

    def blocks(self) -> Iterator[list[T]]:
        """Return the iterator of the lists (none of them empty)."""
        return self._blocks
