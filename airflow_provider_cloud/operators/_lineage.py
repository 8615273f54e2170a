"""
OpenLineage of the row and Kloudless file operators: what a run read and wrote, as OpenLineage datasets.

During ``execute`` an operator records :class:`LineageFacts` on itself (asset URIs and file URLs, the
columns and types it knew, row counts, bytes), never a secret: URIs carry no user info or token. Its
``get_openlineage_facets_on_complete`` hands them to :func:`operator_lineage`, which is the only place that
imports the OpenLineage provider and client, so the provider works without them installed.

Naming: our schemes as ``assets.openlineage_name`` gives; a file at an ``ObjectStoragePath`` as the OpenLineage
naming spec has it for object storage: namespace ``s3://bucket`` (``gs://``, ``memory://``...), name the key;
a local file has namespace ``file`` and its absolute path as name (as the common.io provider names it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow.sdk import ObjectStoragePath

from airflow_provider_cloud.assets import SCHEMES, kloudless_uri, openlineage_name
from airflow_provider_cloud.rows.paths import as_storage_path

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LineagePlace:
    """
    One dataset of a run: an asset URI (``datasette://``...) or a file's URL, and what the task knew of it.

    ``lifecycle`` is an OpenLineage ``LifecycleStateChange`` name (``CREATE``, ``OVERWRITE``, ``TRUNCATE``).
    """

    uri: str
    columns: tuple[tuple[str, str | None], ...] = ()
    rows: int | None = None
    size: int | None = None
    lifecycle: str | None = None


@dataclass(frozen=True)
class LineageFacts:
    """What one run read and wrote."""

    inputs: tuple[LineagePlace, ...] = ()
    outputs: tuple[LineagePlace, ...] = ()


def table_uri(hook: Any, dataset: str) -> str | None:
    """Return a RowStore hook's asset URI of a data set, or ``None`` when it has none (lineage never fails a task)."""
    asset_uri: Callable[[str], str] | None = getattr(hook, "asset_uri", None)
    if asset_uri is None:
        return None
    try:
        return asset_uri(dataset)
    except Exception as exc:  # a lineage fact, not worth failing a task that did its work
        log.warning("No lineage for data set %r: %s", dataset, exc)
        return None


def table_columns(hook: Any, dataset: str) -> tuple[tuple[str, str | None], ...]:
    """Return the data set's columns and the service's types (from the hook's cached ``describe``)."""
    try:
        info = hook.describe(dataset)
    except Exception as exc:
        log.warning("No schema in the lineage of data set %r: %s", dataset, exc)
        return ()
    return tuple((name, str(kind) if kind else None) for name, kind in info.columns.items())


def file_uri(path: Any) -> str:
    """Return a file's URL as the readers and writers name it (``file:///...``, ``s3://...``)."""
    return str(as_storage_path(path))


def file_size(path: Any) -> int | None:
    try:
        return int(as_storage_path(path).stat().st_size)
    except Exception:  # a store that cannot say: bytes are then left out
        return None


def import_facts(
    hook: Any,
    dataset: str,
    source: str | None,
    file_columns: Sequence[str] | None,
    types: Mapping[str, Any],
    rows_read: int,
    rows_written: int,
    created: bool,
) -> LineageFacts:
    """Facts of an import: the file (``None`` for inline rows) in, the data set out."""
    table = table_uri(hook, dataset)
    inputs: tuple[LineagePlace, ...] = ()
    if source is not None:
        declared = tuple((c, str(types[c]) if c in types else None) for c in file_columns or ())
        inputs = (LineagePlace(file_uri(source), declared, rows_read, file_size(source)),)
    if table is None:
        return LineageFacts(inputs)
    lifecycle = "CREATE" if created else None
    output = LineagePlace(table, table_columns(hook, dataset), rows_written, None, lifecycle)
    return LineageFacts(inputs, (output,))


def export_facts(
    hook: Any, dataset: str, *, path: str, rows: int, columns: Sequence[str] | None
) -> LineageFacts:
    """Facts of an export: the data set in, the file (replaced as a whole) out."""
    known = table_columns(hook, dataset)
    if columns:
        kinds = dict(known)
        known = tuple((c, kinds.get(c)) for c in columns)
    table = table_uri(hook, dataset)
    inputs = (LineagePlace(table, known, rows),) if table else ()
    return LineageFacts(inputs, (LineagePlace(file_uri(path), known, rows, file_size(path), "OVERWRITE"),))


def cleanup_facts(hook: Any, dataset: str, *, deleted: int, everything: bool) -> LineageFacts:
    """Facts of a clean-up: the data set out, ``rows`` the rows deleted (``TRUNCATE`` when ``where={}``)."""
    table = table_uri(hook, dataset)
    if table is None:
        return LineageFacts()
    lifecycle = "TRUNCATE" if everything else None
    return LineageFacts((), (LineagePlace(table, table_columns(hook, dataset), deleted, None, lifecycle),))


def kloudless_account(conn_id: str, account_id: Any) -> str:
    """Return the account part of ``kloudless://``: a numeric account id, else the connection id (``me``)."""
    text = str(account_id or "").strip()
    return text if text and text.lower() != "me" else conn_id


def download_facts(account: str, files: Sequence[tuple[str, str | None, str, int | None]]) -> LineageFacts:
    """Facts of a download: ``(file_id, kloudless_path, target, size)`` each; a file without a path by its id."""
    inputs = tuple(
        LineagePlace(kloudless_uri(account, path or f"/files/{file_id}"), size=size)
        for file_id, path, _, size in files
    )
    outputs = tuple(LineagePlace(file_uri(target), size=size) for _, _, target, size in files)
    return LineageFacts(inputs, outputs)


def upload_facts(account: str, files: Sequence[tuple[Any, str | None, str, int | None]]) -> LineageFacts:
    """Facts of an upload: ``(source, kloudless_path, file_id, size)`` each."""
    inputs = tuple(LineagePlace(file_uri(source), size=size) for source, _, _, size in files)
    outputs = tuple(
        LineagePlace(kloudless_uri(account, path or f"/files/{file_id}"), size=size)
        for _, path, file_id, size in files
    )
    return LineageFacts(inputs, outputs)


def openlineage_dataset_name(uri: str) -> tuple[str, str]:
    """Return the OpenLineage ``(namespace, name)`` of an asset URI or a file URL (module docstring)."""
    if uri.partition("://")[0] in SCHEMES:
        return openlineage_name(uri)
    path = ObjectStoragePath(uri)  # naming needs no filesystem
    if path.protocol in ("file", "local", ""):
        return "file", "/" + path.key
    return path.namespace, path.key


def operator_lineage(facts: LineageFacts | None) -> OperatorLineage:
    """Return the OpenLineage datasets and facets of recorded facts (empty before a run recorded any)."""
    from airflow.providers.openlineage.extractors import OperatorLineage
    from openlineage.client.event_v2 import InputDataset, OutputDataset
    from openlineage.client.facet_v2 import (
        input_statistics_input_dataset as input_stats,
        lifecycle_state_change_dataset as lifecycle,
        output_statistics_output_dataset as output_stats,
        schema_dataset as schema,
    )

    def dataset_facets(place: LineagePlace) -> dict[str, Any]:
        facets: dict[str, Any] = {}
        if place.columns:
            fields = [schema.SchemaDatasetFacetFields(name=n, type=t) for n, t in place.columns]
            facets["schema"] = schema.SchemaDatasetFacet(fields=fields)
        if place.lifecycle:
            change = lifecycle.LifecycleStateChange(place.lifecycle)
            facets["lifecycleStateChange"] = lifecycle.LifecycleStateChangeDatasetFacet(change)
        return facets

    def statistics(key: str, facet: Any, place: LineagePlace) -> dict[str, Any]:
        return {key: facet(place.rows, place.size)}

    facts = facts or LineageFacts()
    read = input_stats.InputStatisticsInputDatasetFacet
    wrote = output_stats.OutputStatisticsOutputDatasetFacet
    inputs = [
        InputDataset(
            *openlineage_dataset_name(p.uri),
            facets=dataset_facets(p),
            inputFacets=statistics("inputStatistics", read, p),
        )
        for p in facts.inputs
    ]
    outputs = [
        OutputDataset(
            *openlineage_dataset_name(p.uri),
            facets=dataset_facets(p),
            outputFacets=statistics("outputStatistics", wrote, p),
        )
        for p in facts.outputs
    ]
    return OperatorLineage(inputs=inputs, outputs=outputs)
