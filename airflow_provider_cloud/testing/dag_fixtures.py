"""
The pytest plugin's Airflow part: a private metadata database for the session, and ``dag.test()`` fixtures.

Where the private home is set, and why there: Airflow reads ``AIRFLOW_HOME`` and builds its engine at the
first ``import airflow``. ``pytest_load_initial_conftests`` runs for installed plugins before any
``conftest.py`` or test module is imported, so the home is in place before user code can import Airflow;
``pytest_configure`` covers a plugin loaded later (``-p``, ``pytest_plugins``). If Airflow is already
loaded by then, nothing is changed and ``airflow_db`` fails, saying so.

What happens to a user's own settings: an inherited ``AIRFLOW_HOME``, config file, ``[database]`` settings
and DAGs folder are set aside for the session (restored at the end), so a test run never reaches a real
deployment's database; if a ``conftest.py`` configures another database after the plugin, ``airflow_db``
refuses to create tables in it. The ini option ``airflow_private_home = false`` turns all of this off:
the plugin then changes no environment variable and ``airflow_db`` migrates whatever database Airflow is
configured with, which the user has thereby declared a test database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

from airflow_provider_cloud.testing.airflow_home import AirflowHomeError, PrivateAirflowHome

if TYPE_CHECKING:
    from airflow_provider_cloud.testing.dagtest import AirflowVariables, DagTestResult

PRIVATE_HOME_INI = "airflow_private_home"
_home_key = pytest.StashKey[PrivateAirflowHome]()
_problem_key = pytest.StashKey[str]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        PRIVATE_HOME_INI,
        type="bool",
        default=True,
        help="give the session a temporary AIRFLOW_HOME with a SQLite metadata database (default: true)",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    """Set the private home before the first ``conftest.py`` is imported."""
    _start_private_home(early_config)


def pytest_configure(config: pytest.Config) -> None:
    """Set the private home now if the plugin was loaded too late for the hook above."""
    _start_private_home(config)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Restore the environment and delete the private home."""
    home = config.stash.get(_home_key, None)
    if home is not None:
        home.deactivate()


def _start_private_home(config: pytest.Config) -> None:
    if _home_key in config.stash or _problem_key in config.stash:
        return
    if not config.getini(PRIVATE_HOME_INI):
        config.stash[_problem_key] = ""
        return
    home = PrivateAirflowHome()
    try:
        home.activate()
    except AirflowHomeError as error:
        config.stash[_problem_key] = str(error)
        return
    config.stash[_home_key] = home


@pytest.fixture(scope="session")
def airflow_db(request: pytest.FixtureRequest) -> str:
    """Migrate the session's metadata database once; return its URL (password hidden)."""
    from airflow_provider_cloud.testing.airflow_home import configured_database

    home = request.config.stash.get(_home_key, None)
    if home is None:
        problem = request.config.stash.get(_problem_key, "")
        if problem:
            pytest.fail(f"airflow_db: no private Airflow home for this session: {problem}", pytrace=False)
        from airflow.utils import db  # airflow_private_home = false: the user's own test database

        db.initdb()
        return configured_database()
    try:
        home.migrate()
    except AirflowHomeError as error:
        pytest.fail(f"airflow_db: {error}", pytrace=False)
    return configured_database()


@pytest.fixture
def airflow_variables(airflow_db: str) -> Iterator[AirflowVariables]:
    """Read and set Variables in the metadata database; the Variables table is restored after the test."""
    from airflow_provider_cloud.testing.dagtest import AirflowVariables, VariablesSnapshot

    snapshot = VariablesSnapshot()
    try:
        yield AirflowVariables()
    finally:
        snapshot.restore()


@pytest.fixture
def dag_runner(airflow_variables: AirflowVariables) -> Callable[..., DagTestResult]:
    """Return ``run_dag(path, dag_id=None, **test_kwargs)``; Variables a run commits are undone after the test."""
    from airflow_provider_cloud.testing.dagtest import run_dag

    return run_dag
