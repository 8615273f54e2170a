"""
The HTTP core: one policy for every request of every hook (``CloudApiHook`` in ``hook.py``).

One concern a module: ``hook`` (the session and the request loop, sync and async, with the hook points a
service fills in), ``connected`` (its base: the connection and the settings read from it), ``policy`` (what
is retried, and the waits), ``errors`` (failures to typed errors), ``reconciling`` (checking a write whose
answer was lost), ``extras`` (reading a connection), ``secrets`` (masking and scrubbing), ``session`` (the
keep-alive session and the environment's proxies), ``async_http`` (the httpx client of the async path, for
triggers: the same rules, another transport), ``window`` (requests in flight side by side), ``prefetch`` and
``switching`` (reading ahead on a background thread), ``waits`` (long pacing waits handed back to the caller,
and the send times that outlive a process).
"""

from __future__ import annotations

from airflow_provider_cloud.hooks.core.extras import (
    base_url_from_connection,
    coerce_bool,
    extra_number,
    with_port,
)
from airflow_provider_cloud.hooks.core.hook import CloudApiHook
from airflow_provider_cloud.hooks.core.policy import (
    ALWAYS_RETRY_STATUSES,
    SAFE_METHODS,
    RetryPolicy,
    Timeouts,
    parse_retry_after,
)
from airflow_provider_cloud.hooks.core.prefetch import prefetched
from airflow_provider_cloud.hooks.core.switching import quick_thread_switching
from airflow_provider_cloud.hooks.core.waits import (
    CLOCK_MARGIN,
    NoPacing,
    PaceHandle,
    PaceLedger,
    PaceWait,
    clean_stamps,
    recent,
)
from airflow_provider_cloud.hooks.core.window import MAX_WINDOW, Window, check_window

__all__ = [
    "ALWAYS_RETRY_STATUSES",
    "CLOCK_MARGIN",
    "MAX_WINDOW",
    "NoPacing",
    "PaceHandle",
    "PaceLedger",
    "PaceWait",
    "SAFE_METHODS",
    "CloudApiHook",
    "RetryPolicy",
    "Timeouts",
    "Window",
    "base_url_from_connection",
    "check_window",
    "clean_stamps",
    "coerce_bool",
    "extra_number",
    "parse_retry_after",
    "prefetched",
    "quick_thread_switching",
    "recent",
    "with_port",
]
