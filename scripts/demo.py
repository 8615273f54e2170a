"""
The demo: a real local Datasette, rows written and read back through ``DatasetteHook``, a summary printed.

Run it with ``make demo``. Every server it starts is stopped before it exits.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATE = ROOT / ".demo"


def _prepare_airflow_home() -> None:
    home = STATE / "airflow"
    home.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("AIRFLOW_HOME", str(home))
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    os.environ.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{home / 'airflow.db'}")


def _people(count: int, seed: int = 7) -> list[dict[str, object]]:
    rng = random.Random(seed)
    names = ["Ada", "Grace", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Margaret"]
    return [
        {
            "id": i,
            "name": f"{rng.choice(names)} {i}",
            "score": round(rng.uniform(0, 100), 2),
            "active": rng.random() < 0.7,
            "joined": f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        }
        for i in range(1, count + 1)
    ]


def main() -> int:
    _prepare_airflow_home()
    from airflow_provider_cloud.hooks.datasette import DatasetteHook
    from airflow_provider_cloud.testing.datasette import DatasetteServer

    with (
        tempfile.TemporaryDirectory(prefix="apc-demo-") as directory,
        DatasetteServer(directory=directory) as server,
    ):
        name, value = server.env_var("datasette_demo")
        os.environ[name] = value
        hook = DatasetteHook("datasette_demo")
        ok, message = hook.test_connection()
        print(f"Datasette {server.url}: {message}")
        if not ok:
            return 1

        rows = _people(5_000)
        started = time.perf_counter()
        written = hook.write_rows("people", rows, key="id", create=True)
        took = time.perf_counter() - started
        print(f"Wrote {written.rows} rows in {written.batches} batches ({written.rows / took:,.0f} rows/s)")

        changed = [dict(r, score=100.0) for r in rows[:500]]
        again = hook.write_rows("people", changed, mode="upsert")
        print(f"Upserted {again.rows} rows again: the table still has {hook.count_rows('people')} rows")

        top = list(hook.iter_rows("people", where={"score__gte": 100}, columns=["id", "name"], order_by="id"))
        print(f"Rows with score 100: {len(top)} (first: {top[0]})")

        read = sum(1 for _ in hook.iter_rows("people"))
        print(f"Read back {read} rows with keyset paging")

        would = hook.delete_rows("people", where={"active": False}, dry_run=True)
        deleted = hook.delete_rows("people", where={"active": False})
        print(f"Clean-up of inactive people: dry run said {would}, deleted {deleted}")
        print(f"Rows left: {hook.count_rows('people')}; table columns: {hook.get_columns('people')}")
        hook.close()
    print("Stopped the local Datasette. Demo done.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
