"""
A local emulator of the CloudTables REST API (walkthrough: the README's "The emulators").

Tags: [R] read in the official clients or docs; [I] inferred, a choice made here because the real API is silent.

Implemented
-----------
- Both path forms: hosted ``/api/1/...`` and self-hosted ``/io/api/1/...`` [R]; the Host header is ignored.
- Ids [I]: data points ``dp-N``, links ``l-N`` and computed values ``c-N`` are numbered across the whole
  emulator (one CloudTables application), so they are unique between data sets; row ids are integers
  numbered per data set from 1 and never reused after a delete. Data set ids are UUIDs unless given.
- Every success is HTTP 200, inserts included [I]. ``"success": true`` is in the bodies of ``/access``,
  ``/datasets``, ``/schema`` and ``DELETE``; row reads and writes answer ``{"data": ...}`` only [R].
  ``clientId``/``clientName`` on data calls are accepted and ignored [I].
- ``POST /access`` -> ``{"token": <32 letters and digits>, "success": true}`` [R]. ``roles``/``role``,
  ``conditions``, ``duration`` (whole seconds, default 1200 [R]), ``clientId``, ``clientName``, ``clientMeta``
  are validated and recorded in :attr:`CloudTablesEmulator.tokens`.
- ``GET /datasets`` with live counters [R]: ``insertCount``/``updateCount``/``deleteCount`` go up by one per
  API insert/update/delete, ``readCount`` by one per read request (``/dataset/{id}``, ``/data``, a row) [I],
  ``rowCount`` is the current number of rows, ``lastData`` the time of the last write or seeding (the data
  set's creation before that) [I]. Seeded rows change no counter but ``rowCount`` [I].
- ``GET /dataset/{id}/schema``: ``computed``, ``datapoints``, ``description``, ``links`` (nested, cycles cut),
  ``name``, ``table`` [R]. ``table`` lists own points as ``{"data": "dp-1", "id": "dp-1", "link": null,
  "name": ...}`` then each link's target points as ``{"data": "l-5.dp-8", "id": "dp-8", "link": "l-5", ...}``
  [I: the docs give the keys, not their values]. The schema carries ``"success": true`` [R: .NET ``TSchema``].
- ``GET /dataset/{id}`` -> ``{"data": [row, ...]}``, every row, no paging [R]; ``GET /dataset/{id}/data`` (legacy)
  -> ``{"columns": [{"id", "linkTable", "name"}], "data": [row]}`` where ``linkTable`` is the link's target data
  set id for ``l-`` columns and null otherwise [I]; ``GET /dataset/{id}/{rowId}`` -> ``{"data": row}``;
  ``POST /dataset/{id}`` -> ``{"data": row}``; ``PUT /dataset/{id}/{rowId}`` (partial, ``dv`` + 1) ->
  ``{"data": row}``; ``DELETE /dataset/{id}/{rowId}`` -> ``{"success": true}`` [R].
- Rows: ``{"id", "dv", "color", "dp-N"..., "c-N"..., "l-N": [{"id": 2, "dp-8": "Edinburgh"}, ...]}`` [R]; every
  data point appears, ``null`` when empty [I]; ``color`` is null unless seeded [I]. Linked-row objects hold the
  target's ``id``, ``dp-`` and ``c-`` values, not its own links [I]. Links to deleted rows are left out [I].
- Fields on insert/update: ``dp-N=value``; ``l-N`` as ``11``, repeated keys, ``l-N[0]=11``, a JSON array string,
  or ``""``/``"[]"`` to clear [R]; other parameters (``key``, ``domain``, ``ssl``, names) are ignored [I].
- Value typing [I] (form values arrive as strings; details in ``_cloudtables/values.py``): ``number`` ->
  ``int`` for integer strings, else ``float`` (NaN and infinities refused); ``boolean``/``checkbox`` -> ``bool``
  from ``true false 1 0 yes no on off`` in any case (so Python's ``True`` works); ``date`` (``YYYY-MM-DD``),
  ``datetime`` (ISO 8601) and ``time`` (``HH:MM[:SS]``) are checked and kept as given; ``sequence`` is an
  integer, numbered max + 1 on insert when not sent; any other type is kept as a string. ``""`` clears a
  typed value, ``null`` (JSON) clears any value. A value that does not fit is a field error.
- Parameters from the ``key`` header, the query string and the body on every method, GET and DELETE included
  [R for the Python client]; the header wins over the body, the body over the query [I]. Bodies as
  ``application/x-www-form-urlencoded`` or, as a convenience, ``application/json`` [I]; chunked bodies too.
  ``roles``/``role`` and ``conditions`` as repeated keys, bracket-indexed keys (``%5B``-encoded or not), or
  JSON strings [R]; JSON bodies may use real arrays and objects. Path segments are percent-decoded.
- Conditions [R]: ``id`` or ``name``, ``value``, ``op`` (``= != < <= >= >``, default ``=``), ``set`` (default
  true), ``setValue``. They filter every row read, update and delete (a row outside them is "not found") [I]
  and, when ``set`` is true, write ``setValue``/``value`` on insert, over any value sent [I]. Values are typed
  like fields before comparing. Refused (400): ``c-``/``l-`` targets [R], unknown points, a value that does not
  fit the type, and ``set`` true with ``op`` other than ``=`` and no ``setValue`` [R: "must be specified"].
- Loader: ``GET [/io]/loader/{datasetId}/table/{style}`` for styles ``d auto bs bs4 dt zf ju se no`` [R]
  answers a small ``application/javascript`` that inserts a placeholder ``div`` [I]; 404 for an unknown data
  set or style. No key needed (the token rides in the tag's ``data-token``); no rate limit, no faults [I].
- Rate limit: ``rate_limit`` requests per ``rate_window`` seconds (500 per 900 [R]) per presented key
  (requests without a key share one bucket), sliding window; over it: 429, ``Retry-After`` in whole seconds
  until a slot frees, error body in the endpoint's shape [I]. Refused requests are not counted [I].
- Errors [I for statuses, R for shapes]: 401 missing or wrong key; 404 unknown data set, row, or URL;
  405 wrong method (with ``Allow``); 400 bad parameters and field errors; 413 body over 16 MiB; 415 other body
  types; 500 if the emulator itself fails. Shapes: ``POST /access`` ->
  ``{"errors": [{"msg", "name"}]}`` (``name`` is the parameter); ``DELETE`` a row ->
  ``{"success": false, "error": msg}``; field errors -> ``{"error": msg, "fieldErrors": [{"name", "status"}]}``;
  everything else -> ``{"error": msg}``.
- Test knobs: :meth:`~CloudTablesEmulator.fail_next`, :meth:`~CloudTablesEmulator.rate_limit_next`,
  :meth:`~CloudTablesEmulator.clear_faults`, :attr:`~CloudTablesEmulator.latency` (added before each reply is
  written), :attr:`~CloudTablesEmulator.requests_seen` (bounded), :attr:`~CloudTablesEmulator.tokens`,
  :meth:`~CloudTablesEmulator.reset`. One lock guards all state.

Not implemented
---------------
- Roles are parsed, validated (strings) and recorded but not enforced: every request sees every data set and
  data point. There is one API key. Access tokens are not checked anywhere (the loader needs none) and do
  not expire.
- No embedded table: the loader script is a stand-in, it does not render or fetch rows.
- Data sets, data points and links are defined through the Python API only (the REST API cannot either).
- Computed values are Python callables given to :meth:`~CloudTablesEmulator.add_dataset`; conditions cannot
  target them. No row colours through the API, no audit log, no multipart bodies, no HTTPS.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from airflow_provider_cloud.testing._cloudtables.backend import CloudTablesBackend
from airflow_provider_cloud.testing._cloudtables.rate_limit import RateLimiter
from airflow_provider_cloud.testing._cloudtables.records import AccessToken, SeenRequest, random_secret
from airflow_provider_cloud.testing._cloudtables.routes import LOADER_STYLES, CloudTablesRoutes
from airflow_provider_cloud.testing._emulator.base import Emulator
from airflow_provider_cloud.testing._emulator.faults import Body, Fault, Faults
from airflow_provider_cloud.testing._emulator.messages import RequestLog

__all__ = ["LOADER_STYLES", "AccessToken", "CloudTablesEmulator", "SeenRequest"]

MAX_BODY_BYTES = 16 * 1024 * 1024


class CloudTablesEmulator(Emulator):
    """A CloudTables REST API on 127.0.0.1, in a daemon thread; a context manager."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        rate_limit: int = 500,
        rate_window: float = 900.0,
        request_log_size: int = 1000,
    ) -> None:
        self._api_key = api_key if api_key is not None else random_secret(24)
        if not self._api_key:
            raise ValueError("api_key must not be empty")
        self._lock = threading.RLock()
        self._backend = CloudTablesBackend(self._lock)
        self._limiter = RateLimiter(rate_limit, rate_window, self._lock)
        self._seen: RequestLog[SeenRequest] = RequestLog(request_log_size, self._lock)
        faults = Faults(self._lock)
        routes = CloudTablesRoutes(
            self._backend, api_key=self._api_key, faults=faults, limiter=self._limiter, seen=self._seen
        )
        super().__init__(
            routes,
            faults,
            host=host,
            port=port,
            name="CloudTables emulator",
            version="CloudTablesEmulator/1.0",
            max_body=MAX_BODY_BYTES,
        )

    @property
    def api_key(self) -> str:
        return self._api_key

    def api_url(self, *, self_hosted: bool = False) -> str:
        """Return the API base: ``{url}/api/1`` (hosted form) or ``{url}/io/api/1`` (self-hosted form)."""
        return f"{self.url}{'/io' if self_hosted else ''}/api/1"

    def loader_url(self, dataset_id: str, style: str = "d", *, self_hosted: bool = False) -> str:
        """Return the ``<script>`` loader URL for a data set."""
        return f"{self.url}{'/io' if self_hosted else ''}/loader/{dataset_id}/table/{style}"

    def python_client_options(self, **extra: Any) -> dict[str, Any]:
        """
        Return a fresh ``options`` dict for the official ``CloudTablesApi`` client pointed at this emulator.

        Use it with ``subdomain=None`` (the self-hosted ``/io`` form). A fresh dict also avoids the client's
        shared ``default_options`` being changed by ``api.condition(...)``.
        """
        return {"ssl": False, "domain": f"{self._host}:{self.port}", **extra}

    # ----------------------------------------------------------------- data

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
        """
        Define a data set and return its id (a UUID unless ``dataset_id`` is given).

        ``datapoints``: ``{"name", "type", "description"?}`` dicts or ``(name, type)`` tuples, numbered
        ``dp-N`` across the whole emulator. ``links``: ``{"name", "target", "description"?}`` or
        ``(name, target_dataset_id)``, numbered ``l-N``. ``computed``: ``{"name", "compute", "description"?}``
        where ``compute(values_by_point_name)`` returns the value, numbered ``c-N``.
        """
        return self._backend.add_dataset(
            name, datapoints, links=links, computed=computed, description=description, dataset_id=dataset_id
        )

    def seed_rows(self, dataset_id: str, rows: Iterable[Mapping[str, Any]]) -> list[int]:
        """
        Store rows without touching the API counters; return their ids.

        Keys are ``dp-N``/``l-N`` ids or data point and link names, plus optional ``id``, ``dv`` and ``color``.
        Values are typed as the API would type them; a bad value raises ``ValueError``.
        """
        return self._backend.seed_rows(dataset_id, rows)

    def rows(self, dataset_id: str) -> list[dict[str, Any]]:
        """Return the stored rows exactly as ``GET /dataset/{id}`` would (links expanded, computed values)."""
        return self._backend.rows(dataset_id)

    def datasets(self) -> list[dict[str, Any]]:
        """Return the ``GET /datasets`` list (counters included) without counting a request."""
        return self._backend.list_datasets()

    def datapoint_id(self, dataset_id: str, name: str) -> str:
        """Return the ``dp-N`` id of a data point by name."""
        return self._backend.point_id(dataset_id, name, "dp")

    def link_id(self, dataset_id: str, name: str) -> str:
        """Return the ``l-N`` id of a link by name."""
        return self._backend.point_id(dataset_id, name, "l")

    def computed_id(self, dataset_id: str, name: str) -> str:
        """Return the ``c-N`` id of a computed value by name."""
        return self._backend.point_id(dataset_id, name, "c")

    @property
    def tokens(self) -> list[AccessToken]:
        """Return every access token minted by ``POST /access``, oldest first."""
        return self._backend.tokens

    # ----------------------------------------------------------------- test knobs

    def reset(self) -> None:
        """Drop data sets, rows, tokens, counters, faults, latency, rate-limit history and the request log."""
        with self._lock:
            self._backend.reset()
            self._faults.reset()
            self._limiter.reset()
            self._seen.clear()

    def fail_next(
        self,
        count: int = 1,
        status: int = 500,
        *,
        body: Body | None = None,
        retry_after: int | float | str | None = None,
    ) -> None:
        """
        Make the next ``count`` API requests fail with ``status`` (calls add up).

        ``body``: a JSON-able object, or ``str``/``bytes`` sent as text (e.g. a proxy's HTML page); by default
        the endpoint's own error shape. ``retry_after`` is sent as the ``Retry-After`` header when given.
        """
        self._faults.add(count, Fault(status, retry_after, body=body))

    def rate_limit_next(self, count: int = 1, retry_after: int | float = 1) -> None:
        """Make the next ``count`` API requests answer 429 with ``Retry-After``, in the endpoint's error shape."""
        self._faults.add(count, Fault(429, retry_after))

    def set_latency(self, seconds: float) -> None:
        """Add ``seconds`` before every reply (0 turns it off)."""
        self.latency = seconds

    @property
    def requests_seen(self) -> list[SeenRequest]:
        """Return the most recent requests (method, path, query, form, json, headers, body, status)."""
        return self._seen.entries()

    def clear_requests_seen(self) -> None:
        self._seen.clear()
