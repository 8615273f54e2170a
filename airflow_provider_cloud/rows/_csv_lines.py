"""
The lines of a CSV file as ``csv.reader`` consumes them: read in chunks, kept only for the current block.

Each line's number is known, so a bad row is named by its line and quoted as it was written; lines holding
a NUL character (UTF-16 read as UTF-8, or binary data) and lines starting with a byte-order mark (another
file joined on) are noted as they are read, at no cost for the usual chunk without them.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections import deque
from collections.abc import Iterator
from typing import Any, TextIO

from airflow_provider_cloud.rows._records import MAX_RAW_CHARS, UNDECODABLE, cap, undecodable

#: The byte-order mark: at the start of a line after the first, it is where another file was joined on.
BOM = "\ufeff"
#: Never in text: a line holding it is UTF-16 read as UTF-8, or binary data, and a bad row.
NUL = "\x00"
NUL_REASON = (
    "{what} holds NUL characters (U+0000), which text never does: is the file UTF-16, or not text at all? "
    "Pass the file's encoding (csv_options={{'encoding': 'utf-16-le'}}, say)"
)
#: Characters read from the file at a time.
READ_CHUNK_CHARS = 65_536

#: A row as parsed: its first and last line, and its fields or the parse error.
Row = tuple[int, int, list[str] | csv.Error]


class Lines:
    """The file's lines, fed to the csv reader in chunks; lines are kept until ``release``."""

    def __init__(self, text: TextIO) -> None:
        self._text = text
        self._chunks: deque[list[str]] = deque()
        self._first = 1  # the line number of the first kept line
        self._read = 0
        #: Kept lines with bytes that are not valid text, by line number.
        self.undecodable: dict[int, str] = {}
        #: The numbers of kept lines that start with a byte-order mark (a file's start, mid-file).
        self.marked: set[int] = set()
        #: The numbers of kept lines holding a NUL character (never in text: UTF-16 or binary data).
        self.nul: set[int] = set()

    def feed(self) -> Iterator[str]:
        """Return an iterator of all lines, for ``csv.reader``."""
        return itertools.chain.from_iterable(self._read_chunks())

    def _read_chunks(self) -> Iterator[list[str]]:
        for lines in _split_lines(self._text):
            first = self._read + 1
            self._read += len(lines)
            self._chunks.append(lines)
            text = "".join(lines)
            if NUL in text:
                self.nul.update(n for n, line in enumerate(lines, start=first) if NUL in line)
            if not text.isascii():
                if undecodable(text):
                    for number, line in enumerate(lines, start=first):
                        if UNDECODABLE.search(line):
                            self.undecodable[number] = line
                if BOM in text:
                    self.marked.update(n for n, line in enumerate(lines, start=first) if line.startswith(BOM))
            yield lines

    def get(self, first: int, last: int) -> list[str]:
        """Return the kept lines ``first`` to ``last`` (1-based, both included)."""
        found: list[str] = []
        start = self._first
        for chunk in self._chunks:
            if start > last:
                break
            end = start + len(chunk)
            if end > first:
                found.extend(chunk[max(first - start, 0) : last - start + 1])
            start = end
        return found

    def raw(self, first: int, last: int) -> str:
        """Return the text of lines ``first`` to ``last`` as ``Record.raw`` keeps it."""
        parts: list[str] = []
        size = 0
        for line in self.get(first, last):
            parts.append(line)
            size += len(line)
            if size >= MAX_RAW_CHARS:
                break
        return cap("".join(parts)).rstrip("\r\n")

    def first_undecodable(self, first: int, last: int) -> str | None:
        """Return the first of lines ``first`` to ``last`` with bytes that are not text, if any."""
        if not self.undecodable:
            return None
        numbers = [n for n in self.undecodable if first <= n <= last]
        return self.undecodable[min(numbers)] if numbers else None

    def any_marked(self, first: int, last: int) -> bool:
        """Return whether any of lines ``first`` to ``last`` starts with a byte-order mark."""
        return bool(self.marked) and any(first <= n <= last for n in self.marked)

    def any_nul(self, first: int, last: int) -> bool:
        """Return whether any of lines ``first`` to ``last`` holds a NUL character."""
        return bool(self.nul) and any(first <= n <= last for n in self.nul)

    def release(self, last: int) -> None:
        """Forget the lines up to ``last``."""
        while self._chunks and self._first + len(self._chunks[0]) - 1 <= last:
            self._first += len(self._chunks.popleft())
        for number in [n for n in self.undecodable if n < self._first]:
            del self.undecodable[number]
        self.marked = {n for n in self.marked if n >= self._first}
        self.nul = {n for n in self.nul if n >= self._first}


def _split_lines(text: TextIO) -> Iterator[list[str]]:
    r"""
    Yield the lines of ``text`` (line breaks kept, as ``newline=""`` reads them) a chunk at a time.

    A chunk read whole is split by ``io.StringIO``: the same universal line breaks as reading the file
    line by line, with none of the per-line calls a Python-level file (fsspec, gzip) would cost. A
    line still open at the end of a chunk, or one ending in ``\r`` (a ``\n`` may follow), waits for
    the next chunk.
    """
    pending = ""
    while chunk := text.read(READ_CHUNK_CHARS):
        if "\n" not in chunk and "\r" not in chunk:  # the middle of a long line
            pending += chunk
            continue
        lines = io.StringIO(pending + chunk, newline="").readlines()
        last = lines[-1]
        if last.endswith("\n"):
            pending = ""
        else:
            pending = lines.pop()
        if lines:
            yield lines
    if pending:
        yield [pending]


def step(reader: Any) -> Row | None:
    """Read the next row (a blank line is a row with no fields); ``None`` at the end."""
    first = reader.line_num + 1
    try:
        fields = next(reader)
    except StopIteration:
        return None
    except csv.Error as error:
        return first, reader.line_num, error
    return first, reader.line_num, fields


def rows_one_by_one(lines: list[str], first_line: int, dialect: type[csv.Dialect]) -> Iterator[Row]:
    """Parse ``lines`` again (the first being line ``first_line``), a row at a time, blank rows left out."""
    reader = csv.reader(iter(lines), dialect)
    offset = first_line - 1
    while (row := step(reader)) is not None:
        first, last, fields = row
        if fields != []:
            yield first + offset, last + offset, fields
