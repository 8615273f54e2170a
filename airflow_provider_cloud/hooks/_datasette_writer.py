"""
Sending write batches to Datasette: one sender thread, so the next batch is built while the server works.

Batches go out one at a time and in order, on a single background thread; the caller builds the next batch
meanwhile (at most one batch waits). A failed batch stops the pipeline and its error is raised to the
caller; batches already complete when the caller fails (a bad input row) are still sent, exactly as a
sequential writer would have done before reading that row.

The caller works while the server does, not while the sender does: from the moment the sender takes a batch
until its body is on the socket, the caller waits (about a millisecond). Otherwise the two threads would
take turns at the GIL and the request would go out later, with the server idle meanwhile.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from airflow_provider_cloud.exceptions import BadRequestError, PayloadTooLargeError
from airflow_provider_cloud.hooks._batches import Batch, BatchPlanner
from airflow_provider_cloud.hooks._datasette_wire import learned_max_rows
from airflow_provider_cloud.hooks._switching import quick_thread_switching

if TYPE_CHECKING:
    from airflow_provider_cloud.hooks.datasette import DatasetteHook

_STOP = object()
_JSON = {"Content-Type": "application/json"}
#: The longest the caller waits for the sender to put a body on the socket before it goes on anyway.
QUIET_WAIT_SECONDS = 0.05


class _HandOff(queue.Queue[Any]):
    """A queue of one batch that marks the sender busy as it takes a batch, before the caller may go on."""

    def __init__(self, quiet: threading.Event) -> None:
        super().__init__(maxsize=1)
        self._quiet = quiet

    def _get(self) -> Any:
        self._quiet.clear()  # under the queue's lock: a caller whose put this unblocks sees it
        return super()._get()


class _SentBody:
    """A request body in one piece that calls ``on_sent`` once it is handed to the socket."""

    def __init__(self, data: bytes, on_sent: Callable[[], None]) -> None:
        self._data = data
        self._on_sent = on_sent

    def __len__(self) -> int:  # requests sends a Content-Length, not chunks
        return len(self._data)

    def __iter__(self) -> Iterator[bytes]:
        yield self._data
        self._on_sent()  # resumed for the next chunk: the body has been sent


class BatchWriter:
    """
    Post batches to ``/-/insert`` or ``/-/upsert``; halve on 413; learn ``max_insert_rows`` from the error.

    Use as a context manager around the loop that submits batches.
    """

    def __init__(
        self, hook: DatasetteHook, path: str, mode: str, planner: BatchPlanner, *, alter: bool
    ) -> None:
        self.hook = hook
        self.path = path
        self.planner = planner
        self.flags: dict[str, Any] = {}
        if mode in ("ignore", "replace"):
            self.flags[mode] = True
        self.alter = alter
        #: The table's columns, when known: ``alter`` is sent only with a batch that brings new ones,
        #: since it costs the server an extra permission check on every write.
        self.known_columns: set[str] | None = None
        self.idempotent = mode != "insert"
        self.rows = 0
        self.batches = 0
        #: Set while the sender is not getting a request out (the caller then works unhindered).
        self._quiet = threading.Event()
        self._quiet.set()
        self._queue = _HandOff(self._quiet)
        self._error: BaseException | None = None
        # Set once a batch failed and never cleared (``_error`` is cleared once raised): the sender
        # must not send a batch still queued behind the failed one.
        self._failed = False
        self._thread: threading.Thread | None = None
        self._while_running = contextlib.ExitStack()

    def __enter__(self) -> BatchWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.close()

    def submit(self, batch: Batch) -> None:
        """Queue a batch for sending; raise the error of an earlier batch if one failed."""
        self._raise_if_failed()
        if self._thread is None:
            self._while_running.enter_context(quick_thread_switching())
            self._thread = threading.Thread(target=self._run, name="datasette-batch-writer", daemon=True)
            self._thread.start()
        while True:
            try:
                self._queue.put(batch, timeout=0.5)
                break
            except queue.Full:
                self._raise_if_failed()
        self._quiet.wait(QUIET_WAIT_SECONDS)

    def close(self) -> None:
        """Send what is queued, stop the thread and raise the first send error, if any."""
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join()
            self._thread = None
            self._while_running.close()
        self._raise_if_failed()

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _run(self) -> None:
        while True:
            batch = self._queue.get()
            try:
                if batch is _STOP:
                    return
                if self._failed:
                    continue  # a failed batch stops the rest: drain without sending
                try:
                    self.send(batch)
                except BaseException as exc:  # handed to the caller's thread
                    self._failed = True
                    self._error = exc
            finally:
                self._quiet.set()

    def send(self, batch: Batch) -> None:
        """Send one batch now (on the calling thread)."""
        flags = self.flags
        adds_columns = self.alter and (self.known_columns is None or not batch.columns <= self.known_columns)
        if adds_columns:
            flags = {**flags, "alter": True}
        try:
            body = _SentBody(batch.body(**flags), self._quiet.set)
            self.hook.request_json("POST", self.path, data=body, headers=_JSON, idempotent=self.idempotent)
        except BadRequestError as exc:
            limit = learned_max_rows(exc.errors)
            if limit is None or limit >= len(batch):
                exc.errors.append(
                    f"in the batch of rows {batch.first_index}-{batch.last_index}; none of that batch was written"
                )
                raise
            self.hook.__dict__["max_insert_rows"] = limit
            self.planner.max_rows = limit
            self.hook.log.info("Datasette allows %d rows per write; sending smaller batches", limit)
            for part in batch.split(limit):
                self.send(part)
            return
        except PayloadTooLargeError:
            if len(batch) == 1:
                raise
            for part in batch.split((len(batch) + 1) // 2):
                self.send(part)
            return
        if adds_columns and self.known_columns is not None:
            self.known_columns |= batch.columns
        self.rows += len(batch)
        self.batches += 1
