"""A 2,000-row CloudTables import whose insert answers are lost 3 % of the time ends equal on its first try."""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from airflow_provider_cloud.hooks.cloudtables import CloudTablesHook
from airflow_provider_cloud.hooks.core import hook as core_hook
from airflow_provider_cloud.operators.rows import ImportRowsOperator
from airflow_provider_cloud.testing.cloudtables import CloudTablesEmulator
from tests.integration.cloudtables.lossy import LossyAdapter

pytestmark = pytest.mark.integration

ROWS = 2000
COLUMNS = ["code", "station", "value", "day"]


def write_source(path: Path) -> list[dict[str, str]]:
    rows = [
        {
            "code": f"R{n:04d}",
            "station": f"S{n % 7}",
            "value": str(n % 50),
            "day": f"2024-01-{1 + n % 28:02d}",
        }
        for n in range(ROWS)
    ]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return rows


def lossy_sessions(monkeypatch: pytest.MonkeyPatch, adapter: LossyAdapter) -> None:
    """Give every hook the operator builds a session whose inserts go through ``adapter``."""
    plain = core_hook.new_session

    def new_session(*args: Any, **kwargs: Any) -> requests.Session:
        session = plain(*args, **kwargs)
        adapter.mount(session)
        return session

    monkeypatch.setattr(core_hook, "new_session", new_session)


@pytest.mark.parametrize("window", [1, 8])
@pytest.mark.parametrize(("seed", "mode", "key"), [(13, "upsert", "code"), (14, "insert", None)])
def test_an_import_under_lost_answers_ends_equal_on_its_first_try(
    monkeypatch,
    cloudtables_conn_id,
    cloudtables_emulator: CloudTablesEmulator,
    tmp_path,
    seed,
    mode,
    key,
    window,
):
    """With one row in flight the rows get their ids in the file's order; with eight, in the order they arrive."""
    monkeypatch.setattr(CloudTablesHook, "default_window", window)
    ct = cloudtables_emulator
    dataset = ct.add_dataset(
        "Readings", [("code", "text"), ("station", "text"), ("value", "number"), ("day", "date")]
    )
    source = write_source(tmp_path / "in.csv")
    adapter = LossyAdapter(ct, lose_rate=0.03, seed=seed)
    lossy_sessions(monkeypatch, adapter)
    started = time.monotonic()
    operator = ImportRowsOperator(
        task_id="import",
        conn_id=cloudtables_conn_id,
        dataset="Readings",
        source=str(tmp_path / "in.csv"),
        mode=mode,
        key=key,
    )
    summary = operator.execute(context={})  # the first try
    seconds = time.monotonic() - started
    assert summary["rows_written"] == ROWS
    assert adapter.lost >= 40  # 3 % of 2,000
    ids = {name: ct.datapoint_id(dataset, name) for name in COLUMNS}
    stored = [{name: row[ids[name]] for name in COLUMNS} for row in ct.rows(dataset)]
    if window > 1:
        stored.sort(key=lambda row: row["code"])
    assert stored == [{**row, "value": int(row["value"])} for row in source]
    counters = next(d for d in ct.datasets() if d["id"] == dataset)
    assert counters["insertCount"] == ROWS  # no row stored twice
    # one read before the first write, one more per lost answer
    assert counters["readCount"] == 1 + adapter.lost
    print(
        f"\n{mode} key={key} seed={seed} window={window}: {ROWS} rows, {adapter.lost} lost, {seconds:.1f} s"
    )
