"""
Helpers of the paced CloudTables import tests, on the readings of ``tests/dags/files/e2e_deferred_import.py``:
the integration test (``tests/integration/operators/test_rows_defer.py``), the ``dag.test()`` one
(``tests/dags/test_deferred_import_dag.py``) and the end-to-end one (``tests/e2e/test_e2e_deferred_import.py``).
"""

from __future__ import annotations

from typing import Any

from airflow_provider_cloud.testing.cloudtables import CloudTablesEmulator
from tests.dags.files.e2e_deferred_import import READINGS_POINTS, readings


def connection(ct: CloudTablesEmulator, **extra: Any) -> dict[str, Any]:
    """A CloudTables connection to the emulator ``ct``, with ``extra`` (the rate settings)."""
    return {"conn_type": "cloudtables", "host": ct.url, "password": ct.api_key, "extra": extra}


def stored(ct: CloudTablesEmulator, dataset_id: str) -> dict[str, tuple[Any, Any]]:
    """Return the stored readings as ``{code: (station, value)}`` (row ids and versions aside), one row a code."""
    points = [ct.datapoint_id(dataset_id, name) for name, _ in READINGS_POINTS]
    rows = ct.rows(dataset_id)
    assert len(rows) == len({row[points[0]] for row in rows})  # one row per code
    return {row[points[0]]: (row[points[1]], row[points[2]]) for row in rows}


def last_values(count: int) -> dict[str, tuple[Any, Any]]:
    """What an import of ``readings(count)`` must leave: a key's last row wins."""
    return {row["code"]: (row["station"], row["value"]) for row in readings(count)}


def refused(ct: CloudTablesEmulator) -> int:
    """How many requests the emulator refused with 429 (over its rate limit)."""
    return sum(1 for request in ct.requests_seen if request.status == 429)
