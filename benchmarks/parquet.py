"""
Parquet beside CSV: rows/s of import and export through the row operators, and the peak RSS of Parquet both ways.

One fresh Datasette (``max_insert_rows`` 1000, so 1000 rows a write). In the same run, ``--rounds`` rounds with
the contenders rotating who goes first (``_common.compare``):

- the readers alone (``read_records`` over a local ``--rows``-row file, no server): Parquet beside CSV;
- the writers alone (``write_rows`` of the rows in memory to a local file): Parquet beside CSV;
- ``ImportRowsOperator`` of that file into a fresh table (mode insert): Parquet beside CSV;
- ``ExportRowsOperator`` of a ``--rows``-row table to a file (pages of 1000): Parquet beside CSV.

Then the peak RSS (a fresh interpreter per figure, like ``benchmarks/remote.py``) of a Parquet import and a Parquet
export (and, beside them, a CSV import and export) at each of ``--memory-rows`` (100,000 and 1,000,000): flat means the 1,000,000-row figure is close to the
100,000-row one. The import reads a file written by the exporter (row groups of 65,536 rows) and one written by
``pyarrow.parquet.write_table`` with the whole file in one row group (pyarrow's default up to 1Mi rows).

Usage: ``python benchmarks/parquet.py [--rows 100000] [--rounds 3] [--memory-rows 100000 1000000] [--skip-memory]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    COLUMNS,
    RssSampler,
    compare,
    generate_rows,
    header,
    operator_import,
    peak_rss_of,
    use_server,
    write_csv,
)

CONN_ID = "bench_parquet"
#: The Parquet type of each generated column.
ARROW_TYPES = {"integer": "int64", "float": "float64", "text": "string"}


def write_parquet_file(path: Path, count: int, *, one_row_group: bool = False) -> Path:
    """Write ``count`` generated rows as Parquet: by the exporter's writer, or in one row group by pyarrow."""
    if not one_row_group:
        from airflow_provider_cloud.rows import write_rows

        write_rows(path, generate_rows(count), column_types=COLUMNS)
        return path
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([(name, getattr(pa, ARROW_TYPES[kind])()) for name, kind in COLUMNS.items()])
    table = pa.Table.from_pylist(list(generate_rows(count)), schema=schema)
    pq.write_table(table, path, row_group_size=count)
    return path


def read_all(path: Path) -> int:
    from airflow_provider_cloud.rows import read_records

    rows = 0
    with read_records(path) as reader:
        for block in reader.blocks():
            rows += len(block.rows) if hasattr(block, "rows") else len(block)
    return rows


def import_file(source: Path, table: str) -> dict[str, Any]:
    return operator_import(CONN_ID, table, source, 1000)


def export_table(table: str, destination: Path) -> int:
    from airflow_provider_cloud.operators.rows import ExportRowsOperator

    operator = ExportRowsOperator(
        task_id="export", conn_id=CONN_ID, dataset=table, destination=str(destination), page_size=1000
    )
    return int(operator.execute({})["rows"])


def speed(work: Path, args: argparse.Namespace) -> None:
    from airflow_provider_cloud.rows import write_rows

    rows = args.rows
    csv_file = write_csv(work / "source.csv", rows)
    parquet_file = write_parquet_file(work / "source.parquet", rows)
    print(f"files of {rows:,} rows: CSV {csv_file.stat().st_size / 2**20:.1f} MiB, "
          f"Parquet {parquet_file.stat().st_size / 2**20:.1f} MiB")  # fmt: skip
    header(f"{rows:,} rows, rows/s (median of {args.rounds})", "Parquet", "CSV", "CSV time ÷ Parquet")
    compare(
        "read_records (no server)",
        args.rounds,
        rows,
        [lambda i: read_all(parquet_file), lambda i: read_all(csv_file)],
    )
    in_memory = list(generate_rows(rows))
    compare(
        "write_rows (no server)",
        args.rounds,
        rows,
        [
            lambda i: write_rows(work / "w.parquet", in_memory),
            lambda i: write_rows(work / "w.csv", in_memory),
        ],
    )
    in_memory.clear()
    warm_up = write_parquet_file(work / "warm_up.parquet", 10)
    import_file(warm_up, "warm_up_parquet")  # the first import of a process pays for its imports and session
    compare(
        "ImportRowsOperator into Datasette",
        args.rounds,
        rows,
        [
            lambda i: import_file(parquet_file, f"pq_{i}_{uuid.uuid4().hex[:6]}"),
            lambda i: import_file(csv_file, f"csv_{i}_{uuid.uuid4().hex[:6]}"),
        ],
    )  # fmt: skip
    import_file(csv_file, "exported")
    compare(
        "ExportRowsOperator from Datasette",
        args.rounds,
        rows,
        [lambda i: export_table("exported", work / "e.parquet"), lambda i: export_table("exported", work / "e.csv")],
    )  # fmt: skip


def memory_child(what: str, rows: int, path: str, table: str) -> None:
    """
    Run one Parquet import (``path`` into ``table``) or export (``table`` to ``path``); print the RSS figures.

    A 10-row import and export run first (as in ``benchmarks/remote.py``): the start figure then holds the
    libraries, the session and the sender's threads, and the growth is what the rows take.
    """
    warm_up = Path(path).with_name(f"warm_{os.getpid()}.parquet")
    write_parquet_file(warm_up, 10)
    import_file(warm_up, f"warm_{os.getpid()}")
    export_table(f"warm_{os.getpid()}", warm_up)
    warm_up.unlink()
    with RssSampler() as sampler:
        if what == "import":
            summary = import_file(Path(path), table)
            done = summary["rows_written"]
        else:
            done = export_table(table, Path(path))
    assert done == rows, (done, rows)
    print(json.dumps({"rows": rows, "start_mib": sampler.start, "peak_mib": sampler.peak}))


def memory(work: Path, args: argparse.Namespace) -> None:
    header(
        "peak RSS of Parquet, CSV beside (a fresh process each)",
        "RSS at start MiB",
        "peak RSS MiB",
        "growth MiB",
    )
    for rows in args.memory_rows:
        ours = write_parquet_file(work / f"m{rows}.parquet", rows)
        whole = write_parquet_file(work / f"m{rows}_one_group.parquet", rows, one_row_group=True)
        csv_file = write_csv(work / f"m{rows}.csv", rows)
        runs = [
            (f"import {rows:,} rows (row groups of 65,536)", "import", ours, f"m{rows}"),
            (f"import {rows:,} rows (one row group)", "import", whole, f"m{rows}_one"),
            (f"export {rows:,} rows", "export", work / f"out{rows}.parquet", f"m{rows}"),
            (f"  CSV beside it: import {rows:,} rows", "import", csv_file, f"m{rows}_csv"),
            (f"  CSV beside it: export {rows:,} rows", "export", work / f"out{rows}.csv", f"m{rows}"),
        ]
        for label, what, path, table in runs:
            figures = peak_rss_of(__file__, what, str(rows), str(path), table)
            growth = figures["peak_mib"] - figures["start_mib"]
            print(
                f"{label:<44}{figures['start_mib']:>16.1f}{figures['peak_mib']:>16.1f}{growth:>16.1f}",
                flush=True,
            )
        for path in (ours, whole, csv_file, work / f"out{rows}.parquet", work / f"out{rows}.csv"):
            path.unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--memory-rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--memory-child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        what, rows, path, table = args.memory_child
        memory_child(what, int(rows), path, table)
        return
    from airflow_provider_cloud.testing.datasette import DatasetteServer

    with (
        tempfile.TemporaryDirectory(prefix="apc-bench-parquet-") as folder,
        DatasetteServer(settings={"max_insert_rows": 1000}) as server,
    ):
        use_server(server, CONN_ID)
        if not args.skip_speed:
            speed(Path(folder), args)
        if not args.skip_memory:
            memory(Path(folder), args)


if __name__ == "__main__":
    main()
