"""
Import, export and clean up rows of any service whose hook implements the RowStore contract.

The hook is found from the connection's type, so the same operators serve Datasette and CloudTables.
"""

from __future__ import annotations

import contextlib
import itertools
import operator
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException

from airflow_provider_cloud.hooks.rowstore import RowStore, get_rowstore_hook
from airflow_provider_cloud.operators._rows_support import (
    CursorTracker,
    NoRejects,
    check_columns,
    csv_options_from,
    dataset_columns,
    do_nothing,
    record_blocks,
    rows_written,
)
from airflow_provider_cloud.rows import (
    CsvOptions,
    GoodRows,
    ProgressLogger,
    Record,
    RejectsWriter,
    RowBlocks,
    RowCheck,
    iter_inline_rows,
    read_records,
    write_rows,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

ON_BAD_ROWS = ("fail", "skip")
#: Progress is counted every 1,024 rows read or so (once per block of rows).
_PROGRESS_EVERY = 1024
_ERROR_OF = operator.attrgetter("error")
_DATA_OF = operator.attrgetter("data")


class ImportRowsOperator(BaseOperator):
    """
    Import rows into a data set from a CSV, JSON Lines or JSON file at any path, or from a list of rows.

    Rows are validated and converted before they are sent; a bad row fails the task (naming the file, line
    and column) or, with ``on_bad_rows="skip"``, goes to the rejects file. Imports upsert by key by
    default, so a retried task leaves the data set as one successful run would.

    :param conn_id: connection of a service with a RowStore hook (``datasette``, ``cloudtables``). (templated)
    :param dataset: the table or data set to write. (templated)
    :param source: a local path or ``ObjectStoragePath`` URL (``file://``, ``memory://``, ``s3://``...). (templated)
    :param rows: rows given inline instead of ``source``, e.g. pulled from XCom. (templated)
    :param format: ``csv``, ``jsonl`` or ``json``; default: from the file name.
    :param mode: ``upsert`` (default), ``insert``, ``ignore`` or ``replace``.
    :param key: key column(s) for upsert; default: the data set's primary key. (templated)
    :param create: create the data set when it does not exist (where the service can).
    :param rename: source column → data set column.
    :param types: column → ``integer``, ``float``, ``boolean``, ``text`` or ``json``; other CSV columns are
        typed by detection unless ``detect_types=False``.
    :param batch_size: rows per request, at most the service's limit.
    :param on_bad_rows: ``fail`` (default) or ``skip``.
    :param rejects_path: where skipped rows go, as JSON Lines with the reason. (templated)
    :param max_bad_rows: with ``skip``, fail once more rows than this were rejected.
    :param csv_options: ``CsvOptions`` or a dict of its fields (delimiter, quotechar, null_values, encoding...).
    :param progress_every: seconds between progress lines: rows done, the rate, and an ETA from the share of
        the file read (or of the rows given).
    """

    template_fields: Sequence[str] = ("conn_id", "dataset", "source", "rows", "key", "rejects_path")
    ui_color = "#d6ecf3"

    def __init__(
        self,
        *,
        conn_id: str,
        dataset: str,
        source: str | None = None,
        rows: Iterable[Mapping[str, Any]] | str | None = None,
        format: str | None = None,
        mode: str = "upsert",
        key: str | Sequence[str] | None = None,
        create: bool = False,
        rename: Mapping[str, str] | None = None,
        types: Mapping[str, Any] | None = None,
        detect_types: bool = True,
        batch_size: int | None = None,
        on_bad_rows: str = "fail",
        rejects_path: str | None = None,
        max_bad_rows: int | None = None,
        csv_options: Mapping[str, Any] | CsvOptions | None = None,
        progress_every: float = 30.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if (source is None) == (rows is None):
            raise ValueError("give exactly one of source= or rows=")
        if on_bad_rows not in ON_BAD_ROWS:
            raise ValueError(f"on_bad_rows must be one of {ON_BAD_ROWS}, got {on_bad_rows!r}")
        if on_bad_rows == "skip" and not rejects_path:
            raise ValueError('on_bad_rows="skip" needs rejects_path= so that skipped rows are kept')
        if max_bad_rows is not None and max_bad_rows < 0:
            raise ValueError("max_bad_rows must be 0 or more")
        self.conn_id = conn_id
        self.dataset = dataset
        self.source = source
        self.rows = rows
        self.format = format
        self.mode = mode
        self.key = key
        self.create = create
        self.rename = dict(rename or {})
        self.types = dict(types or {})
        self.detect_types = detect_types
        self.batch_size = batch_size
        self.on_bad_rows = on_bad_rows
        self.rejects_path = rejects_path
        self.max_bad_rows = max_bad_rows
        self.csv_options = csv_options
        self.progress_every = progress_every

    def execute(self, context: Context) -> dict[str, Any]:
        started = time.monotonic()
        hook = get_rowstore_hook(self.conn_id)
        known, table_keys = self._table_facts(hook)
        keys = [self.key] if isinstance(self.key, str) else list(self.key or [])
        keys = keys or table_keys
        counts = {"read": 0, "rejected": 0}
        records = self._records()
        # The reader's name for the file (its URL), so that every error and the summary say the same.
        source_name = str(getattr(records, "source", "rows"))
        total = len(self.rows) if isinstance(self.rows, list) else None
        progress = ProgressLogger(
            cast(Any, self.log),
            what="rows",
            total=total,
            every_seconds=self.progress_every,
            share_done=getattr(records, "share_read", None),
        )
        with (
            contextlib.ExitStack() as stack,
            RejectsWriter(self.rejects_path) if self.rejects_path else NoRejects() as rejects,
        ):
            stack.callback(getattr(records, "close", do_nothing))  # release the file, even on failure
            # Rows in lists: a hook that knows RowBlocks takes a list at a time, any other iterates rows.
            good: RowBlocks[dict[str, Any]] = RowBlocks(
                self._good_blocks(records, RowCheck(keys, known), counts, rejects, source_name, progress),
                keys_checked=keys,
            )
            result = hook.write_rows(
                self.dataset,
                good,
                mode=self.mode,
                key=self.key,
                create=self.create,
                batch_size=self.batch_size,
            )
        progress.finish()
        written = rows_written(result)
        summary = {
            "dataset": self.dataset,
            "source": source_name,
            "rows_read": counts["read"],
            "rows_written": written,
            "rows_rejected": counts["rejected"],
            "rejects_path": self.rejects_path if counts["rejected"] else None,
            "seconds": round(time.monotonic() - started, 3),
        }
        self.log.info(
            "Imported %d of %d rows into %s (%d rejected) in %.1f s",
            written,
            counts["read"],
            self.dataset,
            counts["rejected"],
            summary["seconds"],
        )
        return summary

    def _records(self) -> Iterator[Record]:
        if self.source is not None:
            return read_records(
                self.source,
                format=self.format,
                csv_options=csv_options_from(self.csv_options),
                types=self.types or None,
                detect_types=self.detect_types,
            )
        rows = self.rows
        if isinstance(rows, str):
            raise ValueError(
                "rows= rendered to a string, not a list of rows: a Jinja template renders text. Pass the "
                "XCom itself (rows=upstream_task.output) or set render_template_as_native_obj=True on the DAG"
            )
        return iter_inline_rows(rows or [], types=self.types or None)

    def _table_facts(self, hook: RowStore) -> tuple[set[str] | None, list[str]]:
        """
        Return the data set's columns (when no new columns may be added) and its key columns.

        Both come from the hook where it can tell (``get_columns``, ``get_primary_keys``), so that a row
        with an unknown column or without its key is reported with its file, line and column, or
        skipped, before its batch is sent; without ``key=``, the data set's primary key is checked,
        as the hook itself would. A data set that does not exist yet has neither.
        """
        known: set[str] | None = None
        keys: list[str] = []
        get_columns = getattr(hook, "get_columns", None)
        get_primary_keys = getattr(hook, "get_primary_keys", None)
        try:
            if get_columns is not None and not self.create:
                known = set(get_columns(self.dataset))
            if get_primary_keys is not None and not self.key:
                keys = list(get_primary_keys(self.dataset))
        except Exception:  # the write itself reports a missing data set with the service's own error
            return None, []
        return known, keys

    def _good_blocks(
        self,
        records: Iterator[Record],
        check: RowCheck,
        counts: dict[str, int],
        rejects: RejectsWriter | NoRejects,
        source: str,
        progress: ProgressLogger,
    ) -> Iterator[list[dict[str, Any]]]:
        """
        Yield the good rows in lists, a block of the reader at a time; bad rows fail or are rejected.

        A block with a bad row is gone through row by row, and the good rows before a failing one are
        yielded before the failure, so the writer sees exactly the rows a row-by-row import would.
        """
        rename = self.rename
        checked = check.checks_anything
        read = 0
        try:
            for block in record_blocks(records):  # the hot loop: whole blocks where all is well
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
                        if read - progress.done >= _PROGRESS_EVERY:
                            progress.update(read - progress.done)
                        yield rows
                        continue
                good: list[dict[str, Any]] = []
                for record in block.records() if isinstance(block, GoodRows) else block:
                    error = record.error
                    row = record.data
                    if error is None and row is not None:
                        if rename:
                            row = {rename.get(k, k): v for k, v in row.items()}
                        if (
                            not checked
                            or (error := check.error(row, source=source, line=record.line)) is None
                        ):
                            read += 1
                            good.append(row)
                            continue
                    assert error is not None
                    if good:
                        yield good
                        good = []
                    read += 1
                    counts["read"] = read
                    if self.on_bad_rows == "fail":
                        raise error
                    rejects.reject(error, row=row if row is not None else record.data, raw=record.raw)
                    counts["rejected"] += 1
                    if self.max_bad_rows is not None and counts["rejected"] > self.max_bad_rows:
                        raise AirflowException(
                            f"{source}: more than {self.max_bad_rows} bad rows (the last: {error}); "
                            f"stopped the import, rejects so far are in {self.rejects_path}"
                        )
                if good:
                    yield good
        finally:
            counts["read"] = read
            progress.update(read - progress.done)


class ExportRowsOperator(BaseOperator):
    """
    Export rows of a data set to a CSV, JSON Lines or JSON file at any path, incrementally by a cursor.

    The file is streamed to a temporary name and moved into place at the end, so a failed export never
    leaves a half-written file at the destination. Returns ``{"path", "rows", "cursor"}``, where ``cursor``
    is the largest ``cursor_column`` value exported (or ``since`` again when nothing new was found).
    With no rows to export, a CSV file still gets a header (``columns``, else the data set's columns).
    Filters and columns are checked against the data set's columns, where the hook can list them.

    :param conn_id: connection of a service with a RowStore hook. (templated)
    :param dataset: the table or data set to read. (templated)
    :param destination: a local path or ``ObjectStoragePath`` URL; ``.gz`` compresses. (templated)
    :param format: ``csv``, ``jsonl`` or ``json``; default: from the file name.
    :param where: filters, e.g. ``{"status": "open", "score__gte": 10}``. (templated)
    :param columns: the columns to export, in this order.
    :param order_by: one column, ``"-col"`` for descending; default ``cursor_column``.
    :param cursor_column: the column whose largest exported value becomes the next cursor.
    :param since: export only rows whose ``cursor_column`` is greater than this. (templated)
    """

    template_fields: Sequence[str] = ("conn_id", "dataset", "destination", "where", "since")
    ui_color = "#e8f4d9"

    def __init__(
        self,
        *,
        conn_id: str,
        dataset: str,
        destination: str,
        format: str | None = None,
        where: Mapping[str, Any] | None = None,
        columns: Sequence[str] | None = None,
        order_by: str | None = None,
        cursor_column: str | None = None,
        since: Any = None,
        page_size: int | None = None,
        csv_options: Mapping[str, Any] | CsvOptions | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if since is not None and cursor_column is None:
            raise ValueError("since= needs cursor_column=")
        self.conn_id = conn_id
        self.dataset = dataset
        self.destination = destination
        self.format = format
        self.where = dict(where or {})
        self.columns = list(columns) if columns else None
        self.order_by = order_by
        self.cursor_column = cursor_column
        self.since = since
        self.page_size = page_size
        self.csv_options = csv_options

    def execute(self, context: Context) -> dict[str, Any]:
        hook = get_rowstore_hook(self.conn_id)
        where = dict(self.where)
        since = None if self.since in (None, "", "None") else self.since
        if self.cursor_column and since is not None:
            where[f"{self.cursor_column}__gt"] = since
        columns = self.columns
        if columns and self.cursor_column and self.cursor_column not in columns:
            raise ValueError(f"columns= must include the cursor column {self.cursor_column!r}")
        table_columns = check_columns(
            hook, self.dataset, where, [c for c in (self.cursor_column, *(columns or ())) if c]
        )
        tracker = CursorTracker(self.cursor_column, since)
        rows = tracker.track(
            hook.iter_rows(
                self.dataset,
                where=where or None,
                columns=columns,
                order_by=self.order_by or self.cursor_column,
                page_size=self.page_size,
            )
        )
        first = next(rows, None)
        if first is None and columns is None:
            # No rows: the first row cannot name the columns, so a CSV file gets the data set's
            # columns as its header (readers refuse a CSV file without one).
            columns = table_columns if table_columns is not None else dataset_columns(hook, self.dataset)
        summary = write_rows(
            self.destination,
            itertools.chain((first,), rows) if first is not None else rows,
            format=self.format,
            columns=columns,
            csv_options=csv_options_from(self.csv_options),
        )
        self.log.info(
            "Exported %d rows of %s to %s (cursor %r → %r)",
            summary.rows,
            self.dataset,
            summary.path,
            since,
            tracker.cursor,
        )
        return {"path": summary.path, "rows": summary.rows, "cursor": tracker.cursor}


class CleanupRowsOperator(BaseOperator):
    """
    Delete the rows of a data set that match a filter, with a dry run and a safety limit.

    Returns how many rows were deleted (or, with ``dry_run``, would be). A filter on a column the data
    set does not have is refused before anything is counted or deleted (where the hook can list columns).

    :param conn_id: connection of a service with a RowStore hook. (templated)
    :param dataset: the table or data set. (templated)
    :param where: filters, e.g. ``{"updated_at__lt": "{{ macros.ds_add(ds, -30) }}"}``; ``{}`` matches
        every row. (templated)
    :param dry_run: only count the matching rows.
    :param max_rows: refuse to delete more rows than this (``None``: no limit).
    :param allow_more: delete even when more than ``max_rows`` rows match.
    """

    template_fields: Sequence[str] = ("conn_id", "dataset", "where")
    ui_color = "#f6e0d9"

    def __init__(
        self,
        *,
        conn_id: str,
        dataset: str,
        where: Mapping[str, Any],
        dry_run: bool = False,
        max_rows: int | None = 10_000,
        allow_more: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if where is None:
            raise ValueError("where= is required; use {} to delete every row")
        if max_rows is not None and max_rows < 0:
            raise ValueError("max_rows must be 0 or more")
        self.conn_id = conn_id
        self.dataset = dataset
        self.where = where
        self.is_dry_run = dry_run
        self.max_rows = max_rows
        self.allow_more = allow_more

    def execute(self, context: Context) -> int:
        hook = get_rowstore_hook(self.conn_id)
        where = dict(self.where)
        check_columns(hook, self.dataset, where, [])
        matching = hook.delete_rows(self.dataset, where=where, dry_run=True)
        if self.is_dry_run:
            self.log.info("Dry run: %d rows of %s match %s; nothing deleted", matching, self.dataset, where)
            return matching
        if self.max_rows is not None and matching > self.max_rows and not self.allow_more:
            raise AirflowException(
                f"{matching} rows of {self.dataset!r} match {where}, more than max_rows={self.max_rows}; "
                "nothing was deleted (raise max_rows or pass allow_more=True)"
            )
        deleted = hook.delete_rows(self.dataset, where=where)
        self.log.info("Deleted %d rows of %s matching %s", deleted, self.dataset, where)
        return deleted
