"""The pure parts of the Kloudless file operators: argument checks, reading batches, naming files, upload sources."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from airflow.sdk import ObjectStoragePath

from airflow_provider_cloud.operators._kloudless_selection import (
    FileRef,
    events_from,
    unique_file_names,
    upload_sources,
)
from airflow_provider_cloud.operators.kloudless import KloudlessDownloadFileOperator
from airflow_provider_cloud.rows.paths import as_storage_path


@pytest.fixture
def memory_dir() -> Iterator[ObjectStoragePath]:
    base = as_storage_path(f"memory://kloudless-sources/{secrets.token_hex(6)}")
    base.fs.makedirs(base.path, exist_ok=True)
    yield base
    base.fs.rm(base.path, recursive=True)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one of file_id= or events="),
        ({"file_id": "F1", "events": []}, "exactly one of file_id= or events="),
        ({"file_id": "F1", "max_files": 0}, "max_files must be a positive integer"),
        ({"events": [], "event_types": []}, "event_types is empty"),
        ({"events": [], "name_pattern": [""]}, "name_pattern must be non-empty"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        KloudlessDownloadFileOperator(task_id="d", destination="/tmp/x/", **kwargs)


def test_events_from_refuses_what_is_not_a_batch():
    with pytest.raises(TypeError, match="without an 'events' list"):
        events_from({"cursor": 3})
    with pytest.raises(TypeError, match="neither JSON nor a Python literal"):
        events_from("{{ not rendered }}")
    with pytest.raises(TypeError, match="event objects"):
        events_from([1, 2])


def test_unique_file_names_are_safe_and_stable():
    refs = [
        FileRef("F1", "data.csv"),
        FileRef("F2", "DATA.csv"),
        FileRef("F/3", "data.csv"),
        FileRef("F4", "a/b.csv"),
        FileRef("F5", ".."),
        FileRef("F6", ".env"),
        FileRef("F7", ".env"),
    ]
    names = unique_file_names(refs)
    assert names == ["data.csv", "DATA.F2.csv", "data.F_3.csv", "a_b.csv", "F5", ".env", ".env.F7"]
    assert unique_file_names(refs) == names


def test_upload_sources_one_file_or_several(tmp_path, memory_dir):
    (tmp_path / "a.csv").write_bytes(b"1")
    (tmp_path / "odd[1].csv").write_bytes(b"1")  # glob characters, but a file that exists: that file
    for path in ("b.csv", ".hidden.csv", "c.txt"):
        (memory_dir / path).write_bytes(b"1")

    def found(source: object) -> tuple[list[str], bool]:
        sources = upload_sources(source)
        return [f.name for f in sources.files], sources.several

    assert found(str(tmp_path / "a.csv")) == (["a.csv"], False)
    assert found(tmp_path / "a.csv") == (["a.csv"], False)
    assert found(f" {tmp_path}/odd[1].csv ") == (["odd[1].csv"], False)
    assert found([str(tmp_path / "a.csv")]) == (["a.csv"], True)  # a list of one is still a list
    assert found((str(tmp_path / "a.csv"), memory_dir / "c.txt")) == (["a.csv", "c.txt"], True)
    assert found(f"['{tmp_path}/a.csv', '{memory_dir}/b.csv']") == (["a.csv", "b.csv"], True)  # rendered text
    assert found(f"{memory_dir}/*.csv") == (["b.csv"], True)
    assert found(f"{memory_dir}/.*") == ([".hidden.csv"], True)
    assert found(str(memory_dir)) == (["b.csv", "c.txt"], True)
    assert found([]) == ([], True)


@pytest.mark.parametrize(
    ("source", "error", "message"),
    [
        (None, ValueError, "source= is empty"),
        ("None", ValueError, "source= is empty"),
        (["a.csv", ""], ValueError, "each item must be the path of a file"),
        ([3], ValueError, "each item must be the path of a file"),
        ({"path": "a.csv"}, TypeError, "a path or a list of paths"),
        (b"a.csv", TypeError, "a path or a list of paths"),
    ],
)
def test_upload_sources_refuses_what_names_no_file(source, error, message):
    with pytest.raises(error, match=message):
        upload_sources(source)
