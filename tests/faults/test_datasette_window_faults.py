"""
A 100,000-row Datasette import and its export through the proxy's faults with the window open (several batches
and pages in flight at once): the table ends equal to the source (count, distinct keys and a checksum over every
column), and the exported file equals the table, on each seed's first try.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_cloud.hooks.datasette import DatasetteHook
from airflow_provider_cloud.operators.rows import ExportRowsOperator, ImportRowsOperator
from airflow_provider_cloud.testing.datasette import DatasetteServer
from airflow_provider_cloud.testing.proxy import Fault, NetworkConditionsProxy
from tests.faults.support import LOST_VARIANTS, core_extras, hooks_made, run_case, set_connection, suite_plan
from tests.integration.operators.rows_support import COLUMNS, as_stored, people_rows, write_csv

pytestmark = [pytest.mark.faults, pytest.mark.integration]

ROWS = 100_000
CONN_ID = "datasette_window_faults"


def checksum(rows: Iterable[Mapping[str, Any]]) -> tuple[int, str]:
    """Return the row count and a sha256 over every column of every row, in the order given."""
    digest, count = hashlib.sha256(), 0
    for row in rows:
        digest.update(json.dumps([row.get(c) for c in COLUMNS]).encode() + b"\n")
        count += 1
    return count, digest.hexdigest()


def table_figures(server: DatasetteServer, table: str) -> tuple[int, int, tuple[int, str]]:
    """The table's row count and distinct keys (in SQL), and the checksum of its rows in key order."""
    (counted,) = server.sql(f'select count(*) as n, count(distinct id) as k from "{table}"')
    rows = server.sql(f'select {", ".join(COLUMNS)} from "{table}" order by id')
    return counted["n"], counted["k"], checksum(rows)


@pytest.fixture(scope="module")
def server(datasette_server_factory: Any) -> DatasetteServer:
    return datasette_server_factory()


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_csv(tmp_path_factory.mktemp("window_faults") / "people.csv", people_rows(ROWS, seed=14))


@pytest.fixture(scope="module")
def source_figures() -> tuple[int, str]:
    return checksum(sorted(as_stored(people_rows(ROWS, seed=14)), key=lambda row: row["id"]))


def connect(monkeypatch: pytest.MonkeyPatch, server: DatasetteServer, proxy: NetworkConditionsProxy) -> str:
    extra = {"database": server.database, **core_extras(Fault.LOST)}  # the window: the hook's default
    return set_connection(
        monkeypatch, CONN_ID, {**server.connection_dict(), "host": proxy.url, "extra": extra}
    )


def import_and_export(table: str, destination: Path) -> tuple[dict[str, Any], dict[str, Any], list[int]]:
    with hooks_made() as hooks:
        imported = ImportRowsOperator(
            task_id="import",
            conn_id=CONN_ID,
            dataset=table,
            source=str(destination.parent / "people.csv"),
            key="id",
            create=True,
        ).execute(context={})
        exported = ExportRowsOperator(
            task_id="export", conn_id=CONN_ID, dataset=table, destination=str(destination)
        ).execute(context={})
    return imported, exported, [hook.window for hook in hooks if isinstance(hook, DatasetteHook)]


@pytest.mark.parametrize(("lost", "seed"), LOST_VARIANTS)
def test_a_large_import_and_export_with_the_window_open_end_equal(
    server, source, source_figures, network_proxy, monkeypatch, tmp_path, lost: Fault, seed: int
) -> None:
    proxy = network_proxy(server.url, faults=suite_plan(lost), seed=seed)
    connect(monkeypatch, server, proxy)
    (tmp_path / "people.csv").symlink_to(source)
    table, destination = f"window_faults_{seed}", tmp_path / "export.jsonl"

    run = run_case(
        "datasette 100k window",
        f"{lost.value}-seed{seed}",
        proxy,
        lambda: import_and_export(table, destination),
    )

    imported, exported, windows = run.result
    assert windows
    assert all(window > 1 for window in windows)  # several requests in flight
    assert (imported["rows_read"], imported["rows_written"], exported["rows"]) == (ROWS, ROWS, ROWS)
    count, keys, figures = table_figures(server, table)
    assert (count, keys) == (ROWS, ROWS)  # no duplicates, none missing
    assert figures == source_figures  # every column of every row
    with destination.open(encoding="utf-8") as exported_file:
        assert checksum(json.loads(line) for line in exported_file) == figures  # the file equals the table
    assert run.proxy.total_faulted > 0
    assert run.hooks["retries"] > 0
