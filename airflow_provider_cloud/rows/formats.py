"""
Row file formats: which one a file name means, and the options of CSV.

``csv`` (and ``.tsv``, CSV with a tab delimiter), ``jsonl`` (JSON Lines, one object per line, also
``.ndjson``) and ``json`` (one array of objects). Each may be gzip-compressed (``.gz``). ``parquet``
(``.parquet``, the ``parquet`` extra) compresses its own column chunks, so ``.parquet.gz`` is refused.
"""

from __future__ import annotations

import csv
import dataclasses
import os
from collections.abc import Collection
from typing import Literal

from airflow.sdk import ObjectStoragePath

from airflow_provider_cloud.exceptions import RowDataError

RowFormat = Literal["csv", "jsonl", "json", "parquet"]

#: Accepted file name endings and the format each means (each may be followed by ``.gz``).
SUFFIX_FORMATS: dict[str, RowFormat] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".parquet": "parquet",
}

#: Format names accepted as ``explicit`` (``tsv`` and ``ndjson`` are aliases).
FORMAT_NAMES: dict[str, RowFormat] = {
    "csv": "csv",
    "tsv": "csv",
    "jsonl": "jsonl",
    "ndjson": "jsonl",
    "json": "json",
    "parquet": "parquet",
}

QUOTING_NAMES: dict[str, int] = {
    "minimal": csv.QUOTE_MINIMAL,
    "all": csv.QUOTE_ALL,
    "nonnumeric": csv.QUOTE_NONNUMERIC,
    "none": csv.QUOTE_NONE,
}


def _file_name(path: str | os.PathLike[str] | ObjectStoragePath) -> str:
    if isinstance(path, ObjectStoragePath):
        return path.name
    text = os.fspath(path)
    return text.rstrip("/").rsplit("/", 1)[-1]


def _suffix(name: str) -> str:
    """Return the format suffix of a file name (``.csv``), ignoring a trailing ``.gz``; ``""`` if none."""
    lowered = name.lower()
    if lowered.endswith(".gz"):
        lowered = lowered[: -len(".gz")]
    dot = lowered.rfind(".")
    return lowered[dot:] if dot >= 0 else ""


def detect_format(path: str | os.PathLike[str] | ObjectStoragePath, explicit: str | None = None) -> RowFormat:
    """
    Return the row format of ``path``: ``explicit`` if given, else from the file name.

    ``explicit`` is one of ``csv``, ``tsv``, ``jsonl``, ``ndjson``, ``json``, ``parquet`` (any case).
    Without it, the name must end in ``.csv``, ``.tsv``, ``.jsonl``, ``.ndjson``, ``.json`` (optionally
    followed by ``.gz``) or ``.parquet``; anything else raises ``RowDataError`` naming the path and the
    accepted endings.
    """
    fmt = _format_of(path, explicit)
    if fmt == "parquet" and _file_name(path).lower().endswith(".gz"):
        raise RowDataError(
            "a Parquet file compresses its own columns: name it without .gz (and read or write it as is)",
            source=str(path),
        )
    return fmt


def _format_of(path: str | os.PathLike[str] | ObjectStoragePath, explicit: str | None) -> RowFormat:
    if explicit is not None:
        fmt = FORMAT_NAMES.get(str(explicit).strip().lower())
        if fmt is None:
            raise RowDataError(
                f"unknown row format {explicit!r}; use one of {', '.join(FORMAT_NAMES)}", source=str(path)
            )
        return fmt
    fmt = SUFFIX_FORMATS.get(_suffix(_file_name(path)))
    if fmt is None:
        accepted = ", ".join(SUFFIX_FORMATS)
        raise RowDataError(
            f"cannot tell the row format from the file name: it must end in one of {accepted} "
            "(optionally followed by .gz), or pass format='csv', 'jsonl', 'json' or 'parquet'",
            source=str(path),
        )
    return fmt


def is_tsv(path: str | os.PathLike[str] | ObjectStoragePath, explicit: str | None = None) -> bool:
    """Return whether the file is tab-separated: ``explicit`` is ``tsv``, or no format is given and the name ends in ``.tsv``."""
    if explicit is not None:
        return str(explicit).strip().lower() == "tsv"
    return _suffix(_file_name(path)) == ".tsv"


@dataclasses.dataclass(frozen=True)
class CsvOptions:
    """
    How a CSV file is read and written.

    - ``delimiter``: ``None`` means a tab for ``.tsv`` files (or ``format="tsv"``) and a comma otherwise.
    - ``quoting``: a ``csv`` module constant or ``"minimal"``, ``"all"``, ``"nonnumeric"``, ``"none"``.
      It shapes what is written; on read, only ``"none"`` changes parsing (quote characters are then
      ordinary characters), so a file written with any quoting reads back the same.
    - ``null_values`` (read): cell texts that mean NULL, matched exactly (case-sensitive), for every
      column whatever its type; the default ``("",)`` reads empty cells as ``None``. Pass ``()`` to keep
      empty strings.
    - ``null_value`` (write): the text written for ``None``.
    - ``header``: the first line names the columns. Without a header, ``columns`` names them; when
      ``columns`` is also absent, they are called ``column_1``, ``column_2`` ... from the first row.
    - ``strict``: a stray quote (``"a"b``) or a quote never closed makes the line a bad row rather
      than being guessed at.
    - ``encoding``: ``utf-8`` reads files with or without a byte order mark; ``write_bom`` writes one
      (some spreadsheet programs want it).
    """

    delimiter: str | None = None
    quotechar: str = '"'
    quoting: int | str = csv.QUOTE_MINIMAL
    escapechar: str | None = None
    doublequote: bool = True
    skipinitialspace: bool = False
    strict: bool = True
    encoding: str = "utf-8"
    null_values: Collection[str] = ("",)
    null_value: str = ""
    header: bool = True
    columns: tuple[str, ...] | None = None
    lineterminator: str = "\r\n"
    write_bom: bool = False

    def __post_init__(self) -> None:
        if self.delimiter is not None and len(self.delimiter) != 1:
            raise ValueError(f"CSV delimiter must be one character, not {self.delimiter!r}")
        if len(self.quotechar) != 1:
            raise ValueError(f"CSV quotechar must be one character, not {self.quotechar!r}")
        if isinstance(self.null_values, str):
            raise ValueError("CsvOptions.null_values must be a collection of strings, not one string")
        object.__setattr__(self, "quoting", self.quoting_constant)
        object.__setattr__(self, "null_values", tuple(self.null_values))
        if self.columns is not None:
            object.__setattr__(self, "columns", tuple(self.columns))
        self.reader_dialect()
        self.writer_dialect()

    @property
    def quoting_constant(self) -> int:
        """Return ``quoting`` as a ``csv`` module constant."""
        if isinstance(self.quoting, str):
            constant = QUOTING_NAMES.get(self.quoting.strip().lower())
            if constant is None:
                raise ValueError(
                    f"unknown CSV quoting {self.quoting!r}; use one of {', '.join(QUOTING_NAMES)}"
                )
            return constant
        if self.quoting not in QUOTING_NAMES.values():
            raise ValueError(f"unknown CSV quoting constant {self.quoting!r}")
        return self.quoting

    @property
    def read_encoding(self) -> str:
        """Return the codec to read with: ``utf-8-sig`` for UTF-8, so a byte order mark is skipped."""
        normalized = self.encoding.strip().lower().replace("_", "-")
        return "utf-8-sig" if normalized in ("utf-8", "utf8") else self.encoding

    def for_path(
        self, path: str | os.PathLike[str] | ObjectStoragePath, explicit: str | None = None
    ) -> CsvOptions:
        """Return these options with the delimiter decided for ``path`` (tab for ``.tsv``)."""
        if self.delimiter is not None:
            return self
        return dataclasses.replace(self, delimiter="\t" if is_tsv(path, explicit) else ",")

    def reader_dialect(self) -> type[csv.Dialect]:
        """Return a ``csv`` dialect for reading with these options."""
        quoting = csv.QUOTE_NONE if self.quoting == csv.QUOTE_NONE else csv.QUOTE_MINIMAL
        return _dialect(
            delimiter=self.delimiter or ",",
            quotechar=self.quotechar,
            quoting=quoting,
            escapechar=self.escapechar,
            doublequote=self.doublequote,
            skipinitialspace=self.skipinitialspace,
            strict=self.strict,
            lineterminator="\r\n",
        )

    def writer_dialect(self) -> type[csv.Dialect]:
        """Return a ``csv`` dialect for writing with these options."""
        return _dialect(
            delimiter=self.delimiter or ",",
            quotechar=self.quotechar,
            quoting=self.quoting_constant,
            escapechar=self.escapechar,
            doublequote=self.doublequote,
            skipinitialspace=False,
            strict=False,
            lineterminator=self.lineterminator,
        )


def _dialect(**attributes: object) -> type[csv.Dialect]:
    dialect = type("RowsDialect", (csv.Dialect,), attributes)
    try:
        dialect()
    except csv.Error as error:
        raise ValueError(f"invalid CSV options: {error}") from error
    return dialect


def csv_options_for(
    path: str | os.PathLike[str] | ObjectStoragePath,
    options: CsvOptions | None = None,
    explicit: str | None = None,
) -> CsvOptions:
    """Return ``options`` (default options when ``None``) with the delimiter decided for ``path``."""
    return (options or CsvOptions()).for_path(path, explicit)
