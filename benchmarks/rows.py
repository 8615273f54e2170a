"""
The row operators beside minimal loops and peer tools, in one run against one fresh local Datasette.

The server is started with ``-s max_insert_rows 1000`` (the largest batch asked for); every contender writes the
same batch size, 100 and then 1000 rows per ``/-/insert`` by default.

Import of a generated CSV (``ImportRowsOperator``, insert into a fresh table) beside
- a minimal keep-alive ``requests`` loop (csv.DictReader, types cast, ``/-/create`` once, ``/-/insert`` batches),
- the ``dclient insert`` command-line tool (``--csv --create --pk id --batch-size N``),
- the server's own ceiling: the same batches, parsed and encoded beforehand, posted by a minimal loop.

Export to CSV (``ExportRowsOperator``, pages of the server's largest size, 1000) beside
- a minimal loop following ``next_url`` (``_size=max``) and writing CSV with the csv module,
- downloading ``.csv?_stream=on`` to a file (and ``&_size=max``, for reference).

Peak memory (max RSS of a child process, on the same server) importing and exporting 100,000 and 1,000,000 rows.
Usage: ``python benchmarks/rows.py [--rows 100000] [--rounds 5] [--batches 100 1000] [--skip-dclient]
[--skip-memory]``.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    COLUMNS,
    RssSampler,
    compare,
    header,
    operator_import,
    paired_ratio,
    print_peak_rss,
    use_server,
    write_csv,
)

CASTS = {"id": int, "qty": int, "score": float}


def new_table_session(server: object, table: str) -> tuple[Any, str]:
    """A keep-alive session with the token, after creating ``table``; and the table's insert URL."""
    import requests

    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {server.token}"  # type: ignore[attr-defined]
    base = f"{server.url}/{server.database}"  # type: ignore[attr-defined]
    columns = [{"name": n, "type": t} for n, t in COLUMNS.items()]
    session.post(f"{base}/-/create", json={"table": table, "columns": columns, "pk": "id"}).raise_for_status()
    return session, f"{base}/{table}/-/insert"


def typed_csv_rows(source: Path) -> Iterator[dict[str, object]]:
    with source.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            yield {k: CASTS[k](v) if k in CASTS else v for k, v in row.items()}


def minimal_import(server: object, table: str, source: Path, batch: int) -> None:
    session, url = new_table_session(server, table)
    rows: list[dict[str, object]] = []
    for row in typed_csv_rows(source):
        rows.append(row)
        if len(rows) == batch:
            session.post(url, json={"rows": rows}, timeout=60).raise_for_status()
            rows = []
    if rows:
        session.post(url, json={"rows": rows}, timeout=60).raise_for_status()
    session.close()


def prebuilt_bodies(source: Path, batch: int) -> list[bytes]:
    """The import's ``/-/insert`` bodies, parsed, typed and encoded ahead of the timing."""
    rows = list(typed_csv_rows(source))
    return [json.dumps({"rows": rows[i : i + batch]}).encode() for i in range(0, len(rows), batch)]


def post_prebuilt(server: object, table: str, bodies: list[bytes]) -> None:
    session, url = new_table_session(server, table)
    headers = {"Content-Type": "application/json"}
    for body in bodies:
        session.post(url, data=body, headers=headers, timeout=60).raise_for_status()
    session.close()


def dclient_import(server: object, table: str, source: Path, batch: int) -> None:
    dclient = shutil.which("dclient", path=str(Path(sys.executable).parent)) or "dclient"
    subprocess.run(
        [
            dclient,
            "insert",
            f"{server.url}/{server.database}",  # type: ignore[attr-defined]
            table,
            str(source),
            "--csv",
            "--create",
            "--pk",
            "id",
            "--batch-size",
            str(batch),
            "-t",
            server.token,  # type: ignore[attr-defined]
            "--silent",
        ],
        check=True,
    )


def minimal_export(server: object, table: str, destination: Path) -> None:
    import requests

    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {server.token}"  # type: ignore[attr-defined]
    url: str | None = f"{server.url}/{server.database}/{table}.json?_size=max"  # type: ignore[attr-defined]
    with destination.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(list(COLUMNS))
        while url:
            payload = session.get(url, timeout=60).json()
            writer.writerows([row[c] for c in COLUMNS] for row in payload["rows"])
            url = payload.get("next_url")
    session.close()


def stream_export(server: object, table: str, destination: Path, *, size_max: bool) -> None:
    import requests

    url = f"{server.url}/{server.database}/{table}.csv?_stream=on"  # type: ignore[attr-defined]
    if size_max:
        url += "&_size=max"
    headers = {"Authorization": f"Bearer {server.token}"}  # type: ignore[attr-defined]
    with requests.get(url, headers=headers, stream=True, timeout=60) as response, destination.open("wb") as f:
        response.raise_for_status()
        for chunk in response.iter_content(chunk_size=65536):
            f.write(chunk)


def count_rows(server: object, table: str) -> int:
    return int(server.sql(f'select count(*) as n from "{table}"')[0]["n"])  # type: ignore[attr-defined]


def run_speed(
    rows: int, rounds: int, *, with_dclient: bool, work: Path, batches: list[int], server: Any, conn_id: str
) -> None:
    from airflow_provider_cloud.operators.rows import ExportRowsOperator

    source = write_csv(work / "source.csv", rows)
    names = ["operator rows/s", "minimal rows/s"] + (["dclient rows/s"] if with_dclient else [])
    names += ["prebuilt rows/s"]
    ratios = ["vs minimal"] + (["vs dclient"] if with_dclient else []) + ["vs prebuilt"]
    for batch in batches:
        header(f"import CSV, batch {batch} ({rows:,} rows)", *names, *ratios)
        bodies = prebuilt_bodies(source, batch)

        def ours(i: int, batch: int = batch) -> None:
            table = f"op_{batch}_{i}"
            assert operator_import(conn_id, table, source, batch)["rows_written"] == rows
            assert count_rows(server, table) == rows

        def minimal(i: int, batch: int = batch) -> None:
            minimal_import(server, f"loop_{batch}_{i}", source, batch)

        def peer(i: int, batch: int = batch) -> None:
            dclient_import(server, f"dclient_{batch}_{i}", source, batch)
            assert count_rows(server, f"dclient_{batch}_{i}") == rows

        def ceiling(i: int, batch: int = batch, bodies: list[bytes] = bodies) -> None:
            post_prebuilt(server, f"prebuilt_{batch}_{i}", bodies)

        contenders = [ours, minimal] + ([peer] if with_dclient else []) + [ceiling]
        times = compare("ImportRowsOperator", rounds, rows, contenders)
        if with_dclient:
            ceiling_ratio = paired_ratio(times[2], times[-1])
            print(f"  (the server's ceiling, pre-built batches posted, is {ceiling_ratio:.2f}x dclient)")

    exported = f"op_{batches[-1]}_0"
    header(
        f"export CSV ({rows:,} rows, pages of 1000)", "operator rows/s", "next_url rows/s", "stream rows/s"
    )

    def ours_export(i: int) -> None:
        op = ExportRowsOperator(
            task_id="export", conn_id=conn_id, dataset=exported, destination=str(work / "op.csv")
        )
        assert op.execute({})["rows"] == rows

    def minimal_exp(i: int) -> None:
        minimal_export(server, exported, work / "loop.csv")

    def stream(i: int) -> None:
        stream_export(server, exported, work / "stream.csv", size_max=False)

    def stream_max(i: int) -> None:
        stream_export(server, exported, work / "stream_max.csv", size_max=True)

    compare("ExportRowsOperator vs stream", rounds, rows, [ours_export, minimal_exp, stream])
    compare("ExportRowsOperator vs stream&_size=max", rounds, rows, [ours_export, stream_max])


def memory_child(rows: int, conn_id: str) -> None:
    """Import then export ``rows`` rows in this process, on the parent's server; print the peak RSS in MiB."""
    from airflow_provider_cloud.operators.rows import ExportRowsOperator, ImportRowsOperator

    with tempfile.TemporaryDirectory() as folder:
        source = write_csv(Path(folder) / "source.csv", rows)
        warm_up = write_csv(Path(folder) / "warm_up.csv", 10)  # imports and caches before measuring
        ImportRowsOperator(
            task_id="w",
            conn_id=conn_id,
            dataset=f"warm_up_{rows}",
            source=str(warm_up),
            key="id",
            create=True,
        ).execute({})
        ExportRowsOperator(
            task_id="w", conn_id=conn_id, dataset=f"warm_up_{rows}", destination=str(Path(folder) / "w.jsonl")
        ).execute({})
        table = f"memory_{rows}"
        with RssSampler() as sampler:
            summary = ImportRowsOperator(
                task_id="i", conn_id=conn_id, dataset=table, source=str(source), key="id", create=True
            ).execute({})
            exported = ExportRowsOperator(
                task_id="e", conn_id=conn_id, dataset=table, destination=str(Path(folder) / "out.jsonl")
            ).execute({})
        assert summary["rows_written"] == exported["rows"] == rows, (summary, exported)
    print(json.dumps({"rows": rows, "start_mib": sampler.start, "peak_mib": sampler.peak}))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--skip-dclient", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--batches", type=int, nargs="+", default=[100, 1000], help="rows per write")
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--memory-conn", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child, args.memory_conn)
        return
    from airflow_provider_cloud.testing.datasette import DatasetteServer

    batches = sorted(args.batches)
    with (
        tempfile.TemporaryDirectory(prefix="apc-bench-rows-") as work,
        DatasetteServer(settings={"max_insert_rows": batches[-1]}) as server,
    ):
        conn_id = use_server(server, "bench_rows")  # memory children inherit the connection's variable
        with_dclient = not args.skip_dclient
        run_speed(
            args.rows,
            args.rounds,
            with_dclient=with_dclient,
            work=Path(work),
            batches=batches,
            server=server,
            conn_id=conn_id,
        )
        if not args.skip_memory:
            sizes = [100_000, 1_000_000]
            print_peak_rss("memory, import + export", __file__, sizes, "--memory-conn", conn_id)


if __name__ == "__main__":
    main()
