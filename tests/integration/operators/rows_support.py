"""
Shared helpers of the row-operator integration tests: generated data sets, an independent CSV typer, table reads.

The expected typing is written out here from the documented rules (``rows/convert.py``), on purpose without
calling the code under test: whole numbers without a leading zero are integers, decimals are floats,
``true``/``false`` (any case) are booleans, which SQLite stores as 1 and 0, the empty cell is NULL, and
everything else is text.
"""

from __future__ import annotations

import csv
import json
import random
import re
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

COLUMNS = ("id", "name", "score", "qty", "active", "born", "note")

SCHEMA = """
create table "{table}" (
    id integer primary key,
    name text,
    score real,
    qty integer{qty_check},
    active integer,
    born text,
    note text
)
"""

_NOTES = (
    "plain",
    "a, b and c",
    'she said "hi"',
    'both, "quoted", and commas',
    "two\nlines",
    "three\nlines, with a comma\nand more",
    'ends with a quote"',
    "Zoë & Ørjan — ünïcödé",
    "   spaces around   ",
)
_INT = re.compile(r"-?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(r"-?(?:(?:0|[1-9][0-9]*)(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


def people_rows(count: int, *, seed: int = 7, start: int = 1) -> list[dict[str, Any]]:
    """Return ``count`` typed rows (booleans as Python booleans) with some NULLs and awkward text."""
    rng = random.Random(seed)
    rows = []
    for number in range(start, start + count):
        rows.append(
            {
                "id": number,
                "name": f"person {rng.randrange(1_000_000):06d}",
                "score": None if rng.random() < 0.05 else round(rng.uniform(-500, 500), 3),
                "qty": None if rng.random() < 0.05 else rng.randrange(10_000),
                "active": None if rng.random() < 0.05 else rng.random() < 0.5,
                "born": f"{rng.randrange(1940, 2010)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}",
                "note": None if rng.random() < 0.2 else rng.choice(_NOTES),
            }
        )
    return rows


def csv_cell(value: Any) -> str:
    """Return the CSV text a generated value is written as."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def write_csv(path: Path, rows: Iterable[Mapping[str, Any]], columns: Sequence[str] = COLUMNS) -> Path:
    """Write rows as a CSV file with a header row."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([csv_cell(row.get(c)) for c in columns])
    return path


def write_people_csv(path: Path, count: int, *, seed: int = 7) -> Path:
    """Write ``count`` generated rows to ``path`` as CSV and return the path."""
    return write_csv(path, people_rows(count, seed=seed))


def typed_cell(text: str) -> Any:
    """Type one CSV cell by the documented detection rules, as SQLite will hold it."""
    if text == "":
        return None
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    if text.lower() == "true":
        return 1
    if text.lower() == "false":
        return 0
    return text


def expected_from_csv(path: Path) -> list[dict[str, Any]]:
    """Parse a CSV file with the csv module and type it independently: what the table must hold."""
    with path.open(newline="", encoding="utf-8") as handle:
        return [{k: typed_cell(v) for k, v in row.items()} for row in csv.DictReader(handle)]


def as_stored(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Return generated rows as SQLite returns them (booleans as 1/0)."""
    return [{k: int(v) if isinstance(v, bool) else v for k, v in row.items()} for row in rows]


def table_rows(server: Any, table: str) -> list[dict[str, Any]]:
    """Read a whole table from the database file, ordered by id."""
    return list(server.sql(f'select * from "{table}" order by id'))


def table_ids(server: Any, table: str) -> list[int]:
    return [row["id"] for row in server.sql(f'select id from "{table}" order by id')]


def assert_same_rows(actual: Sequence[Mapping[str, Any]], expected: Sequence[Mapping[str, Any]]) -> None:
    """Compare two row lists and report the first difference briefly (no 100,000-row diff)."""
    for index, (got, want) in enumerate(zip(actual, expected)):
        if dict(got) != dict(want):
            raise AssertionError(f"row {index} differs:\n  got  {dict(got)!r}\n  want {dict(want)!r}")
    assert len(actual) == len(expected), f"{len(actual)} rows, expected {len(expected)}"


def create_table(
    server: Any, table: str, rows: Iterable[Mapping[str, Any]] = (), *, qty_check: bool = False
) -> None:
    """Create a people table straight in the database file (independent of the code under test)."""
    check = " check (qty is null or qty >= 0)" if qty_check else ""
    connection = sqlite3.connect(server.db_path)
    try:
        connection.execute(SCHEMA.format(table=table, qty_check=check))
        connection.executemany(
            f'insert into "{table}" ({", ".join(COLUMNS)}) values ({", ".join("?" * len(COLUMNS))})',
            [[row.get(c) for c in COLUMNS] for row in rows],
        )
        connection.commit()
    finally:
        connection.close()


def connection_env(monkeypatch: Any, server: Any, conn_id: str) -> str:
    """Define connection ``conn_id`` for ``server`` through its environment variable; return the id."""
    monkeypatch.setenv(*server.env_var(conn_id))
    return conn_id


def one_write_at_a_time(monkeypatch: Any, server: Any, conn_id: str) -> str:
    """
    Define connection ``conn_id`` for ``server`` with a window of 1: one write in flight, in order.

    Then a refused batch leaves exactly the rows before it; with a window of several, batches after it that
    were already in flight are written too (and named in the error).
    """
    connection = server.connection_dict()
    connection["extra"] = {**connection["extra"], "window": 1}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(connection))
    return conn_id


def record_lines(path: Path) -> list[int]:
    """Return the file line each data record of a CSV file starts on (records may span lines)."""
    starts: list[int] = []
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        next(reader)  # the header
        end = reader.line_num
        for _ in reader:
            starts.append(end + 1)
            end = reader.line_num
    return starts
