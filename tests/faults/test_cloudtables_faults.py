"""
A 2,000-row CloudTables import (CSV, ``ImportRowsOperator``) through the proxy's faults, against the emulator:
it ends equal to a fault-free run on its first try.

CloudTables writes one row a request, and an insert is not safe to repeat: a lost answer must be reconciled
(is the row with this key there, with these values?) before it is sent again or counted done. The emulator's
rate limit is raised to 400 requests a second and the hook paces itself at the same limit, so its pacing is
real (it waits) and a run takes seconds, not the hours of the service's 500 per 15 minutes. No seeded run
with stalled answers: at 2,000 requests that is some 70 read timeouts; one stalled insert is scripted.
Every run has :data:`WINDOW` rows in flight (the connection's ``window``, whatever the hook's default), so
lost answers are checked while other inserts are in flight, and the scripted tenth insert is the tenth to
reach the proxy, whichever row it is.
"""

from __future__ import annotations

import csv
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_cloud.hooks.cloudtables import CloudTablesHook
from airflow_provider_cloud.operators.rows import ImportRowsOperator
from airflow_provider_cloud.testing.cloudtables import CloudTablesEmulator
from airflow_provider_cloud.testing.proxy import Fault, FaultPlan, NetworkConditionsProxy, matching
from tests.faults.support import (
    LOST_VARIANTS,
    UNSEEN,
    core_extras,
    run_case,
    set_connection,
    suite_plan,
)

pytestmark = [pytest.mark.faults, pytest.mark.integration]

ROWS = 2_000
RATE_LIMIT, RATE_WINDOW = 400, 1.0
WINDOW = 8
CONN_ID = "cloudtables_faults"
COLUMNS = [("code", "text"), ("station", "text"), ("value", "number"), ("ok", "boolean")]


@pytest.fixture(scope="module")
def emulator() -> Iterator[CloudTablesEmulator]:
    with CloudTablesEmulator(rate_limit=RATE_LIMIT, rate_window=RATE_WINDOW) as ct:
        yield ct


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("faults") / "readings.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([name for name, _ in COLUMNS])
        for n in range(ROWS):
            writer.writerow([f"R{n:05d}", f"Station {n % 7}, north", n * 1.5, "true" if n % 3 else "false"])
    return path


def connect(
    monkeypatch: pytest.MonkeyPatch,
    ct: CloudTablesEmulator,
    proxy: NetworkConditionsProxy,
    lost: Fault | None = None,
) -> str:
    extra = {"clientId": "faults", "rate_limit": RATE_LIMIT, "rate_window": RATE_WINDOW, "window": WINDOW}
    extra |= core_extras(lost)
    connection = {"conn_type": "cloudtables", "host": proxy.url, "password": ct.api_key, "extra": extra}
    return set_connection(monkeypatch, CONN_ID, connection)


def import_rows(dataset: str, source: Path) -> dict[str, Any]:
    operator = ImportRowsOperator(
        task_id="import", conn_id=CONN_ID, dataset=dataset, source=str(source), key="code"
    )
    return operator.execute(context={})


def stored(ct: CloudTablesEmulator, dataset_id: str) -> list[tuple[Any, ...]]:
    """The data set's rows as values by data point name, in key order (row ids left out)."""
    points = [(name, ct.datapoint_id(dataset_id, name)) for name, _ in COLUMNS]
    rows = [tuple(row[point] for _, point in points) for row in ct.rows(dataset_id)]
    return sorted(rows)


def new_dataset(ct: CloudTablesEmulator, name: str) -> str:
    """A data set whose id follows from its name: the same requests, so the same faults, on every run."""
    return ct.add_dataset(name, COLUMNS, dataset_id=str(uuid.uuid5(uuid.NAMESPACE_URL, name)))


@pytest.fixture(scope="module")
def baseline(emulator: CloudTablesEmulator, source: Path) -> list[tuple[Any, ...]]:
    dataset_id = new_dataset(emulator, "Readings baseline")
    with pytest.MonkeyPatch.context() as monkeypatch, NetworkConditionsProxy(emulator.url) as proxy:
        connect(monkeypatch, emulator, proxy)
        run = run_case("cloudtables import", "baseline", proxy, lambda: import_rows(dataset_id, source))
    assert run.result["rows_written"] == ROWS
    rows = stored(emulator, dataset_id)
    assert len(rows) == ROWS
    assert len({row[0] for row in rows}) == ROWS
    return rows


@pytest.mark.parametrize(("lost", "seed"), LOST_VARIANTS)
def test_import_ends_equal_on_its_first_try(
    emulator, source, baseline, network_proxy, monkeypatch, lost: Fault, seed: int
) -> None:
    proxy = network_proxy(emulator.url, faults=suite_plan(lost), seed=seed)
    connect(monkeypatch, emulator, proxy, lost)
    assert CloudTablesHook(CONN_ID).window == WINDOW
    dataset_id = new_dataset(emulator, f"Readings {lost.value} {seed}")
    run = run_case(
        "cloudtables import", f"{lost.value}-seed{seed}", proxy, lambda: import_rows(dataset_id, source)
    )
    assert run.result["rows_written"] == ROWS
    assert stored(emulator, dataset_id) == baseline


@pytest.mark.parametrize("fault", UNSEEN)
def test_an_insert_whose_answer_never_comes_is_written_once(
    emulator, source, baseline, network_proxy, monkeypatch, fault: Fault
) -> None:
    """The tenth insert, hit on purpose: written and unheard (lost, stalled), or never sent (reset)."""
    proxy = network_proxy(emulator.url, faults=FaultPlan())
    inserts = matching("POST", r"/dataset/[^/]+$")
    proxy.script(*[None] * 9, fault, only=inserts)
    connect(monkeypatch, emulator, proxy, fault)
    dataset_id = new_dataset(emulator, f"Readings insert {fault.value}")
    run = run_case(
        "cloudtables import", f"insert-{fault.value}", proxy, lambda: import_rows(dataset_id, source)
    )
    assert run.result["rows_written"] == ROWS
    assert stored(emulator, dataset_id) == baseline
    assert proxy.pending_script == 0
