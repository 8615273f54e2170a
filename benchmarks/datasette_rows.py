"""
DatasetteHook beside minimal keep-alive ``requests`` loops, against fresh local Datasette servers, in one run.

- writes: ``write_rows`` (from row dicts) beside a loop POSTing the same batches pre-built as JSON bytes;
- reads: ``iter_rows`` beside a loop following ``next_url`` with ``_size=max``;
- at the server's default batch limit (100) and with ``-s max_insert_rows 1000``;
- peak memory (max RSS of a child process) writing and reading 100,000 and 1,000,000 rows.

Each pair runs ``--rounds`` times, alternating which goes first, into fresh tables; medians are printed.
Usage: ``python benchmarks/datasette_rows.py [--rows 100000] [--rounds 3] [--skip-memory]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
HOME = Path(tempfile.mkdtemp(prefix="apc-bench-"))
os.environ.setdefault("AIRFLOW_HOME", str(HOME))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

COLUMNS = {"id": "integer", "name": "text", "score": "float", "qty": "integer", "born": "text", "note": "text"}


def generate_rows(count: int, seed: int = 42) -> Iterator[dict[str, object]]:
    rng = random.Random(seed)
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
    for i in range(1, count + 1):
        yield {
            "id": i,
            "name": f"{rng.choice(words)} {rng.choice(words)}",
            "score": round(rng.uniform(0, 1000), 3),
            "qty": rng.randint(0, 10_000),
            "born": f"19{rng.randint(50, 99)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "note": " ".join(rng.choice(words) for _ in range(rng.randint(2, 8))),
        }


def make_hook(server: object, conn_id: str) -> object:
    from airflow_provider_cloud.hooks.datasette import DatasetteHook

    name, value = server.env_var(conn_id)  # type: ignore[attr-defined]
    os.environ[name] = value
    return DatasetteHook(conn_id)


def baseline_write(server: object, table: str, bodies: list[bytes]) -> None:
    import requests

    session = requests.Session()
    headers = {"Authorization": f"Bearer {server.token}", "Content-Type": "application/json"}  # type: ignore[attr-defined]
    url = f"{server.url}/{server.database}/{table}/-/insert"  # type: ignore[attr-defined]
    for body in bodies:
        response = session.post(url, data=body, headers=headers, timeout=60)
        response.raise_for_status()
    session.close()


def baseline_read(server: object, table: str) -> int:
    import requests

    session = requests.Session()
    headers = {"Authorization": f"Bearer {server.token}"}  # type: ignore[attr-defined]
    url: str | None = f"{server.url}/{server.database}/{table}.json?_size=max"  # type: ignore[attr-defined]
    count = 0
    while url:
        payload = session.get(url, headers=headers, timeout=60).json()
        count += len(payload["rows"])
        url = payload.get("next_url")
    session.close()
    return count


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def compare(
    label: str, rounds: int, ours: Callable[[int], object], theirs: Callable[[int], object], rows: int
) -> dict[str, float]:
    ours_times, theirs_times = [], []
    for i in range(rounds):
        pair = [(ours_times, ours), (theirs_times, theirs)]
        if i % 2:
            pair.reverse()
        for bucket, fn in pair:
            bucket.append(timed(lambda fn=fn: fn(i)))
    ours_rate = rows / statistics.median(ours_times)
    theirs_rate = rows / statistics.median(theirs_times)
    ratio = ours_rate / theirs_rate
    print(f"{label:<38} {ours_rate:>12,.0f} {theirs_rate:>14,.0f} {ratio:>8.2f}")
    return {"ours": ours_rate, "baseline": theirs_rate, "ratio": ratio}


def run_speed(rows: int, rounds: int) -> dict[str, dict[str, float]]:
    from airflow_provider_cloud.testing.datasette import DatasetteServer

    data = list(generate_rows(rows))
    results: dict[str, dict[str, float]] = {}
    print(f"{'case (' + format(rows, ',') + ' rows)':<38} {'hook rows/s':>12} {'minimal rows/s':>14} {'ratio':>8}")
    for limit in (100, 1000):
        with DatasetteServer(settings={"max_insert_rows": limit}) as server:
            hook = make_hook(server, f"bench_{limit}")
            bodies = [
                json.dumps({"rows": data[i : i + limit]}, separators=(",", ":")).encode()
                for i in range(0, len(data), limit)
            ]

            def fresh(prefix: str, i: int, limit: int = limit, hook: object = hook) -> str:
                table = f"{prefix}_{limit}_{i}"
                hook.create_table(table, COLUMNS, pk="id")  # type: ignore[attr-defined]
                return table

            def ours_write(i: int, hook: object = hook) -> None:
                table = fresh("hook", i)
                result = hook.write_rows(table, iter(data), mode="insert")  # type: ignore[attr-defined]
                assert result.rows == rows, result

            def theirs_write(i: int, server: object = server, bodies: list[bytes] = bodies) -> None:
                baseline_write(server, fresh("loop", i), bodies)

            results[f"write_{limit}"] = compare(
                f"write, batch {limit}", rounds, ours_write, theirs_write, rows
            )

            def ours_read(i: int, hook: object = hook) -> None:
                count = sum(1 for _ in hook.iter_rows(f"hook_{limit}_0"))  # type: ignore[attr-defined]
                assert count == rows, count

            def theirs_read(i: int, server: object = server) -> None:
                assert baseline_read(server, f"loop_{limit}_0") == rows

            results[f"read_{limit}"] = compare(
                f"read (server limit {limit})", rounds, ours_read, theirs_read, rows
            )
            hook.close()  # type: ignore[attr-defined]
    return results


def memory_child(rows: int) -> None:
    """Write then read ``rows`` rows from a generator in this process and print the peak RSS in MiB."""
    from airflow_provider_cloud.testing.datasette import DatasetteServer

    with DatasetteServer(settings={"max_insert_rows": 1000}) as server:
        hook = make_hook(server, "bench_memory")
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        result = hook.write_rows("people", generate_rows(rows), key="id", create=True)  # type: ignore[attr-defined]
        read = sum(1 for _ in hook.iter_rows("people"))  # type: ignore[attr-defined]
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        assert result.rows == rows == read, (result, read)
    print(json.dumps({"rows": rows, "start_mib": before / 1024, "peak_mib": peak / 1024}))


def run_memory(sizes: list[int]) -> list[dict[str, float]]:
    out = []
    print(f"\n{'peak memory (write + read)':<38} {'RSS before':>12} {'peak RSS':>14}")
    for size in sizes:
        done = subprocess.run(
            [sys.executable, __file__, "--memory-child", str(size)], capture_output=True, text=True, check=True
        )
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{format(size, ',') + ' rows':<38} {figures['start_mib']:>9.1f} MiB {figures['peak_mib']:>11.1f} MiB")
        out.append(figures)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child)
        return
    run_speed(args.rows, args.rounds)
    if not args.skip_memory:
        run_memory([100_000, 1_000_000])


if __name__ == "__main__":
    main()
