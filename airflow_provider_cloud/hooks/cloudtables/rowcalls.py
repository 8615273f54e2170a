"""
The row routes of one data set (``/dataset/{id}[/{rowId}]``), bound to its id and its access conditions.

Each call goes through the hook's JSON-API callable, ``api(method, *path, form=..., conditions=...)`` (an
insert also passes ``reconcile=``, the core's check of a lost answer), and
returns rows as the API has them (``dp-N`` keys); the schema maps them to names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from airflow_provider_cloud.hooks.cloudtables.wire import answer_part, form_pairs, response_data

#: Sends one API call and returns its JSON body (failures raised): the hook's ``_api``.
Api = Callable[..., Any]


@dataclass(frozen=True)
class RowCalls:
    """Read, insert, update and delete the rows of one data set under one set of conditions."""

    api: Api
    dataset_id: str
    conditions: Sequence[Mapping[str, Any]] = ()

    def rows(self) -> list[dict[str, Any]]:
        """Return every row the conditions let through, in one request."""
        payload = self.api("GET", "dataset", self.dataset_id, conditions=self.conditions)
        return list(answer_part(payload, "data", list, f"GET dataset/{self.dataset_id}: no 'data' list"))

    def get(self, row_id: int) -> dict[str, Any]:
        return response_data(self.api("GET", "dataset", self.dataset_id, row_id, conditions=self.conditions))

    def insert(self, fields: Mapping[str, Any], reconcile: Callable[[], Any] | None = None) -> dict[str, Any]:
        """Send API fields as a new row; return the row stored (``reconcile``: the check of a lost answer)."""
        form = form_pairs(fields)
        payload = self.api(
            "POST", "dataset", self.dataset_id, form=form, conditions=self.conditions, reconcile=reconcile
        )
        return response_data(payload)

    def update(self, row_id: int, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Send fields of a row (the others keep their values); return the row stored."""
        form = form_pairs(fields)
        payload = self.api("PUT", "dataset", self.dataset_id, row_id, form=form, conditions=self.conditions)
        return response_data(payload)

    def delete(self, row_id: int) -> None:
        self.api("DELETE", "dataset", self.dataset_id, row_id, conditions=self.conditions)
