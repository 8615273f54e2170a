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
  line, so it does not show in process listings or in error messages.
- Each server passes ``--version-note`` with a random marker, and the start-up probe checks that
  ``/-/versions.json`` shows it. A stale server still listening on the same port is never mistaken for ours.
  When the instance is hidden (``--default-deny`` in ``extra_args``), a 401 or 403 answer counts as ready
  while our process is alive.
- Server output goes to ``datasette.log`` in the server's directory (appended, one header line per start);
  errors quote the tail of the current start only.
- The connection's ``host`` is the full base URL (``http://127.0.0.1:PORT``); the token is its password
  and ``extra`` holds ``{"database": NAME}``.
- Servers that are still running when the interpreter exits are stopped by an ``atexit`` handler. A test
  run killed with SIGKILL cannot clean up; the next start refuses a port that is still taken.
"""

from __future__ import annotations

import atexit
import importlib.util
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlencode

__all__ = ["DatasetteServer", "DatasetteServerError"]

log = logging.getLogger(__name__)

LOG_FILE_NAME = "datasette.log"
_NOTE_PREFIX = "airflow-provider-cloud-testing"
_BIND_ATTEMPTS = 3
_LOG_TAIL_LINES = 40
_PROBE_TIMEOUT = 1.0
_STOP_TIMEOUT = 10.0
_TOKEN_TIMEOUT = 60.0
_ADDRESS_IN_USE_MARKERS = ("address already in use", "only one usage of each socket address")
# A direct opener: environment proxy settings must never route probes of 127.0.0.1 elsewhere.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))

_LIVE_SERVERS: set[DatasetteServer] = set()


class DatasetteServerError(RuntimeError):
    """
    The Datasette server did not start, or ``datasette create-token`` failed.

    ``log_tail`` holds the last lines the process wrote and ``returncode`` its exit status, when known.
    """

    def __init__(self, message: str, *, log_tail: str = "", returncode: int | None = None) -> None:
        self.message = message
        self.log_tail = log_tail
        self.returncode = returncode
        text = message
        if log_tail:
            text += "\n--- last lines of the Datasette output ---\n" + log_tail
        super().__init__(text)


class _AddressInUse(DatasetteServerError):
    """Datasette could not bind its port: another socket holds it."""


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
        self._process: subprocess.Popen[bytes] | None = None
        self._token: str | None = None
        self._log_offset = 0

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
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

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
        command = _datasette_command(self._executable)
        if self._owns_directory and self._directory is not None and not self._directory.exists():
            self._directory = None  # stop() removed it: start afresh in a new temporary directory
        _LIVE_SERVERS.add(self)
        token_job = None if self._token is not None else self._spawn_create_token(command, "root", None, ())
        try:
            self._launch_with_retries(command)
            if token_job is not None:
                self._token = self._collect_token(token_job)
        except BaseException:
            if token_job is not None and token_job.poll() is None:
                token_job.kill()
                token_job.communicate()
            self._terminate()
            raise
        log.info("Datasette %s serving %s (pid %s)", self.url, self.db_path, self.pid)
        return self

    def stop(self, timeout: float = _STOP_TIMEOUT) -> None:
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
            except _AddressInUse:
                if attempt == attempts:
                    raise
                log.warning("Port %s was taken before Datasette could bind it; trying another", port)
                self._port = 0
            else:
                return

    def _choose_port(self) -> int:
        if self._requested_port:
            if not _port_is_free(self.host, self._requested_port):
                raise DatasetteServerError(
                    f"Port {self._requested_port} on {self.host} is in use (another server, "
                    "perhaps one left over from an earlier run?)"
                )
            return self._requested_port
        if self._port and _port_is_free(self.host, self._port):
            return self._port
        return _pick_free_port(self.host)

    def _launch(self, command: list[str], port: int) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        arguments = [*command, "serve", str(self.db_path), "--create", "-h", self.host, "-p", str(port)]
        arguments += ["--version-note", self._note]
        if self.root:
            arguments.append("--root")
        for name, value in self.settings.items():
            arguments += ["-s", name, _setting_text(value)]
        arguments += self.extra_args
        self._port = port
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log_file:
            log_file.write(f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {arguments}\n".encode())
            log_file.flush()
            self._process = subprocess.Popen(
                arguments,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=self.directory,
                env=self._child_env(),
                **_new_process_group(),
            )
        self._wait_until_ready()

    def _wait_until_ready(self) -> None:
        process = self._process
        if process is None:
            raise DatasetteServerError("Datasette was not started")
        deadline = time.monotonic() + self.startup_timeout
        delay = 0.05
        while True:
            returncode = process.poll()
            if returncode is not None:
                self._process = None
                tail = self._log_tail()
                message = f"Datasette exited with code {returncode} before answering on {self.url}"
                message += f" (log: {self.log_path})"
                if any(marker in tail.lower() for marker in _ADDRESS_IN_USE_MARKERS):
                    raise _AddressInUse(message, log_tail=tail, returncode=returncode)
                raise DatasetteServerError(message, log_tail=tail, returncode=returncode)
            if self._answers():
                return
            if time.monotonic() >= deadline:
                self._terminate()
                raise DatasetteServerError(
                    f"Datasette did not answer on {self.url}/-/versions.json within "
                    f"{self.startup_timeout} s (log: {self.log_path})",
                    log_tail=self._log_tail(),
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.25)

    def _answers(self) -> bool:
        """Tell whether our server (not some other one on the port) answers ``/-/versions.json``."""
        try:
            with _OPENER.open(f"{self.url}/-/versions.json", timeout=_PROBE_TIMEOUT) as response:
                body = json.load(response)
        except urllib.error.HTTPError as exc:
            exc.close()
            return exc.code in (401, 403) and self.running
        except (OSError, ValueError):
            return False
        return isinstance(body, dict) and (body.get("datasette") or {}).get("note") == self._note

    def _terminate(self, timeout: float = _STOP_TIMEOUT) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            _signal_group(process, signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("Datasette (pid %s) ignored SIGTERM for %s s; killing it", process.pid, timeout)
                _signal_group(process, getattr(signal, "SIGKILL", signal.SIGTERM))
                process.wait(timeout)

    def _child_env(self) -> dict[str, str]:
        return {**os.environ, "DATASETTE_SECRET": self.secret, "PYTHONUNBUFFERED": "1"}

    def _log_tail(self) -> str:
        try:
            with self.log_path.open("rb") as log_file:
                log_file.seek(self._log_offset)
                text = log_file.read().decode("utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.rstrip().splitlines()[-_LOG_TAIL_LINES:])

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
        job = self._spawn_create_token(
            _datasette_command(self._executable), actor, expires_after, restrictions
        )
        return self._collect_token(job)

    def _spawn_create_token(
        self,
        command: list[str],
        actor: str,
        expires_after: int | None,
        restrictions: Sequence[tuple[str, ...]],
    ) -> subprocess.Popen[bytes]:
        arguments = [*command, "create-token", actor]
        if expires_after is not None:
            arguments += ["--expires-after", str(expires_after)]
        arguments += _restriction_arguments(restrictions)
        return subprocess.Popen(
            arguments,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self._child_env(),
        )

    @staticmethod
    def _collect_token(job: subprocess.Popen[bytes]) -> str:
        try:
            out, err = job.communicate(timeout=_TOKEN_TIMEOUT)
        except subprocess.TimeoutExpired:
            job.kill()
            job.communicate()
            raise DatasetteServerError(
                f"datasette create-token did not finish in {_TOKEN_TIMEOUT} s"
            ) from None
        errors = err.decode("utf-8", errors="replace").strip()
        if job.returncode != 0:
            raise DatasetteServerError(
                "datasette create-token failed", log_tail=errors, returncode=job.returncode
            )
        if "Unknown permission" in errors:
            raise ValueError(f"datasette create-token: {errors}")
        lines = [line.strip() for line in out.decode("utf-8", errors="replace").splitlines()]
        tokens = [line for line in lines if line.startswith("dstok_")]
        if not tokens:
            raise DatasetteServerError("datasette create-token printed no dstok_ token", log_tail=errors)
        return tokens[-1]

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


def _datasette_command(executable: str | Path | None) -> list[str]:
    """Return the argv prefix that runs Datasette."""
    if executable is not None:
        return [os.fspath(executable)]
    scripts = Path(sys.executable).parent
    for name in ("datasette", "datasette.exe"):
        if (scripts / name).is_file():
            return [str(scripts / name)]
    if importlib.util.find_spec("datasette") is None:
        raise DatasetteServerError(
            "Datasette is not installed here: pip install 'airflow-provider-cloud[datasette]'"
        )
    return [sys.executable, "-m", "datasette"]


def _setting_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return json.dumps(value)


def _restriction_arguments(restrictions: Sequence[tuple[str, ...]]) -> list[str]:
    options = {1: "--all", 2: "--database", 3: "--resource"}
    arguments: list[str] = []
    for restriction in restrictions:
        if isinstance(restriction, str) or len(restriction) not in options:
            raise ValueError(
                f"A restriction is (action,), (database, action) or (database, table, action), not {restriction!r}"
            )
        arguments += [options[len(restriction)], *restriction]
    return arguments


def _port_is_free(host: str, port: int) -> bool:
    """Tell whether ``port`` can be bound the way a server binds it (reuse-address, like uvicorn)."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as probe:
        if sys.platform != "win32":
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _pick_free_port(host: str) -> int:
    with socket.socket(_family(host), socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
    return port


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _new_process_group() -> dict[str, Any]:
    """Return Popen arguments that put the child in its own process group (signals reach it alone)."""
    if sys.platform == "win32":
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    return {"start_new_session": True}


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    try:
        if sys.platform == "win32":
            process.kill()
        else:
            os.killpg(process.pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


@atexit.register
def _stop_live_servers() -> None:
    for server in list(_LIVE_SERVERS):
        try:
            server.stop()
        except Exception:
            log.exception("Could not stop %r at exit", server)
