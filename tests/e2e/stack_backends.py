"""
What an ``AirflowStack`` runs on: its metadata database, its executor, and the processes and servers they need.

- :class:`SqliteLocal` (the default, the quick stack): SQLite in the home, the ``LocalExecutor`` (task processes
  forked by the scheduler). Nothing more to start.
- :class:`PostgresCelery` (the production stack): a private PostgreSQL as the metadata database and Celery's
  result backend (``db+postgresql``), a private Redis as the Celery broker, the ``CeleryExecutor`` and
  ``workers`` ``airflow celery worker`` processes (``concurrency`` slots each, one queue). See
  ``tests/e2e/services.py`` for the two servers.

**Which worker ran a task.** A task instance's ``hostname`` is what ``[core] hostname_callable`` returns in the
task's process; two workers on one machine would both report its name. The production stack points that
setting at ``apc_e2e_hostname.hostname`` (``tests/e2e/pythonpath``, put on ``PYTHONPATH``), which answers the
``APC_E2E_WORKER_HOSTNAME`` each worker is started with (``celery-worker-1``, ...) and the real name elsewhere.

Workers are started with ``--skip-serve-logs`` (their log servers would share one fixed port, on all interfaces;
logs are read from the shared home) and ``--without-mingle --without-gossip`` (no start-up exchange between
workers). The stack is ready when every worker answers Celery's ``ping`` through the broker.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from tests.e2e.secret_scan import Finding, scan_database, scan_postgres
from tests.e2e.services import PostgresServer, RedisServer
from tests.e2e.stack_runs import AirflowStackError

HOSTNAME_VAR = "APC_E2E_WORKER_HOSTNAME"
PYTHONPATH_DIR = Path(__file__).resolve().parent / "pythonpath"

ProcessCommands = dict[str, tuple[list[str], dict[str, str]]]
"""Process name → (``airflow`` CLI arguments, environment added for that process only)."""


class SqliteLocal:
    """SQLite in ``<home>/airflow.db`` (WAL journal after the migration) and the ``LocalExecutor``."""

    def __init__(self) -> None:
        self.home = Path()

    @property
    def database(self) -> Path:
        return self.home / "airflow.db"

    def start(self, home: Path) -> None:
        self.home = home

    def env(self) -> dict[str, str]:
        return {
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.database}",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        }

    def after_migrate(self) -> None:
        # WAL lets readers and one writer work at once: fewer "database is locked" waits with four processes.
        with contextlib.closing(sqlite3.connect(self.database)) as db:
            db.execute("PRAGMA journal_mode=WAL")

    def process_commands(self) -> ProcessCommands:
        return {}

    def wait_ready(self, timeout: float, check: Callable[[], None]) -> None:
        """Nothing beyond the four core processes: ready when they are healthy."""

    def stop(self) -> None:
        """Nothing of its own to stop: the database file goes with the home."""

    def files_outside_the_logs(self) -> list[Path]:
        """Files under the home that hold the database (left out of a scan of the logs)."""
        return [self.database, Path(f"{self.database}-wal"), Path(f"{self.database}-shm")]

    def scan_database(self, secrets: Mapping[str, str]) -> list[Finding]:
        return scan_database(self.database, secrets)


class PostgresCelery:
    """
    PostgreSQL and Redis of their own, the ``CeleryExecutor`` and ``workers`` Celery workers.

    :param workers: how many ``airflow celery worker`` processes (named ``celery-worker-1``, ...).
    :param concurrency: task slots per worker (the scheduler's ``parallelism`` is set to all slots).
    :param queue: the one queue the workers consume and tasks go to (``[operators] default_queue``).
    """

    def __init__(self, *, workers: int = 2, concurrency: int = 2, queue: str = "default") -> None:
        if workers < 1 or concurrency < 1:
            raise ValueError(f"workers and concurrency must be at least 1, not {workers} and {concurrency}")
        self.workers, self.concurrency, self.queue = workers, concurrency, queue
        self.postgres = PostgresServer()
        self.redis = RedisServer()
        self.home = Path()

    @property
    def worker_names(self) -> list[str]:
        return [f"celery-worker-{n}" for n in range(1, self.workers + 1)]

    def start(self, home: Path) -> None:
        self.home = home
        self.postgres.start()
        self.redis.start()

    def env(self) -> dict[str, str]:
        pg = self.postgres
        path = [str(PYTHONPATH_DIR), *filter(None, [os.environ.get("PYTHONPATH")])]
        return {
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": pg.url,
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(self.workers * self.concurrency),
            "AIRFLOW__CELERY__BROKER_URL": self.redis.url,
            "AIRFLOW__CELERY__RESULT_BACKEND": pg.url.replace(
                "postgresql+psycopg2://", "db+postgresql://", 1
            ),
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(self.concurrency),
            "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "3600",
            # Seconds the scheduler waits to hand a task to the broker (1 s by default: short on a busy machine).
            "AIRFLOW__CELERY__OPERATION_TIMEOUT": "10",
            "AIRFLOW__OPERATORS__DEFAULT_QUEUE": self.queue,
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "apc_e2e_hostname.hostname",
            "PYTHONPATH": os.pathsep.join(path),
        }

    def after_migrate(self) -> None:
        """Nothing to tune: PostgreSQL is already set for speed (see ``PostgresServer``)."""

    def process_commands(self) -> ProcessCommands:
        commands: ProcessCommands = {}
        for name in self.worker_names:
            args = [
                "celery",
                "worker",
                f"--celery-hostname={name}@%h",
                f"--concurrency={self.concurrency}",
                f"--queues={self.queue}",
                f"--pid={self.home / f'{name}.pid'}",
                "--skip-serve-logs",
                "--without-mingle",
                "--without-gossip",
            ]
            commands[name] = (args, {HOSTNAME_VAR: name})
        return commands

    def wait_ready(self, timeout: float, check: Callable[[], None]) -> None:
        """Wait until every worker answers Celery's ``ping`` through Redis; ``check`` raises if a process died."""
        from celery import Celery

        app = Celery("apc-e2e-ping", broker=self.redis.url)
        deadline = time.monotonic() + timeout
        answered: set[str] = set()
        try:
            while True:
                check()
                with contextlib.suppress(Exception):  # the broker may refuse while it starts: retried
                    replies = app.control.ping(timeout=2.0)
                    answered = {name.split("@", 1)[0] for reply in replies for name in reply}
                if set(self.worker_names) <= answered:
                    return
                if time.monotonic() >= deadline:
                    raise AirflowStackError(
                        f"Celery workers {self.worker_names} did not all answer a ping within {timeout:.0f} s"
                        f" (answered: {sorted(answered)})"
                    )
                time.sleep(1.0)
        finally:
            app.close()

    def stop(self) -> None:
        """Stop Redis and PostgreSQL and remove their folders (after the Airflow processes have stopped)."""
        self.redis.stop()
        self.postgres.stop()

    def files_outside_the_logs(self) -> list[Path]:
        return []

    def scan_database(self, secrets: Mapping[str, str]) -> list[Finding]:
        return scan_postgres(self.postgres.dsn(), secrets)

    def server_secrets(self) -> dict[str, str]:
        """The two servers' passwords: they belong in the environment only, never in a log or command line."""
        return {"PostgreSQL password": self.postgres.password, "Redis password": self.redis.password}


Backend = SqliteLocal | PostgresCelery
