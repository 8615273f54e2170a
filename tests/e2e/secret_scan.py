"""
Where a secret shows in a stopped or running Airflow stack: every file under its home, every text of its metadata
database (SQLite or PostgreSQL), and the command lines of its processes.

A finding says where (file and line, or table and column, or process) and shows the text around the secret with
the secret itself replaced, so a failing test never prints it. Airflow's own supervisor, at DEBUG, logs the
connection payloads it hands to task processes: those lines are told apart (``airflow_supervisor_payload``) so
that a test can allow exactly them and nothing of ours.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.processes import tagged_pids

_CONTEXT = 60
#: Airflow's supervisor (task-sdk) logs each message it relays between a task process and the API server at
#: DEBUG ("Received message from task runner ... msg=SetXCom(...)", "Sending ... GetConnection ..."): XCom
#: values, and connections, passwords included, where the connection comes from the database or a secrets
#: backend. Its lines, in the JSON form of task logs and the console form of process logs.
SUPERVISOR_LOGGER = "supervisor"
_CONSOLE_RECORD = re.compile(r"^\S+ \[debug\s*\] .*? \[(?P<logger>[\w.]+)\] ")


@dataclass(frozen=True)
class Finding:
    secret: str
    where: str
    context: str
    airflow_supervisor_payload: bool = False

    def __str__(self) -> str:
        origin = " (Airflow's supervisor relaying a connection)" if self.airflow_supervisor_payload else ""
        return f"{self.secret} in {self.where}{origin}: ...{self.context}..."


def _context(text: str, at: int, secret: str, name: str) -> str:
    start, end = max(0, at - _CONTEXT), at + len(secret) + _CONTEXT
    return text[start:end].replace(secret, f"<{name}>").replace("\n", "\\n")


def _occurrences(text: str, secrets: Mapping[str, str]) -> Iterator[tuple[str, int]]:
    for name, secret in secrets.items():
        start = text.find(secret)
        while start != -1:
            yield name, start
            start = text.find(secret, start + 1)


def _is_supervisor_payload(line: str) -> bool:
    """Tell whether a log line is Airflow's supervisor relaying a message at DEBUG (JSON or console form)."""
    console = _CONSOLE_RECORD.match(line)
    if console is not None:
        return console.group("logger") == SUPERVISOR_LOGGER
    try:
        record = json.loads(line)
    except ValueError:
        return False
    if not isinstance(record, dict):
        return False
    return record.get("logger") == SUPERVISOR_LOGGER and str(record.get("level", "")).lower() == "debug"


def _in_column(value: str, secrets: Mapping[str, str], where: str) -> list[Finding]:
    return [
        Finding(name, where, _context(value, at, secrets[name], name))
        for name, at in _occurrences(value, secrets)
    ]


def scan_files(root: Path, secrets: Mapping[str, str], *, skip: Iterable[Path] = ()) -> list[Finding]:
    """Return every occurrence of a secret in the files under ``root`` (by line), ``skip`` left out."""
    skipped = {path.resolve() for path in skip}
    found: list[Finding] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.resolve() in skipped:
            continue
        text = path.read_bytes().decode("utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), start=1):
            for name, at in _occurrences(line, secrets):
                found.append(
                    Finding(
                        name,
                        f"{path.relative_to(root)}:{number}",
                        _context(line, at, secrets[name], name),
                        _is_supervisor_payload(line),
                    )
                )
    return found


def scan_database(path: Path, secrets: Mapping[str, str]) -> list[Finding]:
    """Return every occurrence of a secret in the text and blob columns of an SQLite database."""
    found: list[Finding] = []
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        tables = [row[0] for row in connection.execute("select name from sqlite_master where type = 'table'")]
        for table in tables:
            quoted = '"' + table.replace('"', '""') + '"'
            cursor = connection.execute(f"select * from {quoted}")
            columns = [d[0] for d in cursor.description]
            for row in cursor:
                for column, value in zip(columns, row, strict=True):
                    if isinstance(value, bytes):
                        value = value.decode("utf-8", errors="replace")
                    if isinstance(value, str):
                        found += _in_column(value, secrets, f"{table}.{column}")
    finally:
        connection.close()
    return found


def scan_command_lines(tag_var: str, tag_value: str, secrets: Mapping[str, str]) -> list[Finding]:
    """Return every occurrence of a secret in the command lines of the processes tagged ``tag_var=tag_value``."""
    found: list[Finding] = []
    for pid in tagged_pids(tag_var, tag_value):
        try:
            command = (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        for name, at in _occurrences(command, secrets):
            found.append(
                Finding(name, f"command line of pid {pid}", _context(command, at, secrets[name], name))
            )
    return found


def scan_postgres(dsn: str, secrets: Mapping[str, str]) -> list[Finding]:
    """Return every occurrence of a secret in any column (as text; ``bytea`` decoded) of a PostgreSQL database."""
    import psycopg2

    found: list[Finding] = []
    connection = psycopg2.connect(dsn, connect_timeout=10)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "select table_schema, table_name, column_name, data_type from information_schema.columns"
                " where table_schema not in ('pg_catalog', 'information_schema')"
                " order by table_schema, table_name, ordinal_position"
            )
            columns = cursor.fetchall()
            for schema, table, column, data_type in columns:
                quoted = f'"{schema}"."{table}"', '"' + column.replace('"', '""') + '"'
                as_text = quoted[1] if data_type == "bytea" else f"{quoted[1]}::text"
                cursor.execute(f"select {as_text} from {quoted[0]} where {quoted[1]} is not null")
                for (value,) in cursor:
                    text = bytes(value).decode("utf-8", errors="replace") if data_type == "bytea" else value
                    found += _in_column(text, secrets, f"{table}.{column}")
    finally:
        connection.close()
    return found
