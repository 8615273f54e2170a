"""Shared pieces of the benchmark scripts: data, environment, timing and side-by-side printing."""

from __future__ import annotations

import atexit
import csv
import json
import multiprocessing
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
if "AIRFLOW_HOME" not in os.environ:
    # Made once, by the first process; its children inherit it. Removed when that process exits.
    _HOME = tempfile.mkdtemp(prefix="apc-bench-")
    os.environ["AIRFLOW_HOME"] = _HOME
    atexit.register(shutil.rmtree, _HOME, ignore_errors=True)
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

COLUMNS = {
    "id": "integer",
    "name": "text",
    "score": "float",
    "qty": "integer",
    "born": "text",
    "note": "text",
}
WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]


def generate_rows(count: int, seed: int = 42) -> Iterator[dict[str, object]]:
    """Yield ``count`` rows of six columns (int key, text, float, int, date text, text), seeded."""
    rng = random.Random(seed)
    for i in range(1, count + 1):
        yield {
            "id": i,
            "name": f"{rng.choice(WORDS)} {rng.choice(WORDS)}",
            "score": round(rng.uniform(0, 1000), 3),
            "qty": rng.randint(0, 10_000),
            "born": f"19{rng.randint(50, 99)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "note": " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 8))),
        }


def write_csv(path: Path, count: int) -> Path:
    """Write ``count`` generated rows to a CSV file with a header row."""
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(COLUMNS))
        writer.writeheader()
        writer.writerows(generate_rows(count))
    return path


def use_server(server: object, conn_id: str) -> str:
    """Point the Airflow connection ``conn_id`` at a running DatasetteServer and return the id."""
    name, value = server.env_var(conn_id)  # type: ignore[attr-defined]
    os.environ[name] = value
    return conn_id


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def header(first: str, *names: str) -> None:
    print(f"\n{first:<44}" + "".join(f"{n:>16}" for n in names))


def compare(
    label: str, rounds: int, rows: int, contenders: list[Callable[[int], object]]
) -> list[list[float]]:
    """
    Run each contender ``rounds`` times (rotating who goes first) and print rows/s medians and ratios.

    The first contender is ours; the line shows its rate, each other's rate, and ours ÷ each other's.
    A ratio is the median of the rounds' own ratios: contenders of one round run back to back, so a
    machine that speeds up or slows down over the run moves both sides of a round's ratio alike.
    Returns each contender's times, round by round.
    """
    times: list[list[float]] = [[] for _ in contenders]
    for i in range(rounds):
        order = list(range(len(contenders)))
        order = order[i % len(order) :] + order[: i % len(order)]
        for k in order:
            times[k].append(timed(lambda k=k, i=i: contenders[k](i)))
    rates = [rows / statistics.median(t) for t in times]
    ratios = [statistics.median(o / m for o, m in zip(other, times[0])) for other in times[1:]]
    print(f"{label:<44}" + "".join(f"{r:>16,.0f}" for r in rates) + "".join(f"{x:>15.2f}x" for x in ratios))
    return times


def paired_ratio(slower: list[float], faster: list[float]) -> float:
    """Return the median over rounds of ``slower`` time ÷ ``faster`` time."""
    return statistics.median(s / f for s, f in zip(slower, faster))


def current_rss_mib() -> float:
    """Return this process's resident memory now, in MiB (Linux)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


class RssSampler:
    """Sample resident memory every few milliseconds on a thread; ``peak`` is the largest seen."""

    def __init__(self, every: float = 0.01) -> None:
        import threading

        self.every = every
        self.start = current_rss_mib()
        self.peak = self.start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.peak = max(self.peak, current_rss_mib())

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, current_rss_mib())


def peak_rss_of(script: str, *args: str) -> dict[str, float]:
    """Run ``script --memory-child ARGS`` in a fresh interpreter; it prints one JSON line with its figures."""
    done = subprocess.run(
        [sys.executable, script, "--memory-child", *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"memory child failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def print_peak_rss(title: str, script: str, sizes: list[int], *args: str) -> None:
    """Print the RSS at start and the peak of ``script --memory-child SIZE ARGS``, one line per size."""
    header(title, "RSS at start MiB", "peak RSS MiB")
    for size in sizes:
        figures = peak_rss_of(script, str(size), *args)
        print(f"{format(size, ',') + ' rows':<44}{figures['start_mib']:>16.1f}{figures['peak_mib']:>16.1f}")


class ChildService:
    """
    A server run in a child process (spawned: its own interpreter and GIL), spoken to over a pipe.

    ``target(pipe, *args)`` sends one first message (what the parent needs: URLs, keys), then answers
    ``(command, argument)`` pairs until ``("stop", None)``. ``first`` holds that first message.
    """

    def __init__(self, target: Callable[..., None], *args: object) -> None:
        context = multiprocessing.get_context("spawn")
        self._pipe, child = context.Pipe()
        self._process = context.Process(target=target, args=(child, *args), daemon=True)
        self._process.start()
        self.first: dict[str, Any] = self._pipe.recv()

    def ask(self, command: str, argument: Any = None) -> Any:
        self._pipe.send((command, argument))
        return self._pipe.recv()

    def stop(self) -> None:
        self._pipe.send(("stop", None))
        self._process.join(30)


def operator_import(conn_id: str, table: str, source: Path, batch: int) -> dict[str, Any]:
    """Import ``source`` into a new table ``table`` by the operator, as every speed comparison does."""
    from airflow_provider_cloud.operators.rows import ImportRowsOperator

    operator = ImportRowsOperator(
        task_id="import",
        conn_id=conn_id,
        dataset=table,
        source=str(source),
        key="id",
        create=True,
        mode="insert",
        batch_size=batch,
        progress_every=3600,
    )
    summary: dict[str, Any] = operator.execute({})
    return summary
