"""
Plain uploads through lost answers: how an upload without ``overwrite`` finds the file it may already have made.

A plain upload is not safe to repeat: once the file exists, sending it again earns 409 ``naming_conflict``. So
when its answer is lost (no answer, or a 5xx) the HTTP core asks :meth:`OwnUpload.reconcile` whether the file
is there, and counts the upload done (its metadata stands for the answer) or sends it again.

Decisions:

- The file an upload made is the one in its parent folder (listed page by page: the API has no look-up by
  name) with the upload's name, type ``file``, the source's size, every content checksum the metadata carries
  that can be computed here (``md5``/``sha1``/``sha256`` at the top level, Google Drive's ``raw.md5Checksum``,
  Box's ``raw.sha1``; the Kloudless metadata documents none, so usually there is none to compare), and a
  ``created`` time (``modified`` when there is no ``created``) no earlier than when the upload began, less
  :data:`CLOCK_SKEW` for the two clocks and the API's whole seconds. A file without either time is never taken
  for ours.
- A 409 on a send after a lost answer (the check found nothing, e.g. a listing that lags, and the resend met
  the file) is looked up the same way and counts as done when the file matches. A 409 with no lost answer
  before it means the name was taken before this upload: it fails as it always did.
- ``since`` moves the start earlier: a retried task gives the start of its DAG run, so that a file its earlier
  try uploaded counts as its own (``KloudlessUploadFileOperator`` says when).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

#: How much earlier than the upload's start a matching file may say it was created (clock skew, whole seconds).
CLOCK_SKEW = timedelta(seconds=30)
#: Where a checksum may sit in file metadata, and its ``hashlib`` algorithm.
CHECKSUM_FIELDS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("md5",), "md5"),
    (("sha1",), "sha1"),
    (("sha256",), "sha256"),
    (("raw", "md5Checksum"), "md5"),
    (("raw", "sha1"), "sha1"),
)

Digest = Callable[[str], str]


def digest_of(chunks: Callable[[], Iterable[bytes]]) -> Digest:
    """Return a function hashing what ``chunks()`` yields (read again each time) with a ``hashlib`` algorithm."""
    cache: dict[str, str] = {}

    def digest(algorithm: str) -> str:
        if algorithm not in cache:
            hasher = hashlib.new(algorithm)
            for chunk in chunks():
                hasher.update(chunk)
            cache[algorithm] = hasher.hexdigest()
        return cache[algorithm]

    return digest


def _moment(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _field(metadata: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = metadata
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def matches(metadata: Mapping[str, Any], *, name: str, size: int, since: datetime, digest: Digest) -> bool:
    """Tell whether ``metadata`` is a file this upload made (see the module's decisions)."""
    if metadata.get("type") != "file" or metadata.get("name") != name or metadata.get("size") != size:
        return False
    made = _moment(metadata.get("created")) or _moment(metadata.get("modified"))
    if made is None or made < since - CLOCK_SKEW:
        return False
    for path, algorithm in CHECKSUM_FIELDS:
        value = _field(metadata, path)
        if isinstance(value, str) and value and value.strip().lower() != digest(algorithm):
            return False
    return True


class OwnUpload:
    """
    Finds the file one plain upload made, for the core's ``reconcile`` and for a 409 after a lost answer.

    :param listing: lists the parent folder's items (metadata), page by page.
    :param name: the upload's name; ``size`` and ``digest`` describe the source's bytes.
    :param started: when the upload began (or the earlier start a retried task gives).
    """

    def __init__(
        self,
        listing: Callable[[], Iterable[Mapping[str, Any]]],
        *,
        name: str,
        size: int,
        digest: Digest,
        started: datetime,
    ) -> None:
        self._listing = listing
        self._name = name
        self._size = size
        self._digest = digest
        self.started = started
        self.lost = 0  # answers lost so far: a 409 after one may be this upload's own file
        self.found = False  # the answer stands for a file found made, not for the upload's own answer

    def find(self) -> dict[str, Any] | None:
        """Return the metadata of the file this upload made, or ``None``."""
        for item in self._listing():
            if item.get("name") == self._name and matches(
                item, name=self._name, size=self._size, since=self.started, digest=self._digest
            ):
                self.found = True
                return dict(item)
        return None

    def reconcile(self) -> dict[str, Any] | None:
        """Check, for the core, after a lost answer: the file's metadata if the upload happened, else ``None``."""
        self.lost += 1
        return self.find()
