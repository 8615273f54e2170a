"""
Against a real Datasette 1.0a41: answers lost after the server acted (or before), checked and counted done or
sent again; a failed import leaves no empty table; bad rows are refused before their batch is sent.
"""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_cloud.exceptions import BadRequestError, ConflictError, RowDataError
from airflow_provider_cloud.hooks.datasette import DatasetteHook
from airflow_provider_cloud.rows.batching import RowBlocks
from airflow_provider_cloud.testing.datasette import DatasetteServer
from tests.integration.datasette.support import losing, record_responses, stored, table_in_file

pytestmark = pytest.mark.integration


def test_a_create_whose_answer_was_lost_counts_as_done(
    hook: DatasetteHook, datasette_server: DatasetteServer, fresh_table_name: str
) -> None:
    lossy = losing(hook)
    lossy.lose("POST", "/-/create")

    answer = hook.create_table(fresh_table_name, {"id": "integer", "name": "text"}, pk="id")

    assert lossy.lost == [("POST", "/-/create", "after")]
    assert answer["table"] == fresh_table_name
    assert table_in_file(datasette_server, fresh_table_name)
    assert (hook.counts.reconciled, hook.counts.resent) == (1, 0)


def test_an_import_through_lost_answers_ends_equal_on_its_first_try(
    hook: DatasetteHook, datasette_server: DatasetteServer, fresh_table_name: str
) -> None:
    # as stored: booleans 0/1, integers in a float column, numbers in a text column, None
    rows = [
        {"id": i, "flag": i % 3 == 0, "score": i if i % 2 else i / 8, "note": i * 7 if i % 5 else None}
        for i in range(1, 351)
    ]
    rows[0]["note"] = "text first: the column is text"
    lossy = losing(hook)
    lossy.lose("POST", "/-/create")
    lossy.lose("POST", "/-/insert")  # the first batch: stored, its answer lost
    lossy.lose("POST", "/-/insert", "before")  # the second: lost on the way, sent again
    seen = record_responses(hook)

    result = hook.write_rows(fresh_table_name, rows, mode="insert", key="id", create=True)

    assert (result.rows, result.created) == (350, True)
    assert len(lossy.lost) == 3
    assert (hook.counts.reconciled, hook.counts.resent) == (2, 1)
    got = stored(datasette_server, fresh_table_name)
    assert [row["id"] for row in got] == list(range(1, 351))
    assert got[2]["flag"] == 1
    assert got[5]["note"] == "42"
    checks = [
        path for method, path, _ in seen if method == "GET" and path.endswith(f"{fresh_table_name}.json")
    ]
    assert len(checks) == 2  # one page of keys for each lost batch of 100


def test_a_compound_key_is_checked_row_by_row(
    hook: DatasetteHook, datasette_server: DatasetteServer, fresh_table_name: str
) -> None:
    hook.create_table(fresh_table_name, {"a": "text", "b": "integer", "v": "float"}, pk=["a", "b"])
    rows = [{"a": f"k {i}/x", "b": i, "v": i / 3} for i in range(1, 6)]
    lossy = losing(hook)
    lossy.lose("POST", "/-/insert")

    assert hook.write_rows(fresh_table_name, rows, mode="insert").rows == 5

    assert hook.counts.reconciled == 1
    assert stored(datasette_server, fresh_table_name, order="b") == rows


def test_another_writers_rows_under_the_same_keys_are_a_conflict(
    hook: DatasetteHook, datasette_server: DatasetteServer, fresh_table_name: str
) -> None:
    hook.create_table(fresh_table_name, {"id": "integer", "name": "text"}, pk="id")
    hook.write_rows(fresh_table_name, [{"id": 2, "name": "theirs"}], mode="insert")
    lossy = losing(hook)
    lossy.lose("POST", "/-/insert", "before")

    with pytest.raises(ConflictError, match="1 of its 3 rows are in the table"):
        hook.write_rows(fresh_table_name, [{"id": i, "name": "ours"} for i in (1, 2, 3)], mode="insert")

    assert stored(datasette_server, fresh_table_name) == [{"id": 2, "name": "theirs"}]


def test_a_failed_import_leaves_no_empty_table_it_created(
    hook: DatasetteHook, datasette_server: DatasetteServer, fresh_table_name: str
) -> None:
    rows = [{"id": 1, "name": "a"}, {"id": 1, "name": "again"}]

    with pytest.raises(BadRequestError, match="UNIQUE"):
        hook.write_rows(fresh_table_name, rows, mode="insert", key="id", create=True)

    assert not table_in_file(datasette_server, fresh_table_name)


@pytest.mark.parametrize(
    ("bad", "reason"),
    [(float("nan"), "JSON has no NaN"), (float("inf"), "JSON has no NaN"), (2**64, "64-bit range")],
)
def test_a_bad_value_is_named_by_source_line_and_column_and_nothing_of_its_batch_is_written(
    hook: DatasetteHook, datasette_server: DatasetteServer, fresh_table_name: str, bad: Any, reason: str
) -> None:
    rows: list[dict[str, Any]] = [{"id": i, "v": float(i)} for i in range(1, 181)]
    rows[149]["v"] = bad
    blocks = RowBlocks([rows[:90], rows[90:]], source="file:///data/in.jsonl")

    with pytest.raises(RowDataError, match=reason) as caught:
        hook.write_rows(fresh_table_name, blocks, key="id", create=True)

    assert str(caught.value).startswith("file:///data/in.jsonl, line 150, column 'v': ")
    assert [row["id"] for row in stored(datasette_server, fresh_table_name)] == list(range(1, 101))
