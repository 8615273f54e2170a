"""
A real Airflow 3.3 on a temporary ``AIRFLOW_HOME``, for end-to-end tests.

``AirflowStack`` copies the DAG files it is given into ``<home>/dags``, starts its backend
(``tests/e2e/stack_backends.py``: the metadata database and the executor), runs ``airflow db migrate``, then
starts four processes and the backend's workers, each in its own process group with its output in
``<home>/process-logs/<name>.log``:

- ``airflow scheduler`` with the backend's executor: by default (:class:`SqliteLocal`, the quick stack) the
  ``LocalExecutor`` on SQLite (the only executor shipped with Airflow 3.3 core; it works on SQLite because
  task processes reach the database through the API server's execution API); with :class:`PostgresCelery`
  (the production stack) the ``CeleryExecutor`` on PostgreSQL and Redis, and two ``airflow celery worker``
  processes,
- ``airflow dag-processor``,
- ``airflow triggerer`` (runs deferred tasks' triggers and ``AssetWatcher`` triggers),
- ``airflow api-server`` on 127.0.0.1 and a free port, with ``SimpleAuthManager`` in all-admins mode: its
  middleware adds an admin token to every request, so the REST calls here carry no credentials.

Usage::

    with AirflowStack(
        [DAGS / "my_dag.py"],
        connections={"my_conn": {"conn_type": "http", "host": "127.0.0.1", "port": 8000}},
        variables={"base_path": "file:///tmp/out"},
    ) as stack:
        stack.unpause("my_dag")
        run_id = stack.trigger("my_dag", conf={"n": 3})
        assert stack.wait_for_run("my_dag", run_id, timeout=180) == "success"
        assert stack.xcom("my_dag", run_id, "my_task") == 42

**Plugging in more DAG files**: add their paths to the first argument (one line each), put any connection
they need in ``connections`` (``AIRFLOW_CONN_<ID>`` JSON, or a URI string) and any variable in ``variables``
(``AIRFLOW_VAR_<NAME>``). On start the stack waits until every given file has produced a DAG; an import error
of any file fails the start with its traceback. For a folder, name the DAG ids to wait for in
``expect_dag_ids``. Files are copied (folders recursively), so a DAG may import the installed
``airflow_provider_cloud`` package but not sibling test modules. A deferrable task whose trigger waits for
something the test produces: call :meth:`AirflowStack.wait_for_deferral` before producing it.

How deferral is detected (:attr:`TaskInstanceInfo.deferred`): a triggerer writes the logs of the trigger it
runs for a task instance to ``attempt=<n>.log.trigger.<triggerer job id>.log`` next to the task's own log, so
that file exists only if the try deferred and a triggerer picked its trigger up; in addition the ``deferred``
state is recorded whenever :meth:`AirflowStack.wait_for_run` sees it while polling. (The database keeps no
trace: ``next_method`` and ``trigger_id`` are cleared when the task finishes, and resuming does not add a try.)

Everything is bounded in time: every wait has a timeout, every request a socket timeout. :meth:`stop` (also
run by ``__exit__`` and, for stacks still running at interpreter exit, by an ``atexit`` hook) sends SIGTERM to
each process group, waits, sends SIGKILL, then kills whatever is left of the process tree it saw before
stopping and any process carrying the stack's id in its environment (``APC_E2E_STACK_ID``), which catches
children that left their process group (see ``tests/e2e/processes.py``); last it stops the backend's servers
and removes their folders. Only 127.0.0.1 is used.

Airflow 3.3.2 facts this relies on (found while building it):

- SQLite works with the ``LocalExecutor``; WAL journal mode is switched on after the migration so four
  processes writing at once wait less on the database lock.
- ``[api_auth] jwt_secret`` must be shared by the scheduler and the API server (set here, 64 random bytes:
  shorter keys log ``InsecureKeyLengthWarning`` on every token).
- ``[core] execution_api_server_url`` must name the API server's port. Its execution API is built lazily on
  the first request (10 s and more on a busy machine), which made the first task's calls time out at the
  default 5 s; the stack warms it up and raises ``[workers] execution_api_timeout``.
- The scheduler and triggerer are started with ``--skip-serve-logs``: their log servers would listen on
  all interfaces on fixed ports. Task and trigger logs are read from the files under ``<home>/logs``.
- A trigger that fires before the scheduler has processed the deferring worker's exit can fail the task;
  see :meth:`AirflowStack.wait_for_deferral`.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from tests.e2e.ports import free_port
from tests.e2e.processes import (
    ManagedProcess,
    descendants,
    kill_tagged_processes,
    kill_unchanged,
    start_process,
)
from tests.e2e.stack_backends import Backend, PostgresCelery, SqliteLocal
from tests.e2e.stack_client import StackClient
from tests.e2e.stack_runs import AirflowStackError, TaskInstanceInfo

__all__ = [
    "AirflowStack",
    "AirflowStackError",
    "PostgresCelery",
    "SqliteLocal",
    "TaskInstanceInfo",
    "free_port",
]

PROCESS_COMMANDS: dict[str, list[str]] = {
    "scheduler": ["scheduler", "--skip-serve-logs"],
    "dag-processor": ["dag-processor"],
    "triggerer": ["triggerer", "--skip-serve-logs"],
    "api-server": ["api-server"],
}
"""The Airflow processes a stack runs, by name, with their CLI arguments."""

STACK_ID_VAR = "APC_E2E_STACK_ID"

FAST_SETTINGS: dict[str, str] = {
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__PARALLELISM": "4",
    "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
    "AIRFLOW__DAG_PROCESSOR__DAG_FILE_PROCESSOR_TIMEOUT": "180",
    "AIRFLOW__DAG_PROCESSOR__PRINT_STATS_INTERVAL": "600",
    "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
    "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "2",
    "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "30",
    "AIRFLOW__LOGGING__COLORED_CONSOLE_LOG": "False",
}
"""Settings for a small, quick stack on a busy machine: heartbeats and folder listing sped up; time limits
raised for slow imports and for task processes' calls to the execution API (5 s by default, which a loaded
machine exceeds); four worker slots. Override any of them with the ``env`` argument."""

_live_stacks: set[AirflowStack] = set()
"""Started stacks not yet stopped: a strong reference, so the ``atexit`` hook finds even a forgotten one."""


class AirflowStack(StackClient):
    """
    Scheduler, DAG processor, triggerer and API server on a temporary ``AIRFLOW_HOME``.

    :param dag_paths: DAG files or folders, copied into ``<home>/dags``.
    :param connections: connection id → JSON-able dict or URI string, given as ``AIRFLOW_CONN_<ID>``.
    :param variables: variable name → value (non-strings are JSON-encoded), given as ``AIRFLOW_VAR_<NAME>``.
    :param expect_dag_ids: more DAG ids to wait for on start (see :meth:`wait_for_dags`); the stack always
        waits until each DAG *file* given has produced a DAG, so this matters only for files in folders.
    :param env: more environment variables for every process (override :data:`FAST_SETTINGS`).
    :param home: the ``AIRFLOW_HOME`` to use (default: a new temporary folder, deleted on stop unless
        ``keep_home``).
    :param start_timeout: seconds allowed for the migration, for all processes to report healthy, and for
        the expected DAGs to be parsed (each).
    :param stop_timeout: seconds each process group gets to exit after SIGTERM before SIGKILL.
    :param backend: the metadata database and executor (``tests/e2e/stack_backends.py``): :class:`SqliteLocal`
        (default, the quick stack) or :class:`PostgresCelery` (the production stack, with its workers).
    :param components: the processes to run, names of :data:`PROCESS_COMMANDS` (default all four). Without
        the scheduler the backend's workers are not started either; health is awaited for those started (the
        browser test runs the API server alone).
    """

    def __init__(
        self,
        dag_paths: Iterable[str | os.PathLike[str]] = (),
        *,
        connections: Mapping[str, Mapping[str, Any] | str] | None = None,
        variables: Mapping[str, Any] | None = None,
        expect_dag_ids: Iterable[str] = (),
        env: Mapping[str, str] | None = None,
        home: str | os.PathLike[str] | None = None,
        keep_home: bool = False,
        start_timeout: float = 300.0,
        stop_timeout: float = 30.0,
        backend: Backend | None = None,
        components: Iterable[str] = tuple(PROCESS_COMMANDS),
    ) -> None:
        self.backend: Backend = backend or SqliteLocal()
        self.components = list(components)
        unknown = set(self.components) - set(PROCESS_COMMANDS)
        if unknown or "api-server" not in self.components:
            raise AirflowStackError(f"components must include api-server, among {list(PROCESS_COMMANDS)}")
        self.dag_paths = [Path(p) for p in dag_paths]
        self.connections = dict(connections or {})
        self.variables = dict(variables or {})
        self.expect_dag_ids = list(expect_dag_ids)
        self.extra_env = dict(env or {})
        self._given_home = Path(home) if home is not None else None
        self.keep_home = keep_home or home is not None
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.stack_id = secrets.token_hex(8)
        self.home = Path()
        self.port = 0
        self.processes: dict[str, ManagedProcess] = {}
        self._env: dict[str, str] = {}
        self._seen_states: dict[tuple[str, str, str, int], set[str]] = {}
        self._started = False
        self.timings: dict[str, float] = {}
        """Seconds spent in each phase: ``migrate``, ``healthy``, ``workers``, ``dags_parsed``, ``stop``."""
        self.swept_pids: list[int] = []
        """Processes that outlived their process group's SIGKILL and were killed by the sweeps on stop."""

    # ---- lifecycle -------------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def dags_folder(self) -> Path:
        return self.home / "dags"

    @property
    def env(self) -> dict[str, str]:
        """The environment every Airflow process of this stack runs with."""
        return dict(self._env)

    def __enter__(self) -> AirflowStack:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> AirflowStack:
        """Prepare the home, migrate the database, start the processes and wait until they are healthy."""
        if self._started:
            raise AirflowStackError("this stack is already started")
        self._started = True
        _live_stacks.add(self)
        _install_sigterm_handler()
        try:
            clock = time.monotonic()
            self._prepare_home()
            self._migrate()
            clock = self._lap("migrate", clock)
            commands = {name: (PROCESS_COMMANDS[name], {}) for name in self.components}
            if "scheduler" in self.components:
                commands.update(self.backend.process_commands())
            for name, (args, extra_env) in commands.items():
                self.processes[name] = start_process(
                    name,
                    [sys.executable, "-m", "airflow", *args],
                    env={**self._env, **extra_env},
                    cwd=self.home,
                    log_dir=self.home / "process-logs",
                )
            self.wait_until_healthy(self.start_timeout)
            clock = self._lap("healthy", clock)
            if "scheduler" in self.components:
                self.backend.wait_ready(self.start_timeout, self.check_processes)
            clock = self._lap("workers", clock)
            dag_files = [path.name for path in self.dag_paths if path.is_file()]
            self.wait_for_dags(self.expect_dag_ids, files=dag_files, timeout=self.start_timeout)
            self._lap("dags_parsed", clock)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """
        Stop every process of the stack (SIGTERM, bounded wait, SIGKILL), then the backend's servers, and delete
        a temporary home.
        """
        clock = time.monotonic()
        tree = descendants([process.pid for process in self.processes.values() if not process.reaped])
        for process in self.processes.values():
            process.terminate()
        deadline = clock + self.stop_timeout
        for process in self.processes.values():
            process.wait_or_kill(max(0.1, deadline - time.monotonic()))
        self.swept_pids += kill_unchanged(tree)
        self.swept_pids += kill_tagged_processes(STACK_ID_VAR, self.stack_id)
        self.backend.stop()
        _live_stacks.discard(self)
        if self._started and not self.keep_home and self.home != Path() and self.home.exists():
            shutil.rmtree(self.home, ignore_errors=True)
        if self._started:
            self._lap("stop", clock)
        self._started = False

    def _lap(self, phase: str, since: float) -> float:
        now = time.monotonic()
        self.timings[phase] = round(now - since, 1)
        return now

    def _prepare_home(self) -> None:
        self.home = self._given_home or Path(tempfile.mkdtemp(prefix="apc-e2e-airflow-"))
        self.dags_folder.mkdir(parents=True, exist_ok=True)
        for path in self.dag_paths:
            if path.is_dir():
                shutil.copytree(path, self.dags_folder / path.name, dirs_exist_ok=True)
            elif path.is_file():
                shutil.copy2(path, self.dags_folder / path.name)
            else:
                raise AirflowStackError(f"no such DAG file or folder: {path}")
        self.port = free_port()
        self.backend.start(self.home)
        self._env = self._build_env()

    def _build_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        env.update(FAST_SETTINGS)
        env.update(
            {
                STACK_ID_VAR: self.stack_id,
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
                "AIRFLOW__CORE__AUTH_MANAGER": (
                    "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
                ),
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
                "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(64),
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self.port),
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__API__BASE_URL": self.api_url,
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api_url}/execution/",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.backend.env())
        for conn_id, value in self.connections.items():
            env[f"AIRFLOW_CONN_{conn_id.upper()}"] = value if isinstance(value, str) else json.dumps(value)
        for name, value in self.variables.items():
            env[f"AIRFLOW_VAR_{name.upper()}"] = value if isinstance(value, str) else json.dumps(value)
        env.update(self.extra_env)
        return env

    def _migrate(self) -> None:
        result = self.cli("db", "migrate", timeout=self.start_timeout)
        if result.returncode != 0:
            raise AirflowStackError(
                f"airflow db migrate failed ({result.returncode}):\n{result.stdout[-4000:]}"
            )
        self.backend.after_migrate()


@atexit.register
def _stop_live_stacks() -> None:
    for stack in list(_live_stacks):
        stack.stop()


def _install_sigterm_handler() -> None:
    """
    Turn SIGTERM into SystemExit (if nothing else handles it) so ``with`` blocks and ``atexit`` stop the stack.

    Installed when the first stack starts, in the main thread only, and left in place.
    """
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:

        def raise_exit(signum: int, frame: Any) -> None:
            raise SystemExit(128 + signum)

        with contextlib.suppress(ValueError):  # ValueError: not the main thread
            signal.signal(signal.SIGTERM, raise_exit)
