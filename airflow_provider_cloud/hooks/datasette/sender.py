"""
Sending write batches to Datasette: one sender thread, so the next batch is built while the server works.

Batches go out one at a time and in order, on a single background thread; the caller builds the next batch
meanwhile (at most one batch waits). A failed batch stops the pipeline and its error is raised to the
caller; batches already complete when the caller fails (a bad input row) are still sent, exactly as a
sequential writer would have done before reading that row.

The caller works while the server does, not while the sender does: it hands a batch over only while the
sender waits for the server (see ``_HandOff``). Otherwise the two threads would take turns at the GIL, and
each request would go out later, with the server idle meanwhile.

A batch of mode ``insert`` is not safe to send twice: it goes with its ``check`` (``reconcile.RowsCheck``), which
the HTTP core runs only when the answer is lost; the batches that get their answers cost nothing more.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

from airflow_provider_cloud.exceptions import BadRequestError, CloudApiError, PayloadTooLargeError
from airflow_provider_cloud.hooks.core import quick_thread_switching
from airflow_provider_cloud.hooks.datasette.batches import Batch
from airflow_provider_cloud.hooks.datasette.reconcile import BatchCheck, Found, in_doubt
from airflow_provider_cloud.hooks.datasette.wire import Log, RequestJson, max_rows_from

_STOP = object()
_EMPTY = object()
_JSON = {"Content-Type": "application/json"}


class _HandOff:
    """
    One batch at a time from the caller to the sender, passed so that the two do not compete for the GIL.

    The caller may put a batch only while no batch waits and the sender is not getting a request out
    (from taking a batch until its body is on the socket, see ``sent``). When the sender was idle,
    waiting for that batch, the caller also waits until it is out. Either way the caller goes on while
    the sender waits for the server.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: Any = _EMPTY
        self._busy = False  # the sender is getting a request out
        self._idle = False  # the sender waits for a batch

    def _free(self) -> bool:
        return self._item is _EMPTY and not self._busy

    def put(self, item: Any, timeout: float) -> bool:
        """Hand ``item`` over when the sender is ready for it; ``False`` if that took over ``timeout`` s."""
        with self._cond:
            if not self._cond.wait_for(self._free, timeout):
                return False
            self._item = item
            idle = self._idle
            self._cond.notify_all()
            if idle:
                self._cond.wait_for(self._free, timeout)  # taken and sent; on time-out, go on anyway
            return True

    def take(self) -> Any:
        """Wait for the next item and take it; the sender is busy until ``sent``."""
        with self._cond:
            self._idle = True
            self._cond.wait_for(lambda: self._item is not _EMPTY)
            self._idle = False
            item, self._item = self._item, _EMPTY
            self._busy = True
            return item

    def sent(self) -> None:
        """Tell that the request is out (or was never sent): the caller may go on."""
        with self._cond:
            if self._busy:
                self._busy = False
                self._cond.notify_all()


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

    What it learns it keeps (``learned_max_rows``, and batches over it are split before they go); the
    caller applies it to its planner and its own limit. Use as a context manager around the loop that
    submits batches.

    :param post: the hook's ``request_json``.
    :param known_columns: the table's columns, when known: ``alter`` is sent only with a batch that
        brings new ones, since it costs the server an extra permission check on every write.
    :param check: makes the check of a batch whose answer is lost (mode ``insert`` into a keyed table);
        ``None`` for the idempotent modes, and for a rowid table, which has no key to check by.
    """

    def __init__(
        self,
        post: RequestJson,
        path: str,
        mode: str,
        *,
        alter: bool,
        known_columns: set[str] | None = None,
        log: Log | None = None,
        check: Callable[[Batch], BatchCheck] | None = None,
    ) -> None:
        self.post = post
        self.path = path
        self.flags: dict[str, Any] = {}
        if mode in ("ignore", "replace"):
            self.flags[mode] = True
        self.alter = alter
        self.known_columns = set(known_columns) if known_columns is not None else None
        self.log: Log = log or logging.getLogger(__name__)
        self.idempotent = mode != "insert"
        self.check = check
        self.rows = 0
        self.batches = 0
        #: The row limit a 400 "Too many rows, maximum allowed is N" taught (``None``: none yet).
        self.learned_max_rows: int | None = None
        #: Whether a batch went with ``alter``: the table may have new columns.
        self.sent_alter = False
        self._hand_off = _HandOff()
        self._sent_batch: Any = None
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
        while not self._hand_off.put(batch, timeout=0.5):
            self._raise_if_failed()

    def close(self) -> None:
        """Send what is queued, stop the thread and raise the first send error, if any."""
        if self._thread is not None:
            while not self._hand_off.put(_STOP, timeout=0.5):
                pass
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
            batch = self._hand_off.take()
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
                self._hand_off.sent()
                # Freeing a batch's rows takes a while: done once the next request is out, not before it.
                self._sent_batch = batch

    def _refused(self, batch: Batch, exc: BadRequestError) -> None:
        """Send a refused batch again in smaller ones if the refusal taught the row limit, else raise it."""
        limit = max_rows_from(exc.errors)
        if limit is None or limit >= len(batch):
            exc.errors.append(f"in the batch of rows at {batch.span()}; none of that batch was written")
            raise exc
        self.learned_max_rows = limit
        self.log.info("Datasette allows %d rows per write; sending smaller batches", limit)
        self.send(batch)

    def _why(self, exc: CloudApiError) -> str:
        """Say why a batch in doubt was neither counted done nor sent again."""
        if self.check is None:
            return (
                "which may or may not have been written: the table has no primary key, so its rows cannot "
                "be looked up to check, and inserting them again could double them (give it a key, or "
                "write with mode 'ignore' or 'upsert')"
            )
        return f"which may or may not have been written: checking failed too ({exc.__cause__})"

    def _body_sent(self) -> None:
        self._sent_batch = None
        self._hand_off.sent()

    def send(self, batch: Batch) -> None:
        """Send one batch now (on the calling thread)."""
        limit = self.learned_max_rows
        if limit is not None and len(batch) > limit:  # planned before the limit was learned
            for part in batch.split(limit):
                self.send(part)
            return
        flags = self.flags
        adds_columns = self.alter and (self.known_columns is None or not batch.columns <= self.known_columns)
        if adds_columns:
            flags = {**flags, "alter": True}
            self.sent_alter = True  # even should it fail: whether the server altered the table is unknown
        check = self.check(batch) if self.check is not None else None
        checked = {"reconcile": check} if check is not None else {}
        try:
            body = _SentBody(batch.body(**flags), self._body_sent)
            self.post("POST", self.path, data=body, headers=_JSON, idempotent=self.idempotent, **checked)
        except Found as found:  # the check found another writer's rows
            raise found.error from None
        except BadRequestError as exc:
            if check is None or not check.stored_after_all():
                self._refused(batch, exc)  # raises, or sends the batch in smaller ones
                return
            self.log.info("The rows at %s were stored by an earlier attempt", batch.span())
        except PayloadTooLargeError:
            if len(batch) == 1:
                raise
            for part in batch.split((len(batch) + 1) // 2):
                self.send(part)
            return
        except CloudApiError as exc:
            if not self.idempotent and in_doubt(exc):
                exc.errors.append(f"in the batch of rows at {batch.span()}, {self._why(exc)}")
            raise
        if adds_columns and self.known_columns is not None:
            self.known_columns |= batch.columns
        self.rows += len(batch)
        self.batches += 1
