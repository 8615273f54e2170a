"""
Hook for the CloudTables REST API (``/api/1``): hosted ``*.cloudtables.io`` and self-hosted (``/io/api/1``).

Connection (type ``cloudtables``):

- host: the hosted application's host (``acme.cloudtables.io``) or the self-hosted domain
  (``tables.example.com``, optionally with a port or a path). A host under the ``domain`` extra (default
  ``cloudtables.io``) is hosted; anything else is self-hosted and gets the ``/io`` prefix. The extra
  ``self_hosted`` overrides that guess. ``http://``/``https://`` in the host, else the ``ssl`` extra (default
  true), picks the scheme.
- password: the API key, sent in the ``key`` HTTP header.
- extras: ``clientId``, ``clientName`` (for the service's audit trail), ``roles`` (default roles of minted
  access tokens: a list or a comma-separated string), ``rate_limit`` (requests, default 500) and
  ``rate_window`` (seconds, default 900), ``domain``, ``self_hosted``, ``ssl``, and the HTTP-core extras
  (timeouts, ``verify``, retries).

How requests are sent (key header, audit parameters, conditions, pacing, failure detection) is described in
:mod:`airflow_provider_cloud.hooks._cloudtables_base`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import chain, islice
from typing import Any

from airflow_provider_cloud.exceptions import CloudApiError, NotFoundError, UnexpectedResponseError
from airflow_provider_cloud.hooks import _cloudtables_rows as rows_io
from airflow_provider_cloud.hooks._cloudtables_base import CloudTablesBaseHook, response_data
from airflow_provider_cloud.hooks._cloudtables_schema import DatasetSchema
from airflow_provider_cloud.hooks._cloudtables_wire import SCRIPT_STYLES, check_style, script_tag
from airflow_provider_cloud.hooks._cloudtables_write import RowWriter, WritePlan
from airflow_provider_cloud.hooks.rowstore import DatasetInfo, WriteResult

__all__ = ["SCRIPT_STYLES", "CloudTablesHook", "DatasetSchema", "WriteResult"]

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
#: Input rows write_rows reads ahead (and checks) before its first write: 20,000 rows are about ten hours of
#: writing at the default limit, so the ETA is exact for any import a task finishes in a working day.
LOOKAHEAD_ROWS = 20_000


class CloudTablesHook(CloudTablesBaseHook):
    """
    Read, write and clean up CloudTables data sets and mint embed tokens, by data point names.

    Data sets are addressed by id or by name (names are looked up once in ``GET /datasets``); data points by
    name or ``dp-N`` id. Schemas are cached per hook and data set.

    :param cloudtables_conn_id: the Airflow connection id (conn type ``cloudtables``).
    :param rate_limit: requests per ``rate_window`` (default: the connection's ``rate_limit`` extra, else
        500); ``0`` turns pacing off.
    :param rate_window: seconds (default: the ``rate_window`` extra, else 900).
    :param progress_every: seconds between progress lines of long writes and deletes.
    """

    conn_name_attr = "cloudtables_conn_id"
    default_conn_name = "cloudtables_default"
    conn_type = "cloudtables"
    hook_name = "CloudTables"

    def __init__(
        self,
        cloudtables_conn_id: str = default_conn_name,
        *,
        rate_limit: int | None = None,
        rate_window: float | None = None,
        progress_every: float = 30.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            cloudtables_conn_id,
            rate_limit=rate_limit,
            rate_window=rate_window,
            progress_every=progress_every,
            **kwargs,
        )
        self.cloudtables_conn_id = cloudtables_conn_id

    # -- data sets and schemas -------------------------------------------------------------------

    def test_connection(self) -> tuple[bool, str]:
        """List the data sets (one cheap call) and report how many there are."""
        try:
            count = len(self.list_datasets())
        except (CloudApiError, ValueError) as exc:
            return False, self.scrub(str(exc))
        kind = "hosted" if self.endpoint.hosted else "self-hosted"
        return True, f"Connected to CloudTables ({kind}) at {self.base_url}: {count} data set(s)"

    def list_datasets(self) -> list[dict[str, Any]]:
        """Return the data sets as the API lists them: ``id``, ``name``, ``rowCount``, counters, ``lastData``."""
        payload = self._api("GET", "datasets")
        items = payload.get("datasets") if isinstance(payload, Mapping) else None
        if not isinstance(items, list):
            raise UnexpectedResponseError(
                "GET datasets: no 'datasets' list in the answer", service=self.service_name
            )
        for item in items:
            self._dataset_ids[str(item.get("id"))] = str(item.get("id"))
        return [dict(item) for item in items]

    def resolve_dataset(self, dataset: str) -> str:
        """
        Return a data set's id from its id or its name.

        A UUID is taken as an id without a request; anything else is looked up (once per hook) in the list.

        :raises NotFoundError: no data set has that id or name.
        :raises ValueError: several data sets have that name (use the id).
        """
        dataset = str(dataset or "").strip()
        if not dataset:
            raise ValueError("a data set id or name is required")
        if _UUID.match(dataset):
            return dataset
        if dataset in self._dataset_ids:
            return self._dataset_ids[dataset]
        datasets = self.list_datasets()
        if dataset in self._dataset_ids:
            return dataset
        named = [str(d.get("id")) for d in datasets if d.get("name") == dataset]
        if len(named) > 1:
            raise ValueError(
                f"{len(named)} data sets are named {dataset!r} ({', '.join(named)}): give the id"
            )
        if not named:
            names = ", ".join(repr(d.get("name")) for d in datasets) or "none"
            raise NotFoundError(
                f"no data set has the id or name {dataset!r} (the data sets: {names})",
                service=self.service_name,
            )
        self._dataset_ids[dataset] = named[0]
        return named[0]

    def get_schema(self, dataset: str, *, refresh: bool = False) -> DatasetSchema:
        """Return a data set's schema (names ⇄ ids, types; the API body in ``.raw``), cached per hook."""
        dataset_id = self.resolve_dataset(dataset)
        if refresh or dataset_id not in self._schemas:
            payload = self._api("GET", "dataset", dataset_id, "schema")
            if not isinstance(payload, Mapping) or not isinstance(payload.get("datapoints"), list):
                raise UnexpectedResponseError(
                    f"GET dataset/{dataset_id}/schema: no 'datapoints' in the answer",
                    service=self.service_name,
                )
            schema = DatasetSchema(dataset_id, payload)
            self._schemas[dataset_id] = schema
            self._point_names.update(schema.point_names)
        return self._schemas[dataset_id]

    def describe(self, dataset: str, *, refresh: bool = False) -> DatasetInfo:
        """Return whether the data set exists and its columns by name (rows are keyed by the service)."""
        try:
            schema = self.get_schema(dataset, refresh=refresh)
        except NotFoundError:
            return DatasetInfo(dataset, exists=False)
        types = {c.key: str(c.type or c.kind) for c in schema.columns}
        return DatasetInfo(dataset, exists=True, columns={k: types.get(k, "meta") for k in schema.keys})

    def get_columns(self, dataset: str) -> list[str]:
        """Return the row keys of a data set: ``id``, ``dv``, ``color`` and the column names."""
        return self.get_schema(dataset).keys

    def _conditions(self, conditions: Any, schema: DatasetSchema | None) -> list[dict[str, Any]]:
        return rows_io.conditions_for(conditions, schema)

    # -- rows -------------------------------------------------------------------------------------

    def _raw_rows(self, dataset_id: str, conditions: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        payload = self._api("GET", "dataset", dataset_id, conditions=conditions)
        data = payload.get("data") if isinstance(payload, Mapping) else None
        if not isinstance(data, list):
            raise UnexpectedResponseError(
                f"GET dataset/{dataset_id}: no 'data' list", service=self.service_name
            )
        return data

    def iter_rows(
        self,
        dataset: str,
        *,
        where: Mapping[str, Any] | None = None,
        columns: Sequence[str] | None = None,
        order_by: str | Sequence[str] | None = None,
        page_size: int | None = None,
        conditions: Any = None,
    ) -> Iterator[dict[str, Any]]:
        """
        Yield a data set's rows by name, filtered, projected and sorted on this side.

        The API has no paging: one request returns every row (``page_size`` is accepted and ignored). ``where``
        uses the filter language of :mod:`airflow_provider_cloud.rows.filters`; ``order_by`` is one column or
        several, ``"-col"`` descending, nulls last; ``conditions`` (CloudTables access conditions) filter on
        the server. Nothing is sent until the first row is asked for.
        """
        del page_size
        return rows_io.iter_rows(
            self, dataset, where=where, columns=columns, order_by=order_by, conditions=conditions
        )

    def get_rows(self, dataset: str, **kwargs: Any) -> list[dict[str, Any]]:
        """Return every row of :meth:`iter_rows` as a list."""
        return list(self.iter_rows(dataset, **kwargs))

    def get_row(self, dataset: str, row_id: int, *, conditions: Any = None) -> dict[str, Any]:
        """Return one row by its id, by name."""
        schema = self.get_schema(dataset)
        payload = self._api(
            "GET", "dataset", schema.dataset_id, int(row_id), conditions=self._conditions(conditions, schema)
        )
        return schema.row_out(response_data(payload, self.service_name))

    def insert_row(
        self, dataset: str, values: Mapping[str, Any], *, conditions: Any = None
    ) -> dict[str, Any]:
        """Insert a row (keys: names or ids; links: row ids) and return it as stored."""
        schema = self.get_schema(dataset)
        raw = self._insert_fields(
            schema.dataset_id, schema.fields_in(values), self._conditions(conditions, schema)
        )
        return schema.row_out(raw)

    def update_row(
        self, dataset: str, row_id: int, values: Mapping[str, Any], *, conditions: Any = None
    ) -> dict[str, Any]:
        """Update some columns of a row (others keep their values; ``dv`` goes up by one); return it as stored."""
        schema = self.get_schema(dataset)
        fields = schema.fields_in(values)
        raw = self._update_fields(
            schema.dataset_id, int(row_id), fields, self._conditions(conditions, schema)
        )
        return schema.row_out(raw)

    def delete_row(self, dataset: str, row_id: int, *, conditions: Any = None) -> None:
        """Delete one row by its id."""
        schema = self.get_schema(dataset)
        self._api(
            "DELETE",
            "dataset",
            schema.dataset_id,
            int(row_id),
            conditions=self._conditions(conditions, schema),
        )

    def _insert_fields(
        self, dataset_id: str, fields: Mapping[str, Any], conditions: Sequence[Mapping[str, Any]]
    ) -> dict[str, Any]:
        payload = self._api(
            "POST", "dataset", dataset_id, form=rows_io.form_pairs(fields), conditions=conditions
        )
        return response_data(payload, self.service_name)

    def _update_fields(
        self,
        dataset_id: str,
        row_id: int,
        fields: Mapping[str, Any],
        conditions: Sequence[Mapping[str, Any]],
    ) -> dict[str, Any]:
        form = rows_io.form_pairs(fields)
        payload = self._api("PUT", "dataset", dataset_id, row_id, form=form, conditions=conditions)
        return response_data(payload, self.service_name)

    def write_rows(
        self,
        dataset: str,
        rows: Iterable[Mapping[str, Any]],
        *,
        mode: str = "upsert",
        key: str | Sequence[str] | None = None,
        create: bool = False,
        batch_size: int | None = None,
        conditions: Any = None,
    ) -> WriteResult:
        """
        Write rows (keys: names or ids) one request each, paced, and return counts.

        Modes: ``upsert`` (default) updates the rows whose key exists — only the columns that differ, and
        nothing at all when none does — and inserts the others; ``insert`` adds every row (with ``key``, a key
        that exists already or repeats is a :class:`ConflictError`); ``ignore`` inserts new keys and leaves
        existing rows alone; ``replace`` makes existing rows equal to the input row, clearing the columns it
        lacks. Every mode but ``insert`` needs ``key``: data point names, or ``id`` for row ids. Writes by
        key read the data set once for a key → row map. Up to :data:`LOOKAHEAD_ROWS` rows are read and
        checked before the first write, which also makes the ETA of the progress lines exact.

        :param create: CloudTables cannot create data sets through its API: a missing data set is an error
            either way, with a message saying so.
        :param batch_size: ignored: the API writes one row per request.
        """
        del batch_size
        dataset_id = self._dataset_for_write(dataset, create=create)
        schema = self.get_schema(dataset_id)
        plan = WritePlan(schema, mode, key)
        conds = self._conditions(conditions, schema)
        source = iter(rows)
        ahead = list(islice(source, LOOKAHEAD_ROWS + 1))
        prepared = [plan.prepare(row, line) for line, row in enumerate(ahead, start=1)]
        existing: dict[Any, dict[str, Any]] = {}
        if plan.key_names and prepared:
            existing, duplicates = plan.index(self._raw_rows(dataset_id, conds))
            if duplicates:
                self.log.warning(
                    "%d rows of %s repeat a key; writes go to the first of each", duplicates, dataset
                )
            if mode == "insert":
                plan.check_inserts(prepared, existing)
        rest = (plan.prepare(row, line) for line, row in enumerate(source, start=len(ahead) + 1))
        total = len(ahead) if len(ahead) <= LOOKAHEAD_ROWS else None
        progress = self.progress(total)
        writer = RowWriter(self, dataset_id, plan, existing, conds)
        for row in chain(prepared, rest):
            writer.write(row)
            progress.update(1)
        progress.finish()
        result = writer.result()
        self.log.info("Wrote %s to %s: %s", f"{result.rows:,} rows", dataset, result.as_dict())
        return result

    def _dataset_for_write(self, dataset: str, *, create: bool) -> str:
        try:
            return self.get_schema(dataset).dataset_id
        except NotFoundError as exc:
            if not create:
                raise
            raise NotFoundError(
                f"data set {dataset!r} does not exist, and CloudTables cannot create data sets through its "
                "API (create=True cannot help): create it in CloudTables first",
                service=self.service_name,
                status_code=exc.status_code,
                errors=exc.errors,
            ) from None

    def delete_rows(
        self,
        dataset: str,
        *,
        where: Mapping[str, Any] | None = None,
        dry_run: bool = False,
        conditions: Any = None,
    ) -> int:
        """
        Delete the rows matching ``where`` (``{}``: every row) and return how many were deleted.

        One read finds the matching rows; each is then deleted by id (one request each, paced). A row
        deleted meanwhile by someone else is not counted. ``dry_run`` only counts.
        """
        if where is None:
            raise ValueError("delete_rows needs where=... (use where={} to delete every row)")
        schema = self.get_schema(dataset)
        matching = [
            row["id"]
            for row in self.iter_rows(schema.dataset_id, where=where, columns=["id"], conditions=conditions)
        ]
        if dry_run:
            return len(matching)
        conds = self._conditions(conditions, schema)
        progress = self.progress(len(matching), "deletions")
        deleted = 0
        for row_id in matching:
            try:
                self._api("DELETE", "dataset", schema.dataset_id, int(row_id), conditions=conds)
            except NotFoundError:
                self.log.info("Row %s of %s was already gone", row_id, dataset)
            else:
                deleted += 1
            progress.update(1)
        progress.finish()
        return deleted

    # -- embedding --------------------------------------------------------------------------------

    def create_access_token(
        self,
        dataset: str | None = None,
        *,
        roles: Sequence[str] | str | None = None,
        conditions: Any = None,
        duration: int | None = None,
        client_id: str | None = None,
        client_name: str | None = None,
        client_meta: Any = None,
    ) -> str:
        """
        Mint an access token for embedding and return it (masked in logs at once).

        :param dataset: the data set the token is for; when given, conditions naming data points are sent
            with their ``dp-N`` ids. The token itself is not bound to a data set by the API.
        :param roles: role names; default: the connection's ``roles`` extra.
        :param conditions: see :func:`normalize_conditions`.
        :param duration: seconds until first use / idle timeout (the service's default is 20 minutes).
        :param client_id: the end user the token is for (default: the connection's ``clientId``).
        :param client_name: that user's display name (default: the connection's ``clientName``).
        """
        schema = self.get_schema(dataset) if dataset is not None else None
        form = rows_io.access_form(
            roles=rows_io.role_list(roles) if roles is not None else self.default_roles,
            duration=duration,
            client_id=client_id or self.extras.get("clientId"),
            client_name=client_name or self.extras.get("clientName"),
            client_meta=client_meta,
        )
        payload = self._api(
            "POST",
            "access",
            form=form,
            conditions=self._conditions(conditions, schema),
            client_in_query=False,
        )
        token = payload.get("token") if isinstance(payload, Mapping) else None
        if not isinstance(token, str) or not token:
            raise UnexpectedResponseError("POST access: no token in the answer", service=self.service_name)
        self.register_secret(token)
        return token

    def loader_url(self, dataset: str, style: str = "d") -> str:
        """Return the URL of a data set's embedded-table loader script."""
        check_style(style)
        return self.endpoint.loader_url(self.resolve_dataset(dataset), style)

    def script_tag(self, dataset: str, token: str, style: str = "d") -> str:
        """
        Return ``<script src=".../loader/{id}/table/{style}" data-token="..."></script>`` for a page.

        ``style``: ``d`` (default), ``auto``, ``bs``, ``bs4``, ``dt``, ``zf``, ``ju``, ``se`` or ``no``.
        """
        check_style(style)
        return script_tag(self.endpoint, self.resolve_dataset(dataset), token, style)
