"""
Run a DAG file with ``dag.test()`` in a test and read what the run left: task states, XComs, Variables.

Everything here needs a migrated metadata database: the ``airflow_db`` fixture of the pytest plugin (a
private SQLite home) or one you set up yourself. Airflow is imported only when a function runs.

Why the Variable readers are here: outside a running task, ``airflow.sdk.Variable.get`` does not read the
metadata database. The Task SDK picks its secrets backends by context
(``airflow.sdk.execution_time.supervisor.ensure_secrets_backend_loaded``): inside a task (``dag.test()``
sets ``SUPERVISOR_COMMS`` for each task and removes it afterwards) it asks the execution API, which reads
the database; in a test body there is no supervisor and no ``_AIRFLOW_PROCESS_CONTEXT=server``, so it falls
back to environment variables (and configured external backends) only, and a Variable a task committed
reads as missing (``default=None`` gives ``None``). :func:`read_variable` reads the row the task wrote.
A Variable also set as ``AIRFLOW_VAR_<KEY>`` shadows the database for every reader, tasks included (the
next run reads the old value), so seed Variables a DAG updates with :func:`set_variable`, not the
environment; :func:`read_variable` warns when such a variable is set.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: The bundle ``dag.test()`` finds the DAG in; the name a default deployment gives its DAGs folder.
BUNDLE_NAME = "dags-folder"
_BUNDLE_LIST = "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"
_DAGS_FOLDER = "AIRFLOW__CORE__DAGS_FOLDER"
_MISSING: Any = object()


class DagFileError(LookupError):
    """A DAG file does not import, or does not define the DAG asked for."""


def load_dag(path: str | os.PathLike[str], dag_id: str | None = None) -> Any:
    """
    Parse a DAG file (or folder) the way Airflow does and return one DAG.

    ``dag_id`` may be left out when the file defines exactly one DAG. Import errors are raised with the
    file's traceback, not left for ``dag.test()`` to report as a missing DAG.
    """
    from airflow.dag_processing.dagbag import DagBag

    location = Path(path)
    if not location.exists():
        raise DagFileError(f"no DAG file or folder at {location}")
    bag = DagBag(dag_folder=str(location), safe_mode=False)
    if bag.import_errors:
        details = "\n".join(f"{file}:\n{error}" for file, error in bag.import_errors.items())
        raise DagFileError(f"{location} failed to import:\n{details}")
    if dag_id is None:
        if len(bag.dag_ids) != 1:
            raise DagFileError(f"{location} defines {len(bag.dag_ids)} DAGs {sorted(bag.dag_ids)}; name one")
        dag_id = bag.dag_ids[0]
    dag = bag.get_dag(dag_id)
    if dag is None:
        raise DagFileError(f"{location} defines no DAG {dag_id!r} (it has {sorted(bag.dag_ids)})")
    return dag


@contextmanager
def dags_folder(path: str | os.PathLike[str]) -> Iterator[Path]:
    """
    Point Airflow's DAGs folder at ``path`` (a DAG file's folder, or a folder) for the ``with`` block.

    ``dag.test()`` serializes the DAG from a configured DAG bundle and fails for a DAG found in none, so
    the run must happen inside this block. It sets ``[core] dags_folder`` and a one-bundle
    ``[dag_processor] dag_bundle_config_list`` naming the folder (a bundle manager reads both each time
    one is made; Airflow's ``settings.DAGS_FOLDER`` is fixed at import), and restores both afterwards.
    Every DAG file in the folder is parsed, so keep test files out of it (``dags/`` beside ``tests/``).
    """
    location = Path(path).resolve()
    folder = location if location.is_dir() else location.parent
    if not folder.is_dir():
        raise DagFileError(f"no DAG file or folder at {location}")
    bundle = {
        "name": BUNDLE_NAME,
        "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
        "kwargs": {"path": str(folder)},
    }
    saved = {key: os.environ.get(key) for key in (_BUNDLE_LIST, _DAGS_FOLDER)}
    os.environ[_BUNDLE_LIST] = json.dumps([bundle])
    os.environ[_DAGS_FOLDER] = str(folder)
    try:
        yield folder
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@dataclass(frozen=True)
class DagTestResult:
    """What a ``dag.test()`` run left in the metadata database: read its task states and XComs here."""

    dag_id: str
    run_id: str
    state: str
    dag_run: Any

    def task_states(self) -> dict[str, str]:
        """Map ``task_id`` (``task_id[i]`` for map index ``i``) to its final state, e.g. ``"success"``."""
        from airflow.models.taskinstance import TaskInstance
        from airflow.utils.session import create_session

        with create_session() as session:
            rows = session.query(TaskInstance).filter_by(dag_id=self.dag_id, run_id=self.run_id).all()
            return {_task_name(ti.task_id, ti.map_index): str(ti.state) for ti in rows}

    def xcom(self, task_id: str, key: str = "return_value", *, map_index: int = -1) -> Any:
        """
        Return one XCom value as a downstream task would read it.

        Raises ``KeyError`` naming what the run did push when there is no such XCom.
        """
        for found_task, found_key, found_index, value in self._xcom_rows():
            if (found_task, found_key, found_index) == (task_id, key, map_index):
                return value
        pushed = sorted((t, k, i) for t, k, i, _ in self._xcom_rows())
        raise KeyError(
            f"run {self.run_id!r} of {self.dag_id!r} has no XCom {key!r} of task "
            f"{_task_name(task_id, map_index)!r}; it has (task_id, key, map_index): {pushed}"
        )

    def xcoms(self) -> dict[str, Any]:
        """Map ``task_id`` (``task_id[i]`` when mapped; ``.key`` added for keys other than return_value)."""
        out: dict[str, Any] = {}
        for task_id, key, map_index, value in self._xcom_rows():
            name = _task_name(task_id, map_index)
            out[name if key == "return_value" else f"{name}.{key}"] = value
        return out

    def variable(self, key: str, default: Any = _MISSING, *, deserialize_json: bool = False) -> Any:
        """Read a Variable from the metadata database (see :func:`read_variable`)."""
        return read_variable(key, default, deserialize_json=deserialize_json)

    def _xcom_rows(self) -> list[tuple[str, str, int, Any]]:
        return xcom_rows(self.dag_id, self.run_id)


def xcom_rows(dag_id: str, run_id: str) -> list[tuple[str, str, int, Any]]:
    """Return every XCom of a run as ``(task_id, key, map_index, value)``, each value as a task reads it."""
    from airflow.models.xcom import XComModel
    from airflow.sdk.serde import deserialize
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(XComModel).filter_by(dag_id=dag_id, run_id=run_id).all()
        return [
            (row.task_id, row.key, row.map_index, deserialize(XComModel.deserialize_value(row)))
            for row in rows
        ]


def run_dag(path: str | os.PathLike[str], dag_id: str | None = None, **test_kwargs: Any) -> DagTestResult:
    """
    Parse the DAG file at ``path``, run it with ``dag.test(**test_kwargs)`` and return the result.

    The file's folder is the DAGs folder for the run (:func:`dags_folder`). A failed task does not raise:
    assert on ``result.state`` and ``result.task_states()``.
    """
    dag = load_dag(path, dag_id)
    with dags_folder(path):
        dag_run = dag.test(**test_kwargs)
    return DagTestResult(dag_id=dag.dag_id, run_id=dag_run.run_id, state=str(dag_run.state), dag_run=dag_run)


def read_variable(key: str, default: Any = _MISSING, *, deserialize_json: bool = False) -> Any:
    """
    Return Variable ``key`` as stored in the metadata database, e.g. a cursor a task committed.

    ``airflow.sdk.Variable.get`` cannot be used for this outside a task (see the module docstring).
    Raises ``KeyError`` when the Variable is not stored and no ``default`` is given; warns when an
    ``AIRFLOW_VAR_<KEY>`` environment variable shadows the stored value for the DAG's tasks.
    """
    from airflow.secrets.metastore import MetastoreBackend

    shadow = f"AIRFLOW_VAR_{key.upper()}"
    if shadow in os.environ:
        warnings.warn(
            f"{shadow} is set: tasks read it instead of the stored Variable {key!r}; seed Variables a DAG "
            "updates with set_variable() (or the airflow_variables fixture) instead",
            stacklevel=2,
        )
    value = MetastoreBackend().get_variable(key)
    if value is None:
        if default is _MISSING:
            raise KeyError(f"Variable {key!r} is not stored in the metadata database")
        return default
    return json.loads(value) if deserialize_json else value


def set_variable(
    key: str, value: Any, *, serialize_json: bool = False, description: str | None = None
) -> None:
    """Store Variable ``key`` in the metadata database, where tasks read it and commit over it."""
    from airflow.models.variable import Variable

    Variable.set(key, value, description=description, serialize_json=serialize_json)


class VariablesSnapshot:
    """The Variables stored now; :meth:`restore` puts the table back as it was (added ones deleted)."""

    def __init__(self) -> None:
        self._stored = _stored_variables()

    def restore(self) -> None:
        from airflow.models.variable import Variable

        now = _stored_variables()
        for key in now.keys() - self._stored.keys():
            Variable.delete(key)
        for key, (value, description) in self._stored.items():
            if now.get(key) != (value, description):
                Variable.set(key, value, description=description)


def _stored_variables() -> dict[str, tuple[str | None, str | None]]:
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session

    with create_session() as session:
        return {row.key: (row.val, row.description) for row in session.query(Variable).all()}


def _task_name(task_id: str, map_index: int) -> str:
    return task_id if map_index < 0 else f"{task_id}[{map_index}]"


class AirflowVariables:
    """The ``airflow_variables`` fixture: :func:`read_variable` and :func:`set_variable` as ``get`` and ``set``."""

    get = staticmethod(read_variable)
    set = staticmethod(set_variable)
