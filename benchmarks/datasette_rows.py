"""
DatasetteHook beside minimal keep-alive ``requests`` loops, against fresh local Datasette servers, in one run.

- writes: ``write_rows`` (from row dicts) beside a loop POSTing the same batches pre-built as JSON bytes;
- reads: ``iter_rows`` beside a loop following ``next_url`` with ``_size=max``;
- at the server's default batch limit (100) and with ``-s max_insert_rows 1000``; reads go at the server's
  largest page (``max_returned_rows``, 1000) on both servers;
- peak memory (max RSS of a child process) writing and reading 100,000 and 1,000,000 rows.

Each pair runs ``--rounds`` times, rotating which goes first, into fresh tables; medians are printed.
Usage: ``python benchmarks/datasette_rows.py [--rows 100000] [--rounds 5] [--skip-memory]``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import COLUMNS, RssSampler, compare, generate_rows, header, print_peak_rss, use_server


def baseline_write(server: object, table: str, bodies: list[bytes]) -> None:
    import requests

    session = requests.Session()
    headers = {"Authorization": f"Bearer {server.token}", "Content-Type": "application/json"}  # type: ignore[attr-defined]
    url = f"{server.url}/{server.database}/{table}/-/insert"  # type: ignore[attr-defined]
    for body in bodies:
        session.post(url, data=body, headers=headers, timeout=60).raise_for_status()
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


def run_speed(rows: int, rounds: int) -> None:
    from airflow_provider_cloud.hooks.datasette import DatasetteHook
    from airflow_provider_cloud.testing.datasette import DatasetteServer

    data = list(generate_rows(rows))
    header(f"DatasetteHook, {rows:,} rows", "hook rows/s", "minimal rows/s", "ratio")
    for limit in (100, 1000):
        with DatasetteServer(settings={"max_insert_rows": limit}) as server:
            hook = DatasetteHook(use_server(server, f"bench_{limit}"))
            bodies = [
                json.dumps({"rows": data[i : i + limit]}, separators=(",", ":")).encode()
                for i in range(0, len(data), limit)
            ]

            def fresh(prefix: str, i: int, limit: int = limit, hook: DatasetteHook = hook) -> str:
                table = f"{prefix}_{limit}_{i}"
                hook.create_table(table, COLUMNS, pk="id")
                return table

            def ours_write(i: int, hook: DatasetteHook = hook) -> None:
                result = hook.write_rows(fresh("hook", i), iter(data), mode="insert")
                assert result.rows == rows, result

            def minimal_write(i: int, server: object = server, bodies: list[bytes] = bodies) -> None:
                baseline_write(server, fresh("loop", i), bodies)

            compare(f"write_rows, batch {limit}", rounds, rows, [ours_write, minimal_write])

            def ours_read(i: int, hook: DatasetteHook = hook, limit: int = limit) -> None:
                assert sum(1 for _ in hook.iter_rows(f"hook_{limit}_0")) == rows

            def minimal_read(i: int, server: object = server, limit: int = limit) -> None:
                assert baseline_read(server, f"loop_{limit}_0") == rows

            compare("iter_rows (pages of 1000)", rounds, rows, [ours_read, minimal_read])
            hook.close()


def memory_child(rows: int) -> None:
    """Write then read ``rows`` rows from a generator in this process; print the peak RSS in MiB."""
    from airflow_provider_cloud.hooks.datasette import DatasetteHook
    from airflow_provider_cloud.testing.datasette import DatasetteServer

    with DatasetteServer(settings={"max_insert_rows": 1000}) as server:
        hook = DatasetteHook(use_server(server, "bench_memory"))
        hook.write_rows("warm_up", generate_rows(10), key="id", create=True)  # imports and caches first
        assert sum(1 for _ in hook.iter_rows("warm_up")) == 10
        with RssSampler() as sampler:
            result = hook.write_rows("people", generate_rows(rows), key="id", create=True)
            read = sum(1 for _ in hook.iter_rows("people"))
        assert result.rows == rows == read, (result, read)
    print(json.dumps({"rows": rows, "start_mib": sampler.start, "peak_mib": sampler.peak}))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child)
        return
    run_speed(args.rows, args.rounds)
    if not args.skip_memory:
        print_peak_rss("memory, write_rows + iter_rows", __file__, [100_000, 1_000_000])


if __name__ == "__main__":
    main()
