"""
A rejects file: the bad rows an import skipped, with the reason, as JSON Lines.

Each line is ``{"source", "line", "column", "reason", "row", "raw"}``: where the row came from, the
1-based line (or row number), the column at fault (``null`` when the whole row is bad), why, the
row as parsed (``null`` when it could not be parsed) and its text (``null`` when unknown).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Mapping
from types import TracebackType
from typing import Any, BinaryIO

from airflow.sdk import ObjectStoragePath

from airflow_provider_cloud.exceptions import RowDataError
from airflow_provider_cloud.rows.paths import as_storage_path, atomic_writer
from airflow_provider_cloud.rows.readers import Record
from airflow_provider_cloud.rows.writers import encode_json

log = logging.getLogger(__name__)


class RejectsWriter:
    """
    Collect rejected rows into a JSON Lines file (gzip-compressed when the name ends in ``.gz``).

    Use it as a context manager. The file is created on the first reject only: with zero rejects no
    file is written (and an older file at the path is left alone). ``open()`` checks early that the
    path can be written (an import calls it before its first write, so a misconfigured path fails the
    task before anything is imported, not at the first bad row): it starts the temporary file at once,
    which is removed again if nothing is rejected. It is written through
    ``atomic_writer`` and appears when the block ends. By default it also appears when the block
    ends with an exception (``keep_on_error``), since the rejects explain a failed import (for
    example one stopped by too many bad rows); a retried task writes it afresh.
    """

    def __init__(
        self, path: str | os.PathLike[str] | ObjectStoragePath, *, keep_on_error: bool = True
    ) -> None:
        self._path = as_storage_path(path)
        self.keep_on_error = keep_on_error
        self.count = 0
        self._writer: contextlib.AbstractContextManager[BinaryIO] | None = None
        self._file: BinaryIO | None = None
        self._closed = False

    @property
    def path(self) -> str:
        """Return the rejects file's location as a URL."""
        return str(self._path)

    @property
    def written(self) -> bool:
        """Return whether a rejects file was (or is being) written, that is whether anything was rejected."""
        return self.count > 0

    def __enter__(self) -> RejectsWriter:
        return self

    def open(self) -> None:
        """Start the file now (its temporary sibling); raises ``OSError`` when the path cannot be written."""
        if self._closed:
            raise RuntimeError("the rejects file is already closed")
        if self._file is None:
            writer = atomic_writer(self._path)
            self._file = writer.__enter__()
            self._writer = writer

    def add(self, record: Record) -> None:
        """Write a bad ``Record`` (one whose ``error`` is set)."""
        if record.error is None:
            raise ValueError(f"line {record.line} has no error; only bad records are rejected")
        self.reject(record.error, row=record.data, raw=record.raw)

    def reject(
        self,
        error: RowDataError,
        *,
        row: Mapping[str, Any] | None = None,
        raw: str | None = None,
    ) -> None:
        """Write one rejected row: the error says where and why, ``row`` and ``raw`` what it was."""
        if self._closed:
            raise RuntimeError("the rejects file is already closed")
        entry = {
            "source": error.source,
            "line": error.line,
            "column": error.column,
            "reason": error.reason,
            "row": dict(row) if row is not None else None,
            "raw": raw,
        }
        try:
            text = encode_json(entry)
        except (TypeError, ValueError):
            entry["row"] = repr(entry["row"])
            text = encode_json(entry)
        if self._file is None:
            self.open()
        assert self._file is not None
        self._file.write(text.encode("utf-8") + b"\n")
        self.count += 1

    def close(self) -> None:
        """Finish the file (when anything was rejected); further rejects are refused."""
        self._finish(None, None, None)

    def _finish(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._closed:
            return
        self._closed = True
        writer, self._writer, self._file = self._writer, None, None
        if writer is None:
            return
        if self.count == 0:  # opened early, nothing rejected: no file, an older one left alone
            discard = _NothingRejected()
            writer.__exit__(type(discard), discard, None)
            return
        if exc is None:
            writer.__exit__(None, None, None)
            log.info("Wrote %s rejected rows to %s", self.count, self._path)
            return
        if not self.keep_on_error:
            writer.__exit__(exc_type, exc, tb)
            return
        try:
            writer.__exit__(None, None, None)
            log.info("Wrote %s rejected rows to %s", self.count, self._path)
        except Exception:
            log.warning("Could not finish the rejects file %s", self._path, exc_info=True)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._finish(exc_type, exc, tb)


class _NothingRejected(Exception):
    """Thrown into the file's writer to discard it: it was opened early and nothing was rejected."""
