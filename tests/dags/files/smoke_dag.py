"""A two-task DAG that proves the DAG-test harness: a value flows through XCom."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False)
def smoke_dag():
    @task
    def produce() -> dict[str, int]:
        return {"n": 41}

    @task
    def consume(value: dict[str, int]) -> int:
        return value["n"] + 1

    consume(produce())


smoke_dag()
