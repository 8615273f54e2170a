"""
A 20,000-row Datasette import (CSV, ``ImportRowsOperator``) and export (``ExportRowsOperator``) through the
proxy's faults: each ends equal to a fault-free run on its first try.

The import creates its table (``create=True``): its one request that is not safe to repeat is the table's
creation; every batch after it is an upsert by key. The export only reads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from airflow_provider_cloud.operators.rows import ExportRowsOperator, ImportRowsOperator
from airflow_provider_cloud.testing.datasette import DatasetteServer
from airflow_provider_cloud.testing.proxy import Fault, FaultPlan, NetworkConditionsProxy, matching
from tests.faults.support import (
    UNSEEN,
    VARIANTS,
    core_extras,
    run_case,
    set_connection,
    suite_plan,
)
from tests.integration.operators.rows_support import (
    as_stored,
    assert_same_rows,
    create_table,
    people_rows,
    table_rows,
    write_csv,
)

pytestmark = [pytest.mark.faults, pytest.mark.integration]

ROWS = 20_000
CONN_ID = "datasette_faults"


@pytest.fixture(scope="module")
def server(datasette_server_factory: Any) -> DatasetteServer:
    """A server of its own (default settings: 100 rows a write, so 200 writes an import)."""
    return datasette_server_factory()


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_csv(tmp_path_factory.mktemp("faults") / "people.csv", people_rows(ROWS))


@pytest.fixture(scope="module")
def expected() -> list[dict[str, Any]]:
    return as_stored(people_rows(ROWS))


@pytest.fixture(scope="module")
def export_table(server: DatasetteServer, expected: list[dict[str, Any]]) -> str:
    """The export's table, written straight into the database file (not through the code under test)."""
    create_table(server, "faults_export", expected)
    return "faults_export"


def connect(
    monkeypatch: pytest.MonkeyPatch,
    server: DatasetteServer,
    proxy: NetworkConditionsProxy,
    lost: Fault | None = None,
) -> str:
    """Point connection :data:`CONN_ID` at the proxy in front of ``server``."""
    extra = {"database": server.database, **core_extras(lost)}
    return set_connection(
        monkeypatch, CONN_ID, {**server.connection_dict(), "host": proxy.url, "extra": extra}
    )


def import_rows(table: str, source: Path) -> dict[str, Any]:
    operator = ImportRowsOperator(
        task_id="import", conn_id=CONN_ID, dataset=table, source=str(source), key="id", create=True
    )
    return operator.execute(context={})


def export_rows(table: str, destination: Path) -> dict[str, Any]:
    operator = ExportRowsOperator(
        task_id="export", conn_id=CONN_ID, dataset=table, destination=str(destination)
    )
    return operator.execute(context={})


@pytest.fixture(scope="module")
def import_baseline(
    server: DatasetteServer, source: Path, expected: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The table a fault-free import through the proxy makes (checked against the source)."""
    with pytest.MonkeyPatch.context() as monkeypatch, NetworkConditionsProxy(server.url) as proxy:
        connect(monkeypatch, server, proxy)
        run_case("datasette import", "baseline", proxy, lambda: import_rows("faults_import_base", source))
    rows = table_rows(server, "faults_import_base")
    assert_same_rows(rows, expected)
    return rows


@pytest.fixture(scope="module")
def export_baseline(
    server: DatasetteServer, export_table: str, tmp_path_factory: pytest.TempPathFactory
) -> bytes:
    """The file a fault-free export through the proxy writes."""
    destination = tmp_path_factory.mktemp("faults") / "baseline.csv"
    with pytest.MonkeyPatch.context() as monkeypatch, NetworkConditionsProxy(server.url) as proxy:
        connect(monkeypatch, server, proxy)
        run = run_case("datasette export", "baseline", proxy, lambda: export_rows(export_table, destination))
    assert run.result["rows"] == ROWS
    return destination.read_bytes()


@pytest.mark.parametrize(("lost", "seed"), VARIANTS)
def test_import_ends_equal_on_its_first_try(
    server, source, import_baseline, network_proxy, monkeypatch, lost: Fault, seed: int
) -> None:
    proxy = network_proxy(server.url, faults=suite_plan(lost), seed=seed)
    connect(monkeypatch, server, proxy, lost)
    table = f"faults_import_{lost.value}_{seed}"
    run = run_case("datasette import", f"{lost.value}-seed{seed}", proxy, lambda: import_rows(table, source))
    assert (run.result["rows_read"], run.result["rows_written"]) == (ROWS, ROWS)
    assert_same_rows(table_rows(server, table), import_baseline)
    assert run.proxy.total_faulted > 0


@pytest.mark.parametrize("fault", UNSEEN)
def test_import_whose_table_creation_fails_unseen_ends_equal(
    server, source, import_baseline, network_proxy, monkeypatch, fault: Fault
) -> None:
    """The one write not safe to repeat, hit on purpose: made and unheard (lost, stalled), or never sent (reset)."""
    proxy = network_proxy(server.url, faults=FaultPlan())
    proxy.script(fault, only=matching("POST", r"/-/create$"))
    connect(monkeypatch, server, proxy, fault)
    table = f"faults_import_create_{fault.value}"
    run = run_case("datasette import", f"create-{fault.value}", proxy, lambda: import_rows(table, source))
    assert run.result["rows_written"] == ROWS
    assert_same_rows(table_rows(server, table), import_baseline)
    assert proxy.pending_script == 0


@pytest.mark.parametrize(("lost", "seed"), VARIANTS)
def test_export_ends_equal_on_its_first_try(
    server, export_table, export_baseline, network_proxy, monkeypatch, tmp_path, lost: Fault, seed: int
) -> None:
    proxy = network_proxy(server.url, faults=suite_plan(lost), seed=seed)
    connect(monkeypatch, server, proxy, lost)
    destination = tmp_path / "export.csv"
    run = run_case(
        "datasette export", f"{lost.value}-seed{seed}", proxy, lambda: export_rows(export_table, destination)
    )
    assert run.result["rows"] == ROWS
    assert destination.read_bytes() == export_baseline
    assert run.proxy.seen >= ROWS // 1000  # every page came through the proxy (next_url points back to it)
    assert run.proxy.total_faulted > 0
