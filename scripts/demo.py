"""
The demo (``make demo``): the example DAGs run against a local Datasette and the CloudTables and Kloudless emulators.

It starts a real Datasette (a subprocess) and both emulators (threads) on 127.0.0.1, puts sample data in place
(a people CSV in the file base, a CloudTables data set, a Kloudless account whose uploaded CSV files produce
events), defines the connections and Variables as environment variables of this process, migrates a private
Airflow metadata database, runs the five example DAGs with ``dag.test()`` and prints what they did. Every server
is stopped at the end, whatever happens.

Everything lives under ``.demo/`` (git-ignored), which is deleted and made again on every start, so each run
begins from the same state. The demo's Airflow is private: ``AIRFLOW*`` variables of the calling shell are
ignored. Airflow's own output (task logs included) goes to ``.demo/airflow.log`` instead of the terminal.

The ``AssetWatcher`` of the fourth example needs a triggerer, which ``dag.test()`` does not run: the demo drives
the watcher's trigger itself (the same trigger object, rebuilt from its serialized form as the triggerer does,
with an in-memory state store in place of the asset's), then runs the consumer DAG with the trigger's payload as
its conf, the way a run replaying a batch is started by hand.

The fifth example archives the rows past their retention; by then the first has deleted every person not updated
for 30 days, so the demo runs it with ``retention_days`` 14 (its param, through the run's conf).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from demo_summary import ARCHIVE_AFTER_DAYS, local, print_summary

ROOT = Path(__file__).resolve().parent.parent
STATE = Path(os.environ.get("APC_DEMO_DIR") or ROOT / ".demo")  # the tests run it in a folder of their own
FILES = STATE / "files"
LOG = STATE / "airflow.log"
EXAMPLE_DAGS = ROOT / "airflow_provider_cloud" / "example_dags"
PEOPLE = 200
TOUCHED = 10
POLL_SECONDS = 0.5
UPLOAD_WAIT = 30.0


def configure_airflow() -> None:
    """Give this process a private Airflow (home, SQLite database, dags folder, quiet logs) before importing it."""
    for name in [n for n in os.environ if n.startswith("AIRFLOW")]:
        del os.environ[name]
    home = STATE / "airflow"
    home.mkdir(parents=True)
    os.environ.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(EXAMPLE_DAGS),
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
            "AIRFLOW_VAR_CLOUD_PROVIDER_FILE_BASE": FILES.as_uri(),
            "CLOUD_PROVIDER_KLOUDLESS_POLL_SECONDS": str(POLL_SECONDS),
        }
    )


@contextmanager
def airflow_output_to(log_path: Path) -> Iterator[TextIO]:
    """
    Send everything written to file descriptors 1 and 2 to ``log_path``; yield a stream to the terminal.

    Redirecting the descriptors, not ``sys.stdout``, also catches loggers that kept a reference to the
    original stream, and child processes.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    terminal = os.fdopen(os.dup(saved[0]), "w", buffering=1)
    with open(log_path, "ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield terminal
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            terminal.close()


class Demo:
    """The servers, the sample data and the runs of one demo; ``say`` prints to the terminal."""

    def __init__(self, stack: ExitStack, terminal: TextIO) -> None:
        self.stack = stack
        self.out = terminal
        self.results: dict[str, Any] = {}

    def say(self, text: str = "") -> None:
        self.out.write(text + "\n")

    @contextmanager
    def step(self, what: str) -> Iterator[None]:
        self.out.write(f"  {what} ... ")
        started = time.monotonic()
        try:
            yield
        except BaseException:
            self.out.write("failed\n")
            raise
        self.out.write(f"done ({time.monotonic() - started:.1f} s)\n")

    # -- servers and sample data ------------------------------------------------------------------------

    def start_servers(self) -> None:
        from airflow_provider_cloud.testing.cloudtables import CloudTablesEmulator
        from airflow_provider_cloud.testing.datasette import DatasetteServer
        from airflow_provider_cloud.testing.kloudless import KloudlessEmulator

        self.datasette = self.stack.enter_context(DatasetteServer(directory=STATE / "datasette"))
        self.cloudtables = self.stack.enter_context(CloudTablesEmulator())
        self.kloudless = self.stack.enter_context(KloudlessEmulator())
        self.account = self.kloudless.create_account(account="demo@example.com")
        connections = {
            "datasette_default": self.datasette.connection_dict(),
            "cloudtables_default": {
                "conn_type": "cloudtables",
                "host": self.cloudtables.url,
                "password": self.cloudtables.api_key,
                "extra": {"clientId": "airflow-demo", "clientName": "Airflow demo"},
            },
            "kloudless_default": {
                "conn_type": "kloudless",
                "host": self.kloudless.url,
                "password": self.kloudless.create_token(self.account),
                "extra": {"auth_scheme": "Bearer", "account_id": "me"},
            },
        }
        for conn_id, connection in connections.items():
            os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(connection)

    def put_sample_data(self) -> None:
        from airflow_provider_cloud.example_dags import sample_data

        self.today = datetime.now(UTC).date()
        self.people = sample_data.people_rows(PEOPLE, today=self.today, span_days=60)
        sample_data.write_people_csv(FILES / "incoming" / "people.csv", self.people)
        self.dataset_id = self.cloudtables.add_dataset("People", sample_data.CLOUDTABLES_PEOPLE_POINTS)
        kl, account = self.kloudless, self.account
        kl.add_file(account, "orders-earlier.csv", sample_data.orders_csv(5, first_id=1, day=self.today))
        self.kloudless_cursor = kl.latest_cursor(account)  # as an earlier run of example 3 committed it

    def migrate(self) -> None:
        from airflow.models.variable import Variable
        from airflow.utils import db

        db.initdb()
        Variable.set("cloud_provider_kloudless_cursor", str(self.kloudless_cursor))

    # -- runs -------------------------------------------------------------------------------------------

    def run(self, dag_id: str, **test_kwargs: Any) -> dict[str, Any]:
        """Run an example DAG with ``dag.test()``; return its XComs (a mapped task's as a list)."""
        from airflow.dag_processing.dagbag import DagBag

        bag = DagBag(dag_folder=str(EXAMPLE_DAGS / f"{dag_id}.py"))
        if bag.import_errors:
            raise RuntimeError(f"{dag_id} failed to import: {bag.import_errors}")
        dag_run = bag.get_dag(dag_id).test(**test_kwargs)
        if str(dag_run.state) != "success":
            raise RuntimeError(f"{dag_id} ended {dag_run.state}: see {local(str(LOG))}")
        return xcoms(dag_id, dag_run.run_id)

    def run_rows(self) -> None:
        from airflow_provider_cloud.example_dags import sample_data

        first = self.run("example_datasette_rows")["summarize"]
        changed = [p["id"] for p in self.people[-TOUCHED:]]
        touched = sample_data.touched(self.people, changed, at=datetime.now(UTC).replace(microsecond=0))
        sample_data.write_people_csv(FILES / "incoming" / "people.csv", touched)
        self.results["rows"] = (first, self.run("example_datasette_rows")["summarize"])

    def run_embed(self) -> None:
        self.results["embed"] = self.run("example_cloudtables_embed")

    def run_events(self) -> None:
        """Run example 3; the files arrive only once its sensor has deferred (its trigger polls)."""
        from airflow_provider_cloud.example_dags import sample_data

        kl, account, cursor = self.kloudless, self.account, str(self.kloudless_cursor)

        def upload() -> None:
            kl.add_file(
                account, "orders-morning.csv", sample_data.orders_csv(25, first_id=101, day=self.today)
            )
            kl.add_file(account, "notes.txt", b"not rows: left out by the *.csv pattern\n")

        uploader = threading.Thread(target=upload_once_deferred, args=(kl, cursor, upload), daemon=True)
        uploader.start()
        try:
            self.results["events"] = self.run("example_kloudless_events")
        finally:
            uploader.join(UPLOAD_WAIT + 5)
        self.results["trigger_polls"] = events_polls(kl, cursor) - 1  # all but the sensor's own poke

    def run_watcher(self) -> None:
        from airflow.sdk.module_loading import import_string

        from airflow_provider_cloud.example_dags import example_kloudless_asset_watcher, sample_data
        from airflow_provider_cloud.triggers.kloudless_events import CURSOR_KEY, MemoryStateStore

        (watcher,) = example_kloudless_asset_watcher.new_files.watchers
        classpath, kwargs = watcher.trigger.serialize()
        trigger = import_string(classpath)(**kwargs)
        store = MemoryStateStore()
        store.values[CURSOR_KEY] = self.kloudless.latest_cursor(self.account)  # the watcher's stored cursor
        trigger.asset_state_store = store
        self.kloudless.add_file(
            self.account, "orders-afternoon.csv", sample_data.orders_csv(12, first_id=201, day=self.today)
        )
        payload = asyncio.run(fire_once(trigger))
        outcome = self.run("example_kloudless_asset_watcher", run_conf={"payloads": [payload]})
        self.results["watcher"] = (payload, outcome)

    def run_archive(self) -> None:
        """Run example 5; check that Kloudless holds the archive's bytes."""
        outcome = self.run("example_kloudless_archive", run_conf={"retention_days": ARCHIVE_AFTER_DAYS})
        summary = outcome["summarize"]
        if summary["kloudless_file_id"] is not None:
            stored = self.kloudless.file_content(self.account, summary["kloudless_file_id"])
            summary["same_bytes"] = (
                stored == Path(summary["archive_path"].removeprefix("file://")).read_bytes()
            )
        self.results["archive"] = summary


def events_polls(kl: Any, cursor: str) -> int:
    """Count the events requests the Kloudless emulator saw after ``cursor``."""
    return sum(
        1 for r in kl.requests_seen if r["path"].endswith("/events") and r["query"].get("cursor") == [cursor]
    )


def upload_once_deferred(kl: Any, cursor: str, upload: Callable[[], None]) -> None:
    """
    Call ``upload`` once two events requests after ``cursor`` were seen: the sensor's poke, then its trigger's.

    The poke makes one request, so the second one comes from the trigger: the sensor has deferred by then.
    After :data:`UPLOAD_WAIT` seconds without it, upload anyway (the run must not wait for its timeout).
    """
    deadline = time.monotonic() + UPLOAD_WAIT
    while time.monotonic() < deadline and events_polls(kl, cursor) < 2:
        time.sleep(0.02)
    upload()


async def fire_once(trigger: Any) -> dict[str, Any]:
    """Run a trigger until its first event (at most 30 s) and return the payload."""
    events = trigger.run()
    try:
        async with asyncio.timeout(30):
            event = await events.__anext__()
    finally:
        await events.aclose()
    return dict(event.payload)


def xcoms(dag_id: str, run_id: str) -> dict[str, Any]:
    """Return ``task_id -> return value`` of one run as tasks read them; a mapped task gets the list of its values."""
    from airflow.models.xcom import XComModel
    from airflow.sdk.serde import deserialize
    from airflow.utils.session import create_session

    import airflow_provider_cloud.operators.cloudtables  # noqa: F401 - its XCom reads back as a dict here too

    found: dict[str, dict[int, Any]] = {}
    with create_session() as session:
        rows = session.query(XComModel).filter(
            XComModel.dag_id == dag_id, XComModel.run_id == run_id, XComModel.key == "return_value"
        )
        for row in rows:
            found.setdefault(row.task_id, {})[row.map_index] = deserialize(XComModel.deserialize_value(row))
    return {
        task: values[-1] if list(values) == [-1] else [values[i] for i in sorted(values)]
        for task, values in found.items()
    }


def main() -> int:
    started = time.monotonic()
    if STATE.exists():
        shutil.rmtree(STATE)  # a fresh start every time; fails loudly rather than reuse a stale database
    configure_airflow()
    print("airflow-provider-cloud demo: the example DAGs against local servers (everything under .demo/)")
    with airflow_output_to(LOG) as terminal, ExitStack() as stack:
        demo = Demo(stack, terminal)
        try:
            with demo.step("starting Datasette and the CloudTables and Kloudless emulators on 127.0.0.1"):
                demo.start_servers()
            demo.say(
                f"    Datasette {demo.datasette.url}, CloudTables {demo.cloudtables.url}, "
                f"Kloudless {demo.kloudless.url}"
            )
            with demo.step(f"sample data: {PEOPLE} people, a CloudTables data set, a Kloudless account"):
                demo.put_sample_data()
            with demo.step("migrating the Airflow metadata database (.demo/airflow/airflow.db)"):
                demo.migrate()
            with demo.step("example_datasette_rows, twice"):
                demo.run_rows()
            with demo.step("example_cloudtables_embed"):
                demo.run_embed()
            with demo.step("example_kloudless_events"):
                demo.run_events()
            with demo.step("example_kloudless_asset_watcher (its trigger fired once, then the consumer)"):
                demo.run_watcher()
            with demo.step("example_kloudless_archive"):
                demo.run_archive()
            print_summary(demo, touched=TOUCHED, poll_seconds=POLL_SECONDS)
        except BaseException as exc:
            demo.say(f"failed: {type(exc).__name__}: {exc}")
            demo.say(f"Airflow's output is in {local(str(LOG))}; its last lines:")
            sys.stdout.flush()
            for line in LOG.read_text(errors="replace").splitlines()[-25:]:
                demo.say("  | " + line)
            raise SystemExit(1) from None
        finally:
            with demo.step("stopping every server"):
                stack.close()
    print(f"Demo done in {time.monotonic() - started:.0f} s. Airflow's own output: {local(str(LOG))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
