"""The pure parts of the Kloudless download operator: argument checks, reading batches, naming files."""

from __future__ import annotations

import pytest

from airflow_provider_cloud.operators._kloudless_selection import FileRef, events_from, unique_file_names
from airflow_provider_cloud.operators.kloudless import KloudlessDownloadFileOperator


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
