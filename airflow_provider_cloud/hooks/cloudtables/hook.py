"""
``CloudTablesHook``: the CloudTables REST API (``/api/1``), hosted ``*.cloudtables.io`` and self-hosted (``/io/api/1``).

The hook keeps what it learns (data set ids by name, schemas, data point names for error messages); its
helpers return what they find.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import cached_property, partial
from typing import Any, ClassVar, cast

import requests

from airflow_provider_cloud.assets import cloudtables_uri
from airflow_provider_cloud.exceptions import CloudApiError, NotFoundError
from airflow_provider_cloud.hooks.cloudtables import budget, pacing, reads, wire, writer, writes
from airflow_provider_cloud.hooks.cloudtables.embedding import Embedding
from airflow_provider_cloud.hooks.cloudtables.rowcalls import RowCalls
from airflow_provider_cloud.hooks.cloudtables.schema import DatasetSchema, conditions_for, find_dataset
from airflow_provider_cloud.hooks.core import CloudApiHook, PaceHandle, PaceLedger
from airflow_provider_cloud.hooks.rowstore import DatasetInfo, WriteResult
from airflow_provider_cloud.rows.batching import RowBlocks
from airflow_provider_cloud.rows.progress import ProgressLogger


class CloudTablesHook(Embedding, CloudApiHook):
    """
    Read, write and clean up CloudTables data sets and mint embed tokens, by data point names.

    Data sets are addressed by id or by name (names are looked up once in ``GET /datasets``); data points by
    name or ``dp-N`` id. Schemas are cached per hook and data set. The connection: host, the application's
    host (``acme.cloudtables.io``) or the self-hosted domain (:func:`~.wire.endpoint_from_connection`);
    password, the API key; extras ``clientId``, ``clientName`` (the service's audit trail), ``roles``
    (default roles of minted tokens: a list or a comma-separated string), ``rate_limit``, ``rate_window``,
    ``rate_budget_pool`` (the budget shared by the tasks of the key: :mod:`.budget`), ``domain``,
    ``self_hosted``, ``ssl`` and the HTTP-core extras (timeouts, ``verify``, retries, ``window``).

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
    service_name: ClassVar[str] = wire.SERVICE
    #: Rows in flight: the smallest window (``benchmarks/cloudtables_pacing.py``) at which 2,000 rows at up
    #: to 100 ms a request end within 2 % of the rate limit's bound with the limit's window cut 100 times
    #: (1: 5.8 times it at 100 ms; 4: latency-bound too); more adds connections, not speed.
    default_window: ClassVar[int] = 8

    def __init__(
        self,
        cloudtables_conn_id: str = default_conn_name,
        *,
        rate_limit: int | None = None,
        rate_window: float | None = None,
        progress_every: float = 30.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(cloudtables_conn_id, **kwargs)
        self.cloudtables_conn_id = cloudtables_conn_id
        self._rate_limit_arg = rate_limit
        self._rate_window_arg = rate_window
        self.progress_every = progress_every
        self._schemas: dict[str, DatasetSchema] = {}
        self._dataset_ids: dict[str, str] = {}
        self._point_names: dict[str, str] = {}

    # -- connection ------------------------------------------------------------------------------

    @cached_property
    def endpoint(self) -> wire.CloudTablesEndpoint:
        conn = self.connection
        return wire.endpoint_from_connection(
            conn.host, port=conn.port, schema=conn.schema, extras=self.extras, conn_id=self.conn_id
        )

    @cached_property
    def base_url(self) -> str:
        return self.endpoint.base

    @cached_property
    def client_params(self) -> list[tuple[str, str]]:
        """Return ``clientId``/``clientName`` from the connection, as set."""
        return wire.client_pairs(self.extras)

    @cached_property
    def default_roles(self) -> list[str]:
        return wire.role_list(self.extras.get("roles"))

    @cached_property
    def pacer(self) -> pacing.RequestPacer | None:
        """Return the request pacer, or ``None`` when the rate limit is 0 (pacing off)."""
        limit, window, log = self._rate_limit_arg, self._rate_window_arg, self._logger()
        return pacing.pacer_for(
            self.extras, limit, window, conn_id=self.conn_id, sleep=self._sleep, logger=log
        )

    def budget_pool(self) -> str | None:
        """Return the pool (one slot) of the tasks sharing this key's rate budget, ``None`` when unshared."""
        return budget.describe_pool(self.extras.get(budget.POOL_EXTRA))

    @cached_property
    def _paced_use(self) -> budget.PacedUse:
        shared = None
        if self.pacer is not None and self.budget_pool() is not None:
            fingerprint = budget.key_fingerprint(self.base_url, self.connection.password or "")
            shared = budget.VariableLedger(budget.VARIABLE_PREFIX + fingerprint)
        return budget.PacedUse(self.pacer, shared, self._logger())

    def paced(self, ledger: PaceLedger | None = None) -> contextlib.AbstractContextManager[PaceHandle]:
        """
        Return a block whose requests start from the send times in ``ledger`` and save them on the way out.

        Set ``wait_over`` on what it yields to get ``PaceWait`` instead of a longer sleep. A shared budget
        (``rate_budget_pool``) uses the key's own ledger (:mod:`.budget`) instead of ``ledger``.
        """
        return self._paced_use.block(ledger)

    def _logger(self) -> logging.Logger:
        return cast(logging.Logger, self.log)  # Airflow's logger has the Logger methods the helpers call

    def progress(self, total: int | None, what: str = "rows") -> ProgressLogger:
        """Return a progress logger for ``total`` paced requests, its ETA following the pacer."""
        every, window = self.progress_every, self.window
        return pacing.progress_logger(
            self._logger(), self.pacer, total, what=what, every_seconds=every, window=window
        )

    # -- HTTP core hook points -------------------------------------------------------------------

    def auth_headers(self) -> dict[str, str]:
        return wire.key_header(self.connection.password)

    def attempt_slot(self) -> contextlib.AbstractContextManager[Any]:
        """Send each attempt inside a pacing slot (:mod:`.pacing`)."""
        return self.pacer.slot() if self.pacer is not None else contextlib.nullcontext()

    def error_messages(self, payload: Any, response: requests.Response) -> list[str]:
        """Return ``error``, ``errors[].msg`` and ``fieldErrors`` (named data points), plus a hint on 401."""
        messages = wire.error_messages(payload, self._point_names)
        messages = messages or super().error_messages(payload, response)
        if response.status_code == 401:
            messages.append(f"the API key was refused: check the password of connection {self.conn_id!r}")
        return messages

    def check_body(self, payload: Any, response: requests.Response, where: str) -> None:
        """Raise when a JSON body reports a failure, whatever the status (the API sends 200s)."""
        if not wire.body_failed(payload):
            return
        errors = [self.scrub(m) for m in self.error_messages(payload, response)]
        request_id = self.request_id(payload, response)
        raise wire.body_error(
            payload, errors, where=where, status_code=response.status_code, request_id=request_id
        )

    def _api(
        self,
        method: str,
        *path: str | int,
        form: Sequence[tuple[str, str]] = (),
        conditions: Sequence[Mapping[str, Any]] = (),
        client_in_query: bool = True,
        reconcile: Callable[[], Any] | None = None,
    ) -> Any:
        client = self.client_params if client_in_query else []
        query, body = wire.request_parts(method, client=client, form=form, conditions=conditions)
        path_text = self.endpoint.api_path(*map(str, path))
        data = body or None
        return self.request_json(method, path_text, params=query or None, data=data, reconcile=reconcile)

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
        items = wire.answer_part(payload, "datasets", list, "GET datasets: no 'datasets' list in the answer")
        self._dataset_ids.update((str(item.get("id")), str(item.get("id"))) for item in items)
        return [dict(item) for item in items]

    def asset_uri(self, dataset: str) -> str:
        """Return the data set's asset URI, by id: ``cloudtables://host[:port]/<id>`` (``assets``)."""
        return cloudtables_uri(self.base_url, self.resolve_dataset(dataset))

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
        if DatasetSchema.is_id(dataset):
            return dataset
        if dataset not in self._dataset_ids:
            self._dataset_ids[dataset] = find_dataset(dataset, self.list_datasets())
        return self._dataset_ids[dataset]

    def get_schema(self, dataset: str, *, refresh: bool = False) -> DatasetSchema:
        """Return a data set's schema (names ⇄ ids, types; the API body in ``.raw``), cached per hook."""
        dataset_id = self.resolve_dataset(dataset)
        if refresh or dataset_id not in self._schemas:
            payload = self._api("GET", "dataset", dataset_id, "schema")
            failure = f"GET dataset/{dataset_id}/schema: no 'datapoints' in the answer"
            wire.answer_part(payload, "datapoints", list, failure)
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
        return DatasetInfo(dataset, exists=True, columns=schema.column_types())

    def get_columns(self, dataset: str) -> list[str]:
        """Return the row keys of a data set: ``id``, ``dv``, ``color`` and the column names."""
        return self.get_schema(dataset).keys

    # -- rows -------------------------------------------------------------------------------------

    def _row_calls(self, schema: DatasetSchema, conditions: Any) -> RowCalls:
        """Return the row calls of a data set under ``conditions`` (names mapped to ``dp-N`` ids)."""
        return RowCalls(self._api, schema.dataset_id, conditions_for(conditions, schema))

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
        Yield a data set's rows by name, filtered, projected and sorted on this side (:mod:`.reads`).

        ``where`` uses the filter language of :mod:`airflow_provider_cloud.rows.filters`; ``order_by`` is one
        column or several, ``"-col"`` descending, nulls last; ``conditions`` (CloudTables access conditions)
        filter on the server; ``page_size`` is ignored (one request returns every row).
        """
        del page_size

        def fetch(schema: DatasetSchema) -> list[dict[str, Any]]:
            return self._row_calls(schema, conditions).rows()

        load = partial(self.get_schema, dataset)
        return reads.select_rows(load, fetch, where=where, columns=columns, order_by=order_by)

    def get_rows(self, dataset: str, **kwargs: Any) -> list[dict[str, Any]]:
        """Return every row of :meth:`iter_rows` as a list."""
        return list(self.iter_rows(dataset, **kwargs))

    def get_row(self, dataset: str, row_id: int, *, conditions: Any = None) -> dict[str, Any]:
        """Return one row by its id, by name."""
        schema = self.get_schema(dataset)
        return schema.row_out(self._row_calls(schema, conditions).get(int(row_id)))

    def insert_row(
        self, dataset: str, values: Mapping[str, Any], *, conditions: Any = None
    ) -> dict[str, Any]:
        """Insert a row (keys: names or ids; links: row ids) and return it as stored; a lost answer is checked."""
        schema = self.get_schema(dataset)
        row = writer.insert_one(schema, self._row_calls(schema, conditions), schema.fields_in(values))
        return schema.row_out(row)

    def update_row(
        self, dataset: str, row_id: int, values: Mapping[str, Any], *, conditions: Any = None
    ) -> dict[str, Any]:
        """Update some columns of a row (others keep their values; ``dv`` goes up by one); return it as stored."""
        schema = self.get_schema(dataset)
        fields = schema.fields_in(values)
        return schema.row_out(self._row_calls(schema, conditions).update(int(row_id), fields))

    def delete_row(self, dataset: str, row_id: int, *, conditions: Any = None) -> None:
        """Delete one row by its id."""
        schema = self.get_schema(dataset)
        self._row_calls(schema, conditions).delete(int(row_id))

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
        Write rows (keys: names or ids) one request each, paced, :attr:`window` in flight; return counts.

        The modes, and the reads and checks before the first write: :class:`~.writes.WritePlan`; an insert
        whose answer is lost is checked, then counted done or sent again (:mod:`.reconcile`); the order
        kept in a window: :mod:`.writer`.

        :param create: CloudTables cannot create data sets through its API: a missing data set is an error
            either way, with a message saying so.
        :param batch_size: ignored: the API writes one row per request.
        """
        del batch_size
        with self.paced():
            return self._write_rows(dataset, rows, mode=mode, key=key, create=create, conditions=conditions)

    def _write_rows(
        self,
        dataset: str,
        rows: Iterable[Mapping[str, Any]],
        *,
        mode: str,
        key: Any,
        create: bool,
        conditions: Any,
    ) -> WriteResult:
        try:
            schema = self.get_schema(dataset)
        except NotFoundError as exc:
            if create:
                raise writes.cannot_create(dataset, exc) from None
            raise
        origin = rows.origin if isinstance(rows, RowBlocks) else None
        result = writer.write_rows(
            writes.WritePlan(schema, mode, key, origin=origin),
            self._row_calls(schema, conditions),
            rows,
            window=self.window,
            progress=self.progress,
            warn_duplicates=lambda n: self.log.warning(
                "%d rows of %s repeat a key; writes go to the first of each", n, dataset
            ),
        )
        self.log.info("Wrote %s to %s: %s", f"{result.rows:,} rows", dataset, result.as_dict())
        return result

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

        One read finds the matching rows; each is then deleted by id (one request each, paced, a window in
        flight). A row deleted meanwhile by someone else is not counted. ``dry_run`` only counts.
        """
        if where is None:
            raise ValueError("delete_rows needs where=... (use where={} to delete every row)")
        with self.paced():
            return self._delete_rows(dataset, where, dry_run, conditions)

    def _delete_rows(self, dataset: str, where: Mapping[str, Any], dry_run: bool, conditions: Any) -> int:
        schema = self.get_schema(dataset)
        found = self.iter_rows(schema.dataset_id, where=where, columns=["id"], conditions=conditions)
        matching = [row["id"] for row in found]
        if dry_run:
            return len(matching)
        return writer.delete_each(
            matching,
            self._row_calls(schema, conditions).delete,
            self.progress(len(matching), "deletions"),
            gone=lambda row_id: self.log.info("Row %s of %s was already gone", row_id, dataset),
            window=self.window,
        )
