"""
DAG runs, task instances, XComs and task logs of an ``AirflowStack``, through its REST API and log files.

:class:`RunControl` is a mixin: ``AirflowStack`` provides what it declares (``home``, ``processes``,
``api()``, ``_poll()``, ``diagnostics()``). How deferral is detected is told in ``airflow_stack``'s docstring.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.dags.dag_support import as_task_reads_it
from tests.e2e.processes import ManagedProcess

FINISHED_RUN_STATES = frozenset({"success", "failed"})
FINISHED_TASK_STATES = frozenset({"success", "failed", "upstream_failed", "skipped", "removed"})


class AirflowStackError(RuntimeError):
    """The stack failed to start, a process died, a request failed or a wait timed out."""


@dataclass(frozen=True)
class TaskInstanceInfo:
    """One task instance of a run, as the REST API reports it, plus what tells whether it deferred."""

    task_id: str
    map_index: int
    state: str | None
    try_number: int
    seen_states: frozenset[str]
    """Every state :meth:`AirflowStack.wait_for_run` saw this task instance in (sampled once per poll)."""
    trigger_logs: tuple[Path, ...]
    """Log files a triggerer wrote for this try: non-empty only if the try deferred to a triggerer."""

    @property
    def deferred(self) -> bool:
        """Tell whether this try went through the ``deferred`` state (see ``airflow_stack``'s docstring)."""
        return bool(self.trigger_logs) or "deferred" in self.seen_states


class RunControl:
    """Trigger, watch and inspect DAG runs (mixed into ``AirflowStack``)."""

    home: Path
    processes: dict[str, ManagedProcess]
    _seen_states: dict[tuple[str, str, str, int], set[str]]

    def api(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: Mapping[str, Any] | None = None,
        timeout: float = 60.0,
    ) -> Any:
        raise NotImplementedError

    def _poll(self, what: str, timeout: float, probe: Callable[[], Any], interval: float = 1.0) -> Any:
        raise NotImplementedError

    def diagnostics(self, lines: int = 25) -> str:
        raise NotImplementedError

    def unpause(self, dag_id: str) -> None:
        """Unpause a DAG (new DAGs start paused)."""
        self.api("PATCH", f"dags/{_q(dag_id)}", {"is_paused": False})

    def trigger(
        self, dag_id: str, conf: Mapping[str, Any] | None = None, *, run_id: str | None = None
    ) -> str:
        """Create a manual run of ``dag_id`` and return its run id."""
        body: dict[str, Any] = {"logical_date": None, "conf": dict(conf or {})}
        if run_id is not None:
            body["dag_run_id"] = run_id
        answer = self.api("POST", f"dags/{_q(dag_id)}/dagRuns", body)
        return str(answer["dag_run_id"])

    def runs(self, dag_id: str) -> list[dict[str, Any]]:
        """Return the runs of a DAG (``dag_run_id``, ``state``, ``run_type``, ...), oldest first."""
        answer = self.api("GET", f"dags/{_q(dag_id)}/dagRuns", params={"limit": 100, "order_by": "id"})
        return list(answer.get("dag_runs", []))

    def wait_for_new_run(
        self,
        dag_id: str,
        *,
        run_type: str | None = None,
        exclude: Iterable[str] = (),
        timeout: float = 180.0,
    ) -> dict[str, Any]:
        """Wait until a run of ``dag_id`` not in ``exclude`` (and of ``run_type``, if given) exists; return it."""
        known = set(exclude)

        def probe() -> dict[str, Any] | None:
            for run in self.runs(dag_id):
                if run["dag_run_id"] not in known and (run_type is None or run.get("run_type") == run_type):
                    return run
            return None

        found: dict[str, Any] = self._poll(f"a new run of {dag_id}", timeout, probe)
        return found

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 180.0) -> str:
        """
        Wait until a run finishes and return its state (``success`` or ``failed``).

        Raises :class:`AirflowStackError` (with the end of every process's log) after ``timeout`` seconds or
        as soon as a process of the stack has exited. Every task instance state seen meanwhile is recorded
        (:attr:`TaskInstanceInfo.seen_states`).
        """

        def probe() -> str | None:
            self._record_states(dag_id, run_id)
            state = str(self.api("GET", f"dags/{_q(dag_id)}/dagRuns/{_q(run_id)}")["state"])
            return state if state in FINISHED_RUN_STATES else None

        state: str = self._poll(f"run {run_id} of {dag_id} to finish", timeout, probe)
        self._record_states(dag_id, run_id)
        return state

    def wait_for_deferral(
        self, dag_id: str, run_id: str, task_id: str, *, map_index: int = -1, timeout: float = 180.0
    ) -> TaskInstanceInfo:
        """
        Wait until a task instance is ``deferred`` and the deferral has settled; return the instance.

        Settled means the scheduler has processed the executor's ``success`` event from the worker that
        exited on ``defer()``. Only then is it safe to make the trigger fire (produce the event it waits
        for): Airflow 3.3.2 fails a resumed task whose trigger fired before that event was processed, if the
        task is already ``queued`` again (apache/airflow#67287, fixed after 3.3.2 by #68741) or ``running``
        (#72716, open). The signal is the scheduler's log line for the event.
        """
        key = (dag_id, run_id, task_id, map_index)

        def probe() -> TaskInstanceInfo | None:
            self._record_states(dag_id, run_id)
            name = task_id if map_index < 0 else f"{task_id}[{map_index}]"
            info = self.task_instances(dag_id, run_id).get(name)
            if info is None or info.state != "deferred":
                if info is not None and info.state in FINISHED_TASK_STATES:
                    raise _Finished(f"{name} of {dag_id} finished as {info.state} without staying deferred")
                return None
            ti_key = (
                f"TaskInstanceKey(dag_id={dag_id!r}, task_id={task_id!r}, run_id={run_id!r}, "
                f"try_number={info.try_number}, map_index={map_index})"
            )
            log = self.processes["scheduler"].log_path.read_text(errors="replace")
            settled = any(
                "Received executor event with state success" in line and ti_key in line
                for line in log.splitlines()
            )
            return info if settled else None

        try:
            found: TaskInstanceInfo = self._poll(f"{key} to be deferred and settled", timeout, probe)
        except _Finished as exc:
            raise AirflowStackError(f"{exc}\n{self.diagnostics()}") from None
        return found

    def _raw_task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        path = f"dags/{_q(dag_id)}/dagRuns/{_q(run_id)}/taskInstances"
        return list(self.api("GET", path, params={"limit": 1000}).get("task_instances", []))

    def _record_states(self, dag_id: str, run_id: str) -> None:
        for ti in self._raw_task_instances(dag_id, run_id):
            if ti.get("state"):
                key = (dag_id, run_id, ti["task_id"], int(ti.get("map_index", -1)))
                self._seen_states.setdefault(key, set()).add(str(ti["state"]))

    def task_instances(self, dag_id: str, run_id: str) -> dict[str, TaskInstanceInfo]:
        """Return the run's task instances by task id (``task_id[map_index]`` for mapped ones)."""
        out: dict[str, TaskInstanceInfo] = {}
        for ti in self._raw_task_instances(dag_id, run_id):
            task_id, map_index = str(ti["task_id"]), int(ti.get("map_index", -1))
            try_number = int(ti.get("try_number") or 0)
            seen = set(self._seen_states.get((dag_id, run_id, task_id, map_index), set()))
            if ti.get("state"):
                seen.add(str(ti["state"]))
            folder = self.task_log_folder(dag_id, run_id, task_id, map_index)
            trigger_logs = tuple(sorted(folder.glob(f"attempt={try_number}.log.trigger.*.log")))
            key = task_id if map_index < 0 else f"{task_id}[{map_index}]"
            out[key] = TaskInstanceInfo(
                task_id=task_id,
                map_index=map_index,
                state=ti.get("state"),
                try_number=try_number,
                seen_states=frozenset(seen),
                trigger_logs=trigger_logs,
            )
        return out

    def xcom(
        self, dag_id: str, run_id: str, task_id: str, key: str = "return_value", map_index: int = -1
    ) -> Any:
        """
        Return an XCom value as a task reads it.

        The API answers the JSON text the database keeps; it is decoded here, Airflow's class markers too. A
        value that is not JSON text (one written another way) is returned as it came.
        """
        path = f"dags/{_q(dag_id)}/dagRuns/{_q(run_id)}/taskInstances/{_q(task_id)}/xcomEntries/{_q(key)}"
        value = self.api("GET", path, params={"map_index": map_index})["value"]
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                return value
        return as_task_reads_it(value)

    def task_log_folder(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> Path:
        """Return the folder of a task instance's log files (Airflow's default log file name template)."""
        folder = self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        return folder / f"map_index={map_index}" if map_index >= 0 else folder

    def task_log(
        self, dag_id: str, run_id: str, task_id: str, try_number: int = 1, map_index: int = -1
    ) -> str:
        """Return a try's task log followed by the logs triggerers wrote for it (JSON lines, as on disk)."""
        folder = self.task_log_folder(dag_id, run_id, task_id, map_index)
        files = [folder / f"attempt={try_number}.log"]
        files += sorted(folder.glob(f"attempt={try_number}.log.trigger.*.log"))
        return "\n".join(path.read_text(errors="replace") for path in files if path.is_file())


class _Finished(Exception):
    """A task finished while :meth:`AirflowStack.wait_for_deferral` waited for it to defer."""


def _q(part: str) -> str:
    return urllib.parse.quote(part, safe="")
