"""
The RowStore contract that the generic row operators work against, and how they find a hook for a connection.

A hook is a RowStore when it can describe, iterate, write and delete rows of a data set (a Datasette
table, a CloudTables data set). The operators resolve the hook from the connection's type, so one operator
serves every service whose hook implements the contract. The words the contract speaks (``WriteMode``,
``WriteResult``, ``DatasetInfo``) are defined here once, for every service.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from airflow.sdk import BaseHook

from airflow_provider_cloud.exceptions import UnsupportedConnectionError
from airflow_provider_cloud.hooks.core import PaceHandle, PaceLedger

WriteMode = Literal["insert", "ignore", "replace", "upsert"]
#: ``insert`` adds rows (an existing key is an error), ``ignore`` keeps existing rows, ``replace`` replaces
#: whole rows, ``upsert`` (the default) updates the given columns by key and inserts new keys.
WRITE_MODES: tuple[str, ...] = ("insert", "ignore", "replace", "upsert")

#: Connection types of this provider whose hooks implement :class:`RowStore`, and those hooks.
ROWSTORE_HOOKS: dict[str, str] = {
    "datasette": "airflow_provider_cloud.hooks.datasette.DatasetteHook",
    "cloudtables": "airflow_provider_cloud.hooks.cloudtables.CloudTablesHook",
}


def check_write_mode(mode: str) -> str:
    """Return ``mode`` if it is one of :data:`WRITE_MODES`, else raise ``ValueError`` naming them."""
    if mode not in WRITE_MODES:
        raise ValueError(f"mode must be one of {WRITE_MODES}, got {mode!r}")
    return mode


@dataclass(frozen=True)
class DatasetInfo:
    """
    What a data set is: whether it exists, its columns (name → the service's type, in order) and its key.

    ``keys`` are the columns that identify a row (a primary key); empty when the service keys rows itself
    (a Datasette rowid table, a CloudTables data set).
    """

    name: str
    exists: bool
    columns: Mapping[str, str] = field(default_factory=dict)
    keys: tuple[str, ...] = ()

    @property
    def column_names(self) -> list[str]:
        return list(self.columns)


@dataclass(frozen=True)
class WriteResult:
    """
    What a hook's ``write_rows`` did.

    ``rows`` counts the input rows the data set now holds as given, ``requests`` the writes sent (a
    Datasette batch is one request) and ``created`` whether the write created the data set. A service that
    compares each row with what is stored (CloudTables) also says how each row went: ``inserted``,
    ``updated``, ``unchanged`` (``rows`` is their sum) and ``ignored`` (mode ``ignore``, key already there);
    the others leave them ``None``.
    """

    rows: int
    requests: int
    created: bool = False
    inserted: int | None = None
    updated: int | None = None
    unchanged: int | None = None
    ignored: int | None = None

    @property
    def batches(self) -> int:
        """Return the requests sent: the batches of a batched write."""
        return self.requests

    def as_dict(self) -> dict[str, Any]:
        """Return the counts that apply, as a dict small enough for XCom."""
        return {name: value for name, value in asdict(self).items() if value is not None}


@runtime_checkable
class RowStore(Protocol):
    """What the generic operators need of a hook."""

    def describe(self, dataset: str, *, refresh: bool = False) -> DatasetInfo: ...

    def iter_rows(
        self,
        dataset: str,
        *,
        where: Mapping[str, Any] | None = None,
        columns: Sequence[str] | None = None,
        order_by: str | Sequence[str] | None = None,
        page_size: int | None = None,
    ) -> Iterator[dict[str, Any]]: ...

    def write_rows(
        self,
        dataset: str,
        rows: Iterable[Mapping[str, Any]],
        *,
        mode: str = "upsert",
        key: str | Sequence[str] | None = None,
        create: bool = False,
        batch_size: int | None = None,
    ) -> WriteResult: ...

    def delete_rows(
        self, dataset: str, *, where: Mapping[str, Any] | None = None, dry_run: bool = False
    ) -> int: ...


@runtime_checkable
class PacedRowStore(RowStore, Protocol):
    """
    A RowStore that paces itself to a rate limit, and lets its caller keep its send times and take its long waits.

    Requests inside ``paced(ledger)`` start from the send times in ``ledger`` (a task's earlier part, in
    another process) and save them on the way out; a wait longer than the ``wait_over`` set on what it
    yields raises ``PaceWait`` (``hooks.core.waits``) instead of sleeping. ``budget_pool()`` names the pool
    the tasks sharing the service's rate budget run in, ``None`` when they do not share it.
    """

    def budget_pool(self) -> str | None: ...

    def paced(self, ledger: PaceLedger | None = None) -> AbstractContextManager[PaceHandle]: ...


def get_rowstore_hook(conn_id: str) -> RowStore:
    """
    Return the RowStore hook for a connection, chosen by the connection's type.

    :raises UnsupportedConnectionError: the type has no RowStore hook; the message names those that do.
    """
    conn = BaseHook.get_connection(conn_id)
    supported = ", ".join(sorted(ROWSTORE_HOOKS))
    if conn.conn_type not in ROWSTORE_HOOKS:
        raise UnsupportedConnectionError(
            f"Connection {conn_id!r} has type {conn.conn_type!r}, which has no row hook; "
            f"the row operators work with connection types: {supported}"
        )
    hook = conn.get_hook()
    if not isinstance(hook, RowStore):
        raise UnsupportedConnectionError(
            f"Connection {conn_id!r}: the hook for type {conn.conn_type!r} ({type(hook).__name__}) does not "
            f"implement describe/iter_rows/write_rows/delete_rows; the row operators work with: {supported}"
        )
    return hook
