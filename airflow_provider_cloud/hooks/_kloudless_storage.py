"""
Kloudless storage methods: list, metadata, streaming download and upload via ``ObjectStoragePath``, delete.

Downloads stream the contents in chunks into a hidden temporary file next to the destination and move it into
place only once complete, so the destination never holds a half-written file (``rows.paths.atomic_writer``
with ``compress=False``: a download keeps the bytes as they are, even under a ``.gz`` name).
A download whose body breaks off is restarted from the start, up to the hook's retry limit.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import IO, Any, cast
from urllib.parse import quote

import requests
from airflow.sdk import ObjectStoragePath

from airflow_provider_cloud.exceptions import ApiConnectionError, ApiTimeoutError, UnexpectedResponseError
from airflow_provider_cloud.hooks._kloudless_base import KloudlessBaseHook, check_page_size
from airflow_provider_cloud.rows.paths import as_storage_path, atomic_writer

#: Bytes read from the network or a source file per chunk.
CHUNK_SIZE = 1024 * 1024
ROOT_FOLDER = "root"

PathLike = str | os.PathLike[str] | ObjectStoragePath


def _item(kind: str, item_id: str) -> str:
    if not item_id or not str(item_id).strip():
        raise ValueError(f"a {kind} id is required")
    return f"storage/{kind}s/{quote(str(item_id), safe='')}"


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


class KloudlessStorageMixin(KloudlessBaseHook):
    """Storage methods of the Kloudless hook."""

    def list_folder(
        self, folder_id: str = ROOT_FOLDER, *, recursive: bool = False, page_size: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Yield the metadata of a folder's files and folders lazily, page by page (all levels if ``recursive``)."""
        return self.iter_object_list(
            f"{_item('folder', folder_id)}/contents",
            params={"recursive": "true"} if recursive else None,
            page_size=check_page_size(page_size),
        )

    def get_file_metadata(self, file_id: str) -> dict[str, Any]:
        """Return a file's metadata (``id``, ``name``, ``size``, ``parent``, ``modified``, ...)."""
        return dict(self.account_json("GET", _item("file", file_id)))

    def get_folder_metadata(self, folder_id: str = ROOT_FOLDER) -> dict[str, Any]:
        """Return a folder's metadata."""
        return dict(self.account_json("GET", _item("folder", folder_id)))

    def delete_file(self, file_id: str) -> None:
        """Delete a file."""
        self.request_account("DELETE", _item("file", file_id)).close()

    def download_file(self, file_id: str, destination: PathLike) -> dict[str, Any]:
        """
        Stream a file's contents to ``destination`` (a local path or any ``ObjectStoragePath``).

        Memory stays flat whatever the size. The destination appears only once complete (an existing file
        is replaced then); a failure leaves it as it was. Return ``{"file_id", "path", "size"}``.
        """
        target = as_storage_path(destination)
        path = f"{_item('file', file_id)}/contents"
        attempt = 0
        while True:
            attempt += 1
            response = self.request_account("GET", path, stream=True)
            try:
                size = self._write_body(response, target, path)
            except ApiConnectionError as exc:
                if attempt > self.retry_policy.limit:
                    raise
                wait = self.retry_policy.backoff(attempt)
                self.log.warning(
                    "GET %s: %s; download restarts (retry %d of %d) in %.1f s",
                    path,
                    self.scrub(str(exc)),
                    attempt,
                    self.retry_policy.limit,
                    wait,
                )
                self._sleep(wait)
                continue
            finally:
                response.close()
            self.log.info("Downloaded Kloudless file %s to %s (%d bytes)", file_id, target, size)
            return {"file_id": file_id, "path": str(target), "size": size}

    def _write_body(self, response: requests.Response, target: ObjectStoragePath, where: str) -> int:
        size = 0
        with atomic_writer(target, compress=False) as out:
            try:
                for chunk in response.iter_content(CHUNK_SIZE):
                    out.write(chunk)
                    size += len(chunk)
            except requests.Timeout as exc:
                raise ApiTimeoutError(
                    f"GET {where}: the download stalled",
                    service=self.service_name,
                    errors=[self.scrub(str(exc))],
                    retryable=True,
                ) from None
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
                raise ApiConnectionError(
                    f"GET {where}: the download broke off after {size} bytes",
                    service=self.service_name,
                    errors=[self.scrub(str(exc))],
                    retryable=True,
                ) from None
        return size

    def upload_file(
        self,
        source: PathLike,
        *,
        parent_id: str = ROOT_FOLDER,
        name: str | None = None,
        overwrite: bool = False,
    ) -> dict[str, Any]:
        """
        Stream a file (a local path or any ``ObjectStoragePath``) into a Kloudless folder; return its metadata.

        The bytes are sent as they are (a ``.gz`` file stays compressed). ``name`` defaults to the source's
        name; ``overwrite`` replaces a file of that name (without it the service answers 409, a
        :class:`~airflow_provider_cloud.exceptions.ConflictError`). An overwriting upload is retried like an
        idempotent request; a plain one only when the service cannot have acted (429, 502-504).
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
        with fs.open(origin.path, "rb") as file:
            body = RewindableBody(cast(IO[bytes], file))
            payload = self.account_json(
                "POST",
                "storage/files",
                params={"overwrite": "true"} if overwrite else None,
                data=body,
                headers=headers,
                idempotent=overwrite,
            )
        if not isinstance(payload, dict) or "id" not in payload:
            raise UnexpectedResponseError(
                "POST storage/files: the answer is not file metadata", service=self.service_name
            )
        self.log.info("Uploaded %s to Kloudless as %s (%d bytes)", origin, payload["id"], len(body))
        return payload
