from __future__ import annotations

import gzip
import json

import pytest

from airflow_provider_cloud.exceptions import RowDataError
from airflow_provider_cloud.rows import Record, RejectsWriter, read_records
from tests.unit.rows.rows_helpers import get, names_in, put


class Boom(Exception):
    pass


def reject_then_fail(rejects: RejectsWriter) -> None:
    with rejects:
        rejects.reject(RowDataError("bad", source="in.csv", line=2))
        raise Boom("too many bad rows")


def test_no_rejects_no_file(any_dir):
    with RejectsWriter(f"{any_dir}/rejects.jsonl") as rejects:
        pass
    assert rejects.count == 0
    assert not rejects.written
    assert names_in(any_dir) == []


def test_no_rejects_leaves_an_older_file_alone(file_dir):
    url = put(f"{file_dir}/rejects.jsonl", b"from an earlier run\n")
    with RejectsWriter(url):
        pass
    assert get(url) == b"from an earlier run\n"


def test_rejected_records_from_a_reader(any_dir):
    source = put(f"{any_dir}/in.csv", "id,n\n1,2\n2,x,y\n3,abc\n")
    target = f"{any_dir}/rejects.jsonl"
    with RejectsWriter(target) as rejects, read_records(source, types={"n": int}) as reader:
        good = []
        for record in reader:
            if record.ok:
                good.append(record.data)
            else:
                rejects.add(record)
    assert good == [{"id": 1, "n": 2}]
    assert rejects.count == 2
    assert rejects.path == target
    lines = [json.loads(line) for line in get(target).decode().splitlines()]
    assert lines == [
        {
            "source": source,
            "line": 3,
            "column": None,
            "reason": "expected 2 fields (one per column), found 3",
            "row": None,
            "raw": "2,x,y",
        },
        {
            "source": source,
            "line": 4,
            "column": "n",
            "reason": "'abc' is not an integer",
            "row": {"id": "3", "n": "abc"},
            "raw": "3,abc",
        },
    ]


def test_reject_by_error_with_odd_values_and_gzip(file_dir):
    url = f"{file_dir}/rejects.jsonl.gz"
    with RejectsWriter(url) as rejects:
        rejects.reject(RowDataError("missing key 'id'", source="rows", line=7), row={"when": object()})
    entry = json.loads(gzip.decompress(get(url)))
    assert entry["line"] == 7
    assert entry["reason"] == "missing key 'id'"
    assert entry["row"].startswith("{'when': <object object")


def test_kept_when_the_import_fails(file_dir):
    url = f"{file_dir}/rejects.jsonl"
    with pytest.raises(Boom):
        reject_then_fail(RejectsWriter(url))
    assert json.loads(get(url))["reason"] == "bad"


def test_discarded_when_the_import_fails_if_asked(file_dir):
    url = f"{file_dir}/rejects.jsonl"
    with pytest.raises(Boom):
        reject_then_fail(RejectsWriter(url, keep_on_error=False))
    assert names_in(file_dir) == []


def test_file_appears_only_when_closed(file_dir):
    url = f"{file_dir}/rejects.jsonl"
    rejects = RejectsWriter(url)
    rejects.reject(RowDataError("bad"))
    assert "rejects.jsonl" not in names_in(file_dir)
    rejects.close()
    assert names_in(file_dir) == ["rejects.jsonl"]
    with pytest.raises(RuntimeError, match="already closed"):
        rejects.reject(RowDataError("late"))


def test_good_records_are_not_rejects(file_dir):
    with (
        RejectsWriter(f"{file_dir}/r.jsonl") as rejects,
        pytest.raises(ValueError, match="line 3 has no error"),
    ):
        rejects.add(Record(3, {"a": 1}))


def test_opened_early_and_nothing_rejected_leaves_no_file_and_no_temporary(file_dir):
    put(f"{file_dir}/rejects.jsonl", "older\n")
    with RejectsWriter(f"{file_dir}/rejects.jsonl") as rejects:
        rejects.open()
        assert len(names_in(file_dir)) == 2  # the temporary is there while the import runs
    assert names_in(file_dir) == ["rejects.jsonl"]
    assert get(f"{file_dir}/rejects.jsonl") == b"older\n"


def test_opened_early_then_rejects_are_written(file_dir):
    with RejectsWriter(f"{file_dir}/r.jsonl") as rejects:
        rejects.open()
        rejects.reject(RowDataError("bad", source="f.csv", line=3))
    assert json.loads(get(f"{file_dir}/r.jsonl"))["line"] == 3
    assert names_in(file_dir) == ["r.jsonl"]


@pytest.mark.parametrize("where", ["a-file-in-the-way/r.jsonl", "a-directory", "/proc/r.jsonl"])
def test_open_fails_at_once_when_the_path_cannot_be_written(tmp_path, where):
    (tmp_path / "a-file-in-the-way").write_text("x")
    (tmp_path / "a-directory").mkdir()
    with pytest.raises(OSError, match=r"\S"), RejectsWriter(str(tmp_path / where)) as rejects:
        rejects.open()
