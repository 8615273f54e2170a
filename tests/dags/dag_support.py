"""Run real DAG files from ``tests/dags/files`` (or the example DAGs) with ``dag.test()`` and read their XComs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow_provider_cloud.testing.dagtest import load_dag, xcom_rows

__all__ = ["DAGS_FOLDER", "as_task_reads_it", "load_dag", "run_dag", "task_states", "xcoms_of"]

DAGS_FOLDER = Path(__file__).resolve().parent / "files"


def run_dag(dag_id: str, *, path: Path | None = None, **test_kwargs: Any) -> tuple[Any, dict[str, Any]]:
    """
    Run a DAG with ``dag.test()`` and return ``(dag_run, xcoms)``.

    ``xcoms`` maps ``task_id`` (or ``task_id.key`` for keys other than ``return_value``) to its value.
    """
    dag = load_dag(path or DAGS_FOLDER / f"{dag_id}.py", dag_id)
    dag_run = dag.test(**test_kwargs)
    return dag_run, xcoms_of(dag_id, dag_run.run_id)


def as_task_reads_it(stored: Any) -> Any:
    """
    Return an XCom value as a task reads it: the stored JSON with Airflow's class markers decoded.

    The embed token operator stores an ``EmbedAccess`` (so that reading it masks the token); a task gets
    the plain dict, as this does. The database and the API keep the marked form.
    """
    from airflow.sdk.serde import deserialize

    import airflow_provider_cloud.operators.cloudtables  # noqa: F401 - allows EmbedAccess here

    return deserialize(stored)


def xcoms_of(dag_id: str, run_id: str) -> dict[str, Any]:
    """Map ``task_id`` (``task_id.key`` for other keys) to its XCom; of a mapped task, one instance's."""
    out: dict[str, Any] = {}
    for task_id, key, _, value in xcom_rows(dag_id, run_id):
        out[task_id if key == "return_value" else f"{task_id}.{key}"] = value
    return out


def task_states(dag_run: Any) -> dict[str, str]:
    from airflow.utils.session import create_session

    with create_session() as session:
        return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances(session=session)}
