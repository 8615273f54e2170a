"""Bad values name the source, line and column: caught before any write when they can be, else the service's field error."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_cloud.exceptions import BadRequestError, RowDataError
from airflow_provider_cloud.hooks.cloudtables.writer import RowWriter
from airflow_provider_cloud.hooks.cloudtables.writes import PreparedRow, WritePlan
from airflow_provider_cloud.rows import RowBlocks, RowOrigin
from tests.fake_transport import Reply
from tests.unit.hooks.cloudtables.fake_service import DATASET_ID, FakeDataset, fake_hook
from tests.unit.hooks.cloudtables.support import airports

SOURCE = "s3://bucket/in.csv"


def sourced(rows: list[dict[str, Any]]) -> RowBlocks[dict[str, Any]]:
    """Return rows that say where they come from, as the import's row blocks do (each row's line: its position)."""
    return RowBlocks([rows], source=SOURCE)


def rows_with(bad: dict[str, Any], at: int, count: int = 5) -> list[dict[str, Any]]:
    rows = [{"Code": f"R{n}", "Count": n} for n in range(1, count + 1)]
    rows[at - 1] = {**rows[at - 1], **bad}
    return rows


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ({"Count": "many"}, "'many' is not a number (the data point's type is 'number')"),
        ({"Count": "1e999"}, "'1e999' is not a finite number"),
        ({"Count": True}, "'true' is not a number"),
    ],
)
def test_a_bad_value_in_the_rows_read_ahead_fails_before_anything_is_written(monkeypatch, bad, reason):
    dataset = FakeDataset()
    hook, fake = fake_hook(monkeypatch, dataset)
    with pytest.raises(RowDataError) as caught:
        hook.write_rows(DATASET_ID, sourced(rows_with(bad, at=4)), key="Code")
    error = caught.value
    assert (error.source, error.line, error.column) == (SOURCE, 4, "Count")
    assert str(error).startswith(f"{SOURCE}, line 4, column 'Count': {reason}")
    assert "POST" not in fake.methods
    assert dataset.rows == []


def test_rows_without_a_source_are_named_rows(monkeypatch):
    hook, _ = fake_hook(monkeypatch, FakeDataset())
    with pytest.raises(RowDataError, match=r"^rows, line 2, column 'Count': 'x' is not a number"):
        hook.write_rows(DATASET_ID, rows_with({"Count": "x"}, at=2), key="Code")


def test_other_input_errors_name_the_source_too(monkeypatch):
    hook, _ = fake_hook(monkeypatch, FakeDataset())
    with pytest.raises(
        RowDataError, match=rf"^{SOURCE}, line 3, column 'Code': the row has no value for its key"
    ):
        hook.write_rows(DATASET_ID, sourced(rows_with({"Code": ""}, at=3)), key="Code")
    with pytest.raises(RowDataError, match=rf"^{SOURCE}, line 1, column 'Cnt': data set 'Codes' has no such"):
        hook.write_rows(DATASET_ID, sourced(rows_with({"Cnt": 1}, at=1)), key="Code")


def test_a_bad_value_beyond_the_window_read_ahead_fails_before_its_own_write():
    plan = WritePlan(airports(), "insert", None, origin=RowOrigin(SOURCE))
    sent: list[PreparedRow] = []

    def insert(row: PreparedRow) -> dict[str, Any]:
        sent.append(row)
        return {"id": row.line, **row.fields}

    rows = [{"Name": f"N{n}", "Runways": n} for n in range(6)]
    rows[4]["Runways"] = "four"
    ahead = plan.read_ahead(rows, limit=2)
    writer = RowWriter(plan, {}, insert=insert, update=lambda row_id, fields: {})
    rows_ahead = ahead.rows()
    for row in rows_ahead:
        if row.line == 4:
            break
        writer.write(row)
    writer.write(row)  # line 4
    with pytest.raises(RowDataError, match=rf"^{SOURCE}, line 5, column 'Runways': 'four' is not a number"):
        next(rows_ahead)
    assert [row.line for row in sent] == [1, 2, 3, 4]


FIELD_ERROR = {
    "error": "Validation failed",
    "fieldErrors": [{"name": "dp-2", "status": "Value is too large"}],
}


@pytest.mark.parametrize("answer", [Reply(400, json=FIELD_ERROR), Reply(200, json=FIELD_ERROR)])
def test_a_field_error_of_the_service_names_the_source_line_and_column(monkeypatch, answer):
    dataset = FakeDataset(refuse={3: answer})
    hook, _ = fake_hook(monkeypatch, dataset)
    with pytest.raises(RowDataError) as caught:
        hook.write_rows(DATASET_ID, sourced(rows_with({}, at=1)), key="Code")
    error = caught.value
    assert (error.source, error.line, error.column) == (SOURCE, 3, "Count")
    assert (
        str(error) == f"{SOURCE}, line 3, column 'Count': CloudTables refused the value: Value is too large"
    )
    assert isinstance(error.__cause__, BadRequestError)
    assert [row["dp-1"] for row in dataset.rows] == ["R1", "R2"]  # the service's own rule: not known before


def test_a_field_error_of_an_update_names_the_line_too(monkeypatch):
    dataset = FakeDataset([{"dp-1": "R1", "dp-2": "0"}])
    hook, fake = fake_hook(monkeypatch, dataset)
    fields = {"error": "Validation failed", "fieldErrors": [{"name": "dp-2", "status": "No"}]}
    fake.handler = _refusing_puts(dataset.handler, Reply(400, json=fields))
    with pytest.raises(
        RowDataError, match=rf"^{SOURCE}, line 1, column 'Count': CloudTables refused the value: No"
    ):
        hook.write_rows(DATASET_ID, sourced(rows_with({}, at=1, count=1)), key="Code")


def test_a_refusal_that_names_no_field_stays_the_services_error(monkeypatch):
    hook, _ = fake_hook(monkeypatch, FakeDataset(refuse={1: Reply(400, json={"error": "Bad request"})}))
    with pytest.raises(BadRequestError, match="Bad request"):
        hook.write_rows(DATASET_ID, sourced(rows_with({}, at=1)), key="Code")


def _refusing_puts(handler: Any, reply: Reply) -> Any:
    def answer(request: Any) -> Any:
        return reply if request.method == "PUT" else handler(request)

    return answer
