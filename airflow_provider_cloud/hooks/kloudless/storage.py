"""
Kloudless storage: item paths, a streaming download with restarts, a streaming upload.

Downloads stream the contents in chunks into a hidden temporary file next to the destination and move it into
place only once complete, so the destination never holds a half-written file (``rows.paths.atomic_writer``
with ``compress=False``: a download keeps the bytes as they are, even under a ``.gz`` name).
A download whose body breaks off is restarted from the start, up to the hook's retry limit.
Uploads stream the source as a :class:`RewindableBody`, so a retried request sends the whole file again; a plain
upload (no ``overwrite``) whose answer is lost is checked for the file it may have made (``uploads``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import IO, Any, NamedTuple, cast
from urllib.parse import quote

import requests
from airflow.sdk import ObjectStoragePath

from airflow_provider_cloud.exceptions import (
    ApiConnectionError,
    ApiTimeoutError,
    ConflictError,
    UnexpectedResponseError,
)
from airflow_provider_cloud.hooks.core import RetryPolicy
from airflow_provider_cloud.hooks.kloudless.uploads import OwnUpload, digest_of
from airflow_provider_cloud.hooks.kloudless.wire import SERVICE
from airflow_provider_cloud.rows.paths import as_storage_path, atomic_writer

#: Bytes read from the network or a source file per chunk.
CHUNK_SIZE = 1024 * 1024
ROOT_FOLDER = "root"

PathLike = str | os.PathLike[str] | ObjectStoragePath
Scrub = Callable[[str], str]


def item_path(kind: str, item_id: str) -> str:
    """Return the account-relative path of a file or folder: ``storage/{kind}s/{id}``."""
    if not item_id or not str(item_id).strip():
        raise ValueError(f"a {kind} id is required")
    return f"storage/{kind}s/{quote(str(item_id), safe='')}"


def check_name(name: str) -> str:
    """Return a file or folder name, or raise ``ValueError``: empty, ``.``, ``..`` or with a ``/``."""
    if not isinstance(name, str) or name.strip() in ("", ".", "..") or "/" in name:
        raise ValueError(f"{name!r} is not a file or folder name (empty, '.', '..' or with a '/')")
    return name


def ranged_body(response: requests.Response, start: int, end: int) -> bytes:
    """Return bytes ``start`` to ``end`` of a ranged answer: a 206 as it is, a 200 (``Range`` ignored) cut."""
    if response.status_code == 206:
        return response.content
    data = bytearray()
    skipped = 0
    for chunk in response.iter_content(CHUNK_SIZE):
        if skipped + len(chunk) <= start:
            skipped += len(chunk)
            continue
        data += chunk[max(start - skipped, 0) :]
        skipped = max(skipped, start)
        if len(data) >= end - start:
            break
    return bytes(data[: end - start])


class RewindableBody:
    """
    A file streamed as a request body, from its first byte on every attempt.

    ``requests`` sends an iterable with a length as a plain body of that ``Content-Length``; iterating again
    (a retry after a 429 or a 503) starts over, where a bare file object would resend only what is left.
    """

    def __init__(self, file: IO[bytes], *, chunk_size: int = CHUNK_SIZE) -> None:
        self._file = file
        self._chunk_size = chunk_size
        file.seek(0, os.SEEK_END)
        self._size = file.tell()
        file.seek(0)

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[bytes]:
        self._file.seek(0)
        while chunk := self._file.read(self._chunk_size):
            yield chunk


def download(
    open_body: Callable[[], requests.Response],
    target: ObjectStoragePath,
    *,
    where: str,
    policy: RetryPolicy,
    sleep: Callable[[float], None],
    warn: Callable[..., Any],
    scrub: Scrub,
) -> int:
    """
    Stream the body ``open_body()`` answers into ``target``; return its size in bytes.

    A body that breaks off is asked for again, up to ``policy.limit`` times, after ``policy.backoff``.
    """
    attempt = 0
    while True:
        attempt += 1
        response = open_body()
        try:
            return write_body(response, target, where=where, scrub=scrub)
        except ApiConnectionError as exc:
            if attempt > policy.limit:
                raise
            wait = policy.backoff(attempt)
            warn(
                "GET %s: %s; download restarts (retry %d of %d) in %.1f s",
                where,
                scrub(str(exc)),
                attempt,
                policy.limit,
                wait,
            )
            sleep(wait)
        finally:
            response.close()


def write_body(response: requests.Response, target: ObjectStoragePath, *, where: str, scrub: Scrub) -> int:
    """Write a streamed body to ``target`` atomically; a stall or break becomes a retryable error."""
    size = 0
    with atomic_writer(target, compress=False) as out:
        try:
            for chunk in response.iter_content(CHUNK_SIZE):
                out.write(chunk)
                size += len(chunk)
        except (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            stalled = isinstance(exc, requests.Timeout)
            cls = ApiTimeoutError if stalled else ApiConnectionError
            what = "stalled" if stalled else f"broke off after {size} bytes"
            raise cls(
                f"GET {where}: the download {what}", service=SERVICE, errors=[scrub(str(exc))], retryable=True
            ) from None
    return size


class Uploaded(NamedTuple):
    """What an upload did: the file's metadata, where it came from, how many bytes, and whether it was found made."""

    metadata: dict[str, Any]
    source: ObjectStoragePath
    size: int
    found: bool = False


def upload(
    send: Callable[..., Any],
    source: PathLike,
    *,
    parent_id: str,
    name: str | None,
    listing: Callable[[], Iterable[Mapping[str, Any]]] | None = None,
    since: datetime | None = None,
) -> Uploaded:
    """
    Stream ``source`` through ``send(data=body, headers=headers)`` (the ``POST storage/files`` request).

    ``name`` defaults to the source's name; the bytes are sent as they are (a ``.gz`` file stays compressed).
    With ``listing`` (the parent folder's items) the upload is a plain one: ``send`` also gets
    ``reconcile=``, and a 409 after a lost answer, or any 409 when ``since`` is given, is taken as done when
    the file there is this upload's (``uploads.OwnUpload``, from ``since`` or from now).
    """
    origin = as_storage_path(source)
    target_name = name or origin.name
    if not target_name:
        raise ValueError(f"{origin}: give the upload a name")
    metadata = json.dumps({"parent_id": parent_id, "name": target_name})
    headers = {"X-Kloudless-Metadata": metadata, "Content-Type": "application/octet-stream"}
    fs = origin.fs
    if fs.isdir(origin.path) and not fs.isfile(origin.path):
        raise IsADirectoryError(f"{origin} is a directory, not a file")
    own: OwnUpload | None = None
    with fs.open(origin.path, "rb") as file:
        body = RewindableBody(cast(IO[bytes], file))
        if listing is None:
            payload = send(data=body, headers=headers)
        else:
            own = OwnUpload(
                listing,
                name=target_name,
                size=len(body),
                digest=digest_of(lambda: body),
                started=since or datetime.now(UTC),
            )
            try:
                payload = send(data=body, headers=headers, reconcile=own.reconcile)
            except ConflictError:
                payload = own.find() if own.lost or since is not None else None
                if payload is None:
                    raise
    if not isinstance(payload, dict) or "id" not in payload:
        raise UnexpectedResponseError("POST storage/files: the answer is not file metadata", service=SERVICE)
    return Uploaded(payload, origin, len(body), own is not None and own.found)
