"""
Running ``datasette serve`` as a child process: finding it, free ports, its own process group, its errors.

The child gets its own process group, so a stop signals it (and any worker it forks) alone. Ports are probed
the way the server binds them (reuse-address, like uvicorn), so a port left in TIME_WAIT counts as free.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

ADDRESS_IN_USE_MARKERS = ("address already in use", "only one usage of each socket address")
LOG_TAIL_LINES = 40
PROBE_TIMEOUT = 1.0
STOP_TIMEOUT = 10.0
# A direct opener: environment proxy settings must never route probes of 127.0.0.1 elsewhere.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


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


class AddressInUse(DatasetteServerError):
    """Datasette could not bind its port: another socket holds it."""


def datasette_command(executable: str | Path | None) -> list[str]:
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


def setting_text(value: object) -> str:
    """Return a setting as ``-s NAME VALUE`` takes it: booleans as true/false, other non-text as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return json.dumps(value)


def port_is_free(host: str, port: int) -> bool:
    """Tell whether ``port`` can be bound the way a server binds it (reuse-address, like uvicorn)."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as probe:
        if sys.platform != "win32":
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def pick_free_port(host: str) -> int:
    with socket.socket(_family(host), socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
    return port


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def new_process_group() -> dict[str, Any]:
    """Return Popen arguments that put the child in its own process group (signals reach it alone)."""
    if sys.platform == "win32":
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    return {"start_new_session": True}


def signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    """Send ``signum`` to the child's process group; a group already gone is fine."""
    try:
        if sys.platform == "win32":
            process.kill()
        else:
            os.killpg(process.pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


class ServerProcess:
    """
    One run of ``datasette serve``: started with its output appended to a log, probed until it answers, stopped.

    The start-up probe checks that ``/-/versions.json`` shows this run's ``--version-note`` marker, so a
    stale server still listening on the port is never mistaken for ours. When the instance is hidden
    (``--default-deny``), a 401 or 403 answer counts as ready while our process is alive.

    :param arguments: the whole command line; it must carry ``--version-note <note>``.
    :param url: the base URL the server answers on.
    """

    def __init__(
        self,
        arguments: list[str],
        *,
        url: str,
        note: str,
        log_path: Path,
        env: Mapping[str, str],
        startup_timeout: float,
    ) -> None:
        self.arguments = arguments
        self.url = url
        self.note = note
        self.log_path = log_path
        self.env = dict(env)
        self.startup_timeout = startup_timeout
        self._child: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    @property
    def pid(self) -> int | None:
        """Process id while it runs, else ``None``."""
        return self._child.pid if self.running and self._child is not None else None

    @property
    def running(self) -> bool:
        return self._child is not None and self._child.poll() is None

    def start(self) -> None:
        """Start the server and wait until it answers; raise :class:`DatasetteServerError` (with the log tail) if not."""
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log_file:
            log_file.write(f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {self.arguments}\n".encode())
            log_file.flush()
            self._child = subprocess.Popen(
                self.arguments,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=self.log_path.parent,
                env=self.env,
                **new_process_group(),
            )
        self._wait_until_ready()

    def _wait_until_ready(self) -> None:
        child = self._child
        if child is None:
            raise DatasetteServerError("Datasette was not started")
        deadline = time.monotonic() + self.startup_timeout
        delay = 0.05
        while True:
            returncode = child.poll()
            if returncode is not None:
                self._child = None
                tail = self.log_tail()
                message = f"Datasette exited with code {returncode} before answering on {self.url}"
                message += f" (log: {self.log_path})"
                if any(marker in tail.lower() for marker in ADDRESS_IN_USE_MARKERS):
                    raise AddressInUse(message, log_tail=tail, returncode=returncode)
                raise DatasetteServerError(message, log_tail=tail, returncode=returncode)
            if self._answers():
                return
            if time.monotonic() >= deadline:
                self.terminate()
                raise DatasetteServerError(
                    f"Datasette did not answer on {self.url}/-/versions.json within "
                    f"{self.startup_timeout} s (log: {self.log_path})",
                    log_tail=self.log_tail(),
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.25)

    def _answers(self) -> bool:
        """Tell whether our server (not some other one on the port) answers ``/-/versions.json``."""
        try:
            with _OPENER.open(f"{self.url}/-/versions.json", timeout=PROBE_TIMEOUT) as response:
                body = json.load(response)
        except urllib.error.HTTPError as exc:
            exc.close()
            return exc.code in (401, 403) and self.running
        except (OSError, ValueError):
            return False
        return isinstance(body, dict) and (body.get("datasette") or {}).get("note") == self.note

    def terminate(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM to the process group, SIGKILL if it lingers; nothing if it is not running."""
        child, self._child = self._child, None
        if child is None or child.poll() is not None:
            return
        signal_group(child, signal.SIGTERM)
        try:
            child.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("Datasette (pid %s) ignored SIGTERM for %s s; killing it", child.pid, timeout)
            signal_group(child, getattr(signal, "SIGKILL", signal.SIGTERM))
            child.wait(timeout)

    def log_tail(self) -> str:
        """Return the last lines this run wrote to the log."""
        try:
            with self.log_path.open("rb") as log_file:
                log_file.seek(self._log_offset)
                text = log_file.read().decode("utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.rstrip().splitlines()[-LOG_TAIL_LINES:])
