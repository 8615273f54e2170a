"""The JSON shapes the CloudTables emulator answers with: summaries, schemas, rows, legacy columns."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_cloud.testing._cloudtables.records import (
    ComputedValue,
    Datapoint,
    Dataset,
    Link,
    StoredRow,
)


def dataset_summary(ds: Dataset) -> dict[str, Any]:
    """Return a data set's entry in ``GET /datasets``."""
    return {
        "deleteCount": ds.delete_count,
        "id": ds.id,
        "insertCount": ds.insert_count,
        "lastData": ds.last_data,
        "name": ds.name,
        "readCount": ds.read_count,
        "rowCount": len(ds.rows),
        "updateCount": ds.update_count,
    }


def schema(datasets: Mapping[str, Dataset], ds: Dataset) -> dict[str, Any]:
    """Return ``GET /dataset/{id}/schema`` (without ``success``)."""
    return {
        "computed": [_computed(item) for item in ds.computed],
        "datapoints": [_datapoint(point) for point in ds.datapoints],
        "description": ds.description,
        "links": [_link(datasets, link, {ds.id}) for link in ds.links],
        "name": ds.name,
        "table": _table(datasets, ds),
    }


def row(datasets: Mapping[str, Dataset], ds: Dataset, stored: StoredRow) -> dict[str, Any]:
    """Return a row as the API does: ``id``, ``dv``, ``color``, ``dp-``, ``c-`` and expanded ``l-`` values."""
    out: dict[str, Any] = {"id": stored.id, "dv": stored.dv, "color": stored.color}
    out.update(_values(ds, stored))
    for link in ds.links:
        target = datasets.get(link.target)
        out[link.id] = [
            {"id": linked_id, **_values(target, target.rows[linked_id])}
            for linked_id in stored.links.get(link.id, [])
            if target is not None and linked_id in target.rows
        ]
    return out


def legacy_columns(ds: Dataset) -> list[dict[str, Any]]:
    """Return the ``columns`` of the legacy ``GET /dataset/{id}/data``."""
    columns = [{"id": item.id, "linkTable": None, "name": item.name} for item in ds.datapoints]
    columns += [{"id": item.id, "linkTable": None, "name": item.name} for item in ds.computed]
    columns += [{"id": link.id, "linkTable": link.target, "name": link.name} for link in ds.links]
    return columns


def _values(ds: Dataset, stored: StoredRow) -> dict[str, Any]:
    out = {point.id: stored.values.get(point.id) for point in ds.datapoints}
    by_name: dict[str, Any] = {point.name: out[point.id] for point in ds.datapoints}
    by_name["id"] = stored.id
    out.update({item.id: item.compute(by_name) for item in ds.computed})
    return out


def _link(datasets: Mapping[str, Dataset], link: Link, seen: set[str]) -> dict[str, Any]:
    target = datasets.get(link.target)
    out: dict[str, Any] = {
        "description": link.description,
        "id": link.id,
        "name": link.name,
        "target": {"id": link.target},
        "computed": [],
        "datapoints": [],
        "links": [],
    }
    if target is not None:
        out["computed"] = [_computed(item) for item in target.computed]
        out["datapoints"] = [_datapoint(point) for point in target.datapoints]
        if target.id not in seen:  # cut cycles (a data set linking back to one above it)
            out["links"] = [_link(datasets, inner, seen | {target.id}) for inner in target.links]
    return out


def _table(datasets: Mapping[str, Dataset], ds: Dataset) -> list[dict[str, Any]]:
    own: list[Datapoint | ComputedValue] = [*ds.datapoints, *ds.computed]
    table: list[dict[str, Any]] = [
        {"data": item.id, "id": item.id, "link": None, "name": item.name} for item in own
    ]
    for link in ds.links:
        target = datasets.get(link.target)
        for point in target.datapoints if target else []:
            table.append(
                {"data": f"{link.id}.{point.id}", "id": point.id, "link": link.id, "name": point.name}
            )
    return table


def _datapoint(point: Datapoint) -> dict[str, Any]:
    return {"description": point.description, "id": point.id, "name": point.name, "type": point.type}


def _computed(item: ComputedValue) -> dict[str, Any]:
    return {"description": item.description, "id": item.id, "name": item.name}
