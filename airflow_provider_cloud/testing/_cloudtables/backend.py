"""
State of the CloudTables emulator and one method per API operation.

Every public method takes the shared lock, so the HTTP threads and the test thread see one consistent state.
Ids: data point, link and computed ids are numbered across the whole emulator (``dp-1``, ``dp-2``, ... in
every data set, like one CloudTables application), so they are unique between data sets; row ids are
numbered per data set from 1 and never reused after a delete [I].
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from airflow_provider_cloud.testing._cloudtables import views
from airflow_provider_cloud.testing._cloudtables.errors import BadRequest, FieldErrors, NotFound
from airflow_provider_cloud.testing._cloudtables.params import Condition
from airflow_provider_cloud.testing._cloudtables.records import (
    DEFAULT_TOKEN_DURATION,
    FIELD_ID,
    AccessToken,
    ComputedValue,
    Datapoint,
    Dataset,
    Link,
    StoredRow,
    iso_now,
    link_values,
    random_secret,
)
from airflow_provider_cloud.testing._cloudtables.values import ValueTypeError, coerce_value, matches

_Resolved = list[tuple[Condition, Datapoint, Any]]


class CloudTablesBackend:
    """Data sets, rows and tokens, behind one lock."""

    def __init__(self, lock: threading.RLock) -> None:
        self.lock = lock
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self._datasets: dict[str, Dataset] = {}
            self._tokens: list[AccessToken] = []
            self._next_point = {"dp": 1, "l": 1, "c": 1}

    # ----------------------------------------------------------------- set-up used by tests

    def add_dataset(
        self,
        name: str,
        datapoints: Sequence[Mapping[str, str] | tuple[str, str]],
        *,
        links: Sequence[Mapping[str, str] | tuple[str, str]] | None = None,
        computed: Sequence[Mapping[str, Any]] | None = None,
        description: str = "",
        dataset_id: str | None = None,
    ) -> str:
        with self.lock:
            new_id = dataset_id or str(uuid.uuid4())
            if new_id in self._datasets:
                raise ValueError(f"data set {new_id} already exists")
            points = [self._new_datapoint(spec) for spec in datapoints]
            names = [point.name for point in points]
            if len(set(names)) != len(names):
                raise ValueError(f"data point names must be unique in a data set: {names}")
            link_list = [self._new_link(spec, new_id) for spec in links or ()]
            computed_list = [
                ComputedValue(
                    self._next_id("c"), str(spec["name"]), spec["compute"], str(spec.get("description", ""))
                )
                for spec in computed or ()
            ]
            self._datasets[new_id] = Dataset(new_id, name, description, points, computed_list, link_list)
            return new_id

    def _new_datapoint(self, spec: Mapping[str, str] | tuple[str, str]) -> Datapoint:
        if isinstance(spec, tuple):
            name, point_type, description = spec[0], spec[1], ""
        else:
            name, point_type = spec["name"], spec.get("type", "text")
            description = spec.get("description", "")
        return Datapoint(self._next_id("dp"), str(name), str(point_type), str(description))

    def _new_link(self, spec: Mapping[str, str] | tuple[str, str], own_id: str) -> Link:
        if isinstance(spec, tuple):
            name, target, description = spec[0], spec[1], ""
        else:
            name, target, description = spec["name"], spec["target"], spec.get("description", "")
        if target not in self._datasets and target != own_id:
            raise ValueError(f"link {name!r} targets unknown data set {target}")
        return Link(self._next_id("l"), str(name), str(target), str(description))

    def _next_id(self, prefix: str) -> str:
        number = self._next_point[prefix]
        self._next_point[prefix] = number + 1
        return f"{prefix}-{number}"

    def seed_rows(self, dataset_id: str, rows: Iterable[Mapping[str, Any]]) -> list[int]:
        with self.lock:
            ds = self._dataset(dataset_id)
            ids = []
            for number, seed in enumerate(rows, start=1):
                fields = {self._seed_key(ds, key): value for key, value in seed.items()}
                explicit_id = fields.pop("id", None)
                values, links, errors = self._decode_fields(ds, fields)
                if errors:
                    raise ValueError(f"seed row {number}: " + "; ".join(f"{n}: {s}" for n, s in errors))
                row_id = int(explicit_id) if explicit_id is not None else ds.next_row_id
                if row_id in ds.rows:
                    raise ValueError(f"seed row {number}: row id {row_id} already exists")
                row = self._new_row(ds, row_id, values, links)
                row.dv, row.color = int(fields.get("dv", 0)), fields.get("color")
                ds.next_row_id = max(ds.next_row_id, row_id + 1)
                ids.append(row_id)
            ds.last_data = iso_now()
            return ids

    def _seed_key(self, ds: Dataset, key: str) -> str:
        if key in ("id", "dv", "color") or FIELD_ID.match(key):
            return key
        item = ds.item_named(key)
        if item is not None:
            return item.id
        raise ValueError(f"data set {ds.name!r} has no data point or link named {key!r}")

    def rows(self, dataset_id: str) -> list[dict[str, Any]]:
        with self.lock:
            ds = self._dataset(dataset_id)
            return [self._row_out(ds, row) for row in ds.rows.values()]

    def point_id(self, dataset_id: str, name: str, kind: str) -> str:
        with self.lock:
            ds = self._dataset(dataset_id)
            item = ds.item_named(name)
            if item is not None and item.id.startswith(f"{kind}-"):
                return item.id
            raise KeyError(f"data set {ds.name!r} has no {kind}- item named {name!r}")

    @property
    def tokens(self) -> list[AccessToken]:
        with self.lock:
            return list(self._tokens)

    # ----------------------------------------------------------------- API operations

    def mint_token(
        self,
        *,
        roles: Sequence[str],
        conditions: Sequence[Condition],
        duration: int | None,
        client_id: Any,
        client_name: Any,
        client_meta: Any,
    ) -> AccessToken:
        with self.lock:
            token = AccessToken(
                token=random_secret(32),
                roles=tuple(roles),
                conditions=tuple(condition.as_dict() for condition in conditions),
                duration=DEFAULT_TOKEN_DURATION if duration is None else duration,
                client_id=client_id,
                client_name=client_name,
                client_meta=client_meta,
                created_at=iso_now(),
            )
            self._tokens.append(token)
            return token

    def list_datasets(self) -> list[dict[str, Any]]:
        with self.lock:
            return [views.dataset_summary(ds) for ds in self._datasets.values()]

    def has_dataset(self, dataset_id: str) -> bool:
        with self.lock:
            return dataset_id in self._datasets

    def schema(self, dataset_id: str) -> dict[str, Any]:
        with self.lock:
            return views.schema(self._datasets, self._dataset(dataset_id))

    def read_rows(self, dataset_id: str, conditions: Sequence[Condition]) -> list[dict[str, Any]]:
        with self.lock:
            ds = self._dataset(dataset_id)
            resolved = self._resolve_conditions(ds, conditions)
            ds.read_count += 1
            return [self._row_out(ds, row) for row in ds.rows.values() if _passes(row, resolved)]

    def legacy_columns(self, dataset_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return views.legacy_columns(self._dataset(dataset_id))

    def read_row(self, dataset_id: str, row_id: str, conditions: Sequence[Condition]) -> dict[str, Any]:
        with self.lock:
            ds = self._dataset(dataset_id)
            row = self._visible_row(ds, row_id, self._resolve_conditions(ds, conditions))
            ds.read_count += 1
            return self._row_out(ds, row)

    def insert_row(
        self, dataset_id: str, fields: Mapping[str, Any], conditions: Sequence[Condition]
    ) -> dict[str, Any]:
        with self.lock:
            ds = self._dataset(dataset_id)
            resolved = self._resolve_conditions(ds, conditions)
            values, links, errors = self._decode_fields(ds, fields)
            for condition, point, _ in resolved:
                if condition.set:
                    try:
                        values[point.id] = coerce_value(point.type, condition.written_value)
                    except ValueTypeError as exc:
                        errors.append((point.id, f"Condition value: {exc}"))
            if errors:
                raise FieldErrors(errors)
            row = self._new_row(ds, ds.next_row_id, values, links)
            ds.next_row_id += 1
            ds.insert_count += 1
            ds.last_data = iso_now()
            return self._row_out(ds, row)

    def update_row(
        self, dataset_id: str, row_id: str, fields: Mapping[str, Any], conditions: Sequence[Condition]
    ) -> dict[str, Any]:
        with self.lock:
            ds = self._dataset(dataset_id)
            row = self._visible_row(ds, row_id, self._resolve_conditions(ds, conditions))
            values, links, errors = self._decode_fields(ds, fields)
            if errors:
                raise FieldErrors(errors)
            row.values.update(values)
            row.links.update(links)
            row.dv += 1
            ds.update_count += 1
            ds.last_data = iso_now()
            return self._row_out(ds, row)

    def delete_row(self, dataset_id: str, row_id: str, conditions: Sequence[Condition]) -> None:
        with self.lock:
            ds = self._dataset(dataset_id)
            row = self._visible_row(ds, row_id, self._resolve_conditions(ds, conditions))
            del ds.rows[row.id]
            ds.delete_count += 1
            ds.last_data = iso_now()

    # ----------------------------------------------------------------- helpers

    def _dataset(self, dataset_id: str) -> Dataset:
        try:
            return self._datasets[dataset_id]
        except KeyError:
            raise NotFound(f"Data set {dataset_id} does not exist") from None

    def _visible_row(self, ds: Dataset, row_id: str, resolved: _Resolved) -> StoredRow:
        row = ds.rows.get(int(row_id)) if row_id.isascii() and row_id.isdigit() else None
        if row is None or not _passes(row, resolved):
            raise NotFound(f"Row {row_id} does not exist in data set {ds.id}")
        return row

    def _resolve_conditions(self, ds: Dataset, conditions: Sequence[Condition]) -> _Resolved:
        resolved: _Resolved = []
        for condition in conditions:
            point = next(
                (
                    p
                    for p in ds.datapoints
                    if p.id == condition.id or (condition.id is None and p.name == condition.name)
                ),
                None,
            )
            if point is None:
                if condition.name is not None and ds.item_named(condition.name) is not None:
                    raise BadRequest(
                        f"Conditions on computed values (c-) and links (l-) are not supported: {condition.name}"
                    )
                raise BadRequest(f"Condition on unknown data point {condition.label!r} in data set {ds.id}")
            try:
                wanted = coerce_value(point.type, condition.value)
            except ValueTypeError as exc:
                raise BadRequest(f"Condition value for {point.id} ({point.type}): {exc}") from None
            resolved.append((condition, point, wanted))
        return resolved

    def _decode_fields(
        self, ds: Dataset, fields: Mapping[str, Any]
    ) -> tuple[dict[str, Any], dict[str, list[int]], list[tuple[str, str]]]:
        values: dict[str, Any] = {}
        links: dict[str, list[int]] = {}
        errors: list[tuple[str, str]] = []
        points = {point.id: point for point in ds.datapoints}
        link_targets = {link.id: link.target for link in ds.links}
        for key, raw in fields.items():
            if not FIELD_ID.match(key):
                continue
            if key in points:
                try:
                    values[key] = coerce_value(points[key].type, raw)
                except ValueTypeError as exc:
                    errors.append((key, str(exc)))
            elif key in link_targets:
                try:
                    links[key] = self._linked_ids(link_targets[key], raw)
                except ValueError as exc:
                    errors.append((key, str(exc)))
            elif any(item.id == key for item in ds.computed):
                errors.append((key, "Computed values are read only"))
            else:
                errors.append((key, "Unknown data point for this data set"))
        return values, links, errors

    def _linked_ids(self, target_id: str, raw: Any) -> list[int]:
        ids = link_values(raw)
        target = self._datasets.get(target_id)
        missing = [row_id for row_id in ids if target is None or row_id not in target.rows]
        if missing:
            raise ValueError(f"Linked rows do not exist: {', '.join(map(str, missing))}")
        return list(dict.fromkeys(ids))

    def _new_row(
        self, ds: Dataset, row_id: int, values: dict[str, Any], links: dict[str, list[int]]
    ) -> StoredRow:
        row = StoredRow(
            id=row_id,
            values={point.id: values.get(point.id) for point in ds.datapoints},
            links={link.id: links.get(link.id, []) for link in ds.links},
        )
        for point in ds.datapoints:
            if point.type == "sequence" and row.values[point.id] is None:
                used = [r.values.get(point.id) or 0 for r in ds.rows.values()]
                row.values[point.id] = max(used, default=0) + 1
        ds.rows[row_id] = row
        return row

    def _row_out(self, ds: Dataset, row: StoredRow) -> dict[str, Any]:
        return views.row(self._datasets, ds, row)


def _passes(row: StoredRow, resolved: _Resolved) -> bool:
    return all(
        matches(condition.op, row.values.get(point.id), wanted) for condition, point, wanted in resolved
    )
