"""
Pick the files to move: those worth downloading out of a batch of Kloudless events, and the sources to upload.

A batch (the ``events`` of :class:`~airflow_provider_cloud.sensors.kloudless.KloudlessEventsSensor`'s XCom) may
mention a file several times: added, updated, renamed, deleted. :func:`select_files` reduces it to one entry per
file, in the order of each file's latest event:

- events without storage metadata (calendar events, events of other APIs) and folders are left out;
- a file is *wanted* when at least one of its events is of the wanted types (default ``add`` and ``update``);
- its *latest* event, of any type, tells its current state: a file whose latest event is a ``delete`` is gone
  and left out; otherwise the latest event's metadata gives its name and mime type (so a file added and then
  renamed is matched, and saved, under its new name);
- files marked ``downloadable: false`` (e.g. native Google Docs) are left out;
- the name and mime-type filters apply last. Both are shell-style globs matched without regard to case
  (``*.csv`` matches ``DATA.CSV``; ``text/*`` matches ``text/csv``).

Every file left out is counted by reason in :attr:`Selection.skipped`, so a task can log what it ignored.

:func:`upload_sources` reads an upload's ``source``: one file, or several (a list, a folder, a glob); the
decisions are in its docstring.
"""

from __future__ import annotations

import ast
import fnmatch
import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from airflow.sdk import ObjectStoragePath

from airflow_provider_cloud.rows.paths import as_storage_path

DEFAULT_EVENT_TYPES = ("add", "update")
FOLDER_MIME_TYPE = "inode/directory"
_UNSAFE_NAME_CHARACTERS = re.compile(r"[/\\\x00]")
_UNSAFE_ID_CHARACTERS = re.compile(r"[^A-Za-z0-9_-]")


def _patterns(value: str | Iterable[str] | None, what: str) -> tuple[str, ...]:
    """Return lower-cased globs (empty: match everything)."""
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else list(value)
    out: list[str] = []
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise ValueError(f"{what} must be non-empty strings, got {item!r}")
        out.append(item.strip().lower())
    return tuple(out)


@dataclass(frozen=True)
class FileFilter:
    """Which files of an events batch to download: event types, name globs and mime-type globs."""

    event_types: frozenset[str] = frozenset(DEFAULT_EVENT_TYPES)
    name_patterns: tuple[str, ...] = ()
    mime_types: tuple[str, ...] = ()

    @classmethod
    def build(
        cls,
        event_types: str | Iterable[str] | None = DEFAULT_EVENT_TYPES,
        name_pattern: str | Iterable[str] | None = None,
        mime_types: str | Iterable[str] | None = None,
    ) -> FileFilter:
        """Return a filter from operator arguments (``event_types=None`` wants every type but ``delete``)."""
        types = _patterns(event_types, "event_types")
        if event_types is not None and not types:
            raise ValueError("event_types is empty: give None to accept every event type")
        return cls(
            event_types=frozenset(types),
            name_patterns=_patterns(name_pattern, "name_pattern"),
            mime_types=_patterns(mime_types, "mime_types"),
        )

    def wants_type(self, event_type: object) -> bool:
        """Tell whether an event of this type makes its file wanted."""
        if not isinstance(event_type, str):
            return False
        if not self.event_types:
            return event_type.lower() != "delete"
        return event_type.lower() in self.event_types

    def matches_name(self, name: str) -> bool:
        return not self.name_patterns or any(fnmatch.fnmatchcase(name.lower(), p) for p in self.name_patterns)

    def matches_mime_type(self, mime_type: str | None) -> bool:
        if not self.mime_types:
            return True
        return mime_type is not None and any(
            fnmatch.fnmatchcase(mime_type.lower(), p) for p in self.mime_types
        )


@dataclass(frozen=True)
class FileRef:
    """A file to download: its Kloudless id, its name, the event that last mentioned it and its path (lineage)."""

    file_id: str
    name: str
    mime_type: str | None = None
    event_id: str | None = None
    path: str | None = None


@dataclass
class Selection:
    """The files chosen from a batch of events, and how many were left out, by reason."""

    files: list[FileRef] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)


def events_from(value: Any) -> list[Mapping[str, Any]]:
    """
    Return the events of a sensor XCom value: its ``events`` list, or a list of events as given.

    ``None`` and an empty string mean no events. Text (what a Jinja template renders without
    ``render_template_as_native_obj``) is read as JSON, else as a Python literal (``ast.literal_eval``:
    never executed). Anything else raises ``TypeError``.
    """
    if value is None:
        return []
    if isinstance(value, str):
        text = value.strip()
        if text in ("", "None"):
            return []
        try:
            value = json.loads(text)
        except ValueError:
            try:
                value = ast.literal_eval(text)
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                raise TypeError(
                    "events= rendered to text that is neither JSON nor a Python literal; pass the sensor's "
                    "XCom itself (events=sensor.output) or render the DAG's templates as native objects"
                ) from None
    if isinstance(value, Mapping):
        if "events" not in value:
            raise TypeError(f"events= is a mapping without an 'events' list (keys: {sorted(value)[:10]})")
        value = value["events"]
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise TypeError(f"events= must be a list of events or the sensor's XCom, got {type(value).__name__}")
    bad = [item for item in value if not isinstance(item, Mapping)]
    if bad:
        raise TypeError(f"events= must hold event objects, got {type(bad[0]).__name__}")
    return list(value)


def _storage_file_id(metadata: Mapping[str, Any]) -> str | None:
    """Return the id of a storage *file*, or ``None`` for folders and objects of other APIs."""
    if metadata.get("api") not in (None, "storage"):
        return None
    kind = metadata.get("type")
    if kind not in (None, "file") or metadata.get("mime_type") == FOLDER_MIME_TYPE:
        return None
    file_id = metadata.get("id")
    if file_id is None or isinstance(file_id, bool) or str(file_id).strip() == "":
        return None
    return str(file_id)


def path_of(metadata: Mapping[str, Any]) -> str | None:
    path = metadata.get("path")
    return str(path) if isinstance(path, str) and path else None


def select_files(events: Iterable[Mapping[str, Any]], file_filter: FileFilter) -> Selection:
    """Reduce events to the files to download, one per file id, ordered by each file's latest event."""
    selection = Selection()
    latest: dict[str, Mapping[str, Any]] = {}
    wanted: set[str] = set()
    for event in events:
        metadata = event.get("metadata")
        file_id = _storage_file_id(metadata) if isinstance(metadata, Mapping) else None
        if file_id is None:
            reason = (
                "folder"
                if isinstance(metadata, Mapping) and metadata.get("type") == "folder"
                else "not_a_file"
            )
            selection.skipped[reason] += 1
            continue
        if file_id in latest:
            selection.skipped["duplicate"] += 1
            del latest[file_id]  # re-inserted below: dict order follows each file's latest event
        latest[file_id] = event
        if file_filter.wants_type(event.get("type")):
            wanted.add(file_id)
    for file_id, event in latest.items():
        metadata = event["metadata"]
        name = str(metadata.get("name") or "")
        mime_type = metadata.get("mime_type")
        mime_type = str(mime_type) if mime_type is not None else None
        if file_id not in wanted:
            reason = "event_type"
        elif str(event.get("type") or "").lower() == "delete":
            reason = "deleted"
        elif metadata.get("downloadable") is False:
            reason = "not_downloadable"
        elif not file_filter.matches_name(name):
            reason = "name"
        elif not file_filter.matches_mime_type(mime_type):
            reason = "mime_type"
        else:
            event_id = event.get("id")
            selection.files.append(
                FileRef(
                    file_id, name, mime_type, None if event_id is None else str(event_id), path_of(metadata)
                )
            )
            continue
        selection.skipped[reason] += 1
    return selection


def safe_file_name(name: str, file_id: str) -> str:
    """Return a name that is one path segment: separators become ``_``; empty, ``.`` or ``..`` use the id."""
    cleaned = _UNSAFE_NAME_CHARACTERS.sub("_", name).strip()
    if cleaned in ("", ".", ".."):
        return _UNSAFE_ID_CHARACTERS.sub("_", file_id) or "file"
    return cleaned


def unique_file_names(files: Iterable[FileRef]) -> list[str]:
    """
    Return one destination name per file, each a safe single segment and unique among them.

    A name another file of the same batch already took (``a/data.csv`` and ``b/data.csv`` both named
    ``data.csv``) gets the file id before its extensions: ``data.<id>.csv``. The result only depends on the
    files and their order, so a retried task writes the same names.
    """
    taken: set[str] = set()
    out: list[str] = []
    for ref in files:
        name = safe_file_name(ref.name, ref.file_id)
        if name.lower() in taken:
            # The first character stays in the stem, so ".env" keeps its name as the stem.
            stem, dot, extensions = name[1:].partition(".")
            stem = name[0] + stem
            safe_id = _UNSAFE_ID_CHARACTERS.sub("_", ref.file_id)
            candidate = name
            for number in range(1, len(taken) + 2):  # at most len(taken) candidates can be taken
                tag = safe_id if number == 1 else f"{safe_id}-{number}"
                candidate = f"{stem}.{tag}{dot}{extensions}" if dot else f"{stem}.{tag}"
                if candidate.lower() not in taken:
                    break
            name = candidate
        taken.add(name.lower())
        out.append(name)
    return out


_GLOB_CHARACTERS = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class UploadSources:
    """The files an upload's ``source`` names, and whether it names several (the XCom is then a list)."""

    files: list[ObjectStoragePath]
    several: bool


def _literal_list(text: str) -> list[Any] | None:
    """Return the list a rendered template's text holds (JSON, else a Python literal), or ``None``."""
    if not (text.startswith("[") and text.endswith("]")):
        return None
    for read in (json.loads, ast.literal_eval):
        try:
            value = read(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            continue
        return value if isinstance(value, list) else None
    return None


def is_unset(value: Any) -> bool:
    """Tell whether a (rendered) argument means "not given": ``None``, empty, or the text ``"None"``."""
    return value is None or (isinstance(value, str) and value.strip() in ("", "None"))


def upload_sources(source: Any) -> UploadSources:
    """
    Return the files ``source`` names: one path, a list of paths, a folder, or a glob.

    Decisions:

    - a path (text, ``os.PathLike`` or ``ObjectStoragePath``) is one file, and the XCom stays one dict;
    - a list (or any sequence, e.g. a mapped task's XCom; also text a template rendered from one) is its files
      as given, in its order, each taken as one file;
    - a path ending with ``/``, or naming an existing folder, is the files directly in it; a path with ``*``,
      ``?`` or ``[`` that is not an existing file is a glob (``**`` reaches into subfolders). Either gives the
      files sorted by path, leaving out hidden names (``.name``: the temporary siblings of writers at work
      among them) unless the glob's last part starts with ``.``. An empty folder, or a glob matching nothing,
      is no file; a folder (or a glob's folder) that does not exist is ``FileNotFoundError``.
    """
    if is_unset(source):
        raise ValueError("source= is empty; give the file to upload, a list of files, a folder or a glob")
    if isinstance(source, str):
        text = source.strip()
        listed = _literal_list(text)
        if listed is None:
            return _from_path(text)
        source = listed
    elif isinstance(source, ObjectStoragePath | os.PathLike):
        return _from_path(source)
    if isinstance(source, bytes | Mapping) or not isinstance(source, Iterable):
        raise TypeError(f"source= must be a path or a list of paths, got {type(source).__name__}")
    files: list[ObjectStoragePath] = []
    for item in source:
        if is_unset(item) or not isinstance(item, str | os.PathLike | ObjectStoragePath):
            raise ValueError(f"source= lists {item!r}; each item must be the path of a file")
        files.append(as_storage_path(item.strip() if isinstance(item, str) else item))
    return UploadSources(files, several=True)


def _from_path(source: str | os.PathLike[str] | ObjectStoragePath) -> UploadSources:
    path = as_storage_path(source)
    fs = path.fs
    if (
        isinstance(source, str)
        and source.endswith(("/", os.sep))
        or (fs.isdir(path.path) and not fs.isfile(path.path))
    ):
        if not fs.isdir(path.path):
            raise FileNotFoundError(f"{path}: no such folder to upload the files of")
        return UploadSources(_visible(path.iterdir(), show_hidden=False), several=True)
    if not _GLOB_CHARACTERS.search(path.path) or fs.isfile(path.path):
        return UploadSources([path], several=False)
    parts = PurePosixPath(path.path).parts
    first = next(n for n, part in enumerate(parts) if _GLOB_CHARACTERS.search(part))
    anchor = path
    for _ in range(len(parts) - first):
        anchor = anchor.parent
    if not fs.isdir(anchor.path):
        raise FileNotFoundError(f"{anchor}: no such folder for the glob {path}")
    pattern = "/".join(parts[first:])
    return UploadSources(_visible(anchor.glob(pattern), show_hidden=parts[-1].startswith(".")), several=True)


def _visible(paths: Iterable[ObjectStoragePath], *, show_hidden: bool) -> list[ObjectStoragePath]:
    """Return the files among ``paths``, sorted, without hidden names unless asked."""
    kept = [p for p in paths if (show_hidden or not p.name.startswith(".")) and p.is_file()]
    return sorted(kept, key=str)
