"""
Several files at once: downloads and uploads within the hook's window (``hooks.core.Window``).

Decisions:

- Each file is one call of the single-file transfer (``download_file``: streamed into its own temporary
  sibling, moved into place when complete; ``upload_file``: its own check of a lost answer, its own 409 rule),
  so the window decides how many run at once and nothing of what each does. Memory stays bounded by the
  window: a file in flight holds one chunk (``storage.CHUNK_SIZE``), never its whole contents.
- Results come in the order the files were given, whatever order they finish in.
- The first failure stops new transfers: those in flight finish (a download's file is then there whole, or not
  at all), none still waiting starts, and the failure is raised once they are done.
- ``missing_ok`` (downloads): a file gone (404) gives ``None`` in its place, for the caller to log in order.
- Uploads into one folder never race for one name: two sources of one name (compared without case, as most
  services compare them) fail before anything is sent (:func:`check_unique_names`). Renaming one, as downloads
  do, would give the service's users a name nobody chose; two uploads racing for it would make one a 409, or,
  with ``overwrite``, keep whichever came last.
- The events stream is never read here nor in any window: its cursor is a position in the stream, so its pages
  are read one after another (``events.py``).

The default window, 16 (``KloudlessHook.default_window``), by ``benchmarks/kloudless_files.py``: 100 files of
100 KB uploaded, then downloaded by id, through the network-conditions proxy, speed-up over window 1 in one run:

======  ==========================  ==========================  ==========================
window  20 ms (upload / download)   50 ms                       100 ms
======  ==========================  ==========================  ==========================
4       3.5x / 3.6x                 3.9x / 4.0x                 3.9x / 3.9x
8       5.8x / 7.1x                 7.2x / 7.1x                 7.5x / 7.5x
16      11.6x / 11.5x               13.4x / 13.0x               13.5x / 13.6x
32      10.6x / 12.7x               21.5x / 21.1x               23.2x / 23.1x
======  ==========================  ==========================  ==========================

16 is the smallest window that reaches this machine's ceiling on a near link (at 20 ms, 32 gains nothing
more), and it keeps the burst one task puts on an account, and on the service behind it (whose limits are per
user), to 16 requests; 32 pays only on slow links. At 0 ms a window costs nothing (1.00x upload, 1.05x
download, 7 rounds). Memory: one chunk (1 MiB) per file in flight.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar, cast

from airflow_provider_cloud.exceptions import NotFoundError
from airflow_provider_cloud.hooks.core import Window

T = TypeVar("T")
R = TypeVar("R")


def transfer_all(transfer: Callable[[T], R], items: Iterable[T], *, window: int, name: str) -> list[R]:
    """
    Run ``transfer(item)`` for each item, up to ``window`` at once; return the results in the items' order.

    A call that took a slot just as an earlier one failed (before the window saw the failure) does not start
    its transfer either: the failure is marked before it leaves the failing call.
    """
    failed = threading.Event()

    def guarded(item: T) -> R:
        if failed.is_set():
            return cast(R, None)  # never read: the failure is raised before this result is reached
        try:
            return transfer(item)
        except BaseException:
            failed.set()
            raise

    with Window[R](window, name=name) as running:
        for item in items:
            running.submit(guarded, item)
        return list(running.results())


def missing_as_none(transfer: Callable[[T], R]) -> Callable[[T], R | None]:
    """Wrap ``transfer`` so that a file gone (:class:`NotFoundError`) gives ``None`` instead of failing."""

    def tolerant(item: T) -> R | None:
        try:
            return transfer(item)
        except NotFoundError:
            return None

    return tolerant


def check_unique_names(sources: Sequence[tuple[str, str]], folder: str) -> None:
    """
    Raise ``ValueError`` naming the sources when two ``(source, name)`` pairs share a name (without case).

    :param folder: the folder they go to, for the message.
    """
    seen: dict[str, str] = {}
    for source, name in sources:
        if not name:
            raise ValueError(f"{source}: give the upload a name")
        earlier = seen.get(name.casefold())
        if earlier is not None:
            both = f"{source} is given twice: it" if earlier == source else f"{earlier} and {source}"
            raise ValueError(
                f"{both} would be uploaded as {name!r} twice into folder {folder!r}; nothing was uploaded. "
                "Upload them into different folders, or rename one"
            )
        seen[name.casefold()] = source
