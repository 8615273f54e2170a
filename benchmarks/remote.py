"""
The row operators over a slow link: through the network-conditions proxy at several latencies, one fresh Datasette.

The proxy runs in a process of its own (the client's GIL is not shared with it), adding ``--latencies`` ms to each
request (half each way). At each latency, against the same server (its default ``max_insert_rows``, 100, so
``--batch`` 100 rows a write):

Import of a generated ``--rows``-row CSV (``ImportRowsOperator``, mode insert into a fresh table) beside
- a sequential minimal keep-alive ``requests`` loop (csv.DictReader, types cast, ``/-/insert`` one batch after
  another), the bar a client that keeps one request in flight meets;
- ``dclient insert`` (``--csv --create --pk id --batch-size N``);
- at 0 ms only, the same batches parsed and encoded beforehand and posted back to back: the server's ceiling.

Export of that table to CSV (``ExportRowsOperator``, pages of 1000) beside a sequential minimal loop following
``next_url``, and a ``.csv?_stream=on`` download for reference (one request). dclient cannot export a table (its
``query`` stops at ``max_returned_rows``).

Then the targets of issue 14, from the medians: at 50 ms the import ≥ 8 × the minimal loop and ≥ 0.6 of the
import at 0 ms, the export ≥ 4 × the ``next_url`` loop; at 0 ms the import ≥ 0.9 of pre-built. And the peak RSS
of a ``--memory-rows``-row import (a child process, straight to the server): the default window beside a window
of 1 and, with ``--before DIR`` (a copy of the package before the window, e.g. from ``git archive``), that code.

``--sweep`` times the import and export alone at each latency for windows 1 to 32 (how the default was chosen).
Usage: ``python benchmarks/remote.py [--rows 100000] [--rounds 3] [--latencies 0 20 50 100] [--skip-dclient]
[--skip-memory] [--memory-rows 1000000] [--before DIR] [--sweep]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import RssSampler, compare, header, operator_import, peak_rss_of, write_csv
from rows import count_rows, dclient_import, minimal_export, minimal_import, post_prebuilt, prebuilt_bodies

CONN_ID = "bench_remote"
SWEEP_WINDOWS = [1, 2, 4, 8, 16, 32]


@contextlib.contextmanager
def proxy_process(upstream: str, latency_ms: float) -> Iterator[str]:
    """Run a network-conditions proxy in a child process; yield its URL; stop it after."""
    child = subprocess.Popen(
        [sys.executable, __file__, "--proxy-child", upstream, str(latency_ms / 1000)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        url = child.stdout.readline().strip()
        if not url.startswith("http://"):
            raise RuntimeError(f"the proxy did not start: {url!r}")
        yield url
    finally:
        if child.stdin is not None:
            child.stdin.close()
        child.wait(timeout=30)


def proxy_child(upstream: str, latency: float) -> None:
    from airflow_provider_cloud.testing.proxy import NetworkConditionsProxy

    with NetworkConditionsProxy(upstream, latency=latency) as proxy:
        print(proxy.url, flush=True)
        sys.stdin.read()  # until the parent closes it


def use_connection(server: Any, host: str, **extra: Any) -> str:
    """Point connection :data:`CONN_ID` at ``host`` (the proxy) with the server's token and database."""
    connection = {**server.connection_dict(), "host": host}
    connection["extra"] = {**connection["extra"], **extra}
    os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"] = json.dumps(connection)
    return CONN_ID


def our_import(source: Path, table: str, batch: int) -> None:
    operator_import(CONN_ID, table, source, batch)


def our_export(table: str, destination: Path) -> int:
    from airflow_provider_cloud.operators.rows import ExportRowsOperator

    return int(
        ExportRowsOperator(task_id="e", conn_id=CONN_ID, dataset=table, destination=str(destination)).execute(
            {}
        )["rows"]
    )


def stream_through(via: Any, table: str, destination: Path) -> None:
    import requests

    url = f"{via.url}/{via.database}/{table}.csv?_stream=on"
    with requests.get(
        url, headers={"Authorization": f"Bearer {via.token}"}, stream=True, timeout=300
    ) as answer:
        answer.raise_for_status()
        with destination.open("wb") as f:
            for chunk in answer.iter_content(chunk_size=65536):
                f.write(chunk)


def run_latency(
    latency: int, server: Any, source: Path, work: Path, args: argparse.Namespace, results: dict[str, Any]
) -> None:
    rows, batch, rounds = args.rows, args.batch, args.rounds
    with proxy_process(server.url, latency) as url:
        via = SimpleNamespace(url=url, database=server.database, token=server.token)
        use_connection(server, url)
        names = ["operator rows/s", "minimal rows/s"] + ([] if args.skip_dclient else ["dclient rows/s"])
        names += ["prebuilt rows/s"] if latency == 0 else []
        ratios = (
            ["vs minimal"]
            + ([] if args.skip_dclient else ["vs dclient"])
            + (["vs prebuilt"] if latency == 0 else [])
        )
        header(f"{latency} ms: import CSV, batch {batch} ({rows:,} rows)", *names, *ratios)
        tag = f"{latency}ms"

        def ours(i: int) -> None:
            our_import(source, f"op_{tag}_{i}", batch)
            assert count_rows(server, f"op_{tag}_{i}") == rows

        def minimal(i: int) -> None:
            minimal_import(via, f"loop_{tag}_{i}", source, batch)

        def peer(i: int) -> None:
            dclient_import(via, f"dclient_{tag}_{i}", source, batch)
            assert count_rows(server, f"dclient_{tag}_{i}") == rows

        contenders = [ours, minimal] + ([] if args.skip_dclient else [peer])
        if latency == 0:
            bodies = prebuilt_bodies(source, batch)
            contenders.append(lambda i: post_prebuilt(via, f"prebuilt_{tag}_{i}", bodies))
        times = compare("ImportRowsOperator", rounds, rows, contenders)
        results[f"import {latency}"] = times

        header(
            f"{latency} ms: export CSV ({rows:,} rows, pages of 1000)",
            "operator rows/s",
            "next_url rows/s",
            "stream rows/s",
            "vs next_url",
            "vs stream",
        )
        table = f"op_{tag}_0"

        def ours_export(i: int) -> None:
            assert our_export(table, work / "op.csv") == rows

        def loop_export(i: int) -> None:
            minimal_export(via, table, work / "loop.csv")

        def stream(i: int) -> None:
            stream_through(via, table, work / "stream.csv")

        results[f"export {latency}"] = compare(
            "ExportRowsOperator", rounds, rows, [ours_export, loop_export, stream]
        )


def print_targets(results: dict[str, Any], latencies: list[int]) -> None:
    def median(key: str, k: int) -> float:
        return statistics.median(results[key][k])

    def paired(key: str, k: int) -> float:
        return statistics.median(o / m for o, m in zip(results[key][k], results[key][0]))

    print("\ntargets (issue 14)")
    if 50 in latencies:
        print(
            f"  import at 50 ms vs the sequential minimal loop: {paired('import 50', 1):.2f}x (target >= 8)"
        )
        if 0 in latencies:
            share = median("import 0", 0) / median("import 50", 0)
            print(f"  import at 50 ms vs the same import at 0 ms: {share:.2f} (target >= 0.6)")
        print(
            f"  export at 50 ms vs the sequential next_url loop: {paired('export 50', 1):.2f}x (target >= 4)"
        )
    if 0 in latencies:
        # paired() is the median of the rounds' (pre-built's time / ours): ours as a share of its speed
        share = paired("import 0", len(results["import 0"]) - 1)
        by_medians = median("import 0", len(results["import 0"]) - 1) / median("import 0", 0)
        print(
            f"  import at 0 ms vs pre-built batches back to back: {share:.2f} by rounds, {by_medians:.2f} by"
            " medians (target >= 0.9)"
        )
    for latency in latencies:
        print(
            f"  {latency:>3} ms: import {paired(f'import {latency}', 1):.2f}x the loop, "
            f"export {paired(f'export {latency}', 1):.2f}x the loop"
        )


def sweep(server: Any, source: Path, work: Path, args: argparse.Namespace) -> None:
    """Time our import and export alone for each window at each latency (one round each, interleaved twice)."""
    for latency in args.latencies:
        with proxy_process(server.url, latency) as url:
            header(f"{latency} ms: window sweep ({args.rows:,} rows)", "import rows/s", "export rows/s")
            for window in SWEEP_WINDOWS:
                use_connection(server, url, window=window)
                imports, exports = [], []
                for i in range(2):
                    table = f"sweep_{latency}_{window}_{i}"
                    started = time.perf_counter()
                    our_import(source, table, args.batch)
                    imports.append(time.perf_counter() - started)
                    started = time.perf_counter()
                    our_export(table, work / "sweep.csv")
                    exports.append(time.perf_counter() - started)
                rates = [args.rows / min(imports), args.rows / min(exports)]
                print(f"{'window ' + str(window):<44}" + "".join(f"{r:>16,.0f}" for r in rates), flush=True)


def memory_child(rows: int) -> None:
    """Import ``rows`` rows in this process (the connection from the parent); print the peak RSS in MiB."""
    tree = os.environ.get("APC_TREE")
    if tree:
        sys.path.insert(0, tree)
    import airflow_provider_cloud
    from airflow_provider_cloud.operators.rows import ImportRowsOperator

    assert not tree or airflow_provider_cloud.__file__.startswith(tree), airflow_provider_cloud.__file__
    with tempfile.TemporaryDirectory() as folder:
        source = write_csv(Path(folder) / "source.csv", rows)
        warm_up = write_csv(Path(folder) / "warm_up.csv", 10)
        suffix = f"{rows}_{os.getpid()}"
        ImportRowsOperator(
            task_id="w", conn_id=CONN_ID, dataset=f"warm_{suffix}", source=str(warm_up), key="id", create=True
        ).execute({})
        with RssSampler() as sampler:
            summary = ImportRowsOperator(
                task_id="i",
                conn_id=CONN_ID,
                dataset=f"memory_{suffix}",
                source=str(source),
                key="id",
                create=True,
            ).execute({})
        assert summary["rows_written"] == rows, summary
    print(json.dumps({"rows": rows, "start_mib": sampler.start, "peak_mib": sampler.peak}))


def memory(server: Any, args: argparse.Namespace) -> None:
    header(
        f"peak RSS, import of {args.memory_rows:,} rows (straight to the server)",
        "RSS at start MiB",
        "peak RSS MiB",
        "growth MiB",
    )
    runs: list[tuple[str, dict[str, str]]] = [
        ("this code, default window", {}),
        ("this code, window 1", {"window": "1"}),
    ]
    if args.before:
        runs.append((f"before ({args.before})", {"tree": args.before}))
    for label, how in runs:
        use_connection(server, server.url, **({"window": int(how["window"])} if "window" in how else {}))
        if "tree" in how:
            os.environ["APC_TREE"] = how["tree"]
        try:
            figures = peak_rss_of(__file__, str(args.memory_rows))
        finally:
            os.environ.pop("APC_TREE", None)
        growth = figures["peak_mib"] - figures["start_mib"]
        print(
            f"{label:<44}{figures['start_mib']:>16.1f}{figures['peak_mib']:>16.1f}{growth:>16.1f}", flush=True
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=100, help="rows per write")
    parser.add_argument("--latencies", type=int, nargs="+", default=[0, 20, 50, 100], help="ms per request")
    parser.add_argument("--skip-dclient", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--memory-rows", type=int, default=1_000_000)
    parser.add_argument("--before", help="a copy of the package before the window, for the memory comparison")
    parser.add_argument("--sweep", action="store_true", help="time windows 1 to 32 at each latency instead")
    parser.add_argument("--proxy-child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.proxy_child:
        proxy_child(args.proxy_child[0], float(args.proxy_child[1]))
        return
    if args.memory_child:
        memory_child(args.memory_child)
        return
    from airflow_provider_cloud.testing.datasette import DatasetteServer

    settings = {"max_insert_rows": args.batch} if args.batch > 100 else None
    with (
        tempfile.TemporaryDirectory(prefix="apc-bench-remote-") as folder,
        DatasetteServer(settings=settings) as server,
    ):
        work = Path(folder)
        source = write_csv(work / "source.csv", args.rows)
        if args.sweep:
            sweep(server, source, work, args)
            return
        if not args.skip_speed:
            results: dict[str, Any] = {}
            for latency in args.latencies:
                run_latency(latency, server, source, work, args, results)
            print_targets(results, args.latencies)
        if not args.skip_memory:
            memory(server, args)


if __name__ == "__main__":
    main()
