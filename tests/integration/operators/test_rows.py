"""ImportRowsOperator, ExportRowsOperator and CleanupRowsOperator against a real Datasette 1.0a41."""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import uuid
from urllib.parse import urlsplit

import fsspec
import pytest
import structlog
from airflow.sdk.exceptions import AirflowException

from airflow_provider_cloud.exceptions import BadRequestError, RowDataError
from airflow_provider_cloud.hooks.core import hook as core_hook
from airflow_provider_cloud.operators.rows import (
    CleanupRowsOperator,
    ExportRowsOperator,
    ImportRowsOperator,
)
from tests.integration.operators.rows_support import (
    as_stored,
    assert_same_rows,
    connection_env,
    create_table,
    expected_from_csv,
    one_write_at_a_time,
    people_rows,
    record_lines,
    table_ids,
    table_rows,
    write_csv,
    write_people_csv,
)

pytestmark = pytest.mark.integration

BIG_CONN_ID = "datasette_big"


@pytest.fixture(scope="module")
def big_server(datasette_server_factory):
    """A server that takes 1,000 rows per write, for the 100,000-row import."""
    return datasette_server_factory(settings={"max_insert_rows": 1000})


@pytest.fixture
def big_conn_id(big_server, monkeypatch):
    return connection_env(monkeypatch, big_server, BIG_CONN_ID)


def run(operator):
    """Run an operator's execute() directly (its connection comes from an environment variable)."""
    return operator.execute(context={})


def importer(conn_id, table, **kwargs):
    return ImportRowsOperator(task_id="import_rows", conn_id=conn_id, dataset=table, **kwargs)


def exporter(conn_id, table, destination, **kwargs):
    return ExportRowsOperator(
        task_id="export_rows", conn_id=conn_id, dataset=table, destination=str(destination), **kwargs
    )


def cleaner(conn_id, table, where, **kwargs):
    return CleanupRowsOperator(task_id="cleanup_rows", conn_id=conn_id, dataset=table, where=where, **kwargs)


# -- import --------------------------------------------------------------------------------------------


@pytest.fixture
def responses_seen(monkeypatch):
    """Return a list that fills with ``(method, path)`` of every response any hook's session gets."""
    seen: list[tuple[str, str]] = []
    make_session = core_hook.new_session

    def recording_session(*args, **kwargs):
        session = make_session(*args, **kwargs)
        session.hooks["response"].append(
            lambda response, *_, **__: seen.append((response.request.method, urlsplit(response.url).path))
        )
        return session

    monkeypatch.setattr(core_hook, "new_session", recording_session)
    return seen


@pytest.mark.parametrize("key", [None, "id"], ids=["table-key", "given-key"])
def test_an_import_into_an_existing_table_asks_two_things_before_its_first_write(
    datasette_conn_id, datasette_server, fresh_table_name, tmp_path, responses_seen, key
):
    # The table's facts (columns, key) are asked once and shared by the operator's checks and the hook's
    # write; the server's limits once: on a remote server each is a full round trip.
    create_table(datasette_server, fresh_table_name)
    source = write_people_csv(tmp_path / "people.csv", 250)
    result = run(importer(datasette_conn_id, fresh_table_name, source=str(source), key=key))
    assert result["rows_written"] == 250
    first_write = next(i for i, (method, _) in enumerate(responses_seen) if method == "POST")
    database = datasette_server.database
    assert responses_seen[:first_write] == [
        ("GET", f"/{database}/{fresh_table_name}/-/schema.json"),
        ("GET", "/-/settings.json"),
    ]
    writes = responses_seen[first_write:]
    assert writes == [("POST", f"/{database}/{fresh_table_name}/-/upsert")] * 3  # 100 rows a batch
    assert table_ids(datasette_server, fresh_table_name) == list(range(1, 251))


def test_import_100k_csv_equals_source_and_rerun_changes_nothing(
    big_conn_id, big_server, fresh_table_name, tmp_path
):
    source = write_people_csv(tmp_path / "people.csv", 100_000, seed=20260101)
    expected = expected_from_csv(source)
    assert len(expected) == 100_000

    first = run(importer(big_conn_id, fresh_table_name, source=str(source), key="id", create=True))

    assert first["rows_read"] == first["rows_written"] == 100_000
    assert first["rows_rejected"] == 0
    assert first["rejects_path"] is None
    assert first["dataset"] == fresh_table_name
    assert first["source"] == source.as_uri()
    assert first["seconds"] > 0
    stored = table_rows(big_server, fresh_table_name)
    assert_same_rows(stored, expected)
    # the detected types reached SQLite: integers, reals, 1/0 booleans and NULLs, not text
    types = big_server.sql(
        f'select typeof(id) i, typeof(score) s, typeof(qty) q, typeof(active) a from "{fresh_table_name}" '
        "where score is not null and qty is not null and active is not null limit 1"
    )
    assert types == [{"i": "integer", "s": "real", "q": "integer", "a": "integer"}]
    assert any("\n" in (row["note"] or "") for row in stored)
    assert any(row["note"] is None for row in stored)

    second = run(importer(big_conn_id, fresh_table_name, source=str(source), key="id"))

    assert second["rows_read"] == second["rows_written"] == 100_000
    assert second["rows_rejected"] == 0
    assert table_rows(big_server, fresh_table_name) == stored


def test_import_of_a_file_logs_progress_with_the_share_read_and_an_eta(
    datasette_conn_id, fresh_table_name, tmp_path
):
    source = write_people_csv(tmp_path / "people.csv", 5_000, seed=7)
    operator = importer(
        datasette_conn_id, fresh_table_name, source=str(source), key="id", create=True, progress_every=0
    )
    with structlog.testing.capture_logs() as logs:
        summary = run(operator)
    assert summary["rows_written"] == 5_000
    messages = [entry["event"] for entry in logs]
    progress = [m for m in messages if "of the source read" in m]
    done = [m.split(" rows done")[0] for m in progress]
    assert done == ["1,024", "2,048", "3,072", "4,096", "5,000"], messages  # every 1,024 rows, and the end
    pattern = r"[\d,]+ rows done \(\d+\.\d% of the source read\), [\d,]+ rows/s, ETA \d+s"
    assert all(re.fullmatch(pattern, m) for m in progress), progress
    assert any(m.startswith("Finished: 5,000 rows in ") for m in messages)


def test_import_failing_on_a_late_bad_row_then_retried_equals_source(
    datasette_conn_id, datasette_server, fresh_table_name, tmp_path
):
    rows = people_rows(5_000, seed=11)
    source = tmp_path / "people.csv"
    write_csv(source, rows)
    good_text = source.read_text(encoding="utf-8")
    bad_id = 4_321  # batches of 100: 4,301-4,400 is the failed batch
    broken = [dict(r, qty="12x") if r["id"] == bad_id else r for r in rows]
    write_csv(source, broken)
    create_table(datasette_server, fresh_table_name)
    line = 1 + bad_id + sum(str(r["note"]).count("\n") for r in rows if r["id"] < bad_id)

    with pytest.raises(RowDataError) as caught:
        run(importer(datasette_conn_id, fresh_table_name, source=str(source), types={"qty": "integer"}))

    error = caught.value
    assert (error.source, error.line, error.column) == (source.as_uri(), line, "qty")
    assert str(error) == f"{source.as_uri()}, line {line}, column 'qty': '12x' is not an integer"
    assert table_ids(datasette_server, fresh_table_name) == list(range(1, 4_301))

    source.write_text(good_text, encoding="utf-8")  # the file is fixed before the retry
    summary = run(importer(datasette_conn_id, fresh_table_name, source=str(source), types={"qty": "integer"}))

    assert summary["rows_written"] == 5_000
    assert_same_rows(table_rows(datasette_server, fresh_table_name), expected_from_csv(source))
    assert datasette_server.sql(f'select count(distinct id) n from "{fresh_table_name}"') == [{"n": 5_000}]


def test_import_failing_server_side_mid_way_then_retried_equals_source(
    monkeypatch, datasette_conn_id, datasette_server, fresh_table_name, tmp_path
):
    """A CHECK constraint rejects one late batch on the server: earlier batches stay, none of that one."""
    one_write_at_a_time(monkeypatch, datasette_server, datasette_conn_id)  # the window's case: the next test
    rows = people_rows(3_000, seed=12)
    create_table(datasette_server, fresh_table_name, qty_check=True)
    source = write_csv(tmp_path / "people.csv", [dict(r, qty=-1) if r["id"] == 2_150 else r for r in rows])

    with pytest.raises(BadRequestError) as caught:
        run(importer(datasette_conn_id, fresh_table_name, source=str(source), batch_size=100))

    assert caught.value.status_code == 400
    assert "CHECK constraint failed" in str(caught.value)
    lines = record_lines(source)  # the records of rows 2101-2200: the header and records on two lines count
    batch = f"in the batch of rows at lines {lines[2100]}-{lines[2199]} of {source.as_uri()}"
    assert f"{batch}; none of that batch was written" in str(caught.value)
    assert lines[2199] - lines[2100] > 99  # some of them span lines
    assert table_ids(datasette_server, fresh_table_name) == list(range(1, 2_101))

    fixed = write_csv(tmp_path / "people.csv", rows)
    summary = run(importer(datasette_conn_id, fresh_table_name, source=str(fixed), batch_size=100))

    assert summary["rows_written"] == 3_000
    assert_same_rows(table_rows(datasette_server, fresh_table_name), as_stored(rows))


def test_a_batch_refused_in_a_window_leaves_the_rows_before_it_and_names_those_written_after_it(
    monkeypatch, datasette_conn_id, datasette_server, fresh_table_name, tmp_path
):
    """With batches in flight side by side, those sent after the refused one may be written: the error says which."""
    rows = people_rows(3_000, seed=12)
    create_table(datasette_server, fresh_table_name, qty_check=True)
    source = write_csv(tmp_path / "people.csv", [dict(r, qty=-1) if r["id"] == 2_150 else r for r in rows])
    window = 8
    connection = {**datasette_server.connection_dict(), "extra": {"database": "data", "window": window}}
    monkeypatch.setenv(f"AIRFLOW_CONN_{datasette_conn_id.upper()}", json.dumps(connection))

    with pytest.raises(BadRequestError) as caught:
        run(importer(datasette_conn_id, fresh_table_name, source=str(source), batch_size=100))

    lines = record_lines(source)
    assert f"in the batch of rows at lines {lines[2100]}-{lines[2199]} of {source.as_uri()}" in str(
        caught.value
    )
    ids = table_ids(datasette_server, fresh_table_name)
    assert ids[:2_100] == list(range(1, 2_101))  # every batch before the refused one
    later = ids[2_100:]
    assert not set(later) & set(range(2_101, 2_201))  # none of the refused batch
    assert len(later) <= 2 * window * 100  # those sent before its answer came: about a window's worth
    assert len(later) % 100 == 0  # whole batches
    for start in later[::100]:
        span = f"lines {lines[start - 1]}-{lines[start + 98]} of {source.as_uri()}"
        assert span in str(caught.value)  # each named: "batches sent after it ... were written: ..."


def test_import_inline_rows_as_from_xcom(datasette_conn_id, datasette_server, fresh_table_name):
    rows = [
        {"id": 1, "name": "Ada", "score": 9.5, "tags": ["a", "b"], "active": True},
        {"id": 2, "name": 'Grace, "Amazing"', "score": None, "tags": [], "active": False},
        {"id": 3, "name": "Zoë", "score": 7, "tags": ["c"], "active": None},
    ]

    summary = run(importer(datasette_conn_id, fresh_table_name, rows=rows, key="id", create=True))

    assert summary["source"] == "rows"
    assert (summary["rows_read"], summary["rows_written"], summary["rows_rejected"]) == (3, 3, 0)
    assert table_rows(datasette_server, fresh_table_name) == [
        {"id": 1, "name": "Ada", "score": 9.5, "tags": '["a", "b"]', "active": 1},
        {"id": 2, "name": 'Grace, "Amazing"', "score": None, "tags": "[]", "active": 0},
        {"id": 3, "name": "Zoë", "score": 7.0, "tags": '["c"]', "active": None},
    ]


def test_import_json_lines_with_rename_and_types(
    datasette_conn_id, datasette_server, fresh_table_name, tmp_path
):
    create_table(datasette_server, fresh_table_name)
    source = tmp_path / "people.jsonl.gz"
    with gzip.open(source, "wt", encoding="utf-8") as handle:
        handle.write('{"key": 1, "name": "Ada", "qty": "12"}\n\n{"key": 2, "name": "Bob", "qty": 3.0}\n')

    summary = run(
        importer(
            datasette_conn_id,
            fresh_table_name,
            source=str(source),
            rename={"key": "id"},
            types={"qty": "integer"},
        )
    )

    assert summary["rows_written"] == 2
    assert datasette_server.sql(
        f'select id, name, qty, typeof(qty) t from "{fresh_table_name}" order by id'
    ) == [
        {"id": 1, "name": "Ada", "qty": 12, "t": "integer"},
        {"id": 2, "name": "Bob", "qty": 3, "t": "integer"},
    ]


# -- export --------------------------------------------------------------------------------------------


@pytest.fixture
def people_table(datasette_server, fresh_table_name):
    """A 250-row people table written straight into the database file; returns its rows as stored."""
    rows = people_rows(250, seed=3)
    create_table(datasette_server, fresh_table_name, rows)
    stored = table_rows(datasette_server, fresh_table_name)
    assert stored == as_stored(rows)
    return stored


def csv_text(value):
    return "" if value is None else str(value)


def as_csv_rows(rows):
    return [{k: csv_text(v) for k, v in row.items()} for row in rows]


def parse_csv(text):
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_export_csv_equals_table(datasette_conn_id, fresh_table_name, people_table, tmp_path):
    destination = tmp_path / "out" / "people.csv"

    result = run(exporter(datasette_conn_id, fresh_table_name, destination, page_size=40))

    assert result == {"path": destination.as_uri(), "rows": 250, "cursor": None}
    text = destination.read_bytes().decode("utf-8")
    assert text.splitlines()[0] == "id,name,score,qty,active,born,note"
    assert parse_csv(text) == as_csv_rows(people_table)
    assert sorted(p.name for p in destination.parent.iterdir()) == ["people.csv"]


def test_export_json_lines_equals_table(datasette_conn_id, fresh_table_name, people_table, tmp_path):
    destination = tmp_path / "people.jsonl"

    result = run(exporter(datasette_conn_id, fresh_table_name, destination, page_size=64))

    assert result["rows"] == 250
    lines = destination.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == people_table


def test_export_json_gz_equals_table(datasette_conn_id, fresh_table_name, people_table, tmp_path):
    destination = tmp_path / "people.json.gz"

    result = run(exporter(datasette_conn_id, fresh_table_name, destination))

    assert result["rows"] == 250
    with gzip.open(destination, "rt", encoding="utf-8") as handle:
        assert json.load(handle) == people_table


def test_export_to_memory_store(datasette_conn_id, fresh_table_name, people_table):
    url = f"memory://apc-row-operators/{uuid.uuid4().hex}/people.csv"
    memory = fsspec.filesystem("memory")
    try:
        result = run(
            exporter(
                datasette_conn_id, fresh_table_name, url, columns=["id", "name"], where={"qty__lt": 5000}
            )
        )

        wanted = [
            {"id": str(r["id"]), "name": r["name"]}
            for r in people_table
            if r["qty"] is not None and r["qty"] < 5000
        ]
        assert result["rows"] == len(wanted) > 0
        assert result["path"] == url
        assert parse_csv(memory.cat_file(url).decode("utf-8")) == wanted
    finally:
        memory.rm(url.rsplit("/", 1)[0], recursive=True)


@pytest.mark.parametrize("since", [200, "200"], ids=["int", "rendered-string"])
def test_incremental_export_returns_rows_past_the_cursor(
    datasette_conn_id, fresh_table_name, people_table, tmp_path, since
):
    destination = tmp_path / "new.jsonl"

    result = run(exporter(datasette_conn_id, fresh_table_name, destination, cursor_column="id", since=since))

    assert result == {"path": destination.as_uri(), "rows": 50, "cursor": 250}
    exported = [json.loads(line) for line in destination.read_text(encoding="utf-8").splitlines()]
    assert exported == [r for r in people_table if r["id"] > 200]


def test_incremental_export_from_the_start_sets_the_cursor(
    datasette_conn_id, fresh_table_name, people_table, tmp_path
):
    result = run(exporter(datasette_conn_id, fresh_table_name, tmp_path / "all.csv", cursor_column="born"))

    assert result["rows"] == 250
    assert result["cursor"] == max(r["born"] for r in people_table)


@pytest.mark.parametrize(
    ("name", "content"),
    [("none.csv", "id,name,score,qty,active,born,note\r\n"), ("none.json", "[]\n"), ("none.jsonl", "")],
)
def test_incremental_export_with_nothing_new_keeps_the_cursor(
    datasette_conn_id, fresh_table_name, people_table, tmp_path, name, content
):
    destination = tmp_path / name

    result = run(exporter(datasette_conn_id, fresh_table_name, destination, cursor_column="id", since="250"))

    assert result == {"path": destination.as_uri(), "rows": 0, "cursor": "250"}
    assert destination.read_bytes().decode("utf-8") == content


def leftovers(directory):
    return sorted(p.name for p in directory.iterdir())


def test_failed_export_on_an_unknown_column_leaves_no_file(
    datasette_conn_id, fresh_table_name, people_table, tmp_path
):
    with pytest.raises(ValueError, match=f"data set '{fresh_table_name}' has no column 'nope'"):
        run(exporter(datasette_conn_id, fresh_table_name, tmp_path / "out.csv", columns=["id", "nope"]))

    assert leftovers(tmp_path) == []


def test_export_refuses_a_filter_on_an_unknown_column(
    datasette_conn_id, fresh_table_name, people_table, tmp_path
):
    # SQLite would read "nope" as a text literal: 'nope' > 0 is true for every row
    with pytest.raises(ValueError, match="filter 'nope__gt': no column 'nope'"):
        run(exporter(datasette_conn_id, fresh_table_name, tmp_path / "out.csv", where={"nope__gt": 0}))

    assert leftovers(tmp_path) == []


def test_failed_export_mid_way_leaves_the_old_file_and_no_temporary(
    datasette_conn_id, datasette_server, fresh_table_name, tmp_path
):
    """
    A value the chosen encoding cannot hold, in the last page, fails the export after the first 300 kB were
    written to the temporary file (the writer flushes every 1,024 rows once 256 K characters are buffered).
    """
    rows = [{"id": i, "note": f"{i:04d} " + "x" * 295} for i in range(1, 1_101)]
    rows[-1]["note"] = "naïve"
    create_table(datasette_server, fresh_table_name, rows)
    destination = tmp_path / "people.csv"
    destination.write_text("the previous export\n", encoding="utf-8")

    with pytest.raises(RowDataError, match="'ï' cannot be encoded as ascii"):
        run(
            exporter(
                datasette_conn_id,
                fresh_table_name,
                destination,
                page_size=100,
                csv_options={"encoding": "ascii"},
            )
        )

    assert destination.read_text(encoding="utf-8") == "the previous export\n"
    assert leftovers(tmp_path) == ["people.csv"]


def test_failed_export_to_an_unwritable_destination_leaves_nothing(
    datasette_conn_id, fresh_table_name, people_table, tmp_path
):
    (tmp_path / "taken").mkdir()

    with pytest.raises(IsADirectoryError):
        run(exporter(datasette_conn_id, fresh_table_name, tmp_path / "taken", format="csv"))

    assert leftovers(tmp_path) == ["taken"]
    assert leftovers(tmp_path / "taken") == []


# -- clean-up ------------------------------------------------------------------------------------------


def count(server, table, condition="1"):
    return server.sql(f'select count(*) n from "{table}" where {condition}')[0]["n"]


def test_cleanup_dry_run_then_delete(datasette_conn_id, datasette_server, fresh_table_name, people_table):
    matching = count(datasette_server, fresh_table_name, "score < 10")
    assert 0 < matching < 250

    dry = run(cleaner(datasette_conn_id, fresh_table_name, {"score__lt": "10"}, dry_run=True))

    assert dry == matching
    assert count(datasette_server, fresh_table_name) == 250

    deleted = run(cleaner(datasette_conn_id, fresh_table_name, {"score__lt": "10"}))

    assert deleted == matching
    assert count(datasette_server, fresh_table_name, "score < 10") == 0
    assert table_rows(datasette_server, fresh_table_name) == [
        r for r in people_table if r["score"] is None or r["score"] >= 10
    ]


def test_cleanup_refuses_more_than_max_rows(
    datasette_conn_id, datasette_server, fresh_table_name, people_table
):
    matching = count(datasette_server, fresh_table_name, "qty >= 2000")
    assert matching > 5

    with pytest.raises(AirflowException) as caught:
        run(cleaner(datasette_conn_id, fresh_table_name, {"qty__gte": 2000}, max_rows=5))

    assert str(caught.value) == (
        f"{matching} rows of '{fresh_table_name}' match {{'qty__gte': 2000}}, more than max_rows=5; "
        "nothing was deleted (raise max_rows or pass allow_more=True)"
    )
    assert count(datasette_server, fresh_table_name) == 250

    deleted = run(
        cleaner(datasette_conn_id, fresh_table_name, {"qty__gte": 2000}, max_rows=5, allow_more=True)
    )

    assert deleted == matching
    assert count(datasette_server, fresh_table_name) == 250 - matching


def test_cleanup_within_max_rows_with_several_filters(
    datasette_conn_id, datasette_server, fresh_table_name, people_table
):
    condition = "id > 100 and id <= 110 and note is not null"
    matching = count(datasette_server, fresh_table_name, condition)
    where = {"id__gt": "100", "id__lte": "110", "note__isnull": "false"}

    assert run(cleaner(datasette_conn_id, fresh_table_name, where, max_rows=10, dry_run=True)) == matching
    assert run(cleaner(datasette_conn_id, fresh_table_name, where, max_rows=10)) == matching
    assert count(datasette_server, fresh_table_name, condition) == 0
    assert count(datasette_server, fresh_table_name) == 250 - matching


def test_cleanup_refuses_a_filter_on_an_unknown_column(
    datasette_conn_id, datasette_server, fresh_table_name, people_table
):
    with pytest.raises(ValueError, match="filter 'updated_at__lt': no column 'updated_at'"):
        run(cleaner(datasette_conn_id, fresh_table_name, {"updated_at__lt": "2020-01-01"}, max_rows=None))

    assert count(datasette_server, fresh_table_name) == 250
