"""
A private, temporary ``AIRFLOW_HOME`` with a SQLite metadata database, for a test session.

Airflow reads ``AIRFLOW_HOME`` and builds its database engine once, when ``airflow`` is first imported, so
the home must be in place before that; :meth:`PrivateAirflowHome.activate` refuses once Airflow is loaded.
Isolation covers what could reach a real deployment: the home, the config file, every ``[database]``
setting and the DAGs folder. Other ``AIRFLOW_*`` variables (settings, ``AIRFLOW_CONN_*``, ``AIRFLOW_VAR_*``)
are kept, so a user's test settings still apply. :meth:`~PrivateAirflowHome.deactivate` puts every variable
back as it was and deletes the folder.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import MutableMapping
from pathlib import Path


class AirflowHomeError(RuntimeError):
    """The private home cannot be used: Airflow was configured elsewhere, or before it was set."""


def airflow_is_loaded() -> bool:
    """Tell whether Airflow has read its configuration in this process (``import airflow`` does)."""
    return "airflow.configuration" in sys.modules


def configured_database() -> str:
    """Return the database URL Airflow's engine uses in this process, its password hidden."""
    from airflow import settings
    from sqlalchemy.engine import make_url

    url = settings.SQL_ALCHEMY_CONN or ""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL at all: say so without echoing it
        return "<not a database URL>"


class PrivateAirflowHome:
    """A temporary Airflow home: ``activate()`` before Airflow is imported, ``deactivate()`` at the end."""

    def __init__(self, *, prefix: str = "apc-airflow-home-") -> None:
        self._prefix = prefix
        self.path: Path | None = None
        self._saved: dict[str, str | None] = {}
        self._environ: MutableMapping[str, str] = os.environ

    @property
    def active(self) -> bool:
        return self.path is not None

    @property
    def db_path(self) -> Path:
        return self._require_path() / "airflow.db"

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.db_path}"

    @property
    def dags_folder(self) -> Path:
        """An empty folder, the default DAGs folder until a test points Airflow at its own DAG files."""
        return self._require_path() / "dags"

    def settings(self) -> dict[str, str]:
        """Return the environment variables this home sets."""
        home = self._require_path()
        return {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW_CONFIG": str(home / "airflow.cfg"),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.db_url,
            "AIRFLOW__DATABASE__LOAD_DEFAULT_CONNECTIONS": "False",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
        }

    def activate(self, environ: MutableMapping[str, str] | None = None) -> Path:
        """
        Make the folder and point Airflow at it through ``environ`` (``os.environ`` by default).

        Inherited ``AIRFLOW__DATABASE__*`` variables (``..._CMD``, ``..._SECRET``, ``SQL_ALCHEMY_CONN_ASYNC``)
        and ``AIRFLOW__CORE__UNIT_TEST_MODE`` are removed while the home is active: any of them could lead
        Airflow back to a real database or to its own test configuration.
        """
        if self.active:
            return self._require_path()
        if airflow_is_loaded():
            raise AirflowHomeError(
                "Airflow is already imported, so it has read its configuration; a private AIRFLOW_HOME "
                "must be set before the first `import airflow`"
            )
        self._environ = os.environ if environ is None else environ
        self.path = Path(tempfile.mkdtemp(prefix=self._prefix))
        self.dags_folder.mkdir()
        values = self.settings()
        removed = [k for k in self._environ if k.startswith("AIRFLOW__DATABASE__") and k not in values]
        for key in [*values, *removed, "AIRFLOW__CORE__UNIT_TEST_MODE"]:
            self._saved.setdefault(key, self._environ.get(key))
            self._environ.pop(key, None)
        self._environ.update(values)
        return self.path

    def deactivate(self) -> None:
        """Put every variable back as it was before :meth:`activate` and delete the folder."""
        for key, value in self._saved.items():
            if value is None:
                self._environ.pop(key, None)
            else:
                self._environ[key] = value
        self._saved.clear()
        if self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)
            self.path = None

    def check_in_effect(self) -> None:
        """Raise :class:`AirflowHomeError` unless Airflow's engine uses this home's database."""
        from airflow import settings

        if settings.SQL_ALCHEMY_CONN != self.db_url:
            raise AirflowHomeError(
                f"Airflow's metadata database is {configured_database()}, not this session's private "
                f"{self.db_url}: something (a conftest.py or another plugin) configured Airflow after the "
                "private home was set; refusing to create tables in a database this kit did not make"
            )

    def migrate(self) -> Path:
        """Create the metadata tables in this home's SQLite database; return the database file."""
        self.check_in_effect()
        from airflow.utils import db

        db.initdb()
        return self.db_path

    def _require_path(self) -> Path:
        if self.path is None:
            raise AirflowHomeError("the private Airflow home is not active")
        return self.path
