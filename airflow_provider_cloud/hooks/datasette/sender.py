"""
Sending write batches to Datasette: up to a window of requests in flight, so latency does not bound a write.

A window of 1 sends one batch at a time, in order, from one background thread while the caller builds the
next (``pipeline.py``). A window of several sends up to that many batches at once through the core's
:class:`~airflow_provider_cloud.hooks.core.Window`; a batch waits for every earlier batch in flight that
holds one of its keys or may add one of its columns (``ordering.py``), so rows of one key keep their order.
Either way the caller goes on building once the request of the batch it handed over is out, not while it
is going out (the two would take turns at the GIL, and the server would idle meanwhile), and memory stays
bounded by window × batch.

The first failure stops new sends; batches in flight finish, and the failure is raised with the input lines
of its batch (``batch.span()``). What a failed write leaves depends on the mode: the other modes are
idempotent and sent again by the core; a batch of mode ``insert`` is not safe to send twice, so it goes with
its ``check`` (``reconcile.RowsCheck``), which the HTTP core runs only when the answer is lost and which reads
that batch's keys back. Batches in flight at once hold different keys (the ordering above), so one batch's
check never sees another's rows.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from airflow_provider_cloud.exceptions import BadRequestError, CloudApiError, PayloadTooLargeError
from airflow_provider_cloud.hooks.core import Window
from airflow_provider_cloud.hooks.datasette.batches import Batch
from airflow_provider_cloud.hooks.datasette.ordering import WriteOrder
from airflow_provider_cloud.hooks.datasette.pipeline import Pipeline, SentBody
from airflow_provider_cloud.hooks.datasette.reconcile import BatchCheck, Found, in_doubt
from airflow_provider_cloud.hooks.datasette.wire import Log, RequestJson, max_rows_from
from airflow_provider_cloud.rows.batching import RowOrigin

__all__ = ["BatchWriter"]

_JSON = {"Content-Type": "application/json"}


def _nothing() -> None:
    pass


class BatchWriter:
    """
    Post batches to ``/-/insert`` or ``/-/upsert``; halve on 413; learn ``max_insert_rows`` from the error.

    What it learns it keeps (``learned_max_rows``, and batches over it are split before they go, by whichever
    thread sends them); the caller applies it to its planner and its own limit. Use as a context manager
    around the loop that submits batches.

    :param post: the hook's ``request_json``.
    :param known_columns: the table's columns, when known: ``alter`` is sent only with a batch that
        brings new ones, since it costs the server an extra permission check on every write.
    :param check: makes the check of a batch whose answer is lost (mode ``insert`` into a keyed table);
        ``None`` for the idempotent modes, and for a rowid table, which has no key to check by.
    :param window: batches in flight at most (1: the pipeline, one at a time, in order).
    :param keys: the key columns; with a window over 1, batches holding a common key go one after another.
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
        window: int = 1,
        keys: Sequence[str] = (),
    ) -> None:
        self.post = post
        self.path = path
        self.flags: dict[str, Any] = {}
        if mode in ("ignore", "replace"):
            self.flags[mode] = True
        self.alter = alter
        #: Replaced, never changed in place: threads of a window read it while others add to it.
        self.known_columns = frozenset(known_columns) if known_columns is not None else None
        self.log: Log = log or logging.getLogger(__name__)
        self.idempotent = mode != "insert"
        self.check = check
        self.window = window
        self.rows = 0
        self.batches = 0
        #: The row limit a 400 "Too many rows, maximum allowed is N" taught (``None``: none yet).
        self.learned_max_rows: int | None = None
        #: Whether a batch went with ``alter``: the table may have new columns.
        self.sent_alter = False
        self._lock = threading.Lock()
        self._order = WriteOrder(keys, alter=alter)
        self._pipeline: Pipeline | None = None
        self._window: Window[None] | None = None
        self._submitted = 0
        self._failed_at: int | None = None  # the number of the batch that failed first
        # The last batches written (number, first and last input position), not their rows.
        self._done: deque[tuple[int, int, int]] = deque(maxlen=4 * window)
        self._origin: RowOrigin | None = None

    def __enter__(self) -> BatchWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.close()

    def submit(self, batch: Batch) -> None:
        """Hand a batch over for sending; raise the error of an earlier batch if one failed."""
        if self.window == 1:
            if self._pipeline is None:
                self._pipeline = Pipeline(self.send)
            self._pipeline.submit(batch)
            return
        if self._window is None:
            self._window = Window[None](self.window, name="datasette-writes", keep_results=False).__enter__()
        after, keys, adds = self._order.before(batch, self.known_columns)
        out = threading.Event()
        self._submitted += 1
        future = self._window.submit(self._send_in_window, batch, out, self._submitted, after=after)
        self._order.track(keys, adds, future)
        while not out.wait(0.5) and not future.done():  # go on once its request is out (see the module)
            pass

    def _send_in_window(self, batch: Batch, out: threading.Event, number: int) -> None:
        try:
            self.send(batch, out.set)
        except BaseException:
            with self._lock:
                self._failed_at = number if self._failed_at is None else self._failed_at
            raise
        finally:
            out.set()
        self._origin = batch.origin
        self._done.append((number, batch.first_index, batch.last_index))

    def close(self) -> None:
        """Send what was handed over, wait for the writes in flight and raise the first send error, if any."""
        pipeline, self._pipeline = self._pipeline, None
        window, self._window = self._window, None
        if pipeline is not None:
            pipeline.close()
        if window is not None:
            try:
                window.__exit__(None, None, None)
            except CloudApiError as exc:
                self._tell_written_after(exc)
                raise

    def _tell_written_after(self, exc: CloudApiError) -> None:
        """Name the batches after the failed one that were in flight when it failed, and were written."""
        failed, origin = self._failed_at, self._origin
        later = sorted(done for done in self._done if failed is not None and done[0] > failed)
        if (
            later
            and origin is not None
            and not any(e.startswith("batches sent after it") for e in exc.errors)
        ):
            spans = ", ".join(origin.span(first, last) for _, first, last in later)  # fewer than the window
            exc.errors.append(
                f"batches sent after it, already in flight when it failed, were written: {spans}"
            )

    def _refused(self, batch: Batch, exc: BadRequestError) -> None:
        """Send a refused batch again in smaller ones if the refusal taught the row limit, else raise it."""
        limit = max_rows_from(exc.errors)
        if limit is None or limit >= len(batch):
            exc.errors.append(f"in the batch of rows at {batch.span()}; none of that batch was written")
            raise exc
        with self._lock:
            learned = self.learned_max_rows
            self.learned_max_rows = limit if learned is None else min(learned, limit)
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

    def send(self, batch: Batch, on_sent: Callable[[], None] = _nothing) -> None:
        """Send one batch now (on the calling thread); ``on_sent`` is called once its body is out."""
        limit = self.learned_max_rows
        if limit is not None and len(batch) > limit:  # planned before the limit was learned
            for part in batch.split(limit):
                self.send(part, on_sent)
            return
        flags = self.flags
        known = self.known_columns
        adds_columns = self.alter and (known is None or not batch.columns <= known)
        if adds_columns:
            flags = {**flags, "alter": True}
            self.sent_alter = True  # even should it fail: whether the server altered the table is unknown
        check = self.check(batch) if self.check is not None else None
        checked = {"reconcile": check} if check is not None else {}
        try:
            body = SentBody(batch.body(**flags), on_sent)
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
                self.send(part, on_sent)
            return
        except CloudApiError as exc:
            if not self.idempotent and in_doubt(exc):
                exc.errors.append(f"in the batch of rows at {batch.span()}, {self._why(exc)}")
            elif not any("in the batch of rows at" in e for e in exc.errors):
                exc.errors.append(f"in the batch of rows at {batch.span()}")
            raise
        with self._lock:
            if adds_columns and self.known_columns is not None:
                self.known_columns = self.known_columns | batch.columns
            self.rows += len(batch)
            self.batches += 1
