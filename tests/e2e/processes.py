"""
Child processes that are always stopped: one process group each, output to a file, and a sweep by tag.

A process started with :func:`start_process` leads its own process group (``start_new_session``), so
SIGTERM/SIGKILL reach its children too. Processes that leave the group (a daemonising child, a task runner
calling ``setsid``) are still found by :func:`kill_tagged_processes`, which looks for a tag variable in every
process's environment under ``/proc`` (inherited by all descendants). Linux only for the sweep; elsewhere it
does nothing.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import IO


@dataclass
class ManagedProcess:
    """A child process leading its own process group, its output going to ``log_path``."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]

    @property
    def pid(self) -> int:
        return self.popen.pid

    def returncode(self) -> int | None:
        """Return the exit code, or ``None`` while the process runs."""
        return self.popen.poll()

    def _signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signum)

    def terminate(self) -> None:
        """Send SIGTERM to the whole process group."""
        self._signal_group(signal.SIGTERM)

    def wait_or_kill(self, timeout: float) -> int:
        """Wait up to ``timeout`` seconds for the leader to exit, then SIGKILL the group; return the exit code."""
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
            self.popen.wait(timeout=30)
        self._signal_group(signal.SIGKILL)  # members that outlived their leader
        self.log_file.close()
        return int(self.popen.returncode)

    def tail(self, lines: int = 60) -> str:
        """Return the last ``lines`` lines of the process's output."""
        try:
            with self.log_path.open("r", errors="replace") as handle:
                return "".join(deque(handle, maxlen=lines))
        except OSError as exc:
            return f"(cannot read {self.log_path}: {exc})"


def start_process(
    name: str, airflow_args: list[str], *, env: dict[str, str], cwd: Path, log_dir: Path
) -> ManagedProcess:
    """Start ``python -m airflow <airflow_args>`` in a new process group, output to ``<log_dir>/<name>.log``."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    log_file = log_path.open("ab")
    try:
        popen = subprocess.Popen(
            [sys.executable, "-m", "airflow", *airflow_args],
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except BaseException:
        log_file.close()
        raise
    return ManagedProcess(name=name, popen=popen, log_path=log_path, log_file=log_file)


def tagged_pids(tag_var: str, tag_value: str) -> list[int]:
    """Return the ids of processes (other than this one) whose environment has ``tag_var=tag_value``."""
    proc = Path("/proc")
    if not proc.is_dir():
        return []
    needle = f"{tag_var}={tag_value}".encode()
    found = []
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if needle in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def kill_tagged_processes(tag_var: str, tag_value: str, timeout: float = 10.0) -> list[int]:
    """SIGKILL every process tagged ``tag_var=tag_value``; wait (bounded) until they are gone; return them."""
    killed: list[int] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = tagged_pids(tag_var, tag_value)
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
        time.sleep(0.1)
    return sorted(set(killed))
