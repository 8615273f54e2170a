"""``make demo``'s script, run as a user runs it: the example DAGs against local servers, end to end."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.dag, pytest.mark.integration]


def test_the_demo_runs_every_example_dag_and_stops_its_servers(tmp_path: Path) -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith("AIRFLOW")}
    env["APC_DEMO_DIR"] = str(tmp_path / "demo")
    run = subprocess.run(
        [sys.executable, "scripts/demo.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    out = run.stdout
    for dag_id in (
        "example_datasette_rows",
        "example_cloudtables_embed",
        "example_kloudless_events",
        "example_kloudless_asset_watcher",
        "example_kloudless_archive",
    ):
        assert f"{dag_id}" in out
    assert "failed" not in out
    assert "page with the <script> tag" in out
    assert "same bytes as the archive" in out
    assert "stopping every server ... done" in out
    assert "Demo done in" in out
    assert (tmp_path / "demo" / "files" / "embed" / "People.html").is_file()
    (archive,) = (tmp_path / "demo" / "files" / "archive" / "people").glob("people-*.csv.gz")
    assert gzip.decompress(archive.read_bytes()).startswith(b"id,name,email,score,updated_at\r\n")
