"""Parquet rows: the format by name, column types mapped both ways, bad files, and pyarrow missing."""

from __future__ import annotations

import datetime as dt
import decimal
import os
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from airflow.sdk.exceptions import AirflowOptionalProviderFeatureException

from airflow_provider_cloud.exceptions import RowDataError
from airflow_provider_cloud.rows import detect_format, read_records, write_rows


def read_all(path, **kwargs):
    with read_records(path, **kwargs) as reader:
        return reader.columns, list(reader)


@pytest.mark.parametrize(
    ("name", "explicit"), [("rows.parquet", None), ("ROWS.PARQUET", None), ("rows.bin", "parquet")]
)
def test_parquet_is_told_by_its_suffix_or_by_name(name, explicit):
    assert detect_format(f"/data/{name}", explicit) == "parquet"


def test_a_gzipped_parquet_name_is_refused_naming_the_file():
    with pytest.raises(RowDataError, match=r"/data/rows\.parquet\.gz: a Parquet file compresses its own"):
        detect_format("/data/rows.parquet.gz")


def test_every_column_type_becomes_the_row_value_the_hooks_take(tmp_path):
    path = tmp_path / "types.parquet"
    table = pa.table(
        {
            "i": pa.array([1, None], pa.int32()),
            "big": pa.array([2**62, -1], pa.int64()),
            "f": pa.array([1.5, None], pa.float32()),
            "b": [True, None],
            "s": ["Zoë", None],
            "bin": [b"\x00\xff", None],
            "d": pa.array([dt.date(2024, 5, 1), None]),
            "ts": pa.array([dt.datetime(2024, 5, 1, 12, 30), dt.datetime(2024, 5, 1, 12, 30, 5, 123000)]),
            "ns": pa.array([1714566600123456789, None], pa.timestamp("ns")),
            "zoned": pa.array(
                [dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.UTC)] * 2, pa.timestamp("us", tz="Europe/Paris")
            ),
            "utc": pa.array([dt.datetime(2024, 5, 1, tzinfo=dt.UTC), None], pa.timestamp("ms", tz="UTC")),
            "t": pa.array([dt.time(8, 15), dt.time(8, 15, 1, 500)], pa.time64("us")),
            "dec": pa.array([decimal.Decimal("12.50"), None], pa.decimal128(6, 2)),
            "tags": [["a", "b"], None],
            "obj": [{"k": 1, "v": "x"}, None],
            "cat": pa.array(["red", None]).dictionary_encode(),
            "nothing": pa.nulls(2),
        }
    )
    pq.write_table(table, path)

    columns, records = read_all(path)

    assert columns == tuple(table.column_names)
    assert [r.line for r in records] == [1, 2]
    assert all(r.ok for r in records)
    assert records[0].data == {
        "i": 1,
        "big": 2**62,
        "f": 1.5,
        "b": True,
        "s": "Zoë",
        "bin": b"\x00\xff",
        "d": "2024-05-01",
        "ts": "2024-05-01T12:30:00",
        "ns": "2024-05-01T12:30:00.123456789",
        "zoned": "2024-05-01T14:30:00+02:00",
        "utc": "2024-05-01T00:00:00+00:00",
        "t": "08:15:00",
        "dec": decimal.Decimal("12.50"),
        "tags": '["a","b"]',
        "obj": '{"k":1,"v":"x"}',
        "cat": "red",
        "nothing": None,
    }
    second = records[1].data
    assert second["ts"] == "2024-05-01T12:30:05.123000"
    assert second["t"] == "08:15:01.000500"
    assert [k for k, v in second.items() if v is not None] == ["big", "ts", "zoned", "t"]


def test_rows_are_numbered_across_batches_and_declared_types_apply(tmp_path):
    path = tmp_path / "many.parquet"
    count = 10_000
    pq.write_table(
        pa.table({"id": list(range(count)), "code": [str(n) for n in range(count)]}),
        path,
        row_group_size=3000,
    )

    _, records = read_all(path, types={"code": "integer"})

    assert [r.line for r in records] == list(range(1, count + 1))
    assert [r.data for r in records[4095:4098]] == [{"id": n, "code": n} for n in range(4095, 4098)]


def test_a_value_not_fitting_a_declared_type_is_a_bad_row_naming_row_and_column(tmp_path):
    path = tmp_path / "codes.parquet"
    pq.write_table(pa.table({"code": ["1", "2", "x3"]}), path)

    _, records = read_all(path, types={"code": "integer"})

    assert [r.ok for r in records] == [True, True, False]
    assert str(records[2].error).startswith(f"{path.as_uri()}, row 3, column 'code': ")


def test_nan_and_infinity_make_bad_rows_naming_the_column(tmp_path):
    path = tmp_path / "floats.parquet"
    pq.write_table(pa.table({"x": [1.0, float("nan"), None, float("-inf")]}), path)

    _, records = read_all(path)

    assert [r.ok for r in records] == [True, False, True, False]
    assert str(records[1].error) == (
        f"{path.as_uri()}, row 2, column 'x': nan is not a number JSON can carry (no NaN or infinity): "
        "write null, or the value as text"
    )
    assert records[3].error is not None
    assert records[3].error.line == 4


def test_a_column_type_rows_cannot_carry_is_refused_naming_the_column(tmp_path):
    path = tmp_path / "durations.parquet"
    pq.write_table(pa.table({"id": [1], "took": pa.array([5], pa.duration("s"))}), path)

    with pytest.raises(RowDataError, match=r"durations\.parquet, column 'took': the column's Parquet type"):
        read_records(path)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"id,name\n1,a\n", "not a Parquet file, or one cut short"),
        (None, "not a Parquet file, or one cut short"),  # a real file without its last bytes
        (b"", "file is empty"),
    ],
    ids=["csv-text", "truncated", "empty"],
)
def test_a_file_that_is_not_parquet_is_an_error_naming_it(tmp_path, content, reason):
    path = tmp_path / "bad.parquet"
    if content is None:
        pq.write_table(pa.table({"id": list(range(1000))}), path)
        content = path.read_bytes()[:-20]
    path.write_bytes(content)

    with pytest.raises(RowDataError) as caught:
        read_records(path)

    assert str(caught.value).startswith(f"{path.as_uri()}: {reason}")


def test_damaged_column_data_is_an_error_naming_the_file(tmp_path):
    path = tmp_path / "damaged.parquet"
    pq.write_table(pa.table({"s": [f"value {n}" * 20 for n in range(5000)]}), path, compression="snappy")
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 400] = b"\xff" * 400  # inside the column chunk, not the footer
    path.write_bytes(bytes(data))

    with pytest.raises(RowDataError, match=r"damaged\.parquet: the Parquet data is damaged or cut short"):
        read_all(path)


def test_written_parquet_takes_column_types_from_the_data_set_then_the_first_rows(tmp_path):
    path = tmp_path / "out.parquet"
    rows = [
        {
            "id": n,
            "score": 1.5 if n % 2 else 2,
            "flag": n % 2 == 0,
            "blob": b"x",
            "name": f"n{n}",
            "none": None,
        }
        for n in range(10_000)
    ]
    rows[9000]["name"] = 42  # a number later in a text column: written as its text
    rows[9001]["none"] = {"a": [1, True]}

    summary = write_rows(path, rows, column_types={"id": "INTEGER", "score": "real", "name": "text"})

    assert summary.rows == 10_000
    parquet = pq.ParquetFile(path)
    assert parquet.schema_arrow == pa.schema(
        [
            ("id", pa.int64()),
            ("score", pa.float64()),
            ("flag", pa.bool_()),
            ("blob", pa.binary()),
            ("name", pa.string()),
            ("none", pa.string()),
        ]
    )
    assert parquet.metadata.num_rows == 10_000
    back = parquet.read().to_pylist()
    assert back[0] == {"id": 0, "score": 2.0, "flag": True, "blob": b"x", "name": "n0", "none": None}
    assert back[9000]["name"] == "42"
    assert back[9001]["none"] == '{"a":[1,true]}'
    assert [row["score"] for row in back[:4]] == [2.0, 1.5, 2.0, 1.5]


def test_a_value_changing_type_mid_stream_fails_naming_row_and_column_and_leaves_no_file(tmp_path):
    path = tmp_path / "out.parquet"
    rows = [{"id": n, "qty": n} for n in range(6000)]
    rows[5000]["qty"] = "many"

    with pytest.raises(RowDataError) as caught:
        write_rows(path, rows)

    assert str(caught.value).startswith(
        f"{path.as_uri()}, row 5001, column 'qty': 'many' (str) does not fit the column's Parquet type int64, "
        "decided by the first rows' values"
    )
    assert os.listdir(tmp_path) == []


def test_zero_rows_write_the_columns_and_no_row(tmp_path):
    path = tmp_path / "none.parquet"

    write_rows(path, [], columns=["id", "name"], column_types={"id": "integer"})

    assert pq.read_schema(path) == pa.schema([("id", pa.int64()), ("name", pa.string())])
    assert read_all(path) == (("id", "name"), [])


def test_without_pyarrow_parquet_asks_for_the_extra(tmp_path, monkeypatch):
    path = tmp_path / "rows.parquet"
    pq.write_table(pa.table({"id": [1]}), path)
    for name in ("pyarrow", "pyarrow.parquet", "pyarrow.compute"):
        monkeypatch.setitem(sys.modules, name, None)  # import then raises ImportError

    for attempt in (lambda: read_records(path), lambda: write_rows(tmp_path / "out.parquet", [{"id": 1}])):
        with pytest.raises(AirflowOptionalProviderFeatureException) as caught:
            attempt()
        assert "needs pyarrow" in str(caught.value)
        assert "pip install 'airflow-provider-cloud[parquet]'" in str(caught.value)
    assert sorted(os.listdir(tmp_path)) == ["rows.parquet"]


def test_nothing_imports_pyarrow_until_parquet_is_asked_for():
    code = (
        "import sys\n"
        "import airflow_provider_cloud.operators.rows, airflow_provider_cloud.rows\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'pyarrow'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "[]"
