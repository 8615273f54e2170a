"""
Row files and row streams: CSV, JSON Lines and JSON over any ``ObjectStoragePath``, streamed.

Reading (``read_records``, ``iter_inline_rows``), typing (``rows.convert``), writing
(``write_rows``, ``RejectsWriter``), filtering (``parse_filters``), batching and progress logging.
"""

from __future__ import annotations

from airflow_provider_cloud.rows.batching import LineMap, RowBlocks, RowOrigin, batched
from airflow_provider_cloud.rows.convert import (
    ColumnType,
    ConversionError,
    TypeSpec,
    convert_text,
    convert_value,
    detect_value,
    normalize_types,
)
from airflow_provider_cloud.rows.filters import OPS, Filter, matches_all, parse_filters
from airflow_provider_cloud.rows.formats import CsvOptions, RowFormat, csv_options_for, detect_format
from airflow_provider_cloud.rows.paths import as_storage_path, atomic_writer, file_identity, open_for_read
from airflow_provider_cloud.rows.progress import ProgressLogger, format_duration
from airflow_provider_cloud.rows.readers import (
    Block,
    GoodRows,
    Record,
    RecordReader,
    iter_inline_rows,
    read_records,
)
from airflow_provider_cloud.rows.rejects import RejectsWriter
from airflow_provider_cloud.rows.validation import RowCheck
from airflow_provider_cloud.rows.writers import WriteSummary, encode_json, json_default, write_rows

__all__ = [
    "OPS",
    "ColumnType",
    "ConversionError",
    "CsvOptions",
    "Filter",
    "ProgressLogger",
    "Block",
    "GoodRows",
    "Record",
    "RecordReader",
    "RejectsWriter",
    "LineMap",
    "RowBlocks",
    "RowOrigin",
    "RowCheck",
    "RowFormat",
    "TypeSpec",
    "WriteSummary",
    "as_storage_path",
    "atomic_writer",
    "batched",
    "convert_text",
    "convert_value",
    "csv_options_for",
    "detect_format",
    "detect_value",
    "encode_json",
    "file_identity",
    "format_duration",
    "iter_inline_rows",
    "json_default",
    "matches_all",
    "normalize_types",
    "open_for_read",
    "parse_filters",
    "read_records",
    "write_rows",
]
