"""
The row stream of an import: records in, good rows out in lists, bad rows failing the task or rejected.

Rows move a block of the reader at a time, checked once (``rows.RowCheck``). A block with a bad row is gone
through row by row, and the good rows before a failing one are yielded before the failure, so the writer
sees exactly the rows a row-by-row import would.
"""

from __future__ import annotations

import operator
from collections.abc import Iterator, Mapping
from typing import Any, cast

from airflow.sdk.exceptions import AirflowException

from airflow_provider_cloud.exceptions import RowDataError
from airflow_provider_cloud.rows import (
    Block,
    GoodRows,
    LineMap,
    ProgressLogger,
    Record,
    RejectsWriter,
    RowCheck,
    batched,
)

#: Rows given inline are checked this many at a time.
INLINE_BLOCK_ROWS = 512
#: Progress is counted every 1,024 rows read or so (once per block of rows).
PROGRESS_EVERY = 1024
_ERROR_OF = operator.attrgetter("error")
_DATA_OF = operator.attrgetter("data")
_LINE_OF = operator.attrgetter("line")


def check_before_writing(
    records: Iterator[Record],
    check: RowCheck,
    rejects: RejectsWriter | NoRejects,
    source: str,
    header_line: int | None,
    rename: Mapping[str, str],
    rejects_path: str | None,
) -> None:
    """
    Fail before the first write on what would otherwise fail every row, or only at the first bad row.

    A CSV header without the key column is named once (the file, its columns); the rejects file is started, so an unwritable ``rejects_path`` fails now, with
    nothing imported, rather than after the good rows before the first bad one were written.
    """
    columns = getattr(records, "columns", None)
    if getattr(records, "format", None) == "parquet":
        header_line = None  # a Parquet file's columns are its schema's, on no line
    if columns is not None:
        error = check.header_error(columns, source=source, line=header_line, rename=rename)
        if error is not None:
            raise error
    try:
        rejects.open()
    except OSError as error:
        raise AirflowException(
            f"rejects_path {rejects_path!r} cannot be written ({type(error).__name__}: {error}); "
            "nothing was imported"
        ) from error


def record_blocks(records: Iterator[Record]) -> Iterator[Block]:
    """Return the records in blocks: the reader's own where it has them."""
    blocks = getattr(records, "blocks", None)
    return cast(Iterator[Block], blocks()) if blocks is not None else batched(records, INLINE_BLOCK_ROWS)


class NoRejects:
    """Stands in for a rejects file when bad rows fail the task."""

    def __enter__(self) -> NoRejects:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def open(self) -> None:
        return None

    def reject(self, error: RowDataError, *, row: Any = None, raw: str | None = None) -> None:
        raise error


class ImportStream:
    """
    The good rows of ``records`` in lists (:meth:`blocks`), with ``read`` and ``rejected`` counted on the way.

    :param rename: source column → data set column.
    :param skip_bad_rows: reject bad rows into ``rejects`` instead of failing on the first.
    :param max_bad_rows: with ``skip_bad_rows``, fail once more rows than this were rejected.
    """

    def __init__(
        self,
        records: Iterator[Record],
        check: RowCheck,
        *,
        source: str,
        rename: Mapping[str, str],
        skip_bad_rows: bool,
        max_bad_rows: int | None,
        rejects: RejectsWriter | NoRejects,
        rejects_path: str | None,
        progress: ProgressLogger,
    ) -> None:
        self.records = records
        self.check = check
        self.source = source
        self.rename = dict(rename)
        self.skip_bad_rows = skip_bad_rows
        self.max_bad_rows = max_bad_rows
        self.rejects = rejects
        self.rejects_path = rejects_path
        self.progress = progress
        self.read = 0
        self.rejected = 0
        #: The file line of each good row, by its position among the good rows (for the writer's errors).
        self.lines = LineMap()

    def blocks(self) -> Iterator[list[dict[str, Any]]]:
        """Yield the good rows in lists, a block of the reader at a time; bad rows fail or are rejected."""
        rename, check, progress, lines = self.rename, self.check, self.progress, self.lines
        checked = check.checks_anything
        read = 0
        try:
            for block in record_blocks(self.records):  # the hot loop: whole blocks where all is well
                rows: list[dict[str, Any]] | None = None
                if isinstance(block, GoodRows):
                    rows = block.rows
                elif not any(map(_ERROR_OF, block)):
                    rows = list(map(_DATA_OF, block))
                if rows is not None and None not in rows:
                    if rename:
                        rows = [{rename.get(k, k): v for k, v in row.items()} for row in rows]
                    if not checked or check.passes(rows):
                        read += len(rows)
                        if read - progress.done >= PROGRESS_EVERY:
                            progress.update(read - progress.done)
                        lines.add(block.lines if isinstance(block, GoodRows) else list(map(_LINE_OF, block)))
                        yield rows
                        continue
                good: list[dict[str, Any]] = []
                good_lines: list[int] = []
                for record in block.records() if isinstance(block, GoodRows) else block:
                    error = record.error
                    row = record.data
                    if error is None and row is not None:
                        if rename:
                            row = {rename.get(k, k): v for k, v in row.items()}
                        if (
                            not checked
                            or (error := check.error(row, source=self.source, line=record.line)) is None
                        ):
                            read += 1
                            good.append(row)
                            good_lines.append(record.line)
                            continue
                    assert error is not None
                    if good:
                        lines.add(good_lines)
                        yield good
                        good, good_lines = [], []
                    read += 1
                    self.read = read
                    self._bad_row(error, row if row is not None else record.data, record.raw)
                if good:
                    lines.add(good_lines)
                    yield good
        finally:
            self.read = read
            progress.update(read - progress.done)

    def _bad_row(self, error: RowDataError, row: Any, raw: str | None) -> None:
        if not self.skip_bad_rows:
            raise error
        self.rejects.reject(error, row=row, raw=raw)
        self.rejected += 1
        if self.max_bad_rows is not None and self.rejected > self.max_bad_rows:
            raise AirflowException(
                f"{self.source}: more than {self.max_bad_rows} bad rows (the last: {error}); "
                f"stopped the import, rejects so far are in {self.rejects_path}"
            )


def skip_rows(blocks: Iterator[list[Any]], count: int) -> Iterator[list[Any]]:
    """Return the blocks without their first ``count`` rows (read and checked all the same)."""
    for block in blocks:
        if count >= len(block):
            count -= len(block)
            continue
        if count:
            block, count = block[count:], 0
        yield block


class Window:
    """The next rows of an import, up to ``size``, as blocks: one ``write_rows`` call; ``rows`` counts them."""

    def __init__(self, windows: Windows, size: int) -> None:
        self._windows = windows
        self.size = size
        self.rows = 0

    def __iter__(self) -> Iterator[list[Any]]:
        windows = self._windows
        while self.rows < self.size:
            block = windows.take()
            if block is None:
                return
            room = self.size - self.rows
            if len(block) > room:
                block, rest = block[:room], block[room:]
                windows.put_back(rest)
            self.rows += len(block)
            yield block


class Windows:
    """Cut a stream of row blocks into windows of a given number of rows, one after the other."""

    def __init__(self, blocks: Iterator[list[Any]]) -> None:
        self._blocks = blocks
        self._next: list[Any] | None = None

    def take(self) -> list[Any] | None:
        if self._next is not None:
            block, self._next = self._next, None
            return block
        return next(self._blocks, None)

    def put_back(self, block: list[Any]) -> None:
        self._next = block

    def next(self, size: int) -> Window | None:
        """Return the next window of at most ``size`` rows, ``None`` when no row is left."""
        block = self.take()
        if block is None:
            return None
        self.put_back(block)
        return Window(self, size)
