"""
End-to-end check (b): a sensor that defers to the triggerer and resumes on a worker.

``ReleaseFileSensor`` always defers, to the standard ``FileTrigger``, which fires once the file named by the
run's ``conf["release_file"]`` exists. The test creates that file only after the deferral has settled (see
``AirflowStack.wait_for_deferral``), the same way an end-to-end test of an events sensor produces its event.
The task then resumes on a worker in ``execute_complete``, whose return value becomes the XCom the downstream
task reads: the round trip of the Kloudless events sensor's deferrable mode.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pendulum
from airflow.providers.standard.triggers.file import FileTrigger
from airflow.sdk import BaseSensorOperator, dag, task


class ReleaseFileSensor(BaseSensorOperator):
    """Defer until ``release_file`` exists (watched by the triggerer), then resume on a worker."""

    template_fields: Sequence[str] = ("release_file",)

    def __init__(self, *, release_file: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.release_file = release_file

    def execute(self, context: Any) -> None:
        if not self.release_file:
            raise ValueError("trigger this DAG with conf {'release_file': '<absolute path>'}")
        self.defer(
            trigger=FileTrigger(filepath=self.release_file, poke_interval=1.0),
            method_name="execute_complete",
            timeout=self.timeout,
        )

    def execute_complete(self, context: Any, event: Any = None) -> dict[str, Any]:
        self.log.info("Resumed after the trigger fired with %s", event)
        return {"resumed": True, "release_file": self.release_file, "trigger_payload": event}


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False, tags=["e2e"])
def e2e_deferrable():
    waited = ReleaseFileSensor(
        task_id="wait", release_file="{{ dag_run.conf.get('release_file', '') }}", timeout=300
    )

    @task
    def after(result: Any) -> bool:
        return bool(result["resumed"])

    after(waited.output)


e2e_deferrable()
