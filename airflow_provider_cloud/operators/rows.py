"""
Import, export and clean up rows of any service whose hook implements the RowStore contract.

The hook is found from the connection's type, so the same operators serve Datasette and CloudTables.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from airflow.sdk import BaseOperator

from airflow_provider_cloud.hooks.core import PaceWait
from airflow_provider_cloud.hooks.rowstore import RowStore, get_rowstore_hook
from airflow_provider_cloud.operators._import_defer import (
    DEFAULT_DEFER_WAITS_OVER,
    ImportPacing,
    check_defer_waits_over,
    log_summary,
    time_trigger,
)
from airflow_provider_cloud.operators._import_resume import RESUME_SETTINGS, why_not_resumable, write_import
from airflow_provider_cloud.operators._import_stream import ImportStream, NoRejects, check_before_writing
from airflow_provider_cloud.operators._lineage import (
    LineageFacts,
    export_facts,
    import_facts,
    operator_lineage,
)
from airflow_provider_cloud.operators._rows_support import (
    CursorTracker,
    check_import_options,
    csv_options_from,
    table_facts,
)
from airflow_provider_cloud.operators._templated import export_fields, import_fields, mapping
from airflow_provider_cloud.operators.cleanup import CleanupRowsOperator
from airflow_provider_cloud.operators.links import DatasetteTableLink
from airflow_provider_cloud.rows import (
    CsvOptions,
    ProgressLogger,
    Record,
    RejectsWriter,
    RowCheck,
    iter_inline_rows,
    read_records,
    write_rows,
)

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context

__all__ = ["CleanupRowsOperator", "ExportRowsOperator", "ImportRowsOperator"]

#: How the UI shows the templated fields that hold structures.
_JSON_RENDERERS = {"rows": "json", "rename": "json", "types": "json", "csv_options": "json", "where": "json"}


class ImportRowsOperator(BaseOperator):
    """
    Import rows into a data set from a CSV, JSON Lines or JSON file at any path, or from a list of rows.

    Rows are validated and converted before they are sent; a bad row fails the task (naming the file, line
    and column) or, with ``on_bad_rows="skip"``, goes to the rejects file. Imports upsert by key by
    default, so a retried task leaves the data set as one successful run would; a retry of a file import
    resumes after the rows its failed try stored (``operators/_import_resume.py``).

    :param conn_id: connection of a service with a RowStore hook (``datasette``, ``cloudtables``). (templated)
    :param dataset: the table or data set to write. (templated)
    :param source: a local path or ``ObjectStoragePath`` URL (``file://``, ``memory://``, ``s3://``...). (templated)
    :param rows: rows given inline instead of ``source``, e.g. pulled from XCom. (templated)
    :param format: ``csv``, ``jsonl``, ``json`` or ``parquet``; default: from the file name. (templated)
    :param mode: ``upsert`` (default), ``insert``, ``ignore`` or ``replace``. (templated)
    :param key: key column(s) for upsert; default: the data set's primary key. (templated)
    :param create: create the data set when it does not exist (where the service can).
    :param rename: source column → data set column. (templated)
    :param types: column → ``integer``, ``float``, ``boolean``, ``text`` or ``json``; other CSV columns are
        typed by detection unless ``detect_types=False``. (templated)
    :param batch_size: rows per request, at most the service's limit; text is read as a whole number. (templated)
    :param on_bad_rows: ``fail`` (default) or ``skip``.
    :param rejects_path: where skipped rows go, as JSON Lines with the reason. (templated)
    :param max_bad_rows: with ``skip``, fail once more rows than this were rejected.
    :param csv_options: ``CsvOptions`` or a dict of its fields (delimiter, quotechar, null_values, encoding...).
        (templated)
    :param progress_every: seconds between progress lines: rows done, the rate, and an ETA from the share of
        the file read (or of the rows given).
    :param deferrable: free the worker through long waits for a rate limit (the hook says how long): the
        task defers to a time trigger and goes on after the rows known stored (``_import_defer``).
    :param defer_waits_over: seconds; shorter waits are slept through on the worker.
    """

    template_fields: Sequence[str] = (
        *("conn_id", "dataset", "source", "rows", "format", "mode", "key", "rename", "types"),
        *("batch_size", "rejects_path", "csv_options"),
    )
    template_fields_renderers = _JSON_RENDERERS
    operator_extra_links = (DatasetteTableLink(),)
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
        deferrable: bool = True,
        defer_waits_over: float | None = DEFAULT_DEFER_WAITS_OVER,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_import_options(source, rows, on_bad_rows, rejects_path, max_bad_rows)
        self.conn_id = conn_id
        self.dataset = dataset
        self.source = source
        self.rows = rows
        self.format = format
        self.mode = mode
        self.key = key
        self.create = create
        self.rename: Any = rename  # these may be templates: read in execute (_templated)
        self.types: Any = types
        self.detect_types = detect_types
        self.batch_size = batch_size
        self.on_bad_rows = on_bad_rows
        self.rejects_path = rejects_path
        self.max_bad_rows = max_bad_rows
        self.csv_options = csv_options
        self.progress_every = progress_every
        self.defer_waits_over = check_defer_waits_over(defer_waits_over)
        self.deferrable = deferrable and self.defer_waits_over is not None
        self.lineage: LineageFacts | None = None
        self.table_page: str | None = None

    def execute(self, context: Context) -> dict[str, Any]:
        return self._import(context, resumed=False)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        return operator_lineage(self.lineage)

    def execute_complete(self, context: Context, event: Any = None) -> dict[str, Any]:
        """Go on after a deferral through a long wait for the rate limit, after the rows known stored."""
        return self._import(context, resumed=True)

    def _import(self, context: Context, *, resumed: bool) -> dict[str, Any]:
        fields = (self.format, self.mode, self.rename, self.types, self.batch_size)
        self.format, self.mode, self.rename, self.types, self.batch_size = import_fields(*fields)
        hook = get_rowstore_hook(self.conn_id)
        self.table_page = DatasetteTableLink.page_of(hook, self.dataset)
        wait_over = self.defer_waits_over if self.deferrable else None
        pacing = ImportPacing(hook, context, wait_over=wait_over, pool=self.pool, conn_id=self.conn_id)
        deferrals, started = pacing.so_far(resumed, self.log)
        try:
            with pacing.block():
                summary = self._run(hook, context, pacing)
        except PaceWait as wait:
            # Until the whole window is free (and a turn for others sharing it): see _import_defer.
            moment = max(wait.not_before, pacing.handle.free_at()) + pacing.deferring(deferrals + 1, started)
            self.log.info("Deferring, the worker free meanwhile (%.0f s): %s", moment - time.time(), wait)
            self.defer(trigger=time_trigger(moment), method_name="execute_complete")
        pacing.finished()
        return log_summary(self.log, summary, seconds=time.time() - started, deferrals=deferrals)

    def _run(self, hook: RowStore, context: Any, pacing: ImportPacing) -> dict[str, Any]:
        known, table_keys, text_columns, exists = table_facts(
            hook, self.dataset, key=self.key, create=self.create
        )
        keys = [self.key] if isinstance(self.key, str) else list(self.key or [])
        keys = keys or table_keys
        records = self._records(text_columns)
        source_name = str(getattr(records, "source", "rows"))  # the reader's name for the file: its URL
        total = len(self.rows) if isinstance(self.rows, list) else None
        progress = ProgressLogger(
            cast(Any, self.log),
            what="rows",
            total=total,
            every_seconds=self.progress_every,
            share_done=getattr(records, "share_read", None),
        )
        check = RowCheck(keys, known)
        with (
            contextlib.ExitStack() as stack,
            RejectsWriter(self.rejects_path) if self.rejects_path else NoRejects() as rejects,
        ):
            stack.callback(getattr(records, "close", lambda: None))  # release the file, even on failure
            header_line = 1 if (csv_options_from(self.csv_options) or CsvOptions()).header else None
            check_before_writing(
                records, check, rejects, source_name, header_line, self.rename, self.rejects_path
            )
            stream = ImportStream(
                records,
                check,
                source=source_name,
                rename=self.rename,
                skip_bad_rows=self.on_bad_rows == "skip",
                max_bad_rows=self.max_bad_rows,
                rejects=rejects,
                rejects_path=self.rejects_path,
                progress=progress,
            )
            grows = not exists and getattr(records, "columns", None) is None  # JSON rows making a data set
            resumable = why_not_resumable(self.mode, keys, inline=self.source is None, grows=grows)
            pacing.cannot_stop(resumable, self.log)
            write = functools.partial(
                hook.write_rows,
                self.dataset,
                mode=self.mode,
                key=self.key,
                create=self.create,
                batch_size=self.batch_size,
            )
            settings = {name: getattr(self, name) for name in RESUME_SETTINGS} | {"keys": keys}
            result, resumed = write_import(
                *(write, stream.blocks()),
                keys=keys,
                source=source_name,
                lines=stream.lines,
                batch_size=self.batch_size,
                resumable=resumable,
                settings=settings,
                context=context,
                log=self.log,
            )
        progress.finish()
        source, counts = None if self.source is None else source_name, (stream.read, resumed + result.rows)
        columns = getattr(records, "columns", None)
        self.lineage = import_facts(hook, self.dataset, source, columns, self.types, *counts, result.created)
        return {
            "dataset": self.dataset,
            "source": source_name,
            "rows_read": stream.read,
            "rows_written": resumed + result.rows,
            "rows_rejected": stream.rejected,
            "rejects_path": self.rejects_path if stream.rejected else None,
            "resumed_after": resumed,
        }

    def _records(self, text_columns: set[str]) -> Iterator[Record]:
        if self.source is not None:
            named = {column: name for name, column in self.rename.items()}  # the file's name of a column
            return read_records(
                self.source,
                format=self.format,
                csv_options=csv_options_from(self.csv_options),
                types=self.types or None,
                detect_types=self.detect_types,
                text_columns={named.get(column, column) for column in text_columns},
            )
        rows = self.rows
        if isinstance(rows, str):
            raise ValueError(
                "rows= rendered to a string, not a list of rows: a Jinja template renders text. Pass the "
                "XCom itself (rows=upstream_task.output) or set render_template_as_native_obj=True on the DAG"
            )
        return iter_inline_rows(rows or [], types=self.types or None)


class ExportRowsOperator(BaseOperator):
    """
    Export rows of a data set to a CSV, JSON Lines or JSON file at any path, incrementally by a cursor.

    The file is streamed to a temporary name and moved into place at the end, so a failed export never
    leaves a half-written file at the destination. Returns ``{"path", "rows", "cursor"}``, where ``cursor``
    is the largest ``cursor_column`` value exported (or ``since`` again when nothing new was found).
    With no rows to export, a CSV file still gets a header (``columns``, else the data set's columns).
    The hook refuses filters and columns the data set does not have before anything is read.

    :param conn_id: connection of a service with a RowStore hook. (templated)
    :param dataset: the table or data set to read. (templated)
    :param destination: a local path or ``ObjectStoragePath`` URL; ``.gz`` compresses. (templated)
    :param format: ``csv``, ``jsonl``, ``json`` or ``parquet``; default: from the file name. (templated)
    :param where: filters, e.g. ``{"status": "open", "score__gte": 10}``. (templated)
    :param columns: the columns to export, in this order (text: a JSON list or comma-separated). (templated)
    :param order_by: one column, ``"-col"`` for descending; default ``cursor_column``. (templated)
    :param cursor_column: the column whose largest exported value becomes the next cursor. (templated)
    :param since: export only rows whose ``cursor_column`` is greater than this. (templated)
    :param page_size: rows per page read; text is read as a whole number. (templated)
    :param csv_options: as for the import. (templated)
    """

    template_fields: Sequence[str] = (
        *("conn_id", "dataset", "destination", "format", "where", "columns", "order_by", "cursor_column"),
        *("since", "page_size", "csv_options"),
    )
    template_fields_renderers = _JSON_RENDERERS | {"columns": "json"}
    operator_extra_links = (DatasetteTableLink(),)
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
        self.where: Any = where  # these may be templates: read in execute (_templated)
        self.columns: Any = columns
        self.order_by = order_by
        self.cursor_column = cursor_column
        self.since = since
        self.page_size = page_size
        self.csv_options = csv_options
        self.lineage: LineageFacts | None = None
        self.table_page: str | None = None

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        return operator_lineage(self.lineage)

    def execute(self, context: Context) -> dict[str, Any]:
        fields = (self.format, self.columns, self.order_by, self.cursor_column, self.page_size)
        self.format, self.columns, self.order_by, self.cursor_column, self.page_size = export_fields(*fields)
        since = None if self.since in (None, "", "None") else self.since
        if since is not None and not self.cursor_column:  # cursor_column rendered empty
            raise ValueError("since= needs cursor_column=")
        hook = get_rowstore_hook(self.conn_id)
        self.table_page = DatasetteTableLink.page_of(hook, self.dataset)
        where = mapping(self.where, "where")
        if self.cursor_column and since is not None:
            where[f"{self.cursor_column}__gt"] = since
        columns = self.columns
        if columns and self.cursor_column and self.cursor_column not in columns:
            raise ValueError(f"columns= must include the cursor column {self.cursor_column!r}")
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
            columns = hook.describe(self.dataset).column_names or None
        summary = write_rows(
            self.destination,
            itertools.chain((first,), rows) if first is not None else rows,
            format=self.format,
            columns=columns,
            csv_options=csv_options_from(self.csv_options),
            column_types=functools.partial(hook.describe, self.dataset),  # asked for Parquet's column types
        )
        self.log.info(
            "Exported %d rows of %s to %s (cursor %r → %r)",
            summary.rows,
            self.dataset,
            summary.path,
            since,
            tracker.cursor,
        )
        self.lineage = export_facts(hook, self.dataset, path=summary.path, rows=summary.rows, columns=columns)
        return {"path": summary.path, "rows": summary.rows, "cursor": tracker.cursor}
