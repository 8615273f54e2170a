"""
The first-generation SDK (``kloudless`` 1.1.x, the newest 1.1 on PyPI), unmodified, against the emulator.

1.1.x and 2.0.1 (the dev lock's) cannot share one environment, so ``sdk1/checks.py`` runs in an isolated one
that ``uv`` (installed in ``.venv`` by the Makefile) builds from PyPI, with its cache in a temporary folder removed
afterwards; this test starts the emulator, runs the script and asserts on the JSON it prints. 1.1.2 imports
``six`` without declaring it (python-dateutil 2.x brought it along), so it is added beside it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_cloud.testing.kloudless import KloudlessEmulator

pytestmark = pytest.mark.integration

SCRIPT = Path(__file__).parent / "sdk1" / "checks.py"
SDK = "kloudless==1.1.*"


def uv() -> str:
    found = Path(sys.executable).with_name("uv")
    path = str(found) if found.exists() else shutil.which("uv")
    assert path, "uv is needed to build the 1.1.x environment (make install puts it in .venv)"
    return path


def run_checks(config: dict[str, Any]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="kl-sdk1-") as folder:
        config_path = Path(folder) / "config.json"
        config_path.write_text(json.dumps(config))
        env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
        env["UV_CACHE_DIR"] = str(Path(folder) / "uv-cache")
        command = [
            uv(),
            "run",
            "--no-project",
            "--isolated",
            "--quiet",
            "--python",
            getattr(sys, "_base_executable", sys.executable),
            "--with",
            SDK,
            "--with",
            "six",
            "python",
            str(SCRIPT),
            str(config_path),
        ]
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def results() -> dict[str, Any]:
    with KloudlessEmulator() as kl:
        first = kl.create_account(account="first@example.com", admin=True)
        second = kl.create_account(account="second@example.com")
        inactive = kl.create_account(account="inactive@example.com", active=False)
        doomed = kl.create_account(account="doomed@example.com")
        config = {
            "url": kl.url,
            "api_key": kl.api_key,
            "token": kl.create_token(first),
            "accounts": {"first": first, "second": second, "inactive": inactive, "doomed": doomed},
        }
        found = run_checks(config)
        found["_ids"] = config["accounts"]
        found["_emulator_moved"] = [
            (e["type"], e["metadata"]["name"]) for e in kl.events(second) if e["type"] == "add"
        ]
    return found


def error(status: int, name: str = "APIException") -> dict[str, Any]:
    return {"error": name, "status": status}


def test_it_is_the_first_generation_sdk_and_every_part_ran(results):
    assert results["version"].startswith("1.1.")
    assert [key for key in results if key.endswith("_failed")] == []


def test_accounts(results):
    ids = results["_ids"]
    first, second, inactive, doomed = ids["first"], ids["second"], ids["inactive"], ids["doomed"]
    assert results["list"] == [first, second, inactive, doomed]
    assert results["list_active"] == [first, second, doomed]
    assert results["list_inactive"] == [inactive]
    assert results["list_admin"] == [first]
    assert results["page_2_of_1"] == [second]
    assert results["retrieve"] == [first, "first@example.com", "gdrive", True]
    assert results["refresh"] == "first@example.com"
    assert results["save"] == "renamed@example.com"
    assert results["import"] == error(501, "ServerException")
    assert results["deleted_retrieve"] == error(404)
    assert results["deleted_again"] == error(404)
    assert results["bearer_me"] == first
    assert results["bearer_bad"] == error(401, "AuthorizationException")


def test_files_and_folders(results):
    assert results["folder_again_same"] is True
    assert results["folder_conflict"] == error(409)
    assert results["root_contents"] == [["folder", "docs"]]
    assert results["upload"] == ["report.csv", 8, results["_ids"]["first"], True]
    assert results["metadata"]["type"] == "file"
    assert results["metadata"]["path"] == "/docs/report.csv"
    assert results["metadata"]["mime_type"] == "text/csv"
    assert results["metadata"]["downloadable"] is True
    assert results["metadata"]["created_is_datetime"] is True
    assert results["metadata"]["ancestors"][0] == "root"
    assert results["download"] == "a,b\n1,2\n"
    assert results["overwrite"] == [3, "new"]
    assert results["same_name"] == error(409)
    assert results["upload_overwrite"] == [True, 2]
    assert results["rename"] == [True, "renamed.csv"]
    assert results["move"] == [True, "/docs/sub/renamed.csv", ["renamed.csv"]]
    assert results["folder_rename"] == [True, "/docs/sub2"]
    assert results["folder_not_empty"] == error(403, "AuthenticationException")  # 1.x's name for a 403
    assert results["deleted_file"] == error(404)
    assert results["deleted_folder"] == error(404)


def test_the_readme_s_move_to_another_account(results):
    assert results["move_account"] == [True, True, True, "/arrivals/new file name.txt"]
    assert results["move_account_content"] == "to move"
    assert results["move_account_parent"] is True
    assert results["move_account_old"] == error(404)
    assert ("add", "new file name.txt") in results["_emulator_moved"]


def test_events(results):
    assert results["latest_cursor_is_int"] is True
    assert results["events"] == [f"e{n}.txt" for n in range(5)]
    assert results["events_types"] == ["add"]
    assert results["events_page_size"] == error(400)


def test_calendars(results):
    assert results["calendars"] == [[True, True]]
    assert results["calendar_primary"] is True
    assert results["calendar_event"] == ["Standup", True]
    assert results["calendar_events"] == ["Standup"]
    assert results["calendar_event_read"] == "Standup"
    assert results["calendar_event_update"] == error(501, "ServerException")
    assert results["calendar_create"] == error(501, "ServerException")
    assert results["calendar_event_deleted"] == error(404)


def test_what_the_emulator_does_not_serve_is_a_501_for_the_sdk_too(results):
    assert results["unserved"] == dict.fromkeys(results["unserved"], error(501, "ServerException"))
    assert set(results["unserved"]) >= {"search", "links", "multipart", "copy", "crm"}
    assert results["raw"] == ["/drive/v2/about", "GET"]
