"""
The sample data the example DAGs expect: what ``make demo`` and the tests put in place before running them.

- ``<file base>/incoming/people.csv`` (:func:`write_people_csv`): ``id, name, email, score, updated_at`` with
  ``updated_at`` an ISO 8601 UTC time spread over the days before ``today``, so an incremental export has a
  high-water mark to follow and a retention clean-up has old rows to delete;
- the CloudTables data set ``People`` (:data:`CLOUDTABLES_PEOPLE_POINTS`): one data point per CSV column, under
  the names ``example_cloudtables_embed`` renames the columns to (CloudTables calls a row's own id ``id``);
- CSV files of orders (:func:`orders_csv`): ``id, customer, amount, ordered_at``, the files the Kloudless
  examples download and import.

Standard library only, no Airflow import: the demo uses it before Airflow is configured. Every value is
derived from a seed, so the same call gives the same rows.
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

PEOPLE_COLUMNS = ("id", "name", "email", "score", "updated_at")
ORDER_COLUMNS = ("id", "customer", "amount", "ordered_at")
#: The data points of the CloudTables data set ``People``, as ``(name, type)``; the key is ``Person``.
CLOUDTABLES_PEOPLE_POINTS = (
    ("Person", "number"),
    ("Name", "text"),
    ("Email", "text"),
    ("Score", "number"),
    ("Updated", "datetime"),
)

_FIRST_NAMES = ("Ada", "Grace", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Margaret", "Alan", "Radia")
_LAST_NAMES = ("Lovelace", "Hopper", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Hamilton", "Kay")


def iso_utc(moment: datetime) -> str:
    """Return a UTC time as ``YYYY-MM-DDTHH:MM:SSZ``: text that sorts in time order, as SQLite compares it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def people_rows(
    count: int, *, today: date, span_days: int = 60, first_id: int = 1, seed: int = 7
) -> list[dict[str, Any]]:
    """
    Return ``count`` people with ids from ``first_id``, updated at times spread over ``span_days`` before ``today``.

    The times are strictly increasing with the id and all before midnight (UTC) starting ``today``.
    """
    if count < 0 or span_days < 1:
        raise ValueError("count must be 0 or more and span_days at least 1")
    rng = random.Random(seed)
    start = datetime.combine(today - timedelta(days=span_days), time(), tzinfo=UTC)
    step = timedelta(days=span_days) / max(count, 1)
    rows = []
    for index in range(count):
        number = first_id + index
        first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
        rows.append(
            {
                "id": number,
                "name": f"{first} {last}",
                "email": f"{first.lower()}.{last.lower()}.{number}@example.com",
                "score": round(rng.uniform(0, 100), 1),
                "updated_at": iso_utc(start + step * index + timedelta(seconds=1)),
            }
        )
    return rows


def touched(rows: Iterable[Mapping[str, Any]], ids: Iterable[int], *, at: datetime) -> list[dict[str, Any]]:
    """Return a copy of ``rows`` where the people with these ids got a new score and ``updated_at`` ``at``."""
    chosen = set(ids)
    out = []
    for row in rows:
        new = dict(row)
        if new["id"] in chosen:
            new["score"] = round(float(new["score"]) / 2 + 50, 1)
            new["updated_at"] = iso_utc(at)
        out.append(new)
    return out


def csv_text(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """Return rows as CSV text with a header row (``None`` as an empty cell)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else row[c] for c in columns])
    return buffer.getvalue()


def write_people_csv(path: Path, rows: Iterable[Mapping[str, Any]]) -> Path:
    """Write people rows to ``path`` (parent folders created) and return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(csv_text(rows, PEOPLE_COLUMNS), encoding="utf-8")
    return path


def order_rows(count: int, *, first_id: int = 1, day: date, seed: int = 11) -> list[dict[str, Any]]:
    """Return ``count`` orders with ids from ``first_id``, ordered on ``day``."""
    rng = random.Random(seed + first_id)
    start = datetime.combine(day, time(8), tzinfo=UTC)
    return [
        {
            "id": first_id + index,
            "customer": f"{rng.choice(_FIRST_NAMES)} {rng.choice(_LAST_NAMES)}",
            "amount": round(rng.uniform(5, 500), 2),
            "ordered_at": iso_utc(start + timedelta(minutes=7 * index)),
        }
        for index in range(count)
    ]


def orders_csv(count: int, *, first_id: int = 1, day: date, seed: int = 11) -> bytes:
    """Return a CSV file of orders (UTF-8), as uploaded to Kloudless."""
    rows = order_rows(count, first_id=first_id, day=day, seed=seed)
    return csv_text(rows, ORDER_COLUMNS).encode("utf-8")
