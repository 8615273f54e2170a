"""
Did a Datasette write whose answer was lost happen? The checks the HTTP core runs (``reconcile=``).

- ``/-/create``: the table's facts, read again. There with the columns and the key asked: the create
  happened, and an answer shaped like the server's stands for it; not there: it is sent again. A request sent
  again after an earlier attempt that is refused as "already exists" counts as done on the same check (the
  server acted on the earlier one after all).
- ``/-/insert`` (mode ``insert``; the other modes are idempotent and simply sent again): a batch is atomic,
  so its rows are read back by key, with ``view-table`` only (no SQL): one table page filtered ``key__in``
  per page of keys, or each row by its key for a compound key. All there with the values sent, compared as
  SQLite stores them (booleans as 0/1, numbers in a text column as text, ...): done; none there: sent
  again; some, or other values: another writer was at work, and a :class:`ConflictError` names the row.
- A batch refused when sent again after its answer was lost (a key already there) is checked once more: the
  server may have stored it after the check looked.
- A rowid table has no key to look rows up by: its lost inserts stay failed, and the error says why.

A check that finds another writer raises :class:`Found`, which is not a ``CloudApiError``: the core would take
that for a failed check and raise the lost answer's error instead. The sender unwraps it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from airflow_provider_cloud.exceptions import (
    ApiConnectionError,
    BadRequestError,
    CloudApiError,
    ConflictError,
    NotFoundError,
)
from airflow_provider_cloud.hooks.datasette.batches import Batch
from airflow_provider_cloud.hooks.datasette.wire import (
    SERVICE,
    Log,
    RequestJson,
    database_path,
    row_path,
    table_path,
)
from airflow_provider_cloud.hooks.rowstore import DatasetInfo

#: The longest ``key__in`` value put in one URL (characters of JSON); more keys go in further requests.
MAX_KEYS_CHARS = 4000


class Counts(Protocol):
    """The hook's count of requests sent (its ``RequestCounts``)."""

    attempts: int


@dataclass(frozen=True)
class Checks:
    """
    What checking a lost answer needs of the hook, as narrow callables.

    ``get_json`` is its ``request_json``; ``facts`` reads the table's facts afresh; ``counts`` counts its
    requests sent (to tell a request sent again from a first one); ``page_size`` gives the rows a table page
    may hold.
    """

    get_json: RequestJson
    facts: Callable[[], DatasetInfo]
    counts: Counts
    page_size: Callable[[], int]

    def attempts(self) -> int:
        return self.counts.attempts


class Found(Exception):
    """Carries the error of a check that found another writer's rows out of the HTTP core's retry loop."""

    def __init__(self, error: ConflictError) -> None:
        super().__init__(str(error))
        self.error = error


def in_doubt(exc: CloudApiError) -> bool:
    """Tell whether a failed write may have happened: no answer, or a 5xx, and not to be sent again."""
    return not exc.retryable and (isinstance(exc, ApiConnectionError) or (exc.status_code or 0) >= 500)


# -- create ------------------------------------------------------------------------------------------------


def create_table(
    database: str, body: Mapping[str, Any], checks: Checks, *, log: Log, table_url: str | None = None
) -> dict[str, Any]:
    """Send ``/-/create`` and return its answer; a lost answer is checked against the table's facts."""
    answer = {"ok": True, "database": database, "table": body["table"], "checked": True}
    if table_url is not None:
        answer |= {"table_url": table_url, "table_api_url": f"{table_url}.json"}
    before = checks.attempts()

    def check() -> dict[str, Any] | None:
        return answer if as_asked(checks.facts(), body) else None

    path = f"{database_path(database)}/-/create"
    try:
        return dict(checks.get_json("POST", path, json_body=body, reconcile=check))
    except BadRequestError as exc:
        if checks.attempts() - before > 1 and already_exists(exc) and as_asked(checks.facts(), body):
            log.info(
                "Table %s already exists as asked: an earlier attempt created it (its answer was lost)",
                body["table"],
            )
            return answer
        raise


def already_exists(exc: BadRequestError) -> bool:
    return any("already exists" in e for e in exc.errors)


def as_asked(info: DatasetInfo, body: Mapping[str, Any]) -> bool:
    """Tell whether a table is there with the columns and the primary key a create body asks for."""
    names = {str(c["name"]) for c in body.get("columns") or ()}
    keys = body.get("pks") or ([body["pk"]] if body.get("pk") else [])
    return info.exists and set(info.columns) == names and list(info.keys) == list(keys)


# -- insert ------------------------------------------------------------------------------------------------


class RowsCheck:
    """
    Makes the check of each batch inserted into a keyed table (``for_batch``).

    :param keys: the table's primary key columns (at least one).
    """

    def __init__(self, checks: Checks, database: str, table: str, keys: Sequence[str]) -> None:
        self.get_json = checks.get_json
        self.page_size = checks.page_size
        self.database = database
        self.table = table
        self.keys = list(keys)

    def for_batch(self, batch: Batch) -> BatchCheck:
        return BatchCheck(self, batch)

    def check(self, batch: Batch) -> dict[str, Any] | None:
        """Return a stand-in answer if every row of the batch is stored as sent, ``None`` if none is."""
        sent: list[dict[str, Any]] = json.loads(batch.encoded())  # the values as they travelled
        positions = batch.indices or range(batch.first_index, batch.first_index + len(sent))
        lines = [batch.origin.line(position) for position in positions]
        stored = self.read_back([[row[k] for k in self.keys] for row in sent])
        present = [
            (line, row, found) for line, row in zip(lines, sent) if (found := stored[_key(row, self.keys)])
        ]
        if not present:
            return None
        lost = f"the answer to the insert of the rows at {batch.span()} was lost"
        if len(present) < len(sent):
            there = _some([line for line, _, _ in present])
            raise Found(
                _conflict(
                    f"{lost}, and {len(present)} of its {len(sent)} rows are in the table (lines {there})"
                )
            )
        for line, row, found in present:
            for column, value in row.items():
                if not stored_equal(value, found.get(column)):
                    key = [row[k] for k in self.keys]
                    raise Found(
                        _conflict(
                            f"{lost}, and the row of line {line} (key {key}) is in the table with {column!r} = "
                            f"{found.get(column)!r}, not {value!r}"
                        )
                    )
        return {"ok": True, "checked": True}

    def read_back(self, keys: list[list[Any]]) -> dict[tuple[str, ...], dict[str, Any] | None]:
        """Return the stored row of each key (``None``: not there), by canonical key."""
        found: dict[tuple[str, ...], dict[str, Any] | None] = {_canon_key(k): None for k in keys}
        path = table_path(self.database, self.table)
        if len(self.keys) > 1:
            for key in keys:
                try:
                    rows = self.get_json("GET", f"{path}/{row_path(key)}.json").get("rows") or []
                except NotFoundError:
                    rows = []
                for row in rows:
                    found[_key(row, self.keys)] = row
            return found
        column = self.keys[0]
        for chunk in _chunks([k[0] for k in keys], self.page_size()):
            params = [("_size", str(len(chunk))), ("_nofacet", "1"), ("_nosuggest", "1")]
            params.append((f"{column}__in", json.dumps(chunk)))
            for row in self.get_json("GET", f"{path}.json", params=params).get("rows") or []:
                found[_key(row, self.keys)] = row
        return found


class BatchCheck:
    """The check of one batch, as the core calls it; ``asked`` tells whether it ran (an answer was lost)."""

    def __init__(self, rows: RowsCheck, batch: Batch) -> None:
        self.rows = rows
        self.batch = batch
        self.asked = False

    def __call__(self) -> dict[str, Any] | None:
        self.asked = True
        return self.rows.check(self.batch)

    def stored_after_all(self) -> bool:
        """
        Tell whether a batch refused when sent again (a key already there) was stored by an earlier attempt.

        That happens when the server was still at work when the client gave up: the check found nothing.
        """
        if not self.asked:
            return False
        try:
            return self.rows.check(self.batch) is not None
        except Found as found:
            raise found.error from None


def _conflict(text: str) -> ConflictError:
    return ConflictError(
        f"{text}: another writer wrote these keys meanwhile; the batch was neither counted done nor sent again",
        service=SERVICE,
    )


def _some(lines: Sequence[int]) -> str:
    shown = ", ".join(map(str, lines[:5]))
    return shown + (", ..." if len(lines) > 5 else "")


def _chunks(values: list[Any], size: int) -> list[list[Any]]:
    """Split key values into lists of at most ``size`` whose JSON stays under :data:`MAX_KEYS_CHARS`."""
    chunks: list[list[Any]] = [[]]
    chars = 0
    for value in values:
        width = len(json.dumps(value)) + 1
        if chunks[-1] and (len(chunks[-1]) >= size or chars + width > MAX_KEYS_CHARS):
            chunks.append([])
            chars = 0
        chunks[-1].append(value)
        chars += width
    return [chunk for chunk in chunks if chunk]


def _canon(value: Any) -> str:
    """Return a key value as text, the same whether SQLite stored it as a number or as text."""
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def _canon_key(values: Sequence[Any]) -> tuple[str, ...]:
    return tuple(map(_canon, values))


def _key(row: Mapping[str, Any], keys: Sequence[str]) -> tuple[str, ...]:
    return _canon_key([row.get(k) for k in keys])


def stored_equal(sent: Any, stored: Any) -> bool:
    """
    Tell whether a value read back is the value sent, as SQLite stores it.

    Booleans are stored as 0/1; a number in a text column comes back as text and numeric text in a number
    column as a number (type affinity); a list or an object is stored as JSON text; a blob is rendered
    as the ``{"$base64": ...}`` object it was sent as.
    """
    if isinstance(sent, bool):
        sent = int(sent)
    if sent is None or stored is None:
        return sent is None and stored is None
    if sent == stored:
        return True
    if isinstance(sent, dict | list):
        if not isinstance(stored, str):
            return False
        try:
            return bool(json.loads(stored) == sent)
        except ValueError:
            return False
    try:
        return float(sent) == float(stored)
    except (TypeError, ValueError):
        return False
