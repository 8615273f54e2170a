"""
CloudTables: :class:`CloudTablesHook` and what operators need of it.

``hook`` holds the one hook class; ``wire`` what requests carry and what failures look like; ``schema`` data
set, column and condition names ⇄ ids; ``rowcalls`` the row routes of a data set; ``reads`` and ``writes``
rows by name; ``values`` values against their data point's type; ``reconcile`` inserts whose answer was
lost; ``pacing`` the client-side rate limit.
"""

from __future__ import annotations

from airflow_provider_cloud.hooks.cloudtables.hook import CloudTablesHook
from airflow_provider_cloud.hooks.cloudtables.pacing import RequestPacer
from airflow_provider_cloud.hooks.cloudtables.schema import Column, DatasetSchema
from airflow_provider_cloud.hooks.cloudtables.wire import SCRIPT_STYLES, check_style, role_list
from airflow_provider_cloud.hooks.cloudtables.writes import LOOKAHEAD_ROWS
from airflow_provider_cloud.hooks.rowstore import WriteResult

__all__ = [
    "LOOKAHEAD_ROWS",
    "SCRIPT_STYLES",
    "CloudTablesHook",
    "Column",
    "DatasetSchema",
    "RequestPacer",
    "WriteResult",
    "check_style",
    "role_list",
]
