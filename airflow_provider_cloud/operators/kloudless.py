"""
Kloudless file operators: download the files events point to (or given ids) and upload files.

Both move several files at once, up to the hook's window (``KloudlessHook.download_files`` and ``upload_files``;
the connection extra ``window`` or the hook's default), with results in the order of the files. Events are
never read here: the sensor reads them, one page after another.

Only small summaries travel through XCom - file ids, names, paths and sizes, never contents: the bytes go to
an ``ObjectStoragePath`` (``file://`` for a single machine, ``s3://`` or ``gs://`` on a cluster) that the next
task reads, for instance with :class:`~airflow_provider_cloud.operators.rows.ImportRowsOperator`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator, ObjectStoragePath
from airflow.sdk.exceptions import AirflowException

from airflow_provider_cloud.hooks.kloudless import ROOT_FOLDER, KloudlessHook
from airflow_provider_cloud.operators._kloudless_selection import (
    DEFAULT_EVENT_TYPES,
    FileFilter,
    FileRef,
    events_from,
    is_unset,
    path_of,
    select_files,
    unique_file_names,
    upload_sources,
)
from airflow_provider_cloud.operators._lineage import (
    LineageFacts,
    download_facts,
    kloudless_account,
    operator_lineage,
    upload_facts,
)
from airflow_provider_cloud.operators._templated import has_template, names
from airflow_provider_cloud.rows.paths import as_storage_path

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context

#: The most files one download task fetches unless told otherwise (the sensor's default batch is 100 events).
DEFAULT_MAX_FILES = 100


def file_path(result: Mapping[str, Any]) -> str:
    """
    Return the path of one download result: ``download.output.map(file_path)`` lists the downloaded paths.

    Airflow maps only over a task's return value, not over other XCom keys, hence this helper.
    """
    return str(result["path"])


def _file_ids(file_id: str | Sequence[str]) -> list[str]:
    ids = [file_id] if isinstance(file_id, str) else list(file_id)
    out: list[str] = []
    for item in ids:
        if is_unset(item) or not isinstance(item, str | int) or isinstance(item, bool):
            raise ValueError(f"file_id must be a file id or a list of file ids, got {item!r}")
        if str(item).strip() not in out:
            out.append(str(item).strip())
    return out


def _earlier_tries_since(context: Mapping[str, Any]) -> datetime | None:
    """Return the start of the DAG run when this is a retry (its earlier tries' uploads came after it), else ``None``."""
    try_number = getattr(context.get("ti"), "try_number", None) or 1
    started = getattr(context.get("dag_run"), "start_date", None)
    return started if try_number > 1 and isinstance(started, datetime) else None


class KloudlessDownloadFileOperator(BaseOperator):
    """
    Download Kloudless files - the ones a batch of events points to, or given ids - into an ObjectStoragePath.

    With ``events`` (the :class:`~airflow_provider_cloud.sensors.kloudless.KloudlessEventsSensor`'s XCom, or its
    ``events`` list) the files are chosen as :mod:`~airflow_provider_cloud.operators._kloudless_selection`
    describes: one per file id (its latest event wins), no folders, no deleted files, filtered by event type,
    name glob and mime type. With ``file_id`` the given files are downloaded as they are.

    ``destination`` is a folder when it ends with ``/`` or names an existing folder: each file goes there under
    its Kloudless name (made a safe single path segment; a name taken twice in one batch gets the file id
    added: ``data.<id>.csv``). Otherwise it is the full path of the one file to download (more than one file is
    an error). Each file is streamed into a temporary sibling and moved into place when complete, so a reader
    never sees a half-written file; an existing file is replaced.

    Several files download at once, up to the hook's window (the connection extra ``window``, else
    ``KloudlessHook.default_window``); the results, the names and what ``skip_missing`` skips are the same
    whatever order they finish in. The first failure stops new downloads: those in flight finish (each file is
    there whole or not at all) and the task fails with that error.

    Returns, in the order of the events (or of ``file_id``), ``[{"file_id", "name", "path", "size"}, ...]`` with
    ``path`` the destination URL as text (e.g. ``file:///data/in/new.csv``). To import each file, map the
    import over the paths (:func:`file_path` picks the path out of one result)::

        download = KloudlessDownloadFileOperator(
            task_id="download", events=wait.output, name_pattern="*.csv", destination=base + "/{{ run_id }}/"
        )
        ImportRowsOperator.partial(task_id="import", conn_id="datasette", dataset="t").expand(
            source=download.output.map(file_path)
        )

    A batch with no matching file returns ``[]``; a task mapped over it is then skipped, so give the task that
    commits the cursor ``trigger_rule="none_failed"``, or the cursor never moves past such a batch.

    More matching files than ``max_files`` fail the task before anything is downloaded, because committing the
    batch's cursor afterwards would lose the rest; with ``truncate=True`` only the first ``max_files`` are
    downloaded instead (and the rest are logged as left out).

    A file that is gone when it is fetched (404) fails the task with
    :class:`~airflow_provider_cloud.exceptions.NotFoundError` when it was asked for by ``file_id``. For events,
    the default ``skip_missing=None`` skips it with a warning instead: a delete after the batch's last event is
    not in the batch, and failing would make every retry of the batch fail too.

    :param conn_id: the Kloudless connection id. (templated)
    :param account_id: the account (default: the connection's, else ``me``). (templated)
    :param destination: a folder (ending with ``/``) or a file path, local or any ObjectStoragePath URL. (templated)
    :param file_id: a file id, or a list of them, instead of ``events``. (templated)
    :param events: the sensor's XCom value or its ``events`` list, instead of ``file_id``. (templated)
    :param event_types: event types that make a file wanted (default ``("add", "update")``; ``None``: every
        type but ``delete``). (templated)
    :param name_pattern: a glob, or several, the file name must match, e.g. ``"*.csv"`` (any case); text is
        one glob, comma-separated globs or a list literal. (templated)
    :param mime_types: globs the file's mime type must match, e.g. ``["text/csv", "application/vnd.ms-excel"]``.
        (templated)
    :param max_files: the most files one run downloads (default 100).
    :param truncate: download the first ``max_files`` files when more match, instead of failing.
    :param skip_missing: skip files that are gone (404) instead of failing; default: skip for ``events``,
        fail for ``file_id``.
    """

    template_fields: Sequence[str] = (
        *("conn_id", "account_id", "destination", "file_id", "events", "event_types", "name_pattern"),
        "mime_types",
    )
    template_fields_renderers = {"events": "json", "event_types": "json", "mime_types": "json"}
    ui_color = "#f0e4d8"

    def __init__(
        self,
        *,
        destination: str | ObjectStoragePath,
        conn_id: str = KloudlessHook.default_conn_name,
        account_id: str | int | None = None,
        file_id: str | Sequence[str] | None = None,
        events: Any = None,
        event_types: str | Iterable[str] | None = DEFAULT_EVENT_TYPES,
        name_pattern: str | Iterable[str] | None = None,
        mime_types: str | Iterable[str] | None = None,
        max_files: int = DEFAULT_MAX_FILES,
        truncate: bool = False,
        skip_missing: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if (file_id is None) == (events is None):
            raise ValueError("give exactly one of file_id= or events=")
        if isinstance(max_files, bool) or not isinstance(max_files, int) or max_files < 1:
            raise ValueError(f"max_files must be a positive integer, got {max_files!r}")
        self.conn_id = conn_id
        self.account_id = account_id
        self.destination = destination
        self.file_id = file_id
        self.events = events
        if not has_template(
            event_types, name_pattern, mime_types
        ):  # plain values fail here; templates in execute
            FileFilter.build(event_types, name_pattern, mime_types)
        self.event_types: Any = event_types
        self.name_pattern: Any = name_pattern
        self.mime_types: Any = mime_types
        self.max_files = max_files
        self.truncate = truncate
        self.skip_missing = skip_missing
        self.lineage: LineageFacts | None = None

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        return operator_lineage(self.lineage)

    def execute(self, context: Context) -> list[dict[str, Any]]:
        hook = KloudlessHook(self.conn_id, account_id=None if is_unset(self.account_id) else self.account_id)
        try:
            by_events = self.file_id is None
            files = self._bounded(self._from_events() if by_events else self._from_ids(hook))
            targets = self._targets(files)
            skip_missing = by_events if self.skip_missing is None else self.skip_missing
            jobs = [(ref.file_id, target) for ref, target in zip(files, targets, strict=True)]
            downloaded = hook.download_files(jobs, missing_ok=skip_missing)
        finally:
            hook.close()
        results: list[dict[str, Any]] = []
        moved: list[tuple[str, str | None, str, int | None]] = []
        for ref, done in zip(files, downloaded, strict=True):
            if done is None:
                self.log.warning("Kloudless file %s (%s) is gone: skipped", ref.file_id, ref.name)
                continue
            results.append(
                {"file_id": ref.file_id, "name": ref.name, "path": done["path"], "size": done["size"]}
            )
            moved.append((ref.file_id, ref.path, done["path"], done["size"]))
        self.lineage = download_facts(kloudless_account(self.conn_id, self.account_id), moved)
        self.log.info(
            "Downloaded %d Kloudless files (%d bytes)", len(results), sum(r["size"] for r in results)
        )
        return results

    def _from_events(self) -> list[FileRef]:
        events = events_from(self.events)
        file_filter = FileFilter.build(
            self.event_types if self.event_types is None else names(self.event_types, "event_types"),
            names(self.name_pattern, "name_pattern"),
            names(self.mime_types, "mime_types"),
        )
        selection = select_files(events, file_filter)
        self.log.info(
            "%d files to download from %d events; left out: %s",
            len(selection.files),
            len(events),
            ", ".join(f"{reason} {n}" for reason, n in sorted(selection.skipped.items())) or "none",
        )
        return selection.files

    def _from_ids(self, hook: KloudlessHook) -> list[FileRef]:
        refs: list[FileRef] = []
        file_ids = _file_ids(self.file_id or [])
        for file_id, metadata in zip(file_ids, hook.get_files_metadata(file_ids), strict=True):
            if metadata.get("type") == "folder":  # a missing file: NotFoundError names it and the account
                raise ValueError(f"Kloudless item {file_id!r} is a folder, not a file")
            mime_type = metadata.get("mime_type")
            name = str(metadata.get("name") or "")
            refs.append(FileRef(file_id, name, mime_type and str(mime_type), path=path_of(metadata)))
        return refs

    def _bounded(self, files: list[FileRef]) -> list[FileRef]:
        if len(files) <= self.max_files:
            return files
        if not self.truncate:
            raise AirflowException(
                f"{self.task_id}: {len(files)} files match, more than max_files={self.max_files}; nothing was "
                "downloaded. Raise max_files (or lower the sensor's max_events), or set truncate=True to "
                "download only the first ones"
            )
        left_out = files[self.max_files :]
        self.log.warning(
            "%d files match, more than max_files=%d: leaving out %s",
            len(files),
            self.max_files,
            ", ".join(f"{ref.file_id} ({ref.name})" for ref in left_out),
        )
        return files[: self.max_files]

    def _targets(self, files: list[FileRef]) -> list[ObjectStoragePath]:
        """Return each file's destination path (see the class docstring for folder and file destinations)."""
        destination = self.destination
        if is_unset(destination):
            raise ValueError(
                f"{self.task_id}: destination= is empty; give a folder ending with '/' or a path"
            )
        if isinstance(destination, str):
            destination = destination.strip()
            named_folder = destination.endswith(("/", os.sep))
        else:
            named_folder = False
        base = as_storage_path(destination)
        folder = named_folder or (base.fs.isdir(base.path) and not base.fs.isfile(base.path))
        if folder:
            return [base / name for name in unique_file_names(files)]
        if len(files) > 1:
            raise ValueError(
                f"{self.task_id}: destination {base} is one file but {len(files)} files are to be downloaded; "
                "end it with '/' to make it a folder"
            )
        return [base] * len(files)


class KloudlessUploadFileOperator(BaseOperator):
    """
    Upload a file, or several (a list, a folder, a glob), from any ObjectStoragePath into a Kloudless folder.

    The bytes are streamed as they are. With ``overwrite`` a file of the same name is replaced (an ``update``
    event) and keeps its id. Without it, a file of the same name that was there before fails the task with
    :class:`~airflow_provider_cloud.exceptions.ConflictError`, and an upload whose answer was lost is checked
    and not sent twice (``hooks/kloudless/uploads.py``).

    ``source`` is one file (text, path or ObjectStoragePath), or several: a list of files (a mapped task's
    output too), a folder (ending with ``/``, or an existing one: the files directly in it), or a glob
    (``/data/out/*.csv``, ``s3://bucket/day/**/*.csv``); folders and globs give their files sorted by path, hidden
    names (``.name``) left out (``_kloudless_selection.upload_sources`` has the rules). Several files upload
    at once, up to the hook's window (the connection extra ``window``, else ``KloudlessHook.default_window``),
    each under its own name: two sources of one name (without regard to case) fail the task before anything is
    sent, since they would race for one name in one folder. The first failure stops new uploads; those in
    flight finish, and a retry takes them for its own (below). The order in which their ``add`` events come
    is the order in which the service stored them, not the order of the sources.

    A retry of the task (try 2 on) does not fail on its own earlier try's uploads. Decision: the file of that
    name counts as the earlier try's when it has the source's size (and checksum, when the service reports
    one) and was created since the DAG run started (less 30 s for the clocks); it is then returned as if
    uploaded now. A file created before the run started, or of another size, still fails the retry. A first
    try never takes an existing file for its own. Airflow moves a finished run's start to the time it is
    cleared, so after clearing one, a file from before the clearing fails too. With several sources the rule
    holds for each: those the earlier try uploaded are taken, the rest are uploaded.

    Returns, for one file, ``{"file_id", "name", "size", "path"}``: the new file's id, name and size, and its
    Kloudless path (e.g. ``/reports/out.csv``); for several, a list of these in the order of the sources
    (``[]`` for an empty folder or a glob matching nothing).

    :param source: the file to upload, or a list of files, a folder or a glob. (templated)
    :param conn_id: the Kloudless connection id. (templated)
    :param account_id: the account (default: the connection's, else ``me``). (templated)
    :param parent_id: the id of the folder to upload into (default ``root``). (templated)
    :param name: the name in Kloudless (default: the source's file name); one file only. (templated)
    :param overwrite: replace a file of the same name.
    """

    template_fields: Sequence[str] = ("conn_id", "account_id", "source", "parent_id", "name")
    ui_color = "#f0e4d8"

    def __init__(
        self,
        *,
        source: str | ObjectStoragePath | Sequence[str | ObjectStoragePath],
        conn_id: str = KloudlessHook.default_conn_name,
        account_id: str | int | None = None,
        parent_id: str = ROOT_FOLDER,
        name: str | None = None,
        overwrite: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.conn_id = conn_id
        self.account_id = account_id
        self.parent_id = parent_id
        self.name = name
        self.overwrite = overwrite
        self.lineage: LineageFacts | None = None

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        return operator_lineage(self.lineage)

    def execute(self, context: Context) -> dict[str, Any] | list[dict[str, Any]]:
        try:
            sources = upload_sources(self.source)
        except ValueError as exc:
            raise ValueError(f"{self.task_id}: {exc}") from None
        parent_id = ROOT_FOLDER if is_unset(self.parent_id) else str(self.parent_id).strip()
        name = None if is_unset(self.name) else str(self.name).strip()
        if name is not None and sources.several:
            raise ValueError(f"{self.task_id}: name= names one file, but source= gives several")
        since = None if self.overwrite else _earlier_tries_since(context)
        hook = KloudlessHook(self.conn_id, account_id=None if is_unset(self.account_id) else self.account_id)
        try:
            if not sources.several:
                one = hook.upload_file(
                    sources.files[0], parent_id=parent_id, name=name, overwrite=self.overwrite, since=since
                )
                self._record(sources.files, [one])
                return _summary(one)
            uploaded = hook.upload_files(
                sources.files, parent_id=parent_id, overwrite=self.overwrite, since=since
            )
        finally:
            hook.close()
        self._record(sources.files, uploaded)
        self.log.info(
            "Uploaded %d files to Kloudless (%d bytes)",
            len(uploaded),
            sum(m.get("size") or 0 for m in uploaded),
        )
        return [_summary(metadata) for metadata in uploaded]

    def _record(self, sources: Sequence[Any], uploaded: Sequence[Mapping[str, Any]]) -> None:
        moved = [
            (src, m.get("path"), str(m["id"]), m.get("size"))
            for src, m in zip(sources, uploaded, strict=True)
        ]
        self.lineage = upload_facts(kloudless_account(self.conn_id, self.account_id), moved)


def _summary(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """Return the XCom of one upload: small, never contents."""
    return {
        "file_id": str(metadata["id"]),
        "name": metadata.get("name"),
        "size": metadata.get("size"),
        "path": metadata.get("path"),
    }
