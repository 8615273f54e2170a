"""The generic row operators on CloudTables (through the emulator): import, export, upsert, clean-up."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowException

from airflow_provider_cloud.exceptions import RowDataError
from airflow_provider_cloud.hooks.cloudtables import CloudTablesHook
from airflow_provider_cloud.hooks.rowstore import get_rowstore_hook
from airflow_provider_cloud.operators.rows import CleanupRowsOperator, ExportRowsOperator, ImportRowsOperator
from airflow_provider_cloud.testing.cloudtables import CloudTablesEmulator

pytestmark = pytest.mark.integration

COLUMNS = ["code", "station", "value", "ok", "day"]
ROWS = 1000


@pytest.fixture
def readings(cloudtables_emulator: CloudTablesEmulator) -> str:
    return cloudtables_emulator.add_dataset(
        "Readings",
        [("code", "text"), ("station", "text"), ("value", "number"), ("ok", "boolean"), ("day", "date")],
    )


def source_rows(count: int = ROWS) -> list[dict[str, str]]:
    """Rows as CSV text, written the way they read back: whole numbers without ``.0``, quotes and commas."""
    return [
        {
            "code": f"R{n:04d}",
            "station": f'Station {n % 7}, "north"' if n % 3 == 0 else f"Station {n % 7}",
            "value": str(n) if n % 2 else f"{n}.25",
            "ok": "true" if n % 5 else "false",
            "day": "" if n % 10 == 0 else f"2024-{1 + n % 12:02d}-{1 + n % 28:02d}",
        }
        for n in range(count)
    ]


def write_csv(path: Path, rows: list[dict[str, Any]], columns: list[str] = COLUMNS) -> str:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return str(path)


def read_csv(path: Path | str) -> list[dict[str, str]]:
    with Path(path).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def counters(ct: CloudTablesEmulator, dataset_id: str) -> dict[str, Any]:
    return next(d for d in ct.datasets() if d["id"] == dataset_id)


def import_rows(conn_id: str, source: str, **kwargs: Any) -> dict[str, Any]:
    operator = ImportRowsOperator(
        task_id="import", conn_id=conn_id, dataset="Readings", source=source, key="code", **kwargs
    )
    return operator.execute(context={})


def export_rows(conn_id: str, destination: Path, **kwargs: Any) -> dict[str, Any]:
    operator = ExportRowsOperator(
        task_id="export", conn_id=conn_id, dataset="Readings", destination=str(destination), **kwargs
    )
    return operator.execute(context={})


def test_the_row_operators_find_the_cloudtables_hook(cloudtables_conn_id):
    assert isinstance(get_rowstore_hook(cloudtables_conn_id), CloudTablesHook)


def test_import_export_and_clean_up_a_thousand_rows(
    cloudtables_conn_id, cloudtables_emulator, readings, tmp_path
):
    source = source_rows()
    summary = import_rows(cloudtables_conn_id, write_csv(tmp_path / "in.csv", source))
    assert (summary["rows_read"], summary["rows_written"], summary["rows_rejected"]) == (ROWS, ROWS, 0)
    assert counters(cloudtables_emulator, readings)["rowCount"] == ROWS

    # rows in flight side by side get their ids as they arrive, not in the file's order: export by code
    exported = export_rows(cloudtables_conn_id, tmp_path / "out.csv", columns=COLUMNS, order_by="code")
    assert exported["rows"] == ROWS
    assert read_csv(exported["path"].removeprefix("file://")) == source

    where = {"value__lt": 500}
    matching = [row for row in source if float(row["value"]) < 500]
    dry = CleanupRowsOperator(
        task_id="dry", conn_id=cloudtables_conn_id, dataset="Readings", where=where, dry_run=True
    )
    assert dry.execute(context={}) == len(matching)
    guarded = CleanupRowsOperator(
        task_id="guarded", conn_id=cloudtables_conn_id, dataset="Readings", where=where, max_rows=10
    )
    with pytest.raises(AirflowException, match="more than max_rows=10"):
        guarded.execute(context={})
    assert counters(cloudtables_emulator, readings)["rowCount"] == ROWS
    cleanup = CleanupRowsOperator(
        task_id="cleanup", conn_id=cloudtables_conn_id, dataset="Readings", where=where, max_rows=None
    )
    assert cleanup.execute(context={}) == len(matching)

    left = export_rows(cloudtables_conn_id, tmp_path / "left.jsonl", columns=COLUMNS, order_by="-value")
    assert left["rows"] == ROWS - len(matching)
    assert counters(cloudtables_emulator, readings)["deleteCount"] == len(matching)
    again = read_csv(
        export_rows(cloudtables_conn_id, tmp_path / "left.csv", columns=COLUMNS, order_by="code")[
            "path"
        ].removeprefix("file://")
    )
    assert again == [row for row in source if float(row["value"]) >= 500]


def test_upsert_run_twice_changes_nothing(cloudtables_conn_id, cloudtables_emulator, readings, tmp_path):
    path = write_csv(tmp_path / "in.csv", source_rows(200))
    first = import_rows(cloudtables_conn_id, path)
    before = counters(cloudtables_emulator, readings)
    second = import_rows(cloudtables_conn_id, path)
    after = counters(cloudtables_emulator, readings)
    assert first["rows_written"] == second["rows_written"] == 200
    assert after["rowCount"] == before["rowCount"] == 200
    assert (after["insertCount"], after["updateCount"]) == (200, 0)
    assert {row["dv"] for row in cloudtables_emulator.rows(readings)} == {0}

    changed = source_rows(200)
    for row in changed[:10]:
        row["value"] = "12345"
    import_rows(cloudtables_conn_id, write_csv(tmp_path / "changed.csv", changed))
    final = counters(cloudtables_emulator, readings)
    assert (final["rowCount"], final["updateCount"]) == (200, 10)
    value_id = cloudtables_emulator.datapoint_id(readings, "value")
    code_id = cloudtables_emulator.datapoint_id(readings, "code")
    versions = {row[code_id]: (row["dv"], row[value_id]) for row in cloudtables_emulator.rows(readings)}
    assert [versions[f"R{n:04d}"] for n in range(11)] == [(1, 12345)] * 10 + [(0, 10.25)]


def test_export_is_incremental_by_cursor(cloudtables_conn_id, readings, tmp_path):
    import_rows(cloudtables_conn_id, write_csv(tmp_path / "in.csv", source_rows(30)))
    first = export_rows(cloudtables_conn_id, tmp_path / "a.csv", cursor_column="code", since="R0019")
    assert first["rows"] == 10
    assert first["cursor"] == "R0029"
    assert [row["code"] for row in read_csv(first["path"].removeprefix("file://"))][:2] == ["R0020", "R0021"]


def test_unknown_columns_are_rejected_before_anything_is_written(
    cloudtables_conn_id, cloudtables_emulator, readings, tmp_path
):
    rows = [{**row, "colour": "red"} for row in source_rows(3)]
    path = write_csv(tmp_path / "bad.csv", rows, [*COLUMNS, "colour"])
    with pytest.raises(RowDataError, match="line 2, column 'colour': unknown column"):
        import_rows(cloudtables_conn_id, path)
    assert cloudtables_emulator.rows(readings) == []
