"""
The RowStore contract that the generic row operators work against, and how they find a hook for a connection.

A hook is a RowStore when it can iterate, write and delete rows of a data set (a Datasette table, a
CloudTables data set). The operators resolve the hook from the connection's type, so one operator serves
every service whose hook implements the contract.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from airflow.sdk import BaseHook

from airflow_provider_cloud.exceptions import UnsupportedConnectionError

#: Connection types of this provider whose hooks implement :class:`RowStore`, and those hooks.
ROWSTORE_HOOKS: dict[str, str] = {
    "datasette": "airflow_provider_cloud.hooks.datasette.DatasetteHook",
    "cloudtables": "airflow_provider_cloud.hooks.cloudtables.CloudTablesHook",
}


@runtime_checkable
class RowStore(Protocol):
    """What the generic operators need of a hook."""

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
    ) -> Any: ...

    def delete_rows(
        self, dataset: str, *, where: Mapping[str, Any] | None = None, dry_run: bool = False
    ) -> int: ...


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
            f"implement iter_rows/write_rows/delete_rows; the row operators work with: {supported}"
        )
    return hook
