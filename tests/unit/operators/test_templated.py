"""Templated operator fields read after rendering: text becomes numbers, mappings and lists, or fails naming the field."""

from __future__ import annotations

import pytest

from airflow_provider_cloud.operators._templated import (
    export_fields,
    has_template,
    import_fields,
    mapping,
    names,
    whole_number,
)
from airflow_provider_cloud.operators.kloudless import KloudlessDownloadFileOperator
from airflow_provider_cloud.operators.rows import CleanupRowsOperator, ExportRowsOperator, ImportRowsOperator


@pytest.mark.parametrize(
    ("value", "number"), [("500", 500), (" 7 ", 7), (3, 3), (4.0, 4), (None, None), ("None", None)]
)
def test_whole_numbers_from_text(value, number):
    assert whole_number(value, "batch_size") == number


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("12.5", "batch_size= must be a whole number, got '12.5'"),
        ("lots", "batch_size= must be a whole number, got 'lots'"),
        (True, "batch_size= must be a whole number"),
        ("0", "batch_size= must be 1 or more, got 0"),
    ],
)
def test_a_bad_number_names_the_field(value, message):
    with pytest.raises(ValueError, match=message):
        whole_number(value, "batch_size")


def test_mappings_from_json_or_python_text():
    assert mapping('{"a": "b"}', "rename") == {"a": "b"}
    assert mapping("{'a': 'b'}", "rename") == {"a": "b"}  # how Jinja renders a dict param
    assert mapping(None, "types") == {}
    with pytest.raises(ValueError, match="rename= must be a mapping, got the text 'a=b'"):
        mapping("a=b", "rename")
    with pytest.raises(ValueError, match="types= must be a mapping, got"):
        mapping("[1, 2]", "types")
    with pytest.raises(ValueError, match="where= rendered to nothing"):
        mapping("None", "where", required=True)


def test_names_from_lists_or_comma_separated_text():
    assert names("['id', 'name']", "columns") == ["id", "name"]
    assert names("id, name", "columns") == ["id", "name"]
    assert names(("a",), "columns") == ["a"]
    with pytest.raises(ValueError, match="columns= must be a list of names"):
        names("[1, 2]", "columns")
    assert export_fields("", "", None, "None", "250") == (None, None, None, None, 250)
    assert import_fields("csv", "", "{}", None, "10") == ("csv", "upsert", {}, {}, 10)


def test_has_template():
    assert has_template("*.csv", ["{{ params.p }}"])
    assert not has_template("*.csv", None, ["text/csv"])


def test_templates_pass_construction():
    """What used to be checked or converted in __init__ waits for the rendered value."""
    ImportRowsOperator(
        task_id="i",
        conn_id="c",
        dataset="t",
        source="/x.csv",
        rename="{{ params.rename }}",
        types="{{ params.types }}",
        batch_size="{{ params.batch }}",
        csv_options="{{ params.csv }}",
    )
    export = ExportRowsOperator(
        task_id="e", conn_id="c", dataset="t", destination="/o.csv", columns="{{ params.c }}"
    )
    assert export.columns == "{{ params.c }}"
    KloudlessDownloadFileOperator(
        task_id="d",
        destination="/tmp/x/",
        events=[],
        name_pattern="{{ params.p }}",
        mime_types="{{ params.m }}",
    )
    CleanupRowsOperator(
        task_id="c", conn_id="c", dataset="t", where="{{ params.w }}", max_rows="{{ params.n }}"
    )
    for operator, fields in [
        (ImportRowsOperator, {"format", "mode", "rename", "types", "batch_size", "csv_options"}),
        (ExportRowsOperator, {"format", "columns", "order_by", "cursor_column", "page_size"}),
        (KloudlessDownloadFileOperator, {"name_pattern", "mime_types"}),
    ]:
        assert fields <= set(operator.template_fields), operator
    assert ImportRowsOperator.template_fields_renderers["rename"] == "json"
    assert ExportRowsOperator.template_fields_renderers["columns"] == "json"


def test_an_export_whose_cursor_column_renders_empty_refuses_since():
    exporter = ExportRowsOperator(
        task_id="e",
        conn_id="no_such_connection",
        dataset="t",
        destination="/o.csv",
        cursor_column="",
        since=3,
    )
    exporter.cursor_column = "None"  # as "{{ params.cursor }}" renders a param left at None
    with pytest.raises(ValueError, match="since= needs cursor_column="):
        exporter.execute({})
