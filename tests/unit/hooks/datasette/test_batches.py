"""The batch planner: column-set groups, write order per key, row and byte limits."""

from __future__ import annotations

import itertools
import json
import random

import pytest

from airflow_provider_cloud.exceptions import RowDataError
from airflow_provider_cloud.hooks.datasette.batches import BatchPlanner


def plan(rows, **kwargs):
    planner = BatchPlanner(**{"max_rows": 3, "max_bytes": 10_000, **kwargs})
    out = []
    for index, row in enumerate(rows, start=1):
        out.extend(planner.add(row, index))
    out.extend(planner.drain())
    return out


def sent_rows(batches):
    return [json.loads(b.body())["rows"] for b in batches]


def test_rows_of_one_column_set_fill_batches_in_order():
    batches = plan([{"id": i, "v": i} for i in range(1, 8)], key=["id"])
    assert [[r["id"] for r in rows] for rows in sent_rows(batches)] == [[1, 2, 3], [4, 5, 6], [7]]
    assert [b.first_index for b in batches] == [1, 4, 7]


def test_rows_are_grouped_by_column_set_so_no_column_is_nulled():
    rows = [{"id": 1, "a": 1}, {"id": 2, "b": 2}, {"id": 3, "a": 3}, {"id": 4, "b": 4}]
    batches = plan(rows, key=["id"])
    assert sent_rows(batches) == [
        [{"id": 1, "a": 1}, {"id": 3, "a": 3}],
        [{"id": 2, "b": 2}, {"id": 4, "b": 4}],
    ]
    assert [b.indices for b in batches] == [[1, 3], [2, 4]]


def test_a_key_waiting_in_another_column_set_is_sent_first():
    rows = [{"id": 1, "a": "old"}, {"id": 2, "b": 2}, {"id": 1, "b": "new"}]
    batches = plan(rows, key=["id"])
    # the second write of id 1 must not overtake the first: both waiting groups go out before it
    assert sent_rows(batches) == [[{"id": 1, "a": "old"}], [{"id": 2, "b": 2}], [{"id": 1, "b": "new"}]]


def test_the_same_key_twice_in_one_column_set_keeps_its_order():
    rows = [{"id": 1, "a": 1}, {"id": 1, "a": 2}]
    assert sent_rows(plan(rows, key=["id"])) == [[{"id": 1, "a": 1}, {"id": 1, "a": 2}]]


def test_key_tracking_survives_a_group_leaving_by_size():
    rows = [{"id": 1, "a": 1}, {"id": 9, "b": 0}, {"id": 2, "a": 2}, {"id": 3, "a": 3}, {"id": 9, "a": 9}]
    batches = plan(rows, key=["id"])
    flat = [(row["id"], tuple(sorted(row))) for rows in sent_rows(batches) for row in rows]
    assert flat.index((9, ("b", "id"))) < flat.index((9, ("a", "id")))


def test_a_body_over_the_byte_limit_is_halved():
    rows = [{"id": i, "text": "x" * 100} for i in range(1, 4)]
    batches = plan(rows, max_bytes=300)
    assert [len(b) for b in batches] == [1, 1, 1] or [len(b) for b in batches] == [2, 1]
    assert all(len(b.body()) <= 300 for b in batches)


def test_a_single_row_over_the_byte_limit_names_its_position():
    rows = [{"id": 1}, {"id": 2, "text": "x" * 500}]
    with pytest.raises(RowDataError, match="line 2"):
        plan(rows, max_bytes=200)


def test_a_value_json_cannot_hold_names_its_row():
    rows = [{"id": 1, "v": 1}, {"id": 2, "v": object()}]
    with pytest.raises(RowDataError, match="line 2"):
        plan(rows)


def test_max_rows_must_be_positive():
    with pytest.raises(ValueError, match="at least 1"):
        BatchPlanner(max_rows=0, max_bytes=100)


# -- a list of rows at a time --------------------------------------------------------------------


def plan_in_blocks(rows, sizes, **kwargs):
    """Plan ``rows`` with ``add_block``, in consecutive lists of the given sizes (cycled)."""
    planner = BatchPlanner(**{"max_rows": 3, "max_bytes": 10_000, **kwargs})
    out = []
    start = 0
    for size in itertools.cycle(sizes):
        if start >= len(rows):
            break
        out.extend(planner.add_block(rows[start : start + size], start + 1))
        start += size
    out.extend(planner.drain())
    return out


def planned(batches):
    return [(b.first_index, b.indices, sent_rows([b])[0]) for b in batches]


def random_rows(rng, count):
    """Rows of one to three column sets (mostly one), with keys that repeat now and then."""
    shapes = [("id", "a"), ("id", "b"), ("id", "a", "b")]
    weights = rng.choice([(1, 0, 0), (8, 1, 1), (1, 1, 1)])
    rows = []
    for _ in range(count):
        shape = rng.choices(shapes, weights)[0]
        rows.append({c: rng.randint(1, count // 2 + 1) if c == "id" else rng.random() for c in shape})
    return rows


@pytest.mark.parametrize("seed", range(40))
def test_adding_a_list_at_a_time_plans_what_adding_row_by_row_plans(seed):
    rng = random.Random(seed)
    rows = random_rows(rng, rng.randint(0, 60))
    max_rows = rng.randint(1, 7)
    sizes = [rng.randint(1, 9) for _ in range(rng.randint(1, 4))]

    by_row = plan(rows, key=["id"], max_rows=max_rows)
    by_block = plan_in_blocks(rows, sizes, key=["id"], max_rows=max_rows)

    assert planned(by_block) == planned(by_row)


def test_a_list_of_another_column_set_does_not_overtake_a_waiting_key():
    rows = [{"id": 1, "a": "old"}, {"id": 1, "b": "new"}, {"id": 2, "b": 2}, {"id": 3, "b": 3}]

    batches = plan_in_blocks(rows, [1, 3], key=["id"])

    assert sent_rows(batches)[0] == [{"id": 1, "a": "old"}]
    assert planned(batches) == planned(plan(rows, key=["id"]))


def test_a_list_after_the_row_limit_dropped_is_cut_to_the_new_limit():
    planner = BatchPlanner(max_rows=5, max_bytes=10_000)
    assert planner.add_block([{"id": i} for i in range(1, 4)], 1) == []
    planner.max_rows = 2  # as the writer does when the server tells a lower limit

    full = planner.add_block([{"id": i} for i in range(4, 8)], 4)

    assert [b.indices for b in full] == [[1, 2, 3], [4, 5], [6, 7]]
    assert [b.first_index for b in full] == [1, 4, 6]
    assert list(planner.drain()) == []


# -- encoding -------------------------------------------------------------------------------------


def stdlib_encoded(rows):
    """What the json module alone makes of the rows (the reference for the msgspec fast path)."""
    from airflow_provider_cloud.hooks.datasette.batches import _ENCODER

    return _ENCODER.encode(rows).encode("utf-8")


@pytest.mark.parametrize(
    "rows",
    [
        pytest.param([{"id": 1, "name": "é ü 漢", "score": 1.5, "ok": True, "none": None}], id="plain"),
        pytest.param(
            [{"a": 10**30, "b": -0.0, "c": 1e16, "d": 1e-7, "e": "x:null"}], id="numbers-and-a-null-text"
        ),
        pytest.param([{"a": 'ctrl \x00 \u2028 " \\'}], id="escapes"),
        pytest.param(
            [{"when": __import__("datetime").date(2024, 1, 2), "blob": b"\x00\xff"}], id="not-plain"
        ),
        pytest.param([{"a": None, "f": 2.5}, {"a": 1, "f": None}], id="nulls-and-floats"),
        pytest.param([{1: "int key"}], id="int-key"),
    ],
)
def test_encoding_gives_what_the_json_module_gives(rows):
    from airflow_provider_cloud.hooks.datasette.batches import encode_rows

    assert json.loads(encode_rows(rows, first_index=1)) == json.loads(stdlib_encoded(rows))


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_nan_and_infinity_are_refused_naming_the_row_even_beside_nulls(bad):
    from airflow_provider_cloud.hooks.datasette.batches import encode_rows

    rows = [{"a": None, "f": 1.0}, {"a": "x:null", "f": 2.0}, {"a": None, "f": bad}]
    with pytest.raises(
        RowDataError, match=r"^rows, line 12, column 'f': the value .* JSON has no NaN"
    ) as caught:
        encode_rows(rows, first_index=10)
    assert (caught.value.line, caught.value.column) == (12, "f")


def test_lone_surrogates_are_refused_naming_the_row():
    from airflow_provider_cloud.hooks.datasette.batches import encode_rows

    with pytest.raises(RowDataError, match="line 2, column 'a': cannot encode the value as JSON"):
        encode_rows([{"a": "fine"}, {"a": "bad \udc80"}], first_index=1)
