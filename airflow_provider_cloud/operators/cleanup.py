"""Clean up rows of any service whose hook implements the RowStore contract (re-exported by ``operators.rows``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException

from airflow_provider_cloud.hooks.rowstore import get_rowstore_hook
from airflow_provider_cloud.operators._lineage import LineageFacts, cleanup_facts, operator_lineage
from airflow_provider_cloud.operators._templated import mapping, whole_number
from airflow_provider_cloud.operators.links import DatasetteTableLink

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context


class CleanupRowsOperator(BaseOperator):
    """
    Delete the rows of a data set that match a filter, with a dry run and a safety limit.

    Returns how many rows were deleted (or, with ``dry_run``, would be). The hook refuses a filter on a
    column the data set does not have before anything is counted or deleted.

    :param conn_id: connection of a service with a RowStore hook. (templated)
    :param dataset: the table or data set. (templated)
    :param where: filters, e.g. ``{"updated_at__lt": "{{ macros.ds_add(ds, -30) }}"}``; ``{}`` matches
        every row. (templated)
    :param dry_run: only count the matching rows.
    :param max_rows: refuse to delete more rows than this (``None``: no limit). (templated)
    :param allow_more: delete even when more than ``max_rows`` rows match.
    """

    template_fields: Sequence[str] = ("conn_id", "dataset", "where", "max_rows")
    template_fields_renderers = {"where": "json"}
    operator_extra_links = (DatasetteTableLink(),)
    ui_color = "#f6e0d9"

    def __init__(
        self,
        *,
        conn_id: str,
        dataset: str,
        where: Mapping[str, Any],
        dry_run: bool = False,
        max_rows: int | None = 10_000,
        allow_more: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if where is None:
            raise ValueError("where= is required; use {} to delete every row")
        if isinstance(max_rows, int) and max_rows < 0:
            raise ValueError("max_rows must be 0 or more")
        self.conn_id = conn_id
        self.dataset = dataset
        self.where = where
        self.is_dry_run = dry_run
        self.max_rows = max_rows
        self.allow_more = allow_more
        self.lineage: LineageFacts | None = None
        self.table_page: str | None = None

    def execute(self, context: Context) -> int:
        hook = get_rowstore_hook(self.conn_id)
        where = mapping(self.where, "where", required=True)
        self.max_rows = whole_number(self.max_rows, "max_rows", minimum=0)
        self.table_page = DatasetteTableLink.page_of(hook, self.dataset)
        matching = hook.delete_rows(self.dataset, where=where, dry_run=True)
        if self.is_dry_run:
            self.log.info("Dry run: %d rows of %s match %s; nothing deleted", matching, self.dataset, where)
            return matching
        if self.max_rows is not None and matching > self.max_rows and not self.allow_more:
            raise AirflowException(
                f"{matching} rows of {self.dataset!r} match {where}, more than max_rows={self.max_rows}; "
                "nothing was deleted (raise max_rows or pass allow_more=True)"
            )
        deleted = hook.delete_rows(self.dataset, where=where)
        self.log.info("Deleted %d rows of %s matching %s", deleted, self.dataset, where)
        self.lineage = cleanup_facts(hook, self.dataset, deleted=deleted, everything=not where)
        return deleted

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        return operator_lineage(self.lineage)
