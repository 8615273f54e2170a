"""End-to-end check (a): two tasks on a worker of the LocalExecutor, a value passed through XCom."""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import dag, task


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False, tags=["e2e"])
def e2e_xcom():
    @task
    def produce() -> dict[str, list[int]]:
        return {"numbers": [1, 2, 3, 4]}

    @task
    def consume(value: Any) -> int:
        return sum(value["numbers"])

    consume(produce())


e2e_xcom()
