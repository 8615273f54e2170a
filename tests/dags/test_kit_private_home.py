"""
The plugin's private Airflow home, seen from a user's pytest run in a fresh folder (a subprocess, so that
Airflow is configured from scratch): where it is set, what it replaces, what it refuses, what it leaves.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from tests.subprocess_pytest import clean_env, outcomes, run_pytest

pytestmark = pytest.mark.dag

RECORDING_TEST = """
import json
import os
from pathlib import Path


def test_record(airflow_db):
    from airflow import settings

    Path(os.environ["KIT_RECORD"]).write_text(json.dumps({
        "home": os.environ["AIRFLOW_HOME"],
        "engine": settings.SQL_ALCHEMY_CONN,
        "airflow_db": airflow_db,
        "async": os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC"),
        "config": os.environ.get("AIRFLOW_CONFIG"),
    }))
"""


def tables(db: Path) -> set[str]:
    if not db.exists():
        return set()
    with sqlite3.connect(db) as connection:
        return {name for (name,) in connection.execute("select name from sqlite_master where type = 'table'")}


def write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (folder / name).write_text(textwrap.dedent(text))
    return folder


def test_private_home_replaces_an_inherited_home_and_database_and_is_removed_after(tmp_path):
    real = tmp_path / "real-home"
    real.mkdir()
    project = tmp_path / "project"
    project.mkdir()
    write(project, {"test_record.py": RECORDING_TEST})
    record = tmp_path / "record.json"
    env = clean_env(
        KIT_RECORD=str(record),
        AIRFLOW_HOME=str(real),
        AIRFLOW_CONFIG=str(real / "airflow.cfg"),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{real / 'real.db'}",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC=f"sqlite+aiosqlite:///{real / 'real.db'}",
    )

    run = run_pytest(project, env=env)

    assert outcomes(run) == {"passed": 1}, run.stdout[-3000:]
    seen = json.loads(record.read_text())
    home = Path(seen["home"])
    assert home.parent == Path(tempfile.gettempdir())
    assert home.name.startswith("apc-airflow-home-")
    assert seen["engine"] == f"sqlite:///{home / 'airflow.db'}" == seen["airflow_db"]
    assert seen["config"] == str(home / "airflow.cfg")
    assert seen["async"] is None
    assert not home.exists()  # removed at the end of the session
    assert list(real.iterdir()) == []  # the inherited home and its database were never touched


def test_activate_refuses_once_airflow_is_imported_and_deactivate_restores_the_environment(tmp_path):
    script = textwrap.dedent(
        """
        import json, os
        from airflow_provider_cloud.testing.airflow_home import AirflowHomeError, PrivateAirflowHome

        os.environ["AIRFLOW_HOME"] = os.environ["KIT_MINE"]
        os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD"] = "echo secret"
        home = PrivateAirflowHome()
        path = home.activate()
        during = {k: os.environ.get(k) for k in ("AIRFLOW_HOME", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD")}
        home.deactivate()
        after = {k: os.environ.get(k) for k in ("AIRFLOW_HOME", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD",
                                                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW_CONFIG")}
        del os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD"]  # not a command Airflow could run
        import airflow
        try:
            PrivateAirflowHome().activate()
            refused = ""
        except AirflowHomeError as error:
            refused = str(error)
        print(json.dumps({"path": str(path), "exists": path.exists(), "during": during, "after": after,
                          "refused": refused}))
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", script],
        env=clean_env(KIT_MINE=str(tmp_path / "mine")),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen["during"] == {"AIRFLOW_HOME": seen["path"], "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD": None}
    assert seen["after"] == {
        "AIRFLOW_HOME": str(tmp_path / "mine"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD": "echo secret",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": None,
        "AIRFLOW_CONFIG": None,
    }
    assert seen["exists"] is False
    assert seen["refused"].startswith("Airflow is already imported")


def test_airflow_db_refuses_a_database_a_conftest_configured(tmp_path):
    other = tmp_path / "other.db"
    project = tmp_path / "project"
    project.mkdir()
    write(
        project,
        {
            "conftest.py": f"""
                import os
                os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = "sqlite:///{other}"
            """,
            "test_record.py": RECORDING_TEST,
        },
    )

    run = run_pytest(project, env=clean_env(KIT_RECORD=str(tmp_path / "record.json")))

    assert outcomes(run) == {"error": 1}, run.stdout[-3000:]
    assert f"Airflow's metadata database is sqlite:///{other}, not this session's private" in run.stdout
    assert "refusing to create tables in a database this kit did not make" in run.stdout
    assert tables(other) == set()


def test_airflow_db_fails_clearly_when_airflow_was_loaded_before_the_plugin(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    write(
        project,
        {
            "conftest.py": """
                import airflow  # configures Airflow before the plugin below is loaded
                pytest_plugins = ["airflow_provider_cloud.testing.pytest_plugin"]
            """,
            "test_record.py": RECORDING_TEST,
        },
    )
    env = clean_env(KIT_RECORD=str(tmp_path / "record.json"), PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    env["AIRFLOW_HOME"] = str(tmp_path / "airflow-home")  # where this user's Airflow would go

    run = run_pytest(project, "-p", "no:asyncio", env=env)

    assert outcomes(run) == {"error": 1}, run.stdout[-3000:]
    assert "airflow_db: no private Airflow home for this session: Airflow is already imported" in run.stdout
    assert tables(tmp_path / "airflow-home" / "airflow.db") == set()


def test_ini_option_off_keeps_the_user_s_own_test_database(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    project = tmp_path / "project"
    project.mkdir()
    write(
        project, {"pytest.ini": "[pytest]\nairflow_private_home = false\n", "test_record.py": RECORDING_TEST}
    )
    record = tmp_path / "record.json"
    env = clean_env(
        KIT_RECORD=str(record),
        AIRFLOW_HOME=str(mine),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{mine / 'test.db'}",
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
    )

    run = run_pytest(project, env=env)

    assert outcomes(run) == {"passed": 1}, run.stdout[-3000:]
    seen = json.loads(record.read_text())
    assert seen["home"] == str(mine)
    assert seen["engine"] == f"sqlite:///{mine / 'test.db'}" == seen["airflow_db"]
    assert {"dag", "variable", "xcom"} <= tables(mine / "test.db")


def test_airflow_variables_puts_the_variables_table_back_after_each_test(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    write(
        project,
        {
            "test_order.py": """
                def test_a_sets_and_a_run_commits(airflow_variables):
                    from airflow.models.variable import Variable

                    airflow_variables.set("seeded", "1")
                    Variable.set("committed", "2")  # as a task of a dag.test() run would
                    assert airflow_variables.get("seeded") == "1"


                def test_b_starts_clean(airflow_variables):
                    assert airflow_variables.get("seeded", None) is None
                    assert airflow_variables.get("committed", None) is None
            """,
        },
    )

    run = run_pytest(project, "-p", "no:randomly", env=clean_env())

    assert outcomes(run) == {"passed": 2}, run.stdout[-3000:]
