"""KloudlessUploadFileOperator retried: a retry takes its earlier try's file for its own; a first try never does."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from airflow_provider_cloud.exceptions import ConflictError
from airflow_provider_cloud.operators.kloudless import KloudlessUploadFileOperator

pytestmark = pytest.mark.integration

CONTENT = b"id,total\n1,10\n2,20\n"


@dataclass
class TaskInstance:
    try_number: int


@dataclass
class DagRun:
    start_date: datetime | None


def upload(conn_id: str, source: Any, *, try_number: int, run_started: datetime | None, **kwargs: Any) -> Any:
    operator = KloudlessUploadFileOperator(
        task_id="upload", conn_id=conn_id, source=str(source), name="orders.csv", **kwargs
    )
    return operator.execute({"ti": TaskInstance(try_number), "dag_run": DagRun(run_started)})  # type: ignore[arg-type]


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_bytes(CONTENT)
    return path


def test_a_retry_returns_the_file_its_earlier_try_uploaded(
    kloudless_emulator, kloudless_account_id, kloudless_conn_id, source
):
    run_started = datetime.now(UTC) - timedelta(minutes=10)
    earlier = kloudless_emulator.add_file(
        kloudless_account_id, "orders.csv", CONTENT
    )  # try 1 made it, then failed

    result = upload(kloudless_conn_id, source, try_number=2, run_started=run_started)

    assert result == {
        "file_id": earlier["id"],
        "name": "orders.csv",
        "size": len(CONTENT),
        "path": "/orders.csv",
    }
    assert [e["type"] for e in kloudless_emulator.events(kloudless_account_id)] == [
        "add"
    ]  # nothing sent twice


def test_a_retry_still_fails_on_a_file_from_before_the_run_or_of_another_size(
    kloudless_emulator, kloudless_account_id, kloudless_conn_id, source
):
    kloudless_emulator.add_file(kloudless_account_id, "orders.csv", CONTENT)
    with pytest.raises(ConflictError):  # the run started after that file was made: somebody else's
        upload(kloudless_conn_id, source, try_number=2, run_started=datetime.now(UTC) + timedelta(minutes=10))
    kloudless_emulator.add_file(kloudless_account_id, "orders.csv", CONTENT + b"3,30\n", overwrite=True)
    with pytest.raises(ConflictError):
        upload(kloudless_conn_id, source, try_number=3, run_started=datetime.now(UTC) - timedelta(minutes=10))


def test_a_first_try_fails_on_an_existing_file_even_the_same(
    kloudless_emulator, kloudless_account_id, kloudless_conn_id, source
):
    kloudless_emulator.add_file(kloudless_account_id, "orders.csv", CONTENT)
    with pytest.raises(ConflictError):
        upload(kloudless_conn_id, source, try_number=1, run_started=datetime.now(UTC) - timedelta(minutes=10))
    with pytest.raises(ConflictError):  # no run start known: nothing to tell an earlier try's file by
        upload(kloudless_conn_id, source, try_number=2, run_started=None)
