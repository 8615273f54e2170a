"""
A small Datasette over an in-memory SQLite database, as a ``FakeTransport`` handler: enough of the write API
(create, insert, upsert, drop), the table pages (``__in`` filters, counts), rows by key and the schema
endpoint to test what the hook does when answers are lost.

Faults are scripted per request (:meth:`FakeDatasette.lose`): the server acts and the answer is lost
(``after``), the request is lost before the server acts (``before``), a gateway answers 502 after the server
acted (``gateway``), or the server acts only when the next write arrives (``late``: it was still working when
the client gave up, and its check found nothing).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import requests

from tests.fake_transport import Reply, connection_dropped, read_timeout

TYPES = {"text": "TEXT", "integer": "INTEGER", "float": "FLOAT", "blob": "BLOB"}


def _error(status: int, message: str) -> Reply:
    return Reply(status, json={"ok": False, "errors": [message], "status": status})


def quoted(name: str) -> str:
    return "[" + name + "]"


class FakeDatasette:
    """The server: database ``data``; ``requests`` records ``(method, path)`` of every request it got."""

    def __init__(self, *, max_insert_rows: int = 100, max_post_body_bytes: int = 2 * 1024 * 1024) -> None:
        self.db = sqlite3.connect(":memory:", check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.max_insert_rows = max_insert_rows
        self.max_post_body_bytes = max_post_body_bytes
        self.requests: list[tuple[str, str]] = []
        self._faults: list[tuple[str, str, str]] = []
        self._late: Callable[[], Reply] | None = None
        self._lock = threading.RLock()

    # -- scripting ---------------------------------------------------------------------------------------

    def lose(self, method: str, path_end: str, how: str = "after") -> None:
        """Lose the answer to the next ``method`` request whose path ends with ``path_end``."""
        self._faults.append((method, path_end, how))

    def table(self, name: str) -> list[dict[str, Any]]:
        return [dict(row) for row in self.db.execute(f"select * from {quoted(name)} order by rowid")]

    def exists(self, name: str) -> bool:
        found = self.db.execute("select 1 from sqlite_master where type = 'table' and name = ?", [name])
        return found.fetchone() is not None

    def execute(self, sql: str, params: Any = ()) -> None:
        with self.db:
            self.db.execute(sql, params)

    def posts(self) -> list[str]:
        return [path for method, path in self.requests if method == "POST"]

    # -- the handler -------------------------------------------------------------------------------------

    def __call__(self, request: requests.PreparedRequest) -> Reply | BaseException:
        with self._lock:  # one request at a time, as Datasette runs writes on one thread
            return self._handle(request)

    def _handle(self, request: requests.PreparedRequest) -> Reply | BaseException:
        if self._late is not None and request.method == "POST":  # the write given up on is done now
            late, self._late = self._late, None
            late()
        url = urlsplit(request.url or "")
        path, method = unquote(url.path), request.method or ""
        self.requests.append((method, path))
        fault = next((f for f in self._faults if f[0] == method and path.endswith(f[1])), None)
        if fault is not None:
            self._faults.remove(fault)
            how = fault[2]
            if how == "before":
                return connection_dropped(request)
            if how == "late":
                self._late = lambda: self._answer(method, path, url.query, request)
                return read_timeout(request)
            self._answer(method, path, url.query, request)
            return Reply(502, body="Bad Gateway") if how == "gateway" else connection_dropped(request)
        return self._answer(method, path, url.query, request)

    def _answer(self, method: str, path: str, query: str, request: requests.PreparedRequest) -> Reply:
        parts = path.strip("/").split("/")
        params = parse_qsl(query, keep_blank_values=True)
        if path == "/-/settings.json":
            limits = {
                "max_insert_rows": self.max_insert_rows,
                "max_post_body_bytes": self.max_post_body_bytes,
            }
            return Reply(200, json={**limits, "max_returned_rows": 1000})
        if method == "POST":
            body = _body(request)
            if parts[1:] == ["-", "create"]:
                return self._create(body)
            if parts[2:] in (["-", "insert"], ["-", "upsert"]):
                return self._insert(parts[1], body, upsert=parts[3] == "upsert")
            if parts[2:] == ["-", "drop"]:
                self.execute(f"drop table {quoted(parts[1])}")
                return Reply(200, json={"ok": True})
        if method == "GET":
            if parts[2:] == ["-", "schema.json"]:
                found = self.db.execute("select sql from sqlite_master where name = ?", [parts[1]]).fetchone()
                return Reply(200, json={"schema": found[0]}) if found else _error(404, "Table not found")
            if len(parts) == 2 and parts[1].endswith(".json"):
                return self._page(parts[1][: -len(".json")], params)
            if len(parts) == 3 and parts[2].endswith(".json"):
                return self._row(parts[1], parts[2][: -len(".json")].split(","))
        return _error(404, f"no fake route for {method} {path}")

    def _create(self, body: dict[str, Any]) -> Reply:
        table = body["table"]
        if self.exists(table):
            return _error(400, f'Table "{table}" already exists')
        keys = body.get("pks") or ([body["pk"]] if body.get("pk") else [])
        columns = [f"{quoted(c['name'])} {TYPES[c.get('type', 'text')]}" for c in body["columns"]]
        if len(keys) == 1:
            columns = [c + (" PRIMARY KEY" if c.startswith(quoted(keys[0]) + " ") else "") for c in columns]
        elif keys:
            columns.append(f"PRIMARY KEY ({', '.join(map(quoted, keys))})")
        self.execute(f"CREATE TABLE {quoted(table)} (\n   " + ",\n   ".join(columns) + "\n)")
        return Reply(201, json={"ok": True, "database": "data", "table": table, "schema": "..."})

    def _insert(self, table: str, body: dict[str, Any], *, upsert: bool) -> Reply:
        rows = body["rows"]
        if len(rows) > self.max_insert_rows:
            return _error(400, f"Too many rows, maximum allowed is {self.max_insert_rows}")
        verb = "insert or replace" if upsert or body.get("replace") else "insert"
        verb = "insert or ignore" if body.get("ignore") else verb
        try:
            with self.db:
                if body.get("alter"):
                    have = {r[1] for r in self.db.execute(f"pragma table_info({quoted(table)})")}
                    for name in dict.fromkeys(c for row in rows for c in row if c not in have):
                        self.db.execute(f"alter table {quoted(table)} add column {quoted(name)}")
                for row in rows:
                    names = ", ".join(map(quoted, row))
                    marks = ", ".join("?" for _ in row)
                    values = [json.dumps(v) if isinstance(v, dict | list) else v for v in row.values()]
                    self.db.execute(f"{verb} into {quoted(table)} ({names}) values ({marks})", values)
        except sqlite3.Error as exc:
            return _error(400, str(exc))
        return Reply(200 if upsert else 201, json={"ok": True})

    def _page(self, table: str, params: list[tuple[str, str]]) -> Reply:
        if not self.exists(table):
            return _error(404, "Table not found")
        where, values = ["1"], []
        for name, value in params:
            if name.endswith("__in"):
                items = json.loads(value)
                where.append(f"{quoted(name[: -len('__in')])} in ({', '.join('?' for _ in items)})")
                values.extend(items)
        sql = f"from {quoted(table)} where {' and '.join(where)}"
        size = int(dict(params).get("_size", 100))
        rows = [dict(r) for r in self.db.execute(f"select * {sql} limit {size}", values)]
        count = self.db.execute(f"select count(*) {sql}", values).fetchone()[0]
        return Reply(200, json={"ok": True, "rows": rows, "count": count, "next": None})

    def _row(self, table: str, key: list[str]) -> Reply:
        keys = [
            r[1]
            for r in sorted(self.db.execute(f"pragma table_info({quoted(table)})"), key=lambda r: r[5])
            if r[5]
        ]
        where = " and ".join(f"{quoted(k)} = ?" for k in keys)
        rows = [dict(r) for r in self.db.execute(f"select * from {quoted(table)} where {where}", key)]
        return Reply(200, json={"ok": True, "rows": rows}) if rows else _error(404, "Record not found")


def _body(request: requests.PreparedRequest) -> dict[str, Any]:
    body = request.body
    if body is not None and not isinstance(body, bytes | str):
        body = b"".join(body)
    return json.loads(body or "{}")
