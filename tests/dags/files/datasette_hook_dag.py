"""
Use DatasetteHook from tasks: one task writes rows, the next counts and reads them back.

The connection comes from ``AIRFLOW_CONN_DATASETTE_DAG`` (the test sets it); the table from the run's
``table`` param. XCom carries counts, ids and the masked form of the token, never the token itself.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import dag, task

CONN_ID = "datasette_dag"
ROW_COUNT = 250


@dag(
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"table": "dag_people"},
)
def datasette_hook_dag() -> None:
    @task
    def write_people(params: dict[str, Any] | None = None) -> dict[str, Any]:
        from airflow_provider_cloud.hooks.datasette import DatasetteHook

        assert params is not None
        rows = [{"id": i, "name": f"person {i}", "score": i / 2} for i in range(1, ROW_COUNT + 1)]
        hook = DatasetteHook(CONN_ID)
        try:
            return hook.write_rows(params["table"], rows, key="id", create=True).as_dict()
        finally:
            hook.close()

    @task
    def read_people(written: dict[str, Any], params: dict[str, Any] | None = None) -> dict[str, Any]:
        from airflow.sdk.log import redact

        from airflow_provider_cloud.hooks.datasette import DatasetteHook

        assert params is not None
        table = params["table"]
        hook = DatasetteHook(CONN_ID)
        try:
            top = hook.iter_rows(table, where={"score__gte": 120}, order_by="-score", columns=["id", "name"])
            ok, message = hook.test_connection()
            return {
                "written": written["rows"],
                "count": hook.count_rows(table),
                "top": [row["id"] for row in top],
                "connected": ok,
                "message": message,
                "token_as_logged": redact(hook.connection.password),
                "scrubbed": hook.scrub(f"Bearer {hook.connection.password}"),
            }
        finally:
            hook.close()

    read_people(write_people())  # type: ignore[arg-type]  # TaskFlow passes the XCom value at run time


datasette_hook_dag()
