"""Parquet through the generic row operators on CloudTables (the emulator): the data set's types both ways."""

from __future__ import annotations

import datetime as dt
import decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_provider_cloud.operators.rows import ExportRowsOperator, ImportRowsOperator
from airflow_provider_cloud.testing.cloudtables import CloudTablesEmulator

pytestmark = pytest.mark.integration

COUNT = 40


@pytest.fixture
def readings(cloudtables_emulator: CloudTablesEmulator) -> str:
    return cloudtables_emulator.add_dataset(
        "Readings",
        [("code", "text"), ("value", "number"), ("ok", "boolean"), ("day", "date")],
    )


def test_parquet_into_cloudtables_and_back_out(cloudtables_conn_id, cloudtables_emulator, readings, tmp_path):
    source = tmp_path / "readings.parquet"
    pq.write_table(
        pa.table(
            {
                "code": [f"R{n:03d}" for n in range(COUNT)],
                "value": pa.array([decimal.Decimal(n) / 4 for n in range(COUNT)], pa.decimal128(8, 2)),
                "ok": [n % 3 != 0 for n in range(COUNT)],
                "day": pa.array(
                    [None if n % 10 == 0 else dt.date(2024, 1, 1 + n % 28) for n in range(COUNT)]
                ),
            }
        ),
        source,
    )

    imported = ImportRowsOperator(
        task_id="import", conn_id=cloudtables_conn_id, dataset="Readings", source=str(source), key="code"
    ).execute(context={})
    assert imported["rows_written"] == COUNT

    destination = tmp_path / "out.parquet"
    exported = ExportRowsOperator(
        task_id="export",
        conn_id=cloudtables_conn_id,
        dataset="Readings",
        destination=str(destination),
        columns=["code", "value", "ok", "day"],
        order_by="code",
    ).execute(context={})

    assert exported["rows"] == COUNT
    table = pq.read_table(destination)
    # number → float64 and boolean → bool by the data set's types; a date (no Parquet kind here) by its values
    assert table.schema == pa.schema(
        [("code", pa.string()), ("value", pa.float64()), ("ok", pa.bool_()), ("day", pa.string())]
    )
    assert table.to_pylist()[:3] == [
        {"code": "R000", "value": 0.0, "ok": False, "day": None},
        {"code": "R001", "value": 0.25, "ok": True, "day": "2024-01-02"},
        {"code": "R002", "value": 0.5, "ok": True, "day": "2024-01-03"},
    ]

    stored = cloudtables_emulator.rows(readings)
    again = ImportRowsOperator(
        task_id="again", conn_id=cloudtables_conn_id, dataset="Readings", source=str(destination), key="code"
    ).execute(context={})
    assert again["rows_written"] == COUNT
    assert cloudtables_emulator.rows(readings) == stored  # the exported file upserts to the same rows
    assert len(stored) == COUNT
