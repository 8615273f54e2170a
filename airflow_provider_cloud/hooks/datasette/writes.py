"""
Writing rows into a Datasette table: key checks, creating the table, feeding the planner and the sender.

:class:`TableWrite` works from the table's facts (``schema.py``) and the hook's ``request_json``; what it
learns on the way (the server's row limit, whether the table was created or may have new columns) it
keeps for the hook to apply, since the hook owns its limits and its cache of table facts.

A table this write created is dropped again when the write fails before any row was stored (a bad first
batch, a refusal): a failed import leaves no empty table behind. Only that table, and only when it is
empty, counted just before: a batch whose answer was lost may have been stored after all.
"""

from __future__ import annotations

import functools
import itertools
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, cast

from airflow_provider_cloud.exceptions import BadRequestError, CloudApiError, NotFoundError, RowDataError
from airflow_provider_cloud.hooks.datasette import reconcile
from airflow_provider_cloud.hooks.datasette.batches import Batch, BatchPlanner
from airflow_provider_cloud.hooks.datasette.reads import count_rows
from airflow_provider_cloud.hooks.datasette.sender import BatchWriter
from airflow_provider_cloud.hooks.datasette.wire import (
    SERVICE,
    Log,
    RequestJson,
    infer_column_types,
    row_path,
    table_path,
)
from airflow_provider_cloud.hooks.rowstore import DatasetInfo, WriteResult
from airflow_provider_cloud.rows.batching import RowBlocks, RowOrigin

COLUMN_TYPES = ("text", "integer", "float", "blob")
#: A write that creates its table waits for a value in every column for at most this many rows (see _Creation).
CREATE_LOOKAHEAD_ROWS = 10_000


def create_body(
    table: str, columns: Mapping[str, str] | Sequence[Mapping[str, Any]], pk: str | Sequence[str] | None
) -> dict[str, Any]:
    """Return the ``/-/create`` body for column definitions (``{name: type}`` or Datasette's dicts)."""
    defs = (
        [{"name": n, "type": t} for n, t in columns.items()]
        if isinstance(columns, Mapping)
        else [dict(c) for c in columns]
    )
    for d in defs:
        if d.get("type", "text") not in COLUMN_TYPES:
            raise ValueError(f"column {d.get('name')!r}: type must be one of {COLUMN_TYPES}")
    body: dict[str, Any] = {"table": table, "columns": defs}
    if isinstance(pk, str):
        body["pk"] = pk
    elif pk:
        body["pks"] = list(pk)
    return body


class TableWrite:
    """
    One ``write_rows`` call: checked when made (no request), run with the server's limits.

    :param checks: the hook's ``request_json`` and what checks a write whose answer was lost.
    :param database: the database name (not encoded).
    :param info: the table's facts; a table that does not exist is created only with ``create``.
    """

    def __init__(
        self,
        checks: reconcile.Checks,
        database: str,
        info: DatasetInfo,
        *,
        mode: str,
        key: str | Sequence[str] | None,
        create: bool,
        alter: bool,
        log: Log,
        window: int = 1,
    ) -> None:
        self.post = checks.get_json
        self.checks = checks
        self.database = database
        self.info = info
        self.mode = mode
        self.alter = alter
        self.log = log
        self.origin = RowOrigin()
        keys = [key] if isinstance(key, str) else list(key or [])
        if not info.exists and not create:
            raise NotFoundError(
                f"table {info.name!r} does not exist in database {database!r} (pass create=True to create it)",
                service=SERVICE,
                status_code=404,
            )
        if info.exists:
            keys = self._check_key(keys)
        elif mode == "upsert" and not keys:
            raise ValueError("upsert into a new table needs key=... to create its primary key")
        self.keys = keys
        # A rowid table's rows get their ids in the order they arrive: one write at a time keeps input order.
        self.window = window if keys else 1
        #: What the hook applies afterwards: the row limit the server taught, and whether the table's
        #: facts changed (created here or meanwhile, or written with ``alter``).
        self.learned_max_rows: int | None = None
        self.created = False
        self.facts_changed = False

    def _check_key(self, keys: list[str]) -> list[str]:
        table, table_keys = self.info.name, list(self.info.keys)
        if keys and table_keys and sorted(keys) != sorted(table_keys):
            raise ValueError(f"key {keys} does not match the primary key {table_keys} of table {table!r}")
        if self.mode == "upsert" and not table_keys:
            raise ValueError(
                f"upsert needs a primary key, and table {table!r} has none (it is a rowid table)"
            )
        return keys or table_keys

    def run(self, rows: Iterable[Mapping[str, Any]], *, max_rows: int, max_bytes: int) -> WriteResult:
        """Write ``rows`` in batches of at most ``max_rows`` rows and ``max_bytes`` bytes of body."""
        keys, exists, table = self.keys, self.info.exists, self.info.name
        origin = self.origin = rows.origin if isinstance(rows, RowBlocks) else RowOrigin()
        planner = BatchPlanner(max_rows=max_rows, max_bytes=max_bytes, key=keys, origin=origin)
        endpoint = "upsert" if self.mode == "upsert" else "insert"
        path = f"{table_path(self.database, table)}/-/{endpoint}"
        known = set(self.info.columns) if exists and self.alter else None
        check = None
        if self.mode == "insert" and keys:
            check = reconcile.RowsCheck(self.checks, self.database, table, keys)
        writer = BatchWriter(
            self.post,
            path,
            self.mode,
            alter=self.alter or not exists,
            known_columns=known,
            log=self.log,
            check=check.for_batch if check is not None else None,
            window=self.window,
            keys=keys,
        )

        creation = _Creation() if not exists else None

        def send(batch: Batch) -> None:
            writer.submit(batch)
            learned = writer.learned_max_rows  # learned on the sender's thread, applied on this one
            if learned is not None and learned < planner.max_rows:
                planner.max_rows = learned

        def submit(batches: Iterable[Batch], *, last: bool = False) -> None:
            nonlocal creation
            for batch in batches:
                if creation is None:
                    send(batch)
                elif creation.hold(batch):
                    writer.known_columns = _frozen(self._create_for(creation.held))
                    for held in creation.release():
                        send(held)
                    creation = None
            if last and creation is not None and creation.held:
                writer.known_columns = _frozen(self._create_for(creation.held))
                for held in creation.release():
                    send(held)
                creation = None

        try:
            with writer:
                if isinstance(rows, RowBlocks):
                    index = 1
                    unchecked = [k for k in keys if k not in rows.keys_checked]
                    for block in rows.blocks():  # the hot loop: a list of rows at a time
                        missing = _first_without_key(block, unchecked)
                        if missing is not None:
                            offset, k = missing
                            submit(planner.add_block(block[:offset], index))  # as row by row would
                            raise _no_key(k, origin.line(index + offset), origin.source)
                        submit(planner.add_block(block, index))
                        index += len(block)
                else:
                    add = planner.add
                    for index, row in enumerate(rows, start=1):  # the hot loop: kept lean
                        for k in keys:
                            if row.get(k) is None:
                                raise _no_key(k, origin.line(index), origin.source)
                        full = add(row, index)
                        if full:
                            submit(full)
                submit(planner.drain(), last=True)
        except Exception as exc:
            if self.created and writer.rows == 0:
                self._drop_if_empty()
            if isinstance(exc, CloudApiError):
                raise _restated(exc) from exc.__cause__
            raise
        finally:
            self.learned_max_rows = writer.learned_max_rows
            self.facts_changed = self.facts_changed or writer.sent_alter
        return WriteResult(rows=writer.rows, requests=writer.batches, created=self.created)

    def _create_for(self, batches: list[Batch]) -> set[str] | None:
        """Create the table from the first batches' columns and types; return its columns (``None``: unknown)."""
        table, keys = self.info.name, self.keys
        types = infer_column_types(itertools.chain.from_iterable(batch.rows for batch in batches))
        missing = [k for k in keys if k not in types]
        if missing:
            raise RowDataError(
                f"key column(s) {missing} missing from the rows",
                source=self.origin.source,
                line=self.origin.line(batches[0].first_index),
            )
        ordered = {k: types[k] for k in keys} | {n: t for n, t in types.items() if n not in keys}
        self.facts_changed = True
        body = create_body(table, ordered, keys)
        try:
            reconcile.create_table(self.database, body, self.checks, log=self.log)
        except BadRequestError as exc:
            if not reconcile.already_exists(exc):
                raise
            self.log.info("Table %s was created meanwhile; writing into it", table)
            return None
        self.created = True
        self.log.info("Created table %s with columns %s and key %s", table, list(ordered), keys or "rowid")
        return set(ordered)

    def _drop_if_empty(self) -> None:
        """Drop the table this write created, if it is still empty (the write failed before storing a row)."""
        table, path = self.info.name, table_path(self.database, self.info.name)
        try:
            count = count_rows(self.post, self.database, table, [], log=self.log)
            if count == 0:
                self.post("POST", f"{path}/-/drop", json_body={"confirm": True}, idempotent=True)
        except CloudApiError as exc:
            self.log.warning(
                "The write failed; dropping table %s, which it created, failed too: %s", table, exc
            )
            return
        if count == 0:
            self.log.warning(
                "The write failed before storing any row: dropped table %s, which it created", table
            )
        else:
            held = "rows that could not be counted" if count is None else f"{count} rows"
            self.log.warning("The write failed; table %s, which it created, holds %s: kept", table, held)


def update_row(
    post: RequestJson, table_path: str, key: Sequence[Any] | Any, updates: Mapping[str, Any], alter: bool
) -> dict[str, Any]:
    """Update some columns of one row and return the row as stored (``row`` on servers before 1.0a36)."""
    body = {"update": dict(updates), "return": True, "alter": alter}
    payload = post("POST", f"{table_path}/{row_path(key)}/-/update", json_body=body, idempotent=True)
    rows = payload.get("rows") or ([payload["row"]] if payload.get("row") else [])
    return dict(rows[0]) if rows else {}


def delete_keys(post: RequestJson, database: str, table: str, keys: Iterable[Sequence[Any] | Any]) -> int:
    """Delete rows one by one by primary key value(s); return how many were there to delete."""
    deleted = 0
    for key in keys:
        try:
            post("POST", f"{table_path(database, table)}/{row_path(key)}/-/delete", idempotent=True)
        except NotFoundError:
            continue
        deleted += 1
    return deleted


def _restated(exc: CloudApiError) -> CloudApiError:
    """
    Rebuild an API error whose ``errors`` grew after it was raised, so that its text shows them all.

    The batch writer appends which input rows a failed batch held; the text of an exception is fixed
    when it is made, so without this the note would be on ``errors`` only, not in the message.
    """
    if all(e in str(exc) for e in exc.errors):
        return exc
    # Pickling's recipe: the class and every argument, ``errors`` as they are now.
    rebuild, arguments = cast(tuple[Callable[..., CloudApiError], tuple[Any, ...]], exc.__reduce__()[:2])
    return rebuild(*arguments)


_IS_NONE = functools.partial(operator.is_, None)


def _frozen(columns: set[str] | None) -> frozenset[str] | None:
    return None if columns is None else frozenset(columns)


def _first_without_key(rows: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> tuple[int, str] | None:
    """Return where the first row without a key value is, and which key (the first it lacks), if any."""
    found: tuple[int, str] | None = None
    for k in keys:
        values = [row.get(k) for row in rows]
        if any(map(_IS_NONE, values)):
            offset = next(i for i, value in enumerate(values) if value is None)
            if found is None or offset < found[0]:
                found = (offset, k)
    return found


def _no_key(column: str, index: int, source: str) -> RowDataError:
    return RowDataError("the row has no value for its key", source=source, line=index, column=column)


class _Creation:
    """
    The first batches of a write that creates its table, held until each of their columns has a value.

    A column's type is taken from its values when the table is created, and a column whose first rows are all
    NULL would be created as TEXT: the numbers that come later would be stored as text. So batches wait (up
    to :data:`CREATE_LOOKAHEAD_ROWS` rows) until every column has shown a value; a column still empty then is
    created as TEXT.
    """

    def __init__(self) -> None:
        self.held: list[Batch] = []
        self._rows = 0
        self._empty: set[str] = set()
        self._typed: set[str] = set()

    def hold(self, batch: Batch) -> bool:
        """Hold a batch; return whether the table can be created now (from :attr:`held`)."""
        self.held.append(batch)
        self._rows += len(batch)
        for column in batch.columns - self._typed:
            if any(row.get(column) is not None for row in batch.rows):
                self._typed.add(column)
                self._empty.discard(column)
            else:
                self._empty.add(column)
        return not self._empty or self._rows >= CREATE_LOOKAHEAD_ROWS

    def release(self) -> list[Batch]:
        held, self.held = self.held, []
        return held
