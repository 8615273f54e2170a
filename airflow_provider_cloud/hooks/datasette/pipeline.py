"""
One write in flight, sent from one background thread while the caller builds the next batch (a window of 1).

Batches go out one at a time and in order; the caller builds the next batch meanwhile (at most one batch
waits). A failed batch stops the pipeline and its error is raised to the caller; batches already complete
when the caller fails (a bad input row) are still sent, exactly as a sequential writer would have done
before reading that row.

The caller works while the server does, not while the sender does: it hands a batch over only while the
sender waits for the server (see ``_HandOff``). Otherwise the two threads would take turns at the GIL, and
each request would go out later, with the server idle meanwhile. A window of several writes keeps the same
rule (``sender.py``): the caller goes on once the request of the batch it submitted is out (``SentBody``).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

from airflow_provider_cloud.hooks.core import quick_thread_switching

_STOP = object()
_EMPTY = object()

#: Sends one batch; calls its second argument once the request's body is on the socket.
Send = Callable[[Any, Callable[[], None]], None]


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


class SentBody:
    """A request body in one piece that calls ``on_sent`` once it is handed to the socket."""

    def __init__(self, data: bytes, on_sent: Callable[[], None]) -> None:
        self._data = data
        self._on_sent = on_sent

    def __len__(self) -> int:  # requests sends a Content-Length, not chunks
        return len(self._data)

    def __iter__(self) -> Iterator[bytes]:
        yield self._data
        self._on_sent()  # resumed for the next chunk: the body has been sent


class Pipeline:
    """
    Send batches with ``send`` on one background thread, in order; use ``submit`` then ``close``.

    :param send: sends one batch (raising its error), calling its callback once the body is out.
    """

    def __init__(self, send: Send) -> None:
        self._send = send
        self._hand_off = _HandOff()
        self._sent_batch: Any = None
        self._error: BaseException | None = None
        # Set once a batch failed and never cleared (``_error`` is cleared once raised): the sender
        # must not send a batch still queued behind the failed one.
        self._failed = False
        self._thread: threading.Thread | None = None
        self._while_running = contextlib.ExitStack()

    def submit(self, batch: Any) -> None:
        """Queue a batch for sending; raise the error of an earlier batch if one failed."""
        self.raise_if_failed()
        if self._thread is None:
            self._while_running.enter_context(quick_thread_switching())
            self._thread = threading.Thread(target=self._run, name="datasette-batch-writer", daemon=True)
            self._thread.start()
        while not self._hand_off.put(batch, timeout=0.5):
            self.raise_if_failed()

    def close(self) -> None:
        """Send what is queued, stop the thread and raise the first send error, if any."""
        if self._thread is not None:
            while not self._hand_off.put(_STOP, timeout=0.5):
                pass
            self._thread.join()
            self._thread = None
            self._while_running.close()
        self.raise_if_failed()

    def raise_if_failed(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _body_sent(self) -> None:
        self._sent_batch = None
        self._hand_off.sent()

    def _run(self) -> None:
        while True:
            batch = self._hand_off.take()
            try:
                if batch is _STOP:
                    return
                if self._failed:
                    continue  # a failed batch stops the rest: drain without sending
                try:
                    self._send(batch, self._body_sent)
                except BaseException as exc:  # handed to the caller's thread
                    self._failed = True
                    self._error = exc
            finally:
                self._hand_off.sent()
                # Freeing a batch's rows takes a while: done once the next request is out, not before it.
                self._sent_batch = batch
