"""
The client side of an ``AirflowStack``: its CLI, its REST API, and the bounded waits on both.

:class:`StackClient` is a mixin: ``AirflowStack`` provides what it declares (``home``, ``api_url``,
``processes``, the environment in ``_env``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from tests.e2e.processes import ManagedProcess
from tests.e2e.stack_runs import AirflowStackError, RunControl


class StackClient(RunControl):
    """CLI, REST and waiting (mixed into ``AirflowStack``)."""

    home: Path
    processes: dict[str, ManagedProcess]
    _env: dict[str, str]

    @property
    def api_url(self) -> str:
        raise NotImplementedError

    # ---- CLI and REST ----------------------------------------------------------------------------

    def cli(self, *args: str, timeout: float = 180.0) -> subprocess.CompletedProcess[str]:
        """Run ``airflow <args>`` against this stack and return the result (stderr merged into stdout)."""
        try:
            return subprocess.run(
                [sys.executable, "-m", "airflow", *args],
                env=self._env,
                cwd=self.home,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise AirflowStackError(f"airflow {' '.join(args)} took more than {timeout:.0f} s") from exc

    def _get_url(self, url: str, timeout: float) -> bytes:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                body: bytes = response.read()
                return body
        except (urllib.error.URLError, OSError) as exc:
            raise AirflowStackError(f"GET {url} failed: {exc}") from exc

    def api(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: Mapping[str, Any] | None = None,
        timeout: float = 60.0,
    ) -> Any:
        """Call the REST API (``path`` relative to ``/api/v2``) and return the decoded JSON answer."""
        url = f"{self.api_url}/api/v2/{path.lstrip('/')}"
        if params:
            url += "?" + urllib.parse.urlencode(params, doseq=True)
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:2000]
            raise AirflowStackError(f"{method} {url} answered {exc.code}: {detail}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise AirflowStackError(f"{method} {url} failed: {exc}") from exc
        return json.loads(raw) if raw else None

    # ---- waiting ---------------------------------------------------------------------------------

    def check_processes(self) -> None:
        """Raise if any process of the stack has exited, with the end of its log."""
        for name, process in self.processes.items():
            code = process.returncode()
            if code is not None:
                raise AirflowStackError(f"airflow {name} exited with {code}:\n{self.logs(name)}")

    def _poll(self, what: str, timeout: float, probe: Callable[[], Any], interval: float = 1.0) -> Any:
        """Call ``probe`` until it returns something other than ``None``; raise after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while True:
            self.check_processes()
            try:
                result = probe()
            except AirflowStackError as exc:
                last_error, result = exc, None
            if result is not None:
                return result
            if time.monotonic() >= deadline:
                note = f" (last error: {last_error})" if last_error else ""
                raise AirflowStackError(
                    f"timed out after {timeout:.0f} s waiting for {what}{note}\n{self.diagnostics()}"
                )
            time.sleep(interval)

    def health(self) -> dict[str, Any]:
        """Return ``/api/v2/monitor/health``: the status of the database, scheduler, triggerer, DAG processor."""
        answer: dict[str, Any] = self.api("GET", "monitor/health", timeout=10)
        return answer

    def wait_until_healthy(self, timeout: float) -> None:
        """
        Wait until the API server answers and reports every component healthy.

        The execution API (what task processes call) is asked too, which also warms it up before the first task.
        """

        def probe() -> bool | None:
            self._get_url(f"{self.api_url}/execution/health", timeout=30)
            report = self.health()
            started = {name.replace("-", "_") for name in self.processes}
            parts = [
                "metadatabase",
                *(p for p in ("scheduler", "triggerer", "dag_processor") if p in started),
            ]
            healthy = all((report.get(part) or {}).get("status") == "healthy" for part in parts)
            return True if healthy else None

        self._poll("every component to report healthy", timeout, probe, interval=2.0)

    def import_errors(self) -> list[dict[str, Any]]:
        """Return the DAG import errors the DAG processor recorded."""
        answer = self.api("GET", "importErrors", params={"limit": 100})
        return list(answer.get("import_errors", []))

    def dag_files(self) -> dict[str, str]:
        """Return the DAGs parsed so far: DAG id → file path relative to the DAGs folder."""
        answer = self.api("GET", "dags", params={"limit": 1000})
        return {dag["dag_id"]: str(dag.get("relative_fileloc") or "") for dag in answer.get("dags", [])}

    def wait_for_dags(
        self, dag_ids: Iterable[str] = (), *, files: Iterable[str] = (), timeout: float = 180.0
    ) -> None:
        """
        Wait until every DAG in ``dag_ids`` is parsed and each file in ``files`` has given at least one DAG.

        ``files`` are paths relative to the DAGs folder. Fails at once on an import error of any file.
        """
        wanted_ids, wanted_files = set(dag_ids), set(files)

        def probe() -> bool | None:
            errors = self.import_errors()
            if errors:
                text = "\n".join(f"{e.get('filename')}:\n{e.get('stack_trace')}" for e in errors)
                raise _ImportFailed(f"DAG import errors:\n{text}")
            parsed = self.dag_files()
            return True if wanted_ids <= parsed.keys() and wanted_files <= set(parsed.values()) else None

        try:
            self._poll(f"DAGs {sorted(wanted_ids)} and files {sorted(wanted_files)}", timeout, probe, 2.0)
        except _ImportFailed as exc:
            raise AirflowStackError(str(exc)) from None

    def logs(self, process: str, lines: int = 60) -> str:
        """Return the last ``lines`` lines of a process's output (``scheduler``, ``triggerer``, ...)."""
        managed = self.processes.get(process)
        return managed.tail(lines) if managed is not None else f"(no process {process!r})"

    def diagnostics(self, lines: int = 25) -> str:
        """Return the end of every process's log, for failure messages."""
        parts = [f"--- {name} (last {lines} lines) ---\n{self.logs(name, lines)}" for name in self.processes]
        return "\n".join(parts)


class _ImportFailed(Exception):
    """A DAG import error: ends :meth:`AirflowStack.wait_for_dags` at once (not retried by ``_poll``)."""
