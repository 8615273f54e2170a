"""
Writing rows as Parquet: a record batch per ``PARQUET_BATCH_ROWS`` rows, a row group per ``ROW_GROUP_ROWS``.

The schema is fixed before the first row is written (Parquet has one schema per file), decided per column:

- by the data set's type where the task knows it (``column_types``, from ``describe()``): integer types →
  ``int64``, float/real/number → ``float64``, boolean → ``bool``, blob → ``binary``, text → ``string``;
- otherwise by the first batch's values (the first non-null value's kind; integers among floats → float);
  a column with no value there → ``string``.

A later value of another kind: an integer in a float column is widened (written as a float); any value in a
text column is written as text, as the CSV writer writes it (``true``, ``12.5``, JSON for objects); anything
else (text in an integer column, a float in an integer column, an integer beyond 64 bits) is a
``RowDataError`` naming the row, the column, the type and where it was decided, and nothing is written (the
file is written to a temporary sibling). Columns are converted whole by Arrow; only a column holding a value
of another kind is gone through value by value.
"""

from __future__ import annotations

import decimal
import operator
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, BinaryIO

from airflow_provider_cloud.exceptions import RowDataError
from airflow_provider_cloud.rows._arrow import Arrow, load_arrow
from airflow_provider_cloud.rows.batching import batched

#: Rows converted to one Arrow record batch at a time.
PARQUET_BATCH_ROWS = 4096
#: Rows of one row group (batches are gathered, as compact Arrow columns, until there are this many).
ROW_GROUP_ROWS = 65_536

#: A data set's column type (lower case) → the Parquet column's kind.
DECLARED_KINDS: dict[str, str] = {
    "integer": "int64",
    "int": "int64",
    "bigint": "int64",
    "sequence": "int64",
    "float": "float64",
    "real": "float64",
    "double": "float64",
    "number": "float64",
    "numeric": "float64",
    "boolean": "bool",
    "bool": "bool",
    "checkbox": "bool",
    "blob": "binary",
    "text": "string",
    "string": "string",
}
_NONE = type(None)
#: The Python types each kind takes as they are (Arrow converts them whole).
_TAKES: dict[str, frozenset[type]] = {
    "int64": frozenset({int, _NONE}),
    "float64": frozenset({float, int, _NONE}),
    "bool": frozenset({bool, _NONE}),
    "binary": frozenset({bytes, _NONE}),
    "string": frozenset({str, _NONE}),
}
#: pyarrow's factory of each kind's type.
_FACTORY = {"int64": "int64", "float64": "float64", "bool": "bool_", "binary": "binary", "string": "string"}
_KIND_OF_VALUE: dict[type, str] = {
    bool: "bool",
    int: "int64",
    float: "float64",
    bytes: "binary",
    str: "string",
}


class Schema:
    """The kind of each column and why: ``declared`` (the data set's type) or ``inferred`` (the first rows)."""

    def __init__(self, columns: list[str], kinds: dict[str, str], why: dict[str, str]) -> None:
        self.columns = columns
        self.kinds = kinds
        self.why = why

    @classmethod
    def decide(
        cls, columns: list[str], column_types: Mapping[str, str] | None, first: list[Mapping[str, Any]]
    ) -> Schema:
        kinds: dict[str, str] = {}
        why: dict[str, str] = {}
        declared = {name: str(kind).strip().lower() for name, kind in (column_types or {}).items()}
        for name in columns:
            kind = DECLARED_KINDS.get(declared.get(name, ""))
            if kind is not None:
                kinds[name], why[name] = kind, f"the data set's type {declared[name]!r}"
                continue
            seen = {
                _KIND_OF_VALUE.get(type(row.get(name)), "string")
                for row in first
                if row.get(name) is not None
            }
            why[name] = "the first rows' values" if seen else "no value in the first rows"
            if seen == {"int64", "float64"}:
                kinds[name] = "float64"
            else:
                kinds[name] = next(iter(seen)) if len(seen) == 1 else "string"
        return cls(columns, kinds, why)

    def arrow_schema(self, arrow: Arrow) -> Any:
        pa = arrow.pa
        return pa.schema([(name, getattr(pa, _FACTORY[self.kinds[name]])()) for name in self.columns])


def write_parquet(
    binary: BinaryIO,
    rows: Iterable[Mapping[str, Any]],
    *,
    columns: list[str] | None,
    column_types: Mapping[str, str] | None,
    ignore_extra: bool,
    destination: str,
    as_text: Callable[[Any], str],
) -> int:
    """
    Write ``rows`` to the open file ``binary`` as Parquet; return how many were written.

    ``columns`` fixes the columns (else the first row's keys); a row with another column is an error unless
    ``ignore_extra``. ``as_text`` writes a value into a text column (the CSV writer's rule).
    """
    arrow = load_arrow("writing a Parquet file")
    chunks = batched(rows, PARQUET_BATCH_ROWS)
    first = next(chunks, [])
    if columns is None:
        columns = list(first[0].keys()) if first else list(column_types or {})
    schema = Schema.decide(columns, column_types, first)
    writer = arrow.pq.ParquetWriter(binary, schema.arrow_schema(arrow), compression="snappy")
    count = 0
    pending: list[Any] = []
    pending_rows = 0
    try:
        for chunk in _chain(first, chunks):
            batch = _record_batch(arrow, schema, chunk, count, ignore_extra, destination, as_text)
            pending.append(batch)
            pending_rows += len(chunk)
            count += len(chunk)
            if pending_rows >= ROW_GROUP_ROWS:
                writer.write_table(arrow.pa.Table.from_batches(pending), row_group_size=pending_rows)
                pending, pending_rows = [], 0
        if pending:
            writer.write_table(arrow.pa.Table.from_batches(pending), row_group_size=pending_rows)
    finally:
        writer.close()
    return count


def _chain(first: list[Any], rest: Iterator[list[Any]]) -> Iterator[list[Any]]:
    if first:
        yield first
    yield from rest


def _record_batch(
    arrow: Arrow,
    schema: Schema,
    chunk: list[Any],
    before: int,
    ignore_extra: bool,
    destination: str,
    as_text: Callable[[Any], str],
) -> Any:
    """Return a chunk of rows as a record batch: whole columns converted, a column of mixed kinds by value."""
    columns = schema.columns
    _check_rows(chunk, columns, ignore_extra, before, destination)
    if len(columns) > 1:
        try:
            cells = list(map(operator.itemgetter(*columns), chunk))
        except KeyError:  # a row without some column: NULL there
            cells = [tuple(map(row.get, columns)) for row in chunk]
        values: list[Any] = list(zip(*cells, strict=True)) if cells else [() for _ in columns]
    else:
        values = [[row.get(name) for row in chunk] for name in columns]
    pa = arrow.pa
    arrays = []
    for name, column in zip(columns, values, strict=True):
        kind = schema.kinds[name]
        if not set(map(type, column)) <= _TAKES[kind]:
            column = _fit(column, name, kind, schema.why[name], before, destination, as_text)
        try:
            arrays.append(pa.array(column, type=getattr(pa, _FACTORY[kind])()))
        except (OverflowError, pa.ArrowInvalid) as error:
            raise RowDataError(
                f"a value does not fit the Parquet type {kind} ({error})", source=destination, column=name
            ) from error
    return pa.RecordBatch.from_arrays(arrays, names=columns)


def _check_rows(
    chunk: list[Any], columns: list[str], ignore_extra: bool, before: int, destination: str
) -> None:
    if all(type(row) is dict for row in chunk) and (ignore_extra or all(map(set(columns).issuperset, chunk))):
        return
    for number, row in enumerate(chunk, start=before + 1):
        if not isinstance(row, Mapping):
            raise RowDataError(
                f"row {number} is a {type(row).__name__}, not a mapping of column names to values",
                source=destination,
            )
        extra = [key for key in row if key not in columns]
        if extra and not ignore_extra:
            shown = ", ".join(map(repr, columns))
            raise RowDataError(
                f"the row has column {extra[0]!r} which is not among the columns written ({shown}); "
                "pass columns=[...] to choose them, or extra_columns='ignore' to drop the others",
                source=destination,
                line=number,
                column=str(extra[0]),
            )


def _fit(
    column: Iterable[Any],
    name: str,
    kind: str,
    why: str,
    before: int,
    destination: str,
    as_text: Callable[[Any], str],
) -> list[Any]:
    """Return a column's values made to fit ``kind`` (text written as text, integers as floats), or raise."""
    fitted = []
    takes = _TAKES[kind]
    for number, value in enumerate(column, start=before + 1):
        if type(value) in takes:
            fitted.append(value)
        elif kind == "string":
            fitted.append(as_text(value))
        elif kind == "float64" and isinstance(value, decimal.Decimal | int) and not isinstance(value, bool):
            fitted.append(float(value))
        elif kind == "int64" and isinstance(value, int) and not isinstance(value, bool):
            fitted.append(int(value))  # an int subclass
        else:
            raise RowDataError(
                f"{value!r} ({type(value).__name__}) does not fit the column's Parquet type {kind}, decided by "
                f"{why}: a Parquet file has one type per column; export with format='csv' or 'jsonl', or make "
                "the data set's column hold one type",
                source=destination,
                line=number,
                column=name,
            )
    return fitted
