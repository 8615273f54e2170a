"""
The triggerer at scale: 1,000 Kloudless triggers in one event loop, polling on the async client beside today's
``asyncio.to_thread`` polling, in one run.

Each side runs in a fresh process, the way Airflow's triggerer runs triggers: one asyncio loop, a task per
trigger consuming ``trigger.run()`` (an async generator) with a greenback portal, the loop's default executor
(``os.cpu_count() + 4`` threads: 6 here) for whatever a trigger hands to a thread. The triggers watch 1,000
accounts of the Kloudless emulator, which runs in another process (one API-key connection, an ``account_id``
per trigger); they start spread over one polling interval, as a triggerer picks them up. Once all run, events are
created on a random tenth of the accounts for most of the run, then none for the last three intervals so
that every event can fire.

- ``--kind sensor`` (default): ``KloudlessEventsTrigger``, the sensor's: when it fires, a new trigger starts
  from the cursor it returned, as the task would defer again.
- ``--kind event``: ``KloudlessEventsEventTrigger``, the asset watcher's: it fires batch after batch (its
  state store in memory).

The old way, ``asyncio.to_thread`` around the sync hook, lives only here (``Threaded*`` below): it is today's
code before this change, kept to compare.

Reported per side: event-loop lag (a ticker task's oversleep on a 20 ms sleep: p50, p99, max, over the run
once every trigger has started), polls per second (pages of events asked for), event creation to the trigger's
event (p50, p99, max), memory per trigger (RSS with the triggers running minus RSS before, ÷ n), threads, and
whether every event fired exactly once. Targets: lag p99 < 50 ms, every event once, event-to-fire p99 < 2
intervals.

Usage: ``python benchmarks/triggerer.py [--triggers 1000] [--interval 5] [--seconds 90] [--kind sensor]``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import sys
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "ERROR")  # a line per poll would be the benchmark

from _common import ChildService  # (and sys.path, AIRFLOW_HOME)
from _trigger_loop import percentile, side_process

# -- the emulator's process ------------------------------------------------------------------------------


def serve(pipe: Connection) -> None:
    """The child: the emulator, answering ``(command, argument)`` messages until ``stop``."""
    from airflow_provider_cloud.testing.kloudless import KloudlessEmulator

    produced: list[dict[str, Any]] = []
    producer: threading.Thread | None = None
    with KloudlessEmulator() as kl:
        pipe.send({"url": kl.url, "api_key": kl.api_key})
        while True:
            command, argument = pipe.recv()
            if command == "stop":
                return
            if command == "accounts":
                pipe.send([kl.create_account(account=f"user{n}@example.com") for n in range(argument)])
            elif command == "produce":
                produced = []
                producer = threading.Thread(target=produce, args=(kl, produced, *argument), daemon=True)
                producer.start()
                pipe.send(None)
            elif command == "produced":
                if producer is not None:
                    producer.join()
                pipe.send(produced)


def produce(
    kl: Any, out: list[dict[str, Any]], accounts: list[int], seconds: float, rate: float, seed: int
) -> None:
    """Create events on ``accounts`` at random moments (``rate`` a second on average) for ``seconds``."""
    rng = random.Random(seed)
    end = time.time() + seconds
    while True:
        time.sleep(rng.expovariate(rate))
        if time.time() >= end:
            return
        account = rng.choice(accounts)
        event = kl.produce_event(account, "add")
        out.append({"id": event["id"], "account": account, "created": time.time()})


class Emulator(ChildService):
    """The emulator's process, and the connection the triggers use."""

    def __init__(self) -> None:
        super().__init__(serve)
        self.connection = {
            "conn_type": "kloudless",
            "host": self.first["url"],
            "password": self.first["api_key"],
            "extra": {"auth_scheme": "APIKey"},
        }


def run(emulator: Emulator, side: str, args: argparse.Namespace, seed: int) -> dict[str, Any]:
    """Run one side in a fresh process against fresh accounts; return its figures."""
    accounts = emulator.ask("accounts", args.triggers + 1)
    rng = random.Random(seed)
    busy = rng.sample(accounts[:-1], max(1, args.triggers // 10))
    job = {
        "side": side,
        "kind": args.kind,
        "interval": args.interval,
        "seconds": args.seconds,
        "accounts": accounts[:-1],
        "spare": accounts[-1],
        "connection": emulator.connection,
        "seed": seed,
    }
    context = multiprocessing.get_context("spawn")
    pipe, child = context.Pipe()
    process = context.Process(target=side_process, args=(job, child), daemon=True)
    process.start()
    message, _ = pipe.recv()
    assert message == "produce"
    quiet = 3 * args.interval  # the last intervals create nothing: every event has time to fire
    producing = args.seconds - (args.interval + 1) - quiet
    emulator.ask("produce", (busy, producing, args.rate, seed))
    produced = emulator.ask("produced")
    message, result = pipe.recv()
    process.join(60)
    fired = result.pop("fired")
    delays = [fired[e["id"]][0] - e["created"] for e in produced if e["id"] in fired]
    result.update(
        events=len(produced),
        fired_once=sum(1 for e in produced if len(fired.get(e["id"], [])) == 1),
        missed=sum(1 for e in produced if e["id"] not in fired),
        fired_twice=sum(1 for e in produced if len(fired.get(e["id"], [])) > 1),
        unknown=len(set(fired) - {e["id"] for e in produced}),
        fire_p50_s=percentile(delays, 0.50),
        fire_p99_s=percentile(delays, 0.99),
        fire_max_s=max(delays, default=float("nan")),
    )
    return result


ROWS = [
    ("event-loop lag p50 (ms)", "lag_p50_ms", "{:.1f}"),
    ("event-loop lag p99 (ms)", "lag_p99_ms", "{:.1f}"),
    ("event-loop lag max (ms)", "lag_max_ms", "{:.0f}"),
    ("lag max while starting (ms)", "lag_max_startup_ms", "{:.0f}"),
    ("polls per second", "polls_per_s", "{:.0f}"),
    ("event to fire p50 (s)", "fire_p50_s", "{:.2f}"),
    ("event to fire p99 (s)", "fire_p99_s", "{:.2f}"),
    ("event to fire max (s)", "fire_max_s", "{:.2f}"),
    ("memory per trigger (KiB)", "rss_per_trigger_kib", "{:.1f}"),
    ("threads at most", "threads", "{}"),
    ("events created", "events", "{}"),
    ("fired exactly once", "fired_once", "{}"),
    ("missed / fired twice", "missed", "{}"),
    ("trigger errors", "error_count", "{}"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--triggers", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between a trigger's polls")
    parser.add_argument("--seconds", type=float, default=90.0, help="length of each side's run")
    parser.add_argument("--rate", type=float, default=10.0, help="events created per second")
    parser.add_argument("--kind", choices=["sensor", "event"], default="sensor")
    parser.add_argument("--sides", default="async,thread")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.seconds < 6 * args.interval:
        parser.error("--seconds must be at least six intervals (start, events, three quiet intervals)")
    emulator = Emulator()
    results: dict[str, dict[str, Any]] = {}
    try:
        for side in args.sides.split(","):
            results[side] = run(emulator, side, args, args.seed)
    finally:
        emulator.stop()
    print(
        f"\n{args.triggers} x {args.kind} triggers, polling every {args.interval:g} s, {args.seconds:g} s a side, "
        f"events on a tenth of the accounts at {args.rate:g}/s (os.cpu_count() = {os.cpu_count()})"
    )
    sides = list(results)
    print(f"{'':32}" + "".join(f"{side:>14}" for side in sides))
    for label, key, fmt in ROWS:
        cells = []
        for side in sides:
            value = results[side][key]
            if key == "missed":
                value = f"{value} / {results[side]['fired_twice']}"
            cells.append(f"{fmt.format(value) if key != 'missed' else value:>14}")
        print(f"{label:32}" + "".join(cells))
    for side in sides:
        if results[side]["errors"]:
            print(f"{side}: first errors: {results[side]['errors']}")
    target = 2 * args.interval
    for side in sides:
        r = results[side]
        met = r["lag_p99_ms"] < 50 and r["fired_once"] == r["events"] and r["fire_p99_s"] < target
        print(
            f"{side}: targets (lag p99 < 50 ms, every event once, fire p99 < {target:g} s) {'met' if met else 'NOT met'}"
        )


if __name__ == "__main__":
    main()
