"""
Child processes that are always stopped: one process group each, output to a file, and a sweep by tag.

A process started with :func:`start_process` leads its own process group (``start_new_session``), so
SIGTERM/SIGKILL reach its children too. Processes that leave the group (a daemonising child, a task runner
calling ``setsid``) are caught two more ways, both reading ``/proc`` (Linux; elsewhere they find nothing):

- :func:`descendants` snapshots the process tree before the stop, and :func:`kill_unchanged` kills what is
  left of it afterwards (checking each process's start time, so a reused pid is never hit);
- :func:`kill_tagged_processes` finds processes by a tag variable in their environment, which every
  descendant inherits, also one orphaned before the snapshot. A process that rewrites its title with
  ``setproctitle`` (Airflow's API server and LocalExecutor workers do) overwrites that memory, so the tag is
  a second net, not the only one.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import IO


@dataclass
class ManagedProcess:
    """
    A child process leading its own process group, its output going to ``log_path``.

    The leader is reaped only in :meth:`wait_or_kill`, after the last signal to its group: while it is
    unreaped its id cannot be reused, so a signal sent to the group never reaches a stranger.
    """

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]
    reaped: bool = False

    @property
    def pid(self) -> int:
        return self.popen.pid

    def returncode(self) -> int | None:
        """Return the exit code (negative: killed by that signal), or ``None`` while the process runs."""
        if self.reaped:
            return self.popen.returncode
        try:
            info = os.waitid(os.P_PID, self.popen.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:  # reaped elsewhere
            return self.popen.poll()
        if info is None:
            return None
        return info.si_status if info.si_code == os.CLD_EXITED else -info.si_status

    def _signal_group(self, signum: int) -> None:
        if not self.reaped:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.popen.pid, signum)

    def terminate(self, signum: int = signal.SIGTERM) -> None:
        """Send SIGTERM (or ``signum``: PostgreSQL's fast shutdown is SIGINT) to the whole process group."""
        self._signal_group(signum)

    def wait_or_kill(self, timeout: float) -> int:
        """Wait up to ``timeout`` seconds for the leader to exit, SIGKILL the group, reap; return the exit code."""
        deadline = time.monotonic() + timeout
        while self.returncode() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        self._signal_group(signal.SIGKILL)  # the leader if it is still running, and members outliving it
        if not self.reaped:
            self.popen.wait(timeout=30)
            self.reaped = True
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
    name: str, argv: list[str], *, env: dict[str, str], cwd: Path, log_dir: Path
) -> ManagedProcess:
    """Start ``argv`` in a new process group (and session), its output going to ``<log_dir>/<name>.log``."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    log_file = log_path.open("ab")
    try:
        popen = subprocess.Popen(
            argv,
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


def _stat(pid: int) -> tuple[int, int] | None:
    """Return ``(parent pid, start time in clock ticks)`` of a process, or ``None`` if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # the command name may contain spaces and parentheses
    if fields[0] == "Z":  # a zombie is already dead; only its parent can reap it
        return None
    return int(fields[1]), int(fields[19])


def descendants(roots: list[int]) -> dict[int, int]:
    """Return the living descendants of ``roots`` (not the roots themselves): pid → start time."""
    proc = Path("/proc")
    if not proc.is_dir():
        return {}
    children: dict[int, list[int]] = {}
    starts: dict[int, int] = {}
    for entry in proc.iterdir():
        if entry.name.isdigit():
            info = _stat(int(entry.name))
            if info is not None:
                children.setdefault(info[0], []).append(int(entry.name))
                starts[int(entry.name)] = info[1]
    found: dict[int, int] = {}
    pending = list(roots)
    while pending:
        for child in children.get(pending.pop(), []):
            if child not in found:
                found[child] = starts[child]
                pending.append(child)
    return found


def kill_unchanged(snapshot: dict[int, int]) -> list[int]:
    """SIGKILL every process of a :func:`descendants` snapshot still running with the same start time."""
    killed = []
    for pid, start in snapshot.items():
        info = _stat(pid)
        if info is not None and info[1] == start:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
    return sorted(killed)
