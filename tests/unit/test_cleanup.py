"""A test run leaves nothing behind in the temporary directory (the Airflow home, upload sources, servers' folders)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: Tests that make temporary folders of each kind: the session's Airflow home (a DAG test), a Datasette
#: server's folder, and upload sources.
SAMPLE = [
    "tests/dags/test_dag_harness.py",
    "tests/integration/datasette/test_server.py::test_server_starts_and_answers",
    "tests/integration/kloudless/test_hook.py::test_a_retried_upload_sends_the_whole_file_again",
]


@pytest.mark.integration
def test_a_test_run_removes_its_temporary_folders(tmp_path: Path) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch)}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:randomly",
            "--basetemp",
            str(tmp_path / "base"),
            *SAMPLE,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert sorted(p.name for p in scratch.iterdir()) == []
