"""
Locations of row files: local paths or any ``ObjectStoragePath``, read and written safely.

``as_storage_path`` turns what a DAG author writes (``"data/in.csv"``, ``"file:///data/in.csv"``,
``"s3://bucket/in.csv.gz"``) into an ``ObjectStoragePath``. ``open_for_read`` and ``atomic_writer``
decompress and compress ``.gz`` by the file name, and ``atomic_writer`` never leaves a half-written
file at the destination.

Files are opened through the path's filesystem directly (``path.fs.open``), not ``path.open()``:
Airflow's tracking wrapper records lineage on every ``read``/``write`` call, which is costly when
streaming; lineage is recorded here once per file instead (inputs when opened, outputs when the
finished file is moved into place).
"""

from __future__ import annotations

import contextlib
import datetime
import gzip
import logging
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterator
from typing import IO, Any, BinaryIO, cast

import fsspec
from airflow.sdk import ObjectStoragePath
from airflow.sdk.io import attach, has_fs

log = logging.getLogger(__name__)

#: Compression level for ``.gz`` output: the ``gzip`` tool's default, far faster than 9 for a few % size.
GZIP_LEVEL = 6
#: A temporary sibling untouched for this long was left by a writer that died (a killed task: no
#: ``finally`` runs), and the next writer of the same destination removes it. A live writer adds to its
#: file as rows come, so it is never this quiet; Airflow's default retry delay is as long, so a retry
#: of the killed task finds its own leftover stale.
STALE_TEMPORARY_SECONDS = 300.0

_LOCAL_PROTOCOLS = frozenset({"", "file", "local"})


def as_storage_path(
    location: str | os.PathLike[str] | ObjectStoragePath, *, conn_id: str | None = None
) -> ObjectStoragePath:
    """
    Return ``location`` as an ``ObjectStoragePath``.

    A plain local path (relative ones are made absolute against the current directory, ``~`` is
    expanded) becomes a ``file://`` path. A URL keeps its scheme. ``conn_id`` names the Airflow
    connection for the store (it can also be given as ``s3://conn_id@bucket/key``).

    A scheme for which Airflow has no filesystem registered (``memory://``, or ``s3://`` without
    the Amazon provider) is attached from fsspec's own registry, without a connection; asking for
    a ``conn_id`` on such a scheme, or a scheme fsspec does not know, raises ``ValueError``.
    """
    if isinstance(location, ObjectStoragePath):
        path = location
        if path.protocol in _LOCAL_PROTOCOLS and path.protocol != "file":
            path = _local_path(path.path)
        if conn_id is not None and path.conn_id != conn_id:
            path = ObjectStoragePath(str(path), conn_id=conn_id)
    else:
        text = os.fspath(location)
        if not isinstance(text, str):
            raise TypeError(f"expected a text path or URL, got {type(text).__name__}")
        if "://" in text:
            try:
                path = ObjectStoragePath(text, conn_id=conn_id)
            except (ImportError, ValueError) as error:
                scheme = text.split("://", 1)[0]
                raise ValueError(f"{text}: cannot open {scheme}:// paths: {error}") from error
            if path.protocol in _LOCAL_PROTOCOLS:
                path = _local_path(path.path)
        else:
            path = _local_path(text)
    _ensure_filesystem(path)
    return path


def _local_path(text: str) -> ObjectStoragePath:
    return ObjectStoragePath(os.path.abspath(os.path.expanduser(text)), protocol="file")


def _ensure_filesystem(path: ObjectStoragePath) -> None:
    """Attach an fsspec filesystem for a scheme Airflow has none registered for."""
    protocol = path.protocol or "file"
    if has_fs(protocol):
        return
    if path.conn_id is not None:
        raise ValueError(
            f"{path}: no Airflow filesystem is registered for {protocol}:// so connection "
            f"{path.conn_id!r} cannot be used; install the provider that supports {protocol}://"
        )
    try:
        fs = fsspec.filesystem(protocol)
    except (ImportError, ValueError) as error:
        raise ValueError(f"{path}: cannot open {protocol}:// paths: {error}") from error
    attach(protocol, fs=fs)


def file_identity(location: str | os.PathLike[str] | ObjectStoragePath) -> dict[str, Any]:
    """
    Return what identifies one version of a file cheaply: its URL, size and the store's checksum.

    The checksum is the filesystem's (``fs.checksum``: the ETag on S3, the file's metadata such as its
    modification time on a local disk), so it changes when the file is written again; nothing is read.
    """
    path = as_storage_path(location)
    info = path.fs.info(path.path)
    return {"source": str(path), "size": info.get("size"), "checksum": str(path.fs.checksum(path.path))}


def is_gzip_name(path: ObjectStoragePath | str) -> bool:
    """Return whether a file name says gzip (``.gz``, any case)."""
    name = path.name if isinstance(path, ObjectStoragePath) else path
    return name.lower().endswith(".gz")


def _record_lineage(path: ObjectStoragePath, *, output: bool) -> None:
    """Tell Airflow's hook-lineage collector about a file; lineage never breaks a data path."""
    try:
        from airflow.sdk.lineage import get_hook_lineage_collector

        collector = get_hook_lineage_collector()
        if output:
            collector.add_output_asset(context=path, uri=str(path))
        else:
            collector.add_input_asset(context=path, uri=str(path))
    except Exception:
        log.debug("Could not record lineage for %s", path, exc_info=True)


@contextlib.contextmanager
def open_for_read(path: ObjectStoragePath | str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """
    Open a file for reading bytes, decompressing it when its name ends in ``.gz``.

    Raises ``FileNotFoundError`` when there is no such file and ``IsADirectoryError`` for a directory.
    """
    path = as_storage_path(path)
    fs = path.fs
    if fs.isdir(path.path) and not fs.isfile(path.path):
        raise IsADirectoryError(f"{path} is a directory, not a file")
    raw = fs.open(path.path, "rb")
    _record_lineage(path, output=False)
    try:
        if is_gzip_name(path):
            with gzip.GzipFile(fileobj=raw, mode="rb") as unzipped:
                yield cast(BinaryIO, unzipped)
        else:
            yield cast(BinaryIO, raw)
    finally:
        raw.close()


def temporary_sibling(path: ObjectStoragePath) -> ObjectStoragePath:
    """Return a hidden, randomly named path next to ``path`` (``.<name>.<random>.tmp``)."""
    return path.parent / f".{path.name}.{secrets.token_hex(8)}.tmp"


def remove_stale_temporaries(
    path: ObjectStoragePath, *, older_than: float = STALE_TEMPORARY_SECONDS, now: float | None = None
) -> list[str]:
    """
    Remove the temporary siblings of ``path`` that no writer touched for ``older_than`` seconds.

    Only names of :func:`temporary_sibling`'s exact pattern for this destination are considered, and
    only files whose modification time is known and old enough: a file of another name, or of a writer
    still at work, is never touched. Returns the paths removed; failing to list or remove is logged, never
    raised (a leftover must not fail the write that found it).
    """
    fs = path.fs
    own = re.compile(rf"\.{re.escape(path.name)}\.[0-9a-f]{{16}}\.tmp")
    now = time.time() if now is None else now
    removed: list[str] = []
    try:
        entries = fs.ls(path.parent.path, detail=True)
    except (FileNotFoundError, NotADirectoryError):
        return removed
    except Exception:
        log.warning("Could not list %s for stale temporary files", path.parent, exc_info=True)
        return removed
    for entry in entries:
        name = str(entry["name"]).rstrip("/").rsplit("/", 1)[-1]
        if entry.get("type") != "file" or not own.fullmatch(name):
            continue
        try:
            modified = fs.modified(entry["name"])
            age = now - (modified.timestamp() if isinstance(modified, datetime.datetime) else float(modified))
            if age < older_than:
                continue
            fs.rm_file(entry["name"])
        except FileNotFoundError:
            continue  # removed meanwhile, by another writer's clean-up
        except Exception:
            log.warning("Could not remove the stale temporary file %s", entry["name"], exc_info=True)
            continue
        log.info(
            "Removed %s, a temporary file left %.0f minutes ago by a write that did not finish",
            name,
            age / 60,
        )
        removed.append(str(entry["name"]))
    return removed


@contextlib.contextmanager
def atomic_writer(
    path: ObjectStoragePath | str | os.PathLike[str], *, mode: str = "wb", compress: bool | None = None
) -> Iterator[BinaryIO]:
    """
    Write a file so that the destination only ever holds a complete file.

    Bytes go to a hidden temporary sibling (``.<name>.<random>.tmp``), gzip-compressed when the
    final name ends in ``.gz`` (``compress=False`` keeps bytes as given, e.g. a downloaded ``.gz``). When the block exits cleanly the temporary is moved onto the
    destination (replacing a file already there); on any exception, including ``KeyboardInterrupt``
    and task termination, the temporary is removed and the destination is left as it was.

    A killed writer leaves its temporary behind (nothing runs on ``SIGKILL``): the next write to the same
    destination removes such leftovers first (:func:`remove_stale_temporaries`).

    ``mode`` is ``"wb"`` (replace) or ``"xb"`` (fail with ``FileExistsError`` if the destination
    exists, checked before writing and again before the move). Local parent directories are created.

    The move is ``fs.mv``: an atomic ``rename`` on a local disk; copy-then-delete on object stores,
    where the copied object appears whole or not at all. A filesystem without ``mv`` falls back to a
    streamed copy and a delete.
    """
    if mode not in ("wb", "xb"):
        raise ValueError(f"atomic_writer mode must be 'wb' or 'xb', not {mode!r}")
    final = as_storage_path(path)
    fs = final.fs
    exclusive = mode == "xb"
    if fs.isdir(final.path) and not fs.isfile(final.path):
        raise IsADirectoryError(f"{final} is a directory; cannot write a file there")
    if exclusive and fs.exists(final.path):
        raise FileExistsError(f"{final} already exists")
    if final.protocol in _LOCAL_PROTOCOLS:
        fs.makedirs(final.parent.path, exist_ok=True)
    remove_stale_temporaries(final)
    temporary = temporary_sibling(final)
    raw = fs.open(temporary.path, "wb")
    try:
        try:
            if is_gzip_name(final) if compress is None else compress:
                stem = final.name[: -len(".gz")]
                with gzip.GzipFile(
                    filename=stem, mode="wb", fileobj=raw, compresslevel=GZIP_LEVEL, mtime=0
                ) as zipped:
                    yield cast(BinaryIO, zipped)
            else:
                yield cast(BinaryIO, raw)
        finally:
            raw.close()
        if exclusive and fs.exists(final.path):
            raise FileExistsError(f"{final} already exists")
        _move(fs, temporary.path, final.path)
    except BaseException:
        _remove_quietly(fs, temporary)
        raise
    _record_lineage(final, output=True)


def _move(fs: Any, source: str, destination: str) -> None:
    try:
        fs.mv(source, destination)
    except NotImplementedError:
        with fs.open(source, "rb") as reader, fs.open(destination, "wb") as writer:
            shutil.copyfileobj(cast(IO[bytes], reader), cast(IO[bytes], writer), 1 << 20)
        fs.rm_file(source)


def _remove_quietly(fs: Any, temporary: ObjectStoragePath) -> None:
    try:
        if fs.exists(temporary.path):
            fs.rm_file(temporary.path)
    except Exception:
        log.warning("Could not remove the temporary file %s", temporary, exc_info=True)
