"""
CloudTables imports that wait out their rate window deferred (the worker free), and resume where they stopped.

Two DAGs, for the end-to-end tests (``tests/e2e/test_e2e_deferred_import.py``, the production stack) and,
with smaller numbers, for ``dag.test()`` (``tests/dags/test_deferred_import_dag.py``):

``e2e_deferred_import``: ``make_readings`` writes ``rows`` readings as CSV (the last tenth repeat earlier
codes with new values, so the order of a key matters); ``import_readings`` upserts them by ``code`` into the
data set ``Readings`` and defers whenever the rate window makes it wait over ``E2E_DEFER_WAITS_OVER``
seconds (default 5). With the defaults, 200 rows at 50 requests per 15 s, it defers 3 times or more.
It needs:

- connection ``e2e_deferred_import_cloudtables``: conn type ``cloudtables``, host the emulator's URL, password
  its API key, extras ``{"rate_limit": 50, "rate_window": 15}``;
- the emulator: ``CloudTablesEmulator(rate_limit=50, rate_window=15)`` with
  ``ct.add_dataset("Readings", READINGS_POINTS)`` (the API cannot create data sets);
- optional Variables ``e2e_deferred_import_rows`` (default 200) and ``cloud_provider_file_base`` (where the
  CSV goes, default ``file://`` + ``$CLOUD_PROVIDER_FILE_BASE`` or ``/tmp/airflow-provider-cloud``: every
  worker must see it, so a shared folder or object storage with several machines).

``e2e_shared_budget``: two such imports (``import_a`` into ``Readings A``, ``import_b`` into ``Readings B``,
``e2e_shared_budget_rows`` rows each, default 40) share one API key's budget: connection
``e2e_shared_budget_cloudtables`` with extras ``{"rate_limit": 20, "rate_window": 10, "rate_budget_pool":
"e2e_cloudtables_budget"}``, the pool ``e2e_cloudtables_budget`` with 1 slot, the emulator at 20 per 10 s
with both data sets.
"""

from __future__ import annotations

import os
import re
from typing import Any

import pendulum
from airflow.sdk import ObjectStoragePath, Variable, dag, task

from airflow_provider_cloud.operators.rows import ImportRowsOperator

DEFERRED_CONN_ID = "e2e_deferred_import_cloudtables"
SHARED_CONN_ID = "e2e_shared_budget_cloudtables"
SHARED_POOL = "e2e_cloudtables_budget"
READINGS_POINTS = [("code", "text"), ("station", "text"), ("value", "number")]
#: Seconds of wait for the rate window over which an import defers (read where the file is parsed).
DEFER_WAITS_OVER = float(os.environ.get("E2E_DEFER_WAITS_OVER", "5"))
LOCAL_FILE_BASE = "file://" + os.path.abspath(
    os.environ.get("CLOUD_PROVIDER_FILE_BASE", "/tmp/airflow-provider-cloud")
)


def readings(count: int) -> list[dict[str, Any]]:
    """Return ``count`` readings; the last tenth repeat the codes of the first rows with other values."""
    fresh = count - count // 10
    rows = [{"code": f"R{n:04d}", "station": f"Station {n % 7}", "value": n * 1.5} for n in range(fresh)]
    rows += [{"code": f"R{n:04d}", "station": "moved", "value": 1000 + n} for n in range(count - fresh)]
    return rows


def readings_csv(rows: list[dict[str, Any]]) -> str:
    return "code,station,value\n" + "".join(f"{r['code']},{r['station']},{r['value']}\n" for r in rows)


@task
def make_readings(count_variable: str, default: int, name: str, **context: Any) -> str:
    """Write the readings CSV for this run under the file base; return its URL."""
    count = int(Variable.get(count_variable, default=default))
    base = ObjectStoragePath(Variable.get("cloud_provider_file_base", default=LOCAL_FILE_BASE))
    run = re.sub(r"[^A-Za-z0-9_.-]", "_", str(context["run_id"]))
    path = base / "e2e_deferred_import" / run / f"{name}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(readings_csv(readings(count)))
    return str(path)


def import_readings(
    task_id: str, conn_id: str, dataset: str, source: Any, **kwargs: Any
) -> ImportRowsOperator:
    return ImportRowsOperator(
        task_id=task_id,
        conn_id=conn_id,
        dataset=dataset,
        source=source,
        key="code",
        defer_waits_over=DEFER_WAITS_OVER,
        progress_every=5,
        **kwargs,
    )


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False, tags=["e2e"])
def e2e_deferred_import() -> None:
    source = make_readings("e2e_deferred_import_rows", 200, "readings")
    import_readings("import_readings", DEFERRED_CONN_ID, "Readings", source)


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False, tags=["e2e"])
def e2e_shared_budget() -> None:
    for name in ("a", "b"):
        source = make_readings.override(task_id=f"make_{name}")("e2e_shared_budget_rows", 40, name)
        import_readings(
            f"import_{name}", SHARED_CONN_ID, f"Readings {name.upper()}", source, pool=SHARED_POOL
        )


e2e_deferred_import()
e2e_shared_budget()
