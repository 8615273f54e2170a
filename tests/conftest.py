"""
Test session set-up, dogfooding the package's own pytest plugin.

The plugin (``airflow_provider_cloud.testing.dag_fixtures``) gives the session a private Airflow home on
SQLite before this file is imported, removes it at the end, and provides ``airflow_db``. This file adds what
the repository's DAG tests need, still before anything imports airflow: ``tests/dags/files`` as the DAGs
folder (``dag.test()`` finds those DAGs there) and the executor.
"""

from __future__ import annotations

import os
from pathlib import Path

_TESTS = Path(__file__).resolve().parent

os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(_TESTS / "dags" / "files")
os.environ.setdefault("AIRFLOW__CORE__EXECUTOR", "LocalExecutor")
