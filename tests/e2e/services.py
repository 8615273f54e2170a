"""
A private PostgreSQL and a private Redis for the production-stack end-to-end test, on 127.0.0.1 and free ports.

Each server lives in a temporary folder of its own (data, unix socket, configuration, its output in
``<name>.log``), runs in its own process group, and is stopped and its folder removed by :meth:`stop` (also on a
failed start). Nothing is persisted, nothing listens beyond 127.0.0.1, and neither password is on a command line
(PostgreSQL's is read from a file by ``initdb`` and deleted; Redis's is in its configuration file).

The binaries come from the Debian packages ``postgresql`` and ``redis-server`` (``make test`` installs them, through ``.ci/system-packages``). When
one is missing, :class:`MissingServiceError` says which package to install: the test fails, it does not skip.

**Running as root** (CI does): ``initdb`` and ``postgres`` refuse to run as root, so both are started through
``setpriv`` (util-linux) as the ``postgres`` user the Debian package creates, else as ``nobody``; the server's
folder is handed to that user. ``setpriv`` execs the server in place, so the process group's leader is
``postgres`` itself and its signals reach it. Redis runs as the caller.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tests.e2e.ports import free_port
from tests.e2e.processes import ManagedProcess, start_process

INSTALL_HINT = (
    "install the Debian packages postgresql and redis-server (apt-get install postgresql redis-server)"
)
DEBIAN_POSTGRES = Path("/usr/lib/postgresql")
"""Where Debian's ``postgresql-<N>`` packages put their binaries (``<N>/bin``), off the PATH."""


class MissingServiceError(RuntimeError):
    """A server binary the production stack needs is not installed."""


class ServiceError(RuntimeError):
    """A server failed to start or to answer in time."""


def postgres_bindir() -> Path:
    """Return the folder of ``initdb`` and ``postgres``: on the PATH, else Debian's newest ``/usr/lib/postgresql/*``."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("postgres", path=str(Path(on_path).resolve().parent)):
        return Path(on_path).resolve().parent
    debian = sorted(
        (p for p in DEBIAN_POSTGRES.glob("*/bin") if (p / "initdb").is_file()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if debian:
        return debian[-1]
    raise MissingServiceError(f"PostgreSQL's initdb and postgres were not found: {INSTALL_HINT}")


def redis_server_binary() -> Path:
    found = shutil.which("redis-server")
    if not found:
        raise MissingServiceError(f"redis-server was not found: {INSTALL_HINT}")
    return Path(found)


def _unprivileged_prefix(folder: Path) -> list[str]:
    """As root: hand ``folder`` to ``postgres`` (or ``nobody``) and return the ``setpriv`` prefix to run as it."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if not setpriv:
        raise MissingServiceError("setpriv (util-linux) is needed to run PostgreSQL as a non-root user")
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            user = pwd.getpwnam(name)
            break
    else:
        raise ServiceError("neither a postgres nor a nobody user exists to run PostgreSQL as")
    for path in [folder, *folder.rglob("*")]:
        os.chown(path, user.pw_uid, user.pw_gid)
    return [setpriv, f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups", "--"]


def _wait(what: str, process: ManagedProcess, probe: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        code = process.returncode()
        if code is not None:
            raise ServiceError(f"{what} exited with {code} while starting:\n{process.tail(40)}")
        with contextlib.suppress(Exception):
            if probe():
                return
        if time.monotonic() >= deadline:
            raise ServiceError(f"{what} did not answer within {timeout:.0f} s:\n{process.tail(40)}")
        time.sleep(0.2)


class _Server:
    """The shared life cycle: a temporary folder, one managed process, a bounded stop, the folder removed."""

    name = "server"
    stop_signal = signal.SIGTERM

    def __init__(self, *, start_timeout: float = 60.0, stop_timeout: float = 20.0) -> None:
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.password = secrets.token_urlsafe(24)
        self.port = 0
        self.folder = Path()
        self.process: ManagedProcess | None = None

    def __enter__(self) -> _Server:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def log_path(self) -> Path:
        return self.folder / f"{self.name}.log"

    def start(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix=f"apc-e2e-{self.name}-"))
        self.port = free_port()
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        raise NotImplementedError

    def _launch(self, argv: list[str]) -> ManagedProcess:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.folder), "LC_ALL": "C"}
        self.process = start_process(self.name, argv, env=env, cwd=self.folder, log_dir=self.folder)
        return self.process

    def stop(self) -> None:
        """Stop the server (its signal, bounded wait, SIGKILL to the group) and remove its folder."""
        if self.process is not None:
            self.process.terminate(self.stop_signal)
            self.process.wait_or_kill(self.stop_timeout)
        if self.folder != Path() and self.folder.exists():
            shutil.rmtree(self.folder, ignore_errors=True)


class PostgresServer(_Server):
    """
    A PostgreSQL cluster made by ``initdb`` for one test run, with a database ``airflow`` owned by ``airflow``.

    Password authentication (SCRAM) on 127.0.0.1; the unix socket in the server's folder. Durability is off
    (``fsync``, ``synchronous_commit``, ``full_page_writes``): the data dies with the test. Stopped with SIGINT
    (PostgreSQL's fast shutdown: it does not wait for clients to leave).
    """

    name = "postgres"
    stop_signal = signal.SIGINT
    user = database = "airflow"

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of the ``airflow`` database (psycopg2), password included."""
        return f"postgresql+psycopg2://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.database}"

    def dsn(self, database: str | None = None) -> str:
        """A libpq connection string for psycopg2 (the test process's own connections)."""
        name = database or self.database
        return f"host=127.0.0.1 port={self.port} user={self.user} password={self.password} dbname={name}"

    def _start(self) -> None:
        bindir = postgres_bindir()
        data, socket_dir, pwfile = self.folder / "data", self.folder / "socket", self.folder / "pwfile"
        socket_dir.mkdir()
        pwfile.write_text(self.password + "\n")
        pwfile.chmod(0o600)
        as_user = _unprivileged_prefix(self.folder)
        initdb = [
            *as_user,
            str(bindir / "initdb"),
            f"--pgdata={data}",
            f"--username={self.user}",
            f"--pwfile={pwfile}",
            "--auth-local=scram-sha-256",
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--no-locale",
            "--no-sync",
        ]
        result = subprocess.run(
            initdb, cwd=self.folder, capture_output=True, text=True, timeout=120, check=False
        )
        pwfile.unlink()
        if result.returncode != 0:
            raise ServiceError(f"initdb failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": str(socket_dir),
            "max_connections": "300",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
        }
        options = [item for key, value in settings.items() for item in ("-c", f"{key}={value}")]
        process = self._launch([*as_user, str(bindir / "postgres"), "-D", str(data), *options])
        _wait("PostgreSQL", process, self._create_database, self.start_timeout)

    def _create_database(self) -> bool:
        import psycopg2

        with contextlib.closing(psycopg2.connect(self.dsn("postgres"), connect_timeout=5)) as connection:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute("select 1 from pg_database where datname = %s", (self.database,))
                if cursor.fetchone() is None:
                    cursor.execute(f'create database "{self.database}" owner "{self.user}"')
        return True


class RedisServer(_Server):
    """A ``redis-server`` with a password and no persistence (no RDB snapshots, no append-only file)."""

    name = "redis"

    @property
    def url(self) -> str:
        """A Celery broker URL (database 0), password included."""
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    def _start(self) -> None:
        config = self.folder / "redis.conf"
        config.write_text(
            "\n".join(
                [
                    "bind 127.0.0.1",
                    f"port {self.port}",
                    "protected-mode yes",
                    f"requirepass {self.password}",
                    'save ""',
                    "appendonly no",
                    f"dir {self.folder}",
                    "daemonize no",
                    'logfile ""',
                    "",
                ]
            )
        )
        config.chmod(0o600)
        process = self._launch([str(redis_server_binary()), str(config)])
        _wait("Redis", process, self._ping, self.start_timeout)

    def _ping(self) -> bool:
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.port, password=self.password, socket_timeout=5)
        try:
            return bool(client.ping())
        finally:
            client.close()
