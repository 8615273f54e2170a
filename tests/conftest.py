"""Test session set-up: a private Airflow home on SQLite, before anything imports airflow; removed at the end."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

_TESTS = Path(__file__).resolve().parent
_HOME = Path(tempfile.mkdtemp(prefix="apc-airflow-home-"))

os.environ["AIRFLOW_HOME"] = str(_HOME)
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_HOME / 'airflow.db'}"
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(_TESTS / "dags" / "files")
os.environ.setdefault("AIRFLOW__CORE__EXECUTOR", "LocalExecutor")
os.environ.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)


import pytest  # noqa: E402


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """Create the Airflow metadata database (SQLite) once per test session; DAG tests need it."""
    from airflow.utils import db

    db.initdb()
    return _HOME / "airflow.db"


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the session's Airflow home: a test run leaves nothing in the temporary directory."""
    shutil.rmtree(_HOME, ignore_errors=True)
