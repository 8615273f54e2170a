"""
Resumable imports: the rows are written a window at a time, and a retried try starts after the rows known stored.

Decisions, and why:

- **Where the checkpoint lives**: Airflow's task state store (``context["task_state_store"]``, Airflow 3.3),
  under the key ``import_checkpoint``. It is scoped to the dag run, the task and the map index and shared by
  the tries of that task instance, which is the point; it is reached through the task's supervisor, so it
  works the same under ``dag.test()`` and a scheduler. Not XCom: the XComs of a task instance are cleared
  when its next try starts. Not a Variable: global names to invent and clean up, visible to every DAG.
  Outside a task (``execute({})``, no store) the import runs as one write, as before.
- **What it holds**: the source's identity (URL, size, the store's checksum), a hash of the settings that
  decide which rows are sent (data set, key, mode, types, renames, formats, ...), the count of rows known
  stored and the try that wrote it. A changed file or setting starts from the beginning, and says so.
- **Rows known stored**: the RowStore contract confirms rows only when ``write_rows`` returns, so the rows
  go in windows, one ``write_rows`` call each; the rows of windows that returned are stored. A window is
  ``WINDOW_REQUESTS`` requests' worth of rows (learned from the first window: its rows per request), so a
  retry re-sends at most one window, and each window boundary costs one request's wait, not more. A hook
  that reports unchanged rows (it compares each row with what it stores: CloudTables) gets the rest in one
  window after the first: rows a failed try stored cost it no writes on the next, and a window costs it a
  read of the data set.
- **When it is written**: after a window, at most every ``CHECKPOINT_EVERY_SECONDS``, when the write
  fails (an exception, or Airflow's SIGTERM) and when it stops to defer through a long wait for the rate
  limit (``_import_defer``); it is deleted when the import succeeds. A try killed with
  SIGKILL leaves the last periodic checkpoint: the retry re-sends at most that many seconds of rows more.
- **Which imports resume**: those with a key and mode ``upsert``, ``ignore`` or ``replace``, where rows
  written again end as they were: the data set ends equal to one uninterrupted run. ``insert`` (rows must
  not be there yet) and keyless writes do not resume: a retry starts from the beginning, as it always did;
  nor do JSON rows creating their data set (a later row's new column is added only by the write that
  creates the data set, so that stays one write). The rows before the checkpoint are read and checked again, not sent, so the rejects and the counts are
  those of one run. Rows given inline (from XCom) are not resumed.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol

from airflow_provider_cloud.hooks.core import PaceWait
from airflow_provider_cloud.hooks.rowstore import WriteResult
from airflow_provider_cloud.operators._import_stream import Windows, skip_rows
from airflow_provider_cloud.rows import LineMap, RowBlocks, file_identity

CHECKPOINT_KEY = "import_checkpoint"
#: Requests' worth of rows in a window (the most a retry re-sends, after the first window).
WINDOW_REQUESTS = 16
#: Rows of the first window, before the rows per request are known.
FIRST_WINDOW_ROWS = 1_000
#: The checkpoint is written at most this often while the import runs (and always when it fails).
CHECKPOINT_EVERY_SECONDS = 5.0
RESUMABLE_MODES = ("upsert", "ignore", "replace")
#: The operator's settings that decide which rows an import sends: a checkpoint is for these only.
RESUME_SETTINGS = ("conn_id", "dataset", "mode", "rename", "types", "detect_types", "format", "csv_options")

#: Writes the rows of one window (``hook.write_rows`` with the import's data set and options).
WriteWindow = Callable[[RowBlocks[dict[str, Any]]], WriteResult]


class StateStore(Protocol):
    """What the import needs of Airflow's task state store."""

    def get(self, key: str, default: Any = None) -> Any: ...

    def set(self, key: str, value: Any) -> None: ...

    def delete(self, key: str) -> None: ...


def why_not_resumable(mode: str, keys: list[str], *, inline: bool, grows: bool = False) -> str | None:
    """
    Return why an import cannot resume after a failed try, ``None`` when it can.

    :param grows: the data set is created by this import from rows without a header (JSON), whose later
        rows may bring new columns: only the write that creates a data set adds them, so it is one write.
    """
    if inline:
        return "the rows are given inline"
    if grows:
        return "the data set is created by this import from JSON rows, whose columns only the creating write adds"
    if mode not in RESUMABLE_MODES:
        return f"mode {mode!r}: only {', '.join(RESUMABLE_MODES)} write rows again as they were"
    if not keys:
        return "the rows have no key: written again, they would be written twice"
    return None


def write_import(
    write: WriteWindow,
    blocks: Iterator[list[dict[str, Any]]],
    *,
    keys: list[str],
    source: str,
    lines: LineMap | None = None,
    batch_size: int | None,
    resumable: str | None,
    settings: Mapping[str, Any],
    context: Any,
    log: Any,
) -> tuple[WriteResult, int]:
    """
    Write an import's rows; return the result and the rows an earlier try stored (skipped, not sent).

    :param resumable: why the import cannot resume (:func:`why_not_resumable`), ``None`` when it can.
    :param context: the task's context: its task state store and try number.
    """
    store = context.get("task_state_store") if isinstance(context, Mapping) else None
    if resumable is not None or store is None:
        if store is not None:
            log.info("This import cannot resume after a failed try (%s): a retry starts over", resumable)
        # Rows in lists: a hook that knows RowBlocks takes a list at a time, any other iterates rows.
        return write(RowBlocks[dict[str, Any]](blocks, keys_checked=keys, source=source, lines=lines)), 0
    try_number = getattr(context.get("ti"), "try_number", None)
    checkpoint = Checkpoint(store, source_identity(source, settings), try_number=try_number, log=log)
    return write_in_windows(
        write, blocks, checkpoint, keys=keys, source=source, lines=lines, batch_size=batch_size
    )


def settings_hash(settings: Mapping[str, Any]) -> str:
    """Return a short hash of the settings that decide which rows an import sends."""
    text = json.dumps(settings, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class Checkpoint:
    """
    The count of rows known stored, kept in the task state store for the next try of the task.

    :param identity: the source's identity and the settings' hash; a checkpoint of another is ignored.
    :param clock: seconds (injectable for tests).
    """

    def __init__(
        self,
        store: StateStore,
        identity: Mapping[str, Any],
        *,
        try_number: int | None,
        log: Any,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.identity = dict(identity)
        self.try_number = try_number
        self.log = log
        self.clock = clock
        self.stored = 0
        self._saved = 0
        self._saved_at = clock()

    def start(self) -> int:
        """Return the rows to skip: those a checkpoint of an earlier try of the same source knows stored."""
        found = self.store.get(CHECKPOINT_KEY)
        if not isinstance(found, dict):
            return 0
        rows = found.get("rows_stored")
        if {k: found.get(k) for k in self.identity} != self.identity or not isinstance(rows, int):
            self.log.info(
                "A checkpoint of try %s is for another version of the source or other settings (%s); "
                "starting from the beginning",
                found.get("try"),
                _difference(found, self.identity),
            )
            return 0
        self.stored = self._saved = rows
        if rows:
            self.log.info(
                "Resuming the import of %s: %s rows were stored by try %s; they are read and checked again, "
                "not sent",
                self.identity.get("source"),
                f"{rows:,}",
                found.get("try"),
            )
        return rows

    def advance(self, stored: int) -> None:
        """Count rows known stored; write the checkpoint if the last one is old enough."""
        self.stored = stored
        if self.clock() - self._saved_at >= CHECKPOINT_EVERY_SECONDS:
            self.save()

    def save(self) -> None:
        """Write the checkpoint now (when the count moved since the last one)."""
        if self.stored == self._saved:
            return
        value = {**self.identity, "rows_stored": self.stored, "try": self.try_number}
        self.store.set(CHECKPOINT_KEY, value)
        self._saved, self._saved_at = self.stored, self.clock()

    def failed(self) -> None:
        """Write the checkpoint of a failed try, and say where its retry resumes."""
        try:
            self.save()
        except Exception:  # the write's own error is the one to raise
            self.log.warning("Could not write the import's checkpoint", exc_info=True)
            return
        if self.stored:
            self.log.info(
                "%s rows of %s are known stored; a retry of this task resumes after them",
                f"{self.stored:,}",
                self.identity.get("source"),
            )

    def paused(self, stored: int) -> None:
        """Write the checkpoint of an import that stops to wait for its rate window (it defers)."""
        self.stored = stored
        self.save()
        self.log.info(
            "%s rows of %s are stored; the import goes on after them",
            f"{stored:,}",
            self.identity.get("source"),
        )

    def clear(self) -> None:
        self.store.delete(CHECKPOINT_KEY)


def source_identity(source: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    """Return the identity a checkpoint is valid for: the file's version and the import's settings."""
    return {**file_identity(source), "settings": settings_hash(settings)}


def write_in_windows(
    write: WriteWindow,
    blocks: Iterator[list[dict[str, Any]]],
    checkpoint: Checkpoint,
    *,
    keys: list[str],
    source: str,
    lines: LineMap | None = None,
    batch_size: int | None,
) -> tuple[WriteResult, int]:
    """
    Write the rows after the checkpoint a window at a time; return the combined result and the rows skipped.

    The checkpoint advances after each window ``write`` returned, and is written when a window fails or
    stops for a long wait (``PaceWait``: then with the leading rows of the window it says are stored).
    """
    skipped = checkpoint.start()
    windows = Windows(skip_rows(blocks, skipped) if skipped else blocks)
    size = WINDOW_REQUESTS * batch_size if batch_size else FIRST_WINDOW_ROWS
    results: list[WriteResult] = []
    try:
        while (window := windows.next(size)) is not None:
            blocks_of_window = RowBlocks[dict[str, Any]](
                iter(window), keys_checked=keys, source=source, lines=lines, offset=checkpoint.stored
            )
            result = write(blocks_of_window)
            results.append(result)
            checkpoint.advance(checkpoint.stored + window.rows)
            size = _next_size(size, window.rows, result, batch_size)
    except PaceWait as wait:
        checkpoint.paused(checkpoint.stored + (wait.rows_done or 0))
        raise
    except BaseException:
        checkpoint.failed()
        raise
    checkpoint.clear()
    return combined(results), skipped


def _next_size(size: int, rows: int, result: WriteResult, batch_size: int | None) -> int:
    if result.unchanged is not None:  # the hook compares rows with what it stores: the rest in one
        return 2**62
    if batch_size:
        return size
    if result.requests:
        return WINDOW_REQUESTS * max(1, math.ceil(rows / result.requests))
    return size


def combined(results: list[WriteResult]) -> WriteResult:
    """Return the results of several writes of one import as one."""

    def total(name: str) -> int | None:
        values = [getattr(r, name) for r in results]
        return None if not values or None in values else sum(values)

    return WriteResult(
        rows=sum(r.rows for r in results),
        requests=sum(r.requests for r in results),
        created=any(r.created for r in results),
        inserted=total("inserted"),
        updated=total("updated"),
        unchanged=total("unchanged"),
        ignored=total("ignored"),
    )


def _difference(found: Mapping[str, Any], identity: Mapping[str, Any]) -> str:
    changed = [key for key in identity if found.get(key) != identity[key]]
    return "changed: " + ", ".join(changed) if changed else "unreadable"
