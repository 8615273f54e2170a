"""CloudTables writes with fake row calls: what each mode sends, counts, conflicts, deletions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from airflow_provider_cloud.exceptions import ConflictError, NotFoundError, RowDataError
from airflow_provider_cloud.hooks.cloudtables.writer import RowWriter, delete_each
from airflow_provider_cloud.hooks.cloudtables.writes import PreparedRow, WritePlan, cannot_create
from tests.unit.hooks.cloudtables.support import airports

STORED = [
    {"id": 1, "dv": 0, "dp-1": "Edinburgh", "dp-2": 1},
    {"id": 2, "dv": 0, "dp-1": "Aberdeen", "dp-2": 2},
    {"id": 3, "dv": 0, "dp-1": "Aberdeen", "dp-2": 9},  # repeats a key: the first row wins
]


class Calls:
    """Records the inserts and updates a writer sends, answering as the API does."""

    def __init__(self) -> None:
        self.sent: list[tuple[Any, ...]] = []
        self.reads = 0

    def rows(self) -> list[dict[str, Any]]:
        self.reads += 1
        return [dict(row) for row in STORED]

    def insert(self, row: PreparedRow) -> dict[str, Any]:
        self.sent.append(("insert", dict(row.fields)))
        return {"id": 100 + len(self.sent), "dv": 0, **row.fields}

    def update(self, row_id: int, fields: Mapping[str, Any]) -> dict[str, Any]:
        self.sent.append(("update", row_id, dict(fields)))
        return {"id": row_id, "dv": 1, **fields}


class Progress:
    def __init__(self) -> None:
        self.done = 0
        self.finished = False

    def update(self, count: int) -> None:
        self.done += count

    def finish(self) -> None:
        self.finished = True


def write(mode: str, rows: list[dict[str, Any]], key: str | None = "Name") -> tuple[Calls, Any, Progress]:
    plan = WritePlan(airports(), mode, key)
    calls, progress = Calls(), Progress()
    ahead = plan.read_ahead(rows)
    existing, duplicates = plan.stored_by_key(ahead.first, calls.rows)
    assert duplicates == (1 if key == "Name" and rows else 0)
    writer = RowWriter(plan, existing, insert=calls.insert, update=calls.update)
    return calls, writer.write_all(ahead.rows(), progress), progress  # type: ignore[arg-type]


def test_upsert_sends_only_the_columns_that_differ_and_keeps_the_key_map_current():
    rows = [
        {"Name": "Edinburgh", "Runways": 1.0},  # as stored: 1.0 and 1 are one value
        {"Name": "Aberdeen", "Runways": 3},
        {"Name": "Perth", "Runways": 1},
        {"Name": "Perth", "Runways": 2},  # the row inserted just before
    ]
    calls, result, progress = write("upsert", rows)
    assert calls.sent == [
        ("update", 2, {"dp-2": 3}),
        ("insert", {"dp-1": "Perth", "dp-2": 1}),
        ("update", 102, {"dp-2": 2}),
    ]
    assert result.as_dict() == {
        "rows": 4,
        "requests": 3,
        "created": False,
        "inserted": 1,
        "updated": 2,
        "unchanged": 1,
        "ignored": 0,
    }
    assert (progress.done, progress.finished) == (4, True)


def test_a_number_key_matches_what_the_service_stored_whatever_its_spelling():
    rows = [
        {"Name": "Dundee", "Runways": "2.0"},
        {"Name": "Perth", "Runways": " 9 "},
        {"Name": "Oban", "Runways": 4},
    ]
    calls, result, _ = write("upsert", rows, key="Runways")
    assert calls.sent == [
        ("update", 2, {"dp-1": "Dundee"}),
        ("update", 3, {"dp-1": "Perth"}),
        ("insert", {"dp-1": "Oban", "dp-2": 4}),
    ]
    assert (result.updated, result.inserted) == (2, 1)


def test_replace_clears_what_the_row_lacks_and_ignore_leaves_rows_alone():
    calls, _, _ = write("replace", [{"Name": "Edinburgh"}])
    assert calls.sent == [("update", 1, {"dp-2": None})]
    calls, result, _ = write("ignore", [{"Name": "Edinburgh", "Runways": 5}, {"Name": "Oban"}])
    assert calls.sent == [("insert", {"dp-1": "Oban"})]
    assert (result.inserted, result.ignored) == (1, 1)


def test_insert_conflicts_raise_before_any_write():
    plan = WritePlan(airports(), "insert", "Name")
    calls = Calls()
    ahead = plan.read_ahead([{"Name": "Perth"}, {"Name": "Aberdeen"}])
    with pytest.raises(ConflictError, match="line 2 of the rows"):
        plan.stored_by_key(ahead.first, calls.rows)
    assert calls.sent == []


def test_nothing_is_read_without_a_key_or_rows_and_bad_rows_fail_before_writes():
    calls, result, _ = write("insert", [{"Name": "A"}, {"Name": "A"}], key=None)
    assert (calls.reads, result.inserted) == (0, 2)
    calls, result, _ = write("upsert", [])
    assert (calls.reads, result.rows) == (0, 0)
    plan = WritePlan(airports(), "upsert", "Name")
    with pytest.raises(RowDataError, match="no value for its key"):
        plan.read_ahead([{"Name": "ok"}, {"Runways": 1}])
    with pytest.raises(ValueError, match="needs key"):
        WritePlan(airports(), "upsert", None)


def test_read_ahead_knows_the_total_only_when_it_saw_the_end():
    plan = WritePlan(airports(), "insert", None)
    assert plan.read_ahead([{"Name": "a"}] * 3, limit=3).total == 3
    more = plan.read_ahead([{"Name": str(n)} for n in range(5)], limit=3)
    assert more.total is None
    assert [row.line for row in more.rows()] == [1, 2, 3, 4, 5]


def test_deletions_count_what_was_deleted_and_report_rows_already_gone():
    gone: list[Any] = []

    def delete(row_id: int) -> None:
        if row_id == 2:
            raise NotFoundError("gone", service="CloudTables", status_code=404)

    progress = Progress()
    assert delete_each(["1", 2, 3], delete, progress, gone=gone.append) == 2  # type: ignore[arg-type]
    assert gone == [2]
    assert (progress.done, progress.finished) == (3, True)


def test_a_missing_data_set_cannot_be_created():
    error = cannot_create("Ships", NotFoundError("no", service="CloudTables", status_code=404, errors=["x"]))
    assert "cannot create data sets" in error.message
    assert (error.status_code, error.errors) == (404, ["x"])
