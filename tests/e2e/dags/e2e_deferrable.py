"""
End-to-end check (b): a sensor that defers to the triggerer and resumes on a worker.

``ResumingWaitSensor`` always defers (the wait is counted from when the task runs, so a slow machine cannot
make it skip deferring) to the standard ``TimeDeltaTrigger`` with ``end_from_trigger=False``: the task
resumes on a worker in ``execute_complete``, whose return value (the trigger's payload) becomes the XCom the
downstream task reads. This is the same round trip as the Kloudless events sensor's deferrable mode.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.providers.standard.triggers.temporal import TimeDeltaTrigger
from airflow.sdk import BaseSensorOperator, dag, task

WAIT = timedelta(seconds=3)


class ResumingWaitSensor(BaseSensorOperator):
    """Defer for ``wait`` on the triggerer, then resume on a worker and return what the trigger sent."""

    def __init__(self, *, wait: timedelta, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.wait = wait

    def execute(self, context: Any) -> None:
        self.defer(trigger=TimeDeltaTrigger(self.wait), method_name="execute_complete", timeout=self.timeout)

    def execute_complete(self, context: Any, event: Any = None) -> dict[str, Any]:
        self.log.info("Resumed after the trigger fired with %s", event)
        return {"resumed": True, "trigger_payload": str(event)}


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False, tags=["e2e"])
def e2e_deferrable():
    waited = ResumingWaitSensor(task_id="wait", wait=WAIT, timeout=300)

    @task
    def after(result: Any) -> bool:
        return bool(result["resumed"])

    after(waited.output)


e2e_deferrable()
