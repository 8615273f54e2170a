"""A table's facts: read from its DDL by SQLite, or from the table page where that fails; asked once per hook."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from airflow_provider_cloud.exceptions import NotFoundError, PermissionDeniedError
from airflow_provider_cloud.hooks.datasette.schema import facts_from_ddl
from airflow_provider_cloud.hooks.rowstore import DatasetInfo
from tests.fake_transport import FakeTransport, Reply

# -- the DDL, read by SQLite ------------------------------------------------------------------------------

DDL_CASES = [
    pytest.param(
        "t",
        'CREATE TABLE "t" ("a" TEXT, "b" INTEGER, "v" TEXT, PRIMARY KEY ("b", "a"))',
        {"a": "text", "b": "integer", "v": "text"},
        ("b", "a"),  # the key's order, not the columns'
        id="compound-key",
    ),
    pytest.param(
        "my.t able",
        'CREATE TABLE [my.t able] ([col one] REAL PRIMARY KEY, "x.y" BLOB, `z"q` Text)',
        {"col one": "real", "x.y": "blob", 'z"q': "text"},
        ("col one",),
        id="quoted-names",
    ),
    pytest.param(
        "plain",
        "create table plain (name text, n int, anything)",
        {"name": "text", "n": "int", "anything": ""},
        (),
        id="rowid-table",
    ),
    pytest.param(
        "alias",
        "CREATE TABLE alias (id INTEGER PRIMARY KEY, name TEXT)",
        {"id": "integer", "name": "text"},
        ("id",),
        id="integer-primary-key",
    ),
    pytest.param(
        "kv",
        "CREATE TABLE kv (k TEXT NOT NULL, v VARCHAR(10) DEFAULT 'x', PRIMARY KEY (k)) WITHOUT ROWID",
        {"k": "text", "v": "varchar(10)"},
        ("k",),
        id="without-rowid",
    ),
    pytest.param(
        "gen",
        "CREATE TABLE gen (x INTEGER, y INTEGER GENERATED ALWAYS AS (x * 2) VIRTUAL)",
        {"x": "integer", "y": "integer"},
        (),
        id="generated-column",
    ),
    pytest.param(
        "Mixed",
        'CREATE TABLE "mixed" (ID integer primary key)',
        {"ID": "integer"},
        ("ID",),
        id="name-case-differs",
    ),
]


@pytest.mark.parametrize(("table", "ddl", "columns", "keys"), DDL_CASES)
def test_the_ddl_gives_columns_types_in_order_and_the_key(table, ddl, columns, keys):
    info = facts_from_ddl(table, ddl)

    assert info == DatasetInfo(table, exists=True, columns=columns, keys=keys)
    assert list(info.columns) == list(columns)


@pytest.mark.parametrize(
    "ddl",
    [
        "CREATE VIRTUAL TABLE t USING no_such_module(a, b)",
        "CREATE VIEW t AS SELECT a FROM elsewhere",
        "CREATE TABLE t (a); CREATE TABLE u (b)",
        "CREATE TABLE other (a)",
        "this is not SQL",
    ],
    ids=["unknown-module", "view-of-a-missing-table", "two-statements", "another-table", "garbage"],
)
def test_ddl_the_local_sqlite_cannot_read_gives_nothing(ddl):
    assert facts_from_ddl("t", ddl) is None


# -- through the hook: one request, fallbacks, the cache -------------------------------------------------

NOT_FOUND = {"ok": False, "error": "Not found", "errors": ["Not found"], "status": 404}
TABLE_NOT_FOUND = {"ok": False, "error": "Table not found", "errors": ["Table not found"], "status": 404}
PEOPLE_DDL = 'CREATE TABLE "people" ("id" INTEGER PRIMARY KEY, "name" TEXT, "score" REAL)'
PEOPLE_PAGE = {
    "ok": True,
    "rows": [],
    "column_details": {
        "id": {"type": "INTEGER", "notnull": 0, "default": None, "is_pk": 1},
        "name": {"type": "TEXT", "notnull": 0, "default": None, "is_pk": 0},
        "score": {"type": "REAL", "notnull": 0, "default": None, "is_pk": 0},
    },
    "primary_keys": ["id"],
}
PEOPLE = DatasetInfo(
    "people", exists=True, columns={"id": "integer", "name": "text", "score": "real"}, keys=("id",)
)


def query_of(sent):
    return parse_qs(urlsplit(sent.url).query)


def test_the_facts_come_from_the_schema_endpoint_in_one_request(hook):
    fake = FakeTransport(Reply(200, json={"ok": True, "schema": PEOPLE_DDL})).mount(hook.session)

    assert hook.describe("people") == PEOPLE
    assert hook.get_columns("people") == ["id", "name", "score"]
    assert hook.get_primary_keys("people") == ["id"]
    assert hook.table_exists("people")
    assert [sent.path for sent in fake.sent] == ["/data/people/-/schema.json"]


def test_a_missing_table_is_told_by_the_schema_endpoint(hook):
    fake = FakeTransport(Reply(404, json=TABLE_NOT_FOUND)).mount(hook.session)

    assert hook.describe("nobody") == DatasetInfo("nobody", exists=False)
    assert not hook.table_exists("nobody")
    with pytest.raises(NotFoundError, match="'nobody' not found in database 'data'"):
        hook.get_columns("nobody")
    with pytest.raises(NotFoundError):
        hook.get_primary_keys("nobody")
    assert len(fake.sent) == 1


def test_without_the_endpoint_the_table_page_tells(hook):
    # an older alpha, or Datasette Cloud: the route is unknown ("Not found", not "Table not found")
    fake = FakeTransport(Reply(404, json=NOT_FOUND), Reply(200, json=PEOPLE_PAGE)).mount(hook.session)

    assert hook.describe("people") == PEOPLE
    assert [sent.path for sent in fake.sent] == ["/data/people/-/schema.json", "/data/people.json"]
    assert query_of(fake.sent[1]) == {"_size": ["0"], "_extra": ["column_details,primary_keys"]}


def test_without_the_endpoint_a_missing_table_is_the_pages_404(hook):
    fake = FakeTransport(Reply(404, json=NOT_FOUND), Reply(404, json=TABLE_NOT_FOUND)).mount(hook.session)

    assert not hook.table_exists("nobody")
    assert len(fake.sent) == 2


def test_ddl_that_will_not_load_falls_back_to_the_page(hook):
    page = {"ok": True, "rows": [], "column_details": {"title": {"type": ""}, "body": {"type": ""}}}
    ddl = "CREATE VIRTUAL TABLE docs USING some_module_we_lack(title, body)"
    fake = FakeTransport(Reply(200, json={"ok": True, "schema": ddl}), Reply(200, json=page))
    fake.mount(hook.session)

    assert hook.describe("docs") == DatasetInfo("docs", exists=True, columns={"title": "", "body": ""})
    assert [sent.path for sent in fake.sent] == ["/data/docs/-/schema.json", "/data/docs.json"]


def test_a_rowid_table_on_the_page_has_no_key(hook):
    page = {"ok": True, "rows": [], "column_details": {"name": {"type": "TEXT"}}, "primary_keys": ["rowid"]}
    FakeTransport(Reply(404, json=NOT_FOUND), Reply(200, json=page)).mount(hook.session)

    assert hook.describe("names") == DatasetInfo("names", exists=True, columns={"name": "text"})
    assert hook.get_primary_keys("names") == []


def test_a_name_that_needs_encoding_is_looked_up_in_sqlite_master(hook):
    # /-/schema.json does not tilde-decode the names in its URL: it would answer "Table not found"
    ddl = 'CREATE TABLE "my.table" (k TEXT PRIMARY KEY, n INTEGER)'
    fake = FakeTransport(Reply(200, json={"ok": True, "rows": [{"sql": ddl}], "truncated": False}))
    fake.mount(hook.session)

    info = hook.describe("my.table")

    assert info == DatasetInfo("my.table", exists=True, columns={"k": "text", "n": "integer"}, keys=("k",))
    assert [sent.path for sent in fake.sent] == ["/data/-/query.json"]
    assert query_of(fake.sent[0])["table"] == ["my.table"]


def test_a_missing_name_that_needs_encoding_is_told_by_sqlite_master(hook):
    FakeTransport(Reply(200, json={"ok": True, "rows": [], "truncated": False})).mount(hook.session)

    assert not hook.table_exists("with space")


def test_a_name_that_needs_encoding_goes_to_the_page_when_the_token_may_not_run_sql(hook):
    denied = {"ok": False, "error": "Permission denied", "errors": ["Permission denied"], "status": 403}
    fake = FakeTransport(Reply(403, json=denied), Reply(200, json=PEOPLE_PAGE)).mount(hook.session)

    assert hook.describe("my people").columns == PEOPLE.columns
    assert [sent.path for sent in fake.sent] == ["/data/-/query.json", "/data/my+people.json"]


def test_other_errors_are_raised(hook):
    denied = {"ok": False, "error": "Permission denied", "errors": ["Permission denied"], "status": 403}
    FakeTransport(Reply(403, json=denied)).mount(hook.session)

    with pytest.raises(PermissionDeniedError):
        hook.describe("people")


def test_facts_are_cached_per_database_and_table_until_refreshed(hook):
    schema = Reply(200, json={"ok": True, "schema": PEOPLE_DDL})
    fake = FakeTransport(schema, schema, schema).mount(hook.session)

    hook.describe("people")
    hook.describe("people", database="other")
    hook.describe("people")
    hook.describe("people", refresh=True)

    assert [sent.path for sent in fake.sent] == [
        "/data/people/-/schema.json",
        "/other/people/-/schema.json",
        "/data/people/-/schema.json",
    ]


def test_a_filter_on_a_column_the_cache_does_not_know_asks_once_more(hook):
    later = 'CREATE TABLE "people" ("id" INTEGER PRIMARY KEY, "name" TEXT, "score" REAL, "age" INTEGER)'
    fake = FakeTransport(
        Reply(200, json={"ok": True, "schema": PEOPLE_DDL}),
        Reply(200, json={"ok": True, "schema": later}),  # another writer added "age" meanwhile
        Reply(200, json={"ok": True, "rows": [], "count": 0}),
        Reply(200, json={"ok": True, "schema": later}),
    ).mount(hook.session)

    assert hook.get_columns("people") == ["id", "name", "score"]
    assert hook.count_rows("people", where={"age__gt": 3}) == 0
    with pytest.raises(ValueError, match="filter 'agee__gt': no column 'agee'"):
        hook.count_rows("people", where={"agee__gt": 3})
    assert [sent.path for sent in fake.sent] == [
        "/data/people/-/schema.json",
        "/data/people/-/schema.json",
        "/data/people.json",
        "/data/people/-/schema.json",
    ]


@pytest.mark.parametrize(
    ("change", "forgets"),
    [
        (lambda h: h.create_table("people", {"id": "integer"}, pk="id"), ["people"]),
        (lambda h: h.drop_table("people", confirm=True), ["people"]),
        (lambda h: h.update_row("people", 1, {"x": 1}, alter=True), ["people"]),
        (lambda h: h.execute_write("alter table other add column x"), ["people", "other"]),
    ],
    ids=["create_table", "drop_table", "update_row-alter", "execute_write"],
)
def test_changes_made_by_this_hook_forget_the_facts(hook, change, forgets):
    ddl = {"people": PEOPLE_DDL, "other": 'CREATE TABLE "other" (a TEXT)'}

    def server(request):
        path = urlsplit(request.url).path
        if path.endswith("/-/schema.json"):
            return Reply(200, json={"ok": True, "schema": ddl[path.split("/")[2]]})
        return Reply(200, json={"ok": True, "rows": [{"id": 1}], "count": 3})  # pages and writes

    fake = FakeTransport(handler=server).mount(hook.session)
    hook.describe("people")
    hook.describe("other")
    change(hook)
    before = len(fake.sent)
    hook.describe("people")
    hook.describe("other")

    assert [sent.path.split("/")[2] for sent in fake.sent[before:]] == forgets


def test_update_row_without_alter_keeps_the_facts(hook):
    fake = FakeTransport(
        handler=lambda request: Reply(200, json={"ok": True, "schema": PEOPLE_DDL, "rows": [{}]})
    )
    fake.mount(hook.session)
    hook.describe("people")
    hook.update_row("people", 1, {"name": "x"})
    hook.describe("people")

    assert [sent.method for sent in fake.sent] == ["GET", "POST"]
