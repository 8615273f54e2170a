"""
A real Datasette server in a subprocess, for tests of DAGs, hooks and operators.

Example::

    import requests

    from airflow_provider_cloud.testing.datasette import DatasetteServer

    with DatasetteServer(settings={"max_insert_rows": 1000}) as server:
        requests.post(
            f"{server.url}/{server.database}/-/create",
            json={"table": "people", "rows": [{"id": 1, "name": "Ada"}], "pk": "id"},
            headers={"Authorization": f"Bearer {server.token}"},
            timeout=10,
        )
        assert server.sql("select name from people") == [{"name": "Ada"}]

The server runs ``datasette serve <directory>/<database>.db --create --root`` on 127.0.0.1 and a free port,
with a fixed secret, so the ``dstok_`` tokens minted by :meth:`DatasetteServer.create_token` stay valid
across :meth:`DatasetteServer.restart`. The Airflow connection for it comes from
:meth:`DatasetteServer.connection_json` or :meth:`DatasetteServer.env_var`.

This module uses the standard library only and imports nothing from Airflow, so it can be imported before
Airflow is configured. Choices made where Datasette leaves the decision to us:

- The secret reaches Datasette through the ``DATASETTE_SECRET`` environment variable, never the command
  line (``_datasette/tokens.py``); a start-up probe tells our server from a stale one on the same port
  (``_datasette/process.py``).
- Server output goes to ``datasette.log`` in the server's directory (appended, one header line per start);
  errors quote the tail of the current start only.
- The connection's ``host`` is the full base URL (``http://127.0.0.1:PORT``); the token is its password
  and ``extra`` holds ``{"database": NAME}``.
- Servers that are still running when the interpreter exits are stopped by an ``atexit`` handler. A test
  run killed with SIGKILL cannot clean up; the next start refuses a port that is still taken.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import secrets
import shutil
import sqlite3
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlencode

from airflow_provider_cloud.testing._datasette import process
from airflow_provider_cloud.testing._datasette.process import (
    STOP_TIMEOUT,
    AddressInUse,
    DatasetteServerError,
    ServerProcess,
    datasette_command,
    setting_text,
)
from airflow_provider_cloud.testing._datasette.tokens import collect_token, spawn_create_token

__all__ = ["DatasetteServer", "DatasetteServerError"]

log = logging.getLogger(__name__)

LOG_FILE_NAME = "datasette.log"
_NOTE_PREFIX = "airflow-provider-cloud-testing"
_BIND_ATTEMPTS = 3

_LIVE_SERVERS: set[DatasetteServer] = set()


class DatasetteServer:
    """
    Start, stop and restart a local Datasette 1.0 server; mint tokens for it.

    :param database: database name; the file is ``<directory>/<database>.db`` (Datasette names a database
        after its file stem, so this is also the name in URLs).
    :param directory: where the database file and ``datasette.log`` live. ``None`` makes a temporary
        directory that :meth:`stop` removes; a given directory is created if missing and never removed.
    :param settings: Datasette settings, each passed as ``-s NAME VALUE`` (booleans as ``true``/``false``,
        numbers and strings as text, anything else as JSON), e.g. ``{"max_insert_rows": 1000}``.
    :param secret: signing secret for tokens; ``None`` picks a random one, fixed for this instance.
    :param root: start with ``--root``, so a token for actor ``root`` may do everything.
    :param host: address to bind; keep the default 127.0.0.1.
    :param port: port to bind; 0 picks a free one (retried with another port if the bind fails).
    :param startup_timeout: seconds to wait for the server to answer before giving up.
    :param datasette_executable: the ``datasette`` program; default: the console script next to
        ``sys.executable``, else ``python -m datasette``.
    :param extra_args: further arguments for ``datasette serve``.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`. Not thread-safe: share one
    instance between threads only for reading its attributes.
    """

    def __init__(
        self,
        *,
        database: str = "data",
        directory: str | Path | None = None,
        settings: Mapping[str, object] | None = None,
        secret: str | None = None,
        root: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
        startup_timeout: float = 30.0,
        datasette_executable: str | Path | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        if not database or any(sep in database for sep in ("/", "\\")) or database.startswith("."):
            raise ValueError(f"Invalid database name: {database!r}")
        if not 0 <= port <= 65535:
            raise ValueError(f"Invalid port: {port}")
        self.database = database
        self.secret = secret if secret is not None else secrets.token_hex(32)
        self.root = root
        self.host = host
        self.startup_timeout = startup_timeout
        self.settings = dict(settings or {})
        self.extra_args = tuple(extra_args)
        self._owns_directory = directory is None
        self._directory = Path(directory) if directory is not None else None
        self._executable = datasette_executable
        self._requested_port = port
        self._port = port
        self._note = f"{_NOTE_PREFIX}-{secrets.token_hex(8)}"
        self._process: ServerProcess | None = None
        self._token: str | None = None

    # -- attributes -------------------------------------------------------------------------------------

    @property
    def directory(self) -> Path:
        """The directory of the database file and the log; a temporary one is made on first use."""
        if self._directory is None:
            self._directory = Path(tempfile.mkdtemp(prefix="apc-datasette-"))
            _LIVE_SERVERS.add(self)  # so that the exit handler removes it
        return self._directory

    @property
    def db_path(self) -> Path:
        return self.directory / f"{self.database}.db"

    @property
    def log_path(self) -> Path:
        return self.directory / LOG_FILE_NAME

    @property
    def port(self) -> int:
        """The bound port; 0 until the first start when a free port is to be picked."""
        return self._port

    @property
    def url(self) -> str:
        """Base URL without a trailing slash, e.g. ``http://127.0.0.1:8001``."""
        if not self._port:
            raise DatasetteServerError("The server has no port yet: call start() first")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._port}"

    @property
    def token(self) -> str:
        """A ``dstok_`` token for actor ``root``, minted at the first start; valid across restarts."""
        if self._token is None:
            raise DatasetteServerError("No token yet: call start() first")
        return self._token

    @property
    def pid(self) -> int | None:
        """Process id of the running server, or ``None``."""
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.running

    def __repr__(self) -> str:
        where = self.url if self._port else "no port yet"
        return f"DatasetteServer({where}, database={self.database!r}, running={self.running})"

    # -- life cycle -------------------------------------------------------------------------------------

    def __enter__(self) -> DatasetteServer:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> DatasetteServer:
        """
        Start the server and wait until it answers; mint :attr:`token` on the first start.

        Do nothing if it is already running. Raise :class:`DatasetteServerError` with the tail of the
        server output if it exits, or does not answer within ``startup_timeout`` seconds.
        """
        if self.running:
            return self
        command = datasette_command(self._executable)
        if self._owns_directory and self._directory is not None and not self._directory.exists():
            self._directory = None  # stop() removed it: start afresh in a new temporary directory
        _LIVE_SERVERS.add(self)
        token_job = (
            None if self._token is not None else spawn_create_token(command, "root", env=self._child_env())
        )
        try:
            self._launch_with_retries(command)
            if token_job is not None:
                self._token = collect_token(token_job)
        except BaseException:
            if token_job is not None and token_job.poll() is None:
                token_job.kill()
                token_job.communicate()
            self._terminate()
            raise
        log.info("Datasette %s serving %s (pid %s)", self.url, self.db_path, self.pid)
        return self

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """
        End the server (SIGTERM to its process group, SIGKILL if it lingers); remove a temporary directory.

        Calling it again does nothing. Starting again afterwards begins with an empty database when
        the directory was temporary; use :meth:`restart` to keep the data.
        """
        self._terminate(timeout)
        _LIVE_SERVERS.discard(self)
        if self._owns_directory and self._directory is not None and self._directory.exists():
            shutil.rmtree(self._directory, ignore_errors=True)

    def restart(self) -> DatasetteServer:
        """
        Stop and start again with the same database file, secret and token.

        The port stays the same when it is still free; with ``port=0`` another free port is picked
        otherwise, and :attr:`url` changes.
        """
        self._terminate()
        return self.start()

    def _launch_with_retries(self, command: list[str]) -> None:
        attempts = _BIND_ATTEMPTS if self._requested_port == 0 else 1
        for attempt in range(1, attempts + 1):
            port = self._choose_port()
            try:
                self._launch(command, port)
            except AddressInUse:
                if attempt == attempts:
                    raise
                log.warning("Port %s was taken before Datasette could bind it; trying another", port)
                self._port = 0
            else:
                return

    def _choose_port(self) -> int:
        if self._requested_port:
            if not process.port_is_free(self.host, self._requested_port):
                raise DatasetteServerError(
                    f"Port {self._requested_port} on {self.host} is in use (another server, "
                    "perhaps one left over from an earlier run?)"
                )
            return self._requested_port
        if self._port and process.port_is_free(self.host, self._port):
            return self._port
        return process.pick_free_port(self.host)

    def _launch(self, command: list[str], port: int) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        arguments = [*command, "serve", str(self.db_path), "--create", "-h", self.host, "-p", str(port)]
        arguments += ["--version-note", self._note]
        if self.root:
            arguments.append("--root")
        for name, value in self.settings.items():
            arguments += ["-s", name, setting_text(value)]
        arguments += self.extra_args
        self._port = port
        self._process = ServerProcess(
            arguments,
            url=self.url,
            note=self._note,
            log_path=self.log_path,
            env=self._child_env(),
            startup_timeout=self.startup_timeout,
        )
        self._process.start()

    def _terminate(self, timeout: float = STOP_TIMEOUT) -> None:
        process, self._process = self._process, None
        if process is not None:
            process.terminate(timeout)

    def _child_env(self) -> dict[str, str]:
        return {**os.environ, "DATASETTE_SECRET": self.secret, "PYTHONUNBUFFERED": "1"}

    # -- tokens -----------------------------------------------------------------------------------------

    def create_token(
        self,
        actor: str = "root",
        *,
        expires_after: int | None = None,
        restrictions: Sequence[tuple[str, ...]] = (),
    ) -> str:
        """
        Mint a fresh ``dstok_`` token with ``datasette create-token``; the server need not be running.

        :param actor: the actor id the token stands for.
        :param expires_after: lifetime in seconds (a positive integer); ``None`` never expires.
        :param restrictions: narrow what the token may do; each entry is ``(action,)`` for every
            database, ``(database, action)`` or ``(database, table, action)``. An action Datasette
            does not know raises :class:`ValueError` (it would make a token that can do nothing).
        """
        if expires_after is not None and expires_after <= 0:
            raise ValueError(f"expires_after must be a positive number of seconds, not {expires_after}")
        job = spawn_create_token(
            datasette_command(self._executable),
            actor,
            env=self._child_env(),
            expires_after=expires_after,
            restrictions=restrictions,
        )
        return collect_token(job)

    # -- Airflow connection -----------------------------------------------------------------------------

    def connection_dict(self, *, token: str | None = None) -> dict[str, Any]:
        """Return the Airflow connection as a dict; ``token`` replaces the default root token."""
        return {
            "conn_type": "datasette",
            "host": self.url,
            "password": token if token is not None else self.token,
            "extra": {"database": self.database},
        }

    def connection_json(self, *, token: str | None = None) -> str:
        """Return the Airflow connection in JSON form, e.g. for ``AIRFLOW_CONN_<ID>``."""
        return json.dumps(self.connection_dict(token=token))

    def connection_uri(self, *, token: str | None = None) -> str:
        """
        Return the Airflow connection in URI form.

        The text matches what Airflow's ``Connection.get_uri()`` gives for :meth:`connection_dict`, so
        parsing it yields the same ``host`` (the full base URL, port included).
        """
        scheme, address = self.url.split("://", 1)
        password = quote(token if token is not None else self.token, safe="")
        query = urlencode({"database": self.database})
        return f"datasette://{scheme}://:{password}@{quote(address, safe='')}/?{query}"

    def env_var(self, conn_id: str = "datasette_default", *, token: str | None = None) -> tuple[str, str]:
        """Return ``(name, value)`` of the environment variable that defines connection ``conn_id``."""
        return f"AIRFLOW_CONN_{conn_id.upper()}", self.connection_json(token=token)

    # -- direct reads -----------------------------------------------------------------------------------

    def sql(self, query: str, params: Sequence[object] | Mapping[str, object] = ()) -> list[dict[str, Any]]:
        """Run a query on the database file directly (read-only, bypassing the API); return rows as dicts."""
        connection = sqlite3.connect(f"{self.db_path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            connection.row_factory = sqlite3.Row
            return [dict(row) for row in connection.execute(query, params)]
        finally:
            connection.close()


@atexit.register
def _stop_live_servers() -> None:
    for server in list(_LIVE_SERVERS):
        try:
            server.stop()
        except Exception:
            log.exception("Could not stop %r at exit", server)
