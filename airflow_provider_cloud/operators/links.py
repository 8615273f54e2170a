"""
The operators' extra link: the page of the table a task read or wrote, on the Datasette server.

Decision: the operator records the page on itself during ``execute`` (``table_page``) from the hook's
``table_page_url`` (the server's base URL without user info, then ``/database/table``; never a token), and
Airflow's task runner stores ``get_link``'s answer in XCom when the task ends, where the UI reads it.
CloudTables has no documented page of a data set for people (its data sets are seen through embeds), so
its hook has no ``table_page_url`` and the link stays empty there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.sdk.types import TaskInstanceKey

log = logging.getLogger(__name__)


class DatasetteTableLink(BaseOperatorLink):
    """Link to the Datasette table of a row operator's run (empty for other services)."""

    name = "Datasette table"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        return str(getattr(operator, "table_page", None) or "")

    @staticmethod
    def page_of(hook: Any, dataset: str) -> str | None:
        """Return the hook's page of a data set, or ``None`` when its service has none (or cannot say)."""
        page: Callable[[str], str] | None = getattr(hook, "table_page_url", None)
        if page is None:
            return None
        try:
            return page(dataset)
        except Exception as exc:  # a link, not worth failing a task
            log.warning("No link to data set %r: %s", dataset, exc)
            return None
