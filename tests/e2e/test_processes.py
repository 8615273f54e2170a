"""The process helpers behind ``AirflowStack``: groups are stopped, escapees are found by their tag."""

from __future__ import annotations

import os
import secrets
import signal
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.processes import descendants, kill_tagged_processes, kill_unchanged, start_process, tagged_pids

TAG_VAR = "APC_PROCESSES_TEST_TAG"

TREE = """
import subprocess, sys, time
sleeper = [sys.executable, "-c", "import time; time.sleep(120)"]
subprocess.Popen(sleeper)                           # stays in the leader's process group
subprocess.Popen(sleeper, start_new_session=True)   # leaves it, like a daemon or a setsid task runner
print("ready", flush=True)
time.sleep(120)
"""

pytestmark = pytest.mark.skipif(not Path("/proc").is_dir(), reason="the tag sweep reads /proc")


def wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def test_group_stop_and_tag_sweep_leave_nothing_running(tmp_path: Path) -> None:
    tag = secrets.token_hex(6)
    env = {**os.environ, TAG_VAR: tag}
    tree = start_process("tree", [sys.executable, "-c", TREE], env=env, cwd=tmp_path, log_dir=tmp_path)
    try:
        wait_for(lambda: "ready" in tree.tail() and len(tagged_pids(TAG_VAR, tag)) == 3)
        assert tree.returncode() is None

        tree.terminate()
        assert tree.wait_or_kill(10) == -signal.SIGTERM
        # only the child that left the group survives the group's signals (the other one may take a moment)
        wait_for(lambda: len(tagged_pids(TAG_VAR, tag)) == 1, timeout=10)
        escaped = tagged_pids(TAG_VAR, tag)
        assert tree.pid not in escaped

        assert kill_tagged_processes(TAG_VAR, tag) == escaped
        assert tagged_pids(TAG_VAR, tag) == []
    finally:
        tree.wait_or_kill(0)
        kill_tagged_processes(TAG_VAR, tag)


UNTAGGED_ESCAPEE = """
import os, subprocess, sys, time
env = {k: v for k, v in os.environ.items() if k != sys.argv[1]}   # like a setproctitle'd process: no tag
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], env=env, start_new_session=True)
print("ready", child.pid, flush=True)
time.sleep(120)
"""


def test_tree_snapshot_catches_an_untagged_escapee(tmp_path: Path) -> None:
    tag = secrets.token_hex(6)
    env = {**os.environ, TAG_VAR: tag}
    leader = start_process(
        "leader", [sys.executable, "-c", UNTAGGED_ESCAPEE, TAG_VAR], env=env, cwd=tmp_path, log_dir=tmp_path
    )
    escapee = 0
    try:
        wait_for(lambda: "ready" in leader.tail())
        escapee = int(leader.tail().split()[-1])
        snapshot = descendants([leader.pid])
        assert escapee in snapshot
        assert tagged_pids(TAG_VAR, tag) == [leader.pid]  # the escapee carries no tag

        leader.terminate()
        leader.wait_or_kill(10)
        assert _running(escapee)  # orphaned, outside the group: the group's signals missed it
        assert kill_unchanged(snapshot) == [escapee]
        wait_for(lambda: not _running(escapee))
        assert kill_unchanged(snapshot) == []
    finally:
        leader.wait_or_kill(0)
        if escapee and _running(escapee):
            os.kill(escapee, signal.SIGKILL)


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_exit_code_is_read_without_reaping_then_reaped_once(tmp_path: Path) -> None:
    process = start_process(
        "exits",
        [sys.executable, "-c", "print('bye'); raise SystemExit(3)"],
        env=dict(os.environ),
        cwd=tmp_path,
        log_dir=tmp_path,
    )
    wait_for(lambda: process.returncode() is not None)
    assert process.returncode() == 3
    assert not process.reaped
    assert process.wait_or_kill(5) == 3
    assert process.reaped
    assert process.wait_or_kill(5) == 3  # a second stop neither signals nor waits again
    assert "bye" in (tmp_path / "exits.log").read_text()
