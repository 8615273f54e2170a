"""
The block-wise CSV reader against a plain row-at-a-time reading of the same files.

Generated files mix good rows with every kind of bad one (wrong width, broken quoting, bytes that are
not UTF-8, values that do not fit a declared type), quoted values over several lines and blank lines;
tiny blocks and read chunks put every kind of row on a block and chunk boundary.
"""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_cloud.rows import _csv_lines, _csv_reader, read_records
from airflow_provider_cloud.rows._records import MAX_RAW_CHARS, cap
from airflow_provider_cloud.rows.convert import ConversionError, text_converter

HEADER = "id,name,score,flag\r\n"
GOOD = [
    "{i},alpha,1.5,true",
    "{i},bravo charlie,-2,FALSE",
    "{i},,3e2,",
    "{i},007,.5,yes",
    "{i},x,1970-01-01,1",
]
SPECIAL = [
    '{i},"two\nlines",1,true',  # a quoted value over two lines
    '{i},"three\r\nlines\rhere",2,false',
    "",  # a blank line
    "{i},only three,1",  # too few fields
    "{i},a,1,true,extra",  # too many
    '{i},"x"y,1,true',  # broken quoting
    "{i},caf\xe9,1,true",  # not UTF-8 (written as latin-1)
    "{i},fine,notanumber,true",  # does not fit score: float
    "{i},fine,2,maybe",  # does not fit flag: boolean
]
TYPES = {"score": "float", "flag": "boolean"}


def make_file(path: Path, seed: int, rows: int) -> Path:
    rng = random.Random(seed)
    parts = [HEADER]
    for i in range(rows):
        template = rng.choice(SPECIAL) if rng.random() < 0.15 else rng.choice(GOOD)
        parts.append(template.format(i=i) + rng.choice(["\n", "\r\n"]))
    path.write_bytes("".join(parts).encode("latin-1"))
    return path


def read_row_by_row(path: Path, types: dict[str, str]) -> list[tuple[int, Any, str | None, str | None]]:
    """What a reader taking one row at a time, and typing one cell at a time, makes of the file."""
    text = path.read_bytes().decode("utf-8", "surrogateescape")
    lines = io.StringIO(text, newline="").readlines()
    reader = csv.reader(iter(lines), strict=True)
    header = next(reader)
    converters = [text_converter(types.get(c), ("",)) for c in header]
    out = []
    while True:
        first = reader.line_num + 1
        try:
            fields = next(reader)
        except StopIteration:
            return out
        except csv.Error as error:
            out.append((first, None, f"malformed CSV: {error}", raw(lines, first, reader.line_num)))
            continue
        last = reader.line_num
        if not fields:
            continue
        row_text = "".join(lines[first - 1 : last])
        if any(0xDC80 <= ord(ch) <= 0xDCFF for ch in row_text):
            out.append(
                (
                    first,
                    None,
                    "not valid UTF-8 text (byte 0xe9); pass the file's encoding",
                    raw(lines, first, last),
                )
            )
            continue
        if len(fields) != len(header):
            reason = f"expected {len(header)} fields (one per column), found {len(fields)}"
            out.append((first, None, reason, raw(lines, first, last)))
            continue
        data: dict[str, Any] = {}
        failure = None
        for column, convert, cell in zip(header, converters, fields):
            try:
                data[column] = convert(cell)
            except ConversionError as error:
                failure = error.reason
                break
        if failure is not None:
            out.append((first, dict(zip(header, fields)), failure, raw(lines, first, last)))
        else:
            out.append((first, data, None, None))


def raw(lines: list[str], first: int, last: int) -> str:
    return cap("".join(lines[first - 1 : last])[:MAX_RAW_CHARS]).rstrip("\r\n")


def as_tuples(path: Path, types: dict[str, str]) -> list[tuple[int, Any, str | None, str | None]]:
    with read_records(str(path), types=types) as reader:
        return [
            (r.line, r.data, None if r.error is None else r.error.reason, r.raw)  # type: ignore[attr-defined]
            for r in reader
        ]


@pytest.mark.parametrize(("block_rows", "hint"), [(1, 1), (2, 7), (3, 64), (7, 200), (512, 65_536)])
@pytest.mark.parametrize("seed", range(6))
def test_blocks_read_exactly_what_row_by_row_reading_reads(tmp_path, monkeypatch, block_rows, hint, seed):
    monkeypatch.setattr(_csv_reader, "BLOCK_ROWS", block_rows)
    monkeypatch.setattr(_csv_lines, "READ_CHUNK_CHARS", hint)
    path = make_file(tmp_path / "mixed.csv", seed, rows=300)
    expected = read_row_by_row(path, TYPES)
    assert any(e[2] for e in expected)  # the file has bad rows
    assert any(not e[2] for e in expected)  # and good ones
    assert as_tuples(path, TYPES) == expected


def test_only_a_block_of_lines_is_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(_csv_lines, "READ_CHUNK_CHARS", 64)
    path = tmp_path / "long.csv"
    path.write_text("a,b\n" + "".join(f"{i},{'x' * 20}\n" for i in range(10_000)))
    kept: list[int] = []
    original = _csv_lines.Lines.release

    def release(self: Any, last: int) -> None:
        original(self, last)
        kept.append(sum(len(chunk) for chunk in self._chunks))

    monkeypatch.setattr(_csv_lines.Lines, "release", release)
    with read_records(str(path)) as reader:
        assert sum(1 for _ in reader) == 10_000
    assert max(kept) <= 4, max(kept)  # the lines of one read chunk (64 characters and a line) at most
