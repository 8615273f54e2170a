"""Test session set-up: a private Airflow home on SQLite, before anything imports airflow."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

_TESTS = Path(__file__).resolve().parent
_HOME = Path(tempfile.mkdtemp(prefix="apc-airflow-home-"))

os.environ["AIRFLOW_HOME"] = str(_HOME)
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_HOME / 'airflow.db'}"
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(_TESTS / "dags")
os.environ.setdefault("AIRFLOW__CORE__EXECUTOR", "LocalExecutor")
os.environ.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)
