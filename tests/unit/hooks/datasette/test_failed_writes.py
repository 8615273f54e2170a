"""
What a failed ``write_rows`` leaves: no empty table it created, and no request for a batch with a bad row,
whose error names the source, the row and the column.
"""

from __future__ import annotations

import pytest

from airflow_provider_cloud.exceptions import ApiConnectionError, BadRequestError, RowDataError
from airflow_provider_cloud.hooks.datasette import DatasetteHook
from airflow_provider_cloud.rows.batching import RowBlocks
from tests.unit.hooks.datasette.fake_server import FakeDatasette

SOURCE = "s3://bucket/in/people.jsonl"


@pytest.fixture
def hook(served_hook: DatasetteHook) -> DatasetteHook:
    return served_hook


def people(count: int) -> list[dict[str, object]]:
    return [{"id": i, "name": f"n{i}", "score": i / 4} for i in range(1, count + 1)]


def in_blocks(rows: list[dict[str, object]], size: int = 64) -> RowBlocks[dict[str, object]]:
    return RowBlocks([rows[i : i + size] for i in range(0, len(rows), size)], source=SOURCE)


def inserted(server: FakeDatasette) -> list[str]:
    return [path for path in server.posts() if path.endswith(("/-/insert", "/-/upsert"))]


# -- a failed import leaves no empty table it created ---------------------------------------------------------


def test_a_table_created_by_a_write_whose_first_batch_is_refused_is_dropped(hook, server, logged):
    rows = [{"id": 1, "name": "a"}, {"id": 1, "name": "b"}]  # the same key twice: the insert is refused

    with pytest.raises(BadRequestError, match="UNIQUE constraint failed") as caught:
        hook.write_rows("t", rows, mode="insert", key="id", create=True)

    assert "none of that batch was written" in str(caught.value)  # the original error
    assert not server.exists("t")
    assert server.posts() == ["/data/-/create", "/data/t/-/insert", "/data/t/-/drop"]
    assert (
        "warning",
        "The write failed before storing any row: dropped table t, which it created",
    ) in logged()
    assert not hook.table_exists("t")  # the hook's facts were forgotten


def test_a_table_that_was_there_before_is_never_dropped(hook, server):
    server.execute("create table t (id integer primary key, name text)")

    with pytest.raises(BadRequestError):
        hook.write_rows("t", [{"id": 1, "name": "a"}, {"id": 1, "name": "b"}], mode="insert")

    assert server.exists("t")
    assert "/data/t/-/drop" not in server.posts()


def test_a_created_table_is_kept_once_a_batch_was_stored(hook, server):
    server.max_insert_rows = 2
    rows = [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}, {"id": 3, "name": "c"}, {"id": 3, "name": "d"}]

    with pytest.raises(BadRequestError):
        hook.write_rows("t", rows, mode="insert", key="id", create=True)

    assert server.table("t") == rows[:2]
    assert "/data/t/-/drop" not in server.posts()


def test_a_created_table_is_kept_when_a_batch_in_doubt_was_stored_after_all(hook, server, logged):
    server.lose("POST", "/t/-/insert")  # a rowid table: the lost insert cannot be checked, and it was stored

    with pytest.raises(ApiConnectionError, match="no primary key"):
        hook.write_rows("t", [{"name": "a"}], mode="insert", create=True)

    assert server.table("t") == [{"name": "a"}]  # counted before dropping: one row, kept
    assert ("warning", "The write failed; table t, which it created, holds 1 rows: kept") in logged()


# -- bad rows named by source, line and column, before their batch is sent ------------------------------------


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_nan_and_infinity_name_the_source_line_and_column_and_send_nothing_of_their_batch(hook, server, bad):
    rows = people(150)
    rows[129]["score"] = bad  # row 130: in the second batch of 100

    with pytest.raises(RowDataError, match=r"JSON has no NaN or infinities") as caught:
        hook.write_rows("t", in_blocks(rows), key="id", create=True)

    assert (caught.value.source, caught.value.line, caught.value.column) == (SOURCE, 130, "score")
    assert str(caught.value).startswith(f"{SOURCE}, line 130, column 'score': the value")
    assert inserted(server) == ["/data/t/-/upsert"]  # the first batch only
    assert [row["id"] for row in server.table("t")] == list(range(1, 101))


@pytest.mark.parametrize("big", [2**63, -(2**63) - 1, 10**30])
def test_an_integer_beyond_64_bits_names_its_column_and_nothing_is_sent(hook, server, big):
    rows = people(5)
    rows[3]["score"] = big

    with pytest.raises(RowDataError, match=r"beyond SQLite's 64-bit range") as caught:
        hook.write_rows("t", in_blocks(rows), key="id", create=True)

    assert (caught.value.source, caught.value.line, caught.value.column) == (SOURCE, 4, "score")
    assert not server.exists("t")  # found while planning the first batch: nothing created, nothing sent
    assert server.posts() == []


def test_integers_at_the_64_bit_edges_are_written_as_they_are(hook, server):
    rows = [
        {"id": 1, "v": 2**63 - 1, "t": "9" * 30},
        {"id": 2, "v": -(2**63), "t": "1" * 19},
    ]  # text stays text

    assert hook.write_rows("t", in_blocks(rows), key="id", create=True).rows == 2

    assert server.table("t") == rows


def test_a_row_over_the_body_limit_names_the_source_line_and_its_largest_column(hook, server):
    server.max_post_body_bytes = 4000
    rows = people(10)
    rows[6]["name"] = "x" * 5000

    with pytest.raises(RowDataError, match="over the server's body limit of 4000") as caught:
        hook.write_rows("t", in_blocks(rows, size=3), key="id", create=True)

    assert (caught.value.source, caught.value.line, caught.value.column) == (SOURCE, 7, "name")
    assert server.posts() == []


def test_rows_not_in_blocks_are_named_rows(hook, server):
    rows = people(3)
    rows[1]["score"] = float("nan")

    with pytest.raises(RowDataError) as caught:
        hook.write_rows("t", rows, key="id", create=True)

    assert str(caught.value).startswith("rows, line 2, column 'score':")


def test_a_row_without_its_key_names_the_source(hook, server):
    rows = people(3)
    rows[2]["id"] = None

    with pytest.raises(RowDataError, match="no value for its key") as caught:
        hook.write_rows("t", in_blocks(rows), key="id", create=True)

    assert (caught.value.source, caught.value.line, caught.value.column) == (SOURCE, 3, "id")
