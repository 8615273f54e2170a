"""
Datasette: the hook (``hook``, on ``server``: connection, limits, databases) and its helpers, one concern a module.

``wire`` (URL paths, filters as parameters and SQL), ``schema`` (a table's facts in one request), ``reads``
(pages, counts, queries), ``paging`` (pages one after another), ``ranges`` (pages of key ranges side by
side), ``writes`` (``write_rows``: key checks, creating the table, planning), ``batches`` (the planner and
row encoding), ``sender`` (batches in flight: the one-thread ``pipeline``, or a window kept in order by
``ordering``) and ``reconcile`` (did a write whose answer was lost happen?). Code outside this package
imports what is exported here.
"""

from __future__ import annotations

from airflow_provider_cloud.hooks.datasette.hook import DatasetteHook
from airflow_provider_cloud.hooks.datasette.writes import COLUMN_TYPES

__all__ = ["COLUMN_TYPES", "DatasetteHook"]
