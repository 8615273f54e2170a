"""
The Kloudless v1 room: :class:`KloudlessHook` and what the sensor, triggers and operators need of events.

One concern a module: ``hook`` (the one hook class: the API's operations), ``account`` (its base: connection
settings, account URLs, error hook points), ``settings`` (reading the connection; its fields and extras are
described there), ``wire`` (URLs, versions, auth schemes, headers, page sizes, error bodies, ``object_list``
paging), ``events`` (the events stream, read one page after another; one bounded batch; the checks of the
sensor's and triggers' arguments), ``storage`` (item paths, streaming download and upload), ``uploads``
(finding the file a lost upload made), ``transfers`` (several files at once, within the hook's window) and
``oauth`` (authorization URL, code exchange, token checks). Code outside this package imports the names
below, never a module.
"""

from __future__ import annotations

from airflow_provider_cloud.hooks.kloudless.events import (
    AFTER_AUTH,
    DEFAULT_MAX_EVENTS,
    DEFAULT_POLL_INTERVAL,
    START_FROM,
    Cursor,
    EventBatch,
    EventStream,
    aread_events,
    check_max_events,
    check_poll_interval,
    check_start_from,
    is_missing_cursor,
    normalize_event_types,
    read_events,
    resolve_start_cursor,
)
from airflow_provider_cloud.hooks.kloudless.hook import KloudlessHook
from airflow_provider_cloud.hooks.kloudless.storage import ROOT_FOLDER
from airflow_provider_cloud.hooks.kloudless.wire import MAX_PAGE_SIZE

__all__ = [
    "AFTER_AUTH",
    "DEFAULT_MAX_EVENTS",
    "DEFAULT_POLL_INTERVAL",
    "MAX_PAGE_SIZE",
    "ROOT_FOLDER",
    "START_FROM",
    "Cursor",
    "EventBatch",
    "EventStream",
    "KloudlessHook",
    "aread_events",
    "check_max_events",
    "check_poll_interval",
    "check_start_from",
    "is_missing_cursor",
    "normalize_event_types",
    "read_events",
    "resolve_start_cursor",
]
