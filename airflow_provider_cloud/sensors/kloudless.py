"""Wait for Kloudless events after a stored cursor, on a worker or deferred to the triggerer."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue, Variable, conf
from airflow.sdk.exceptions import AirflowException, AirflowSensorTimeout

from airflow_provider_cloud.exceptions import error_from_event
from airflow_provider_cloud.hooks.kloudless import (
    DEFAULT_MAX_EVENTS,
    Cursor,
    EventBatch,
    KloudlessHook,
    check_max_events,
    check_poll_interval,
    check_start_from,
    is_missing_cursor,
    normalize_event_types,
    read_events,
    resolve_start_cursor,
)
from airflow_provider_cloud.triggers.kloudless import KloudlessEventsTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context

XCOM_KEYS = ("cursor", "previous_cursor", "count", "events")


class KloudlessEventsSensor(BaseSensorOperator):
    """
    Succeed once at least one Kloudless event (optionally of given types) follows the stored cursor.

    Returns ``{"cursor", "previous_cursor", "count", "events"}`` to XCom: at most ``max_events`` events, and
    the cursor just after the last event read. With ``event_types``, events of other types are skipped and
    the returned cursor moves past them too, so committing it never replays them. The sensor never stores
    the cursor: commit it with :class:`~airflow_provider_cloud.operators.cursor.CommitCursorOperator` once
    the events are processed, so a run that fails before the commit sees the same events again.

    Where to start: ``cursor`` if given, else the Variable named by ``cursor_variable``, else (nothing stored
    yet) the latest cursor, or the oldest retained event with ``start_from="oldest"``. The start is resolved
    once per task try: in ``poke`` mode and while deferred, events produced after the first poke are seen;
    in ``reschedule`` mode with nothing stored, each reschedule starts from the latest cursor again (store a
    cursor first, or use ``deferrable=True``). A stored cursor older than the service's retention fails the
    task with ``CursorExpiredError``: decide whether to restart from the oldest or the latest event.

    With ``deferrable=True`` the sensor pokes once on the worker and, if nothing is there yet, defers to
    :class:`~airflow_provider_cloud.triggers.kloudless.KloudlessEventsTrigger` with the sensor's ``timeout``
    (also handed to the trigger as an absolute deadline).

    :param conn_id: the Kloudless connection id. (templated)
    :param account_id: the account (default: the connection's, else ``me``). (templated)
    :param cursor: read events after this cursor, e.g. ``"{{ var.value.my_cursor }}"``. (templated)
    :param cursor_variable: the Airflow Variable holding the cursor (instead of ``cursor``). (templated)
    :param start_from: ``latest`` (default) or ``oldest``, when no cursor is stored yet.
    :param event_types: only these event types count (``add``, ``delete``, ``update``, ...); default all.
    :param max_events: the most events returned (1 to 1000).
    :param page_size: events per request (the service's default when ``None``).
    :param poll_interval: seconds between polls while deferred (default: ``poke_interval``).
    :param deferrable: defer to the triggerer while waiting (default ``[operators] default_deferrable``).
    """

    template_fields: Sequence[str] = ("conn_id", "account_id", "cursor", "cursor_variable")
    ui_color = "#f0eee4"

    def __init__(
        self,
        *,
        conn_id: str = "kloudless_default",
        account_id: str | int | None = None,
        cursor: Cursor | None = None,
        cursor_variable: str | None = None,
        start_from: str = "latest",
        event_types: str | Iterable[str] | None = None,
        max_events: int = DEFAULT_MAX_EVENTS,
        page_size: int | None = None,
        poll_interval: float | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if cursor is not None and cursor_variable is not None:
            raise ValueError("give cursor= or cursor_variable=, not both")
        self.conn_id = conn_id
        self.account_id = account_id
        self.cursor = cursor
        self.cursor_variable = cursor_variable
        self.start_from = check_start_from(start_from)
        self.event_types = normalize_event_types(event_types)
        self.max_events = check_max_events(max_events)
        self.page_size = page_size
        if poll_interval is None:
            poll_interval = self.poke_interval or 1.0
        self.poll_interval = check_poll_interval(poll_interval)
        self.deferrable = deferrable
        self._start: Cursor | None = None
        self._position: Cursor | None = None

    @cached_property
    def hook(self) -> KloudlessHook:
        return KloudlessHook(self.conn_id, account_id=self.account_id)

    def stored_cursor(self) -> Cursor | None:
        """Return the stored cursor (``cursor``, else the Variable), or ``None`` when none is stored yet."""
        if not is_missing_cursor(self.cursor):
            return self.cursor
        if self.cursor_variable:
            value = Variable.get(self.cursor_variable, default=None)
            if not is_missing_cursor(value):
                return str(value).strip()
        return None

    def start_cursor(self) -> Cursor:
        """Return the cursor this try reads after (resolved on first use, then kept)."""
        if self._start is None:
            stored = self.stored_cursor()
            if stored is None:
                stored = resolve_start_cursor(
                    self.start_from, latest=self.hook.get_latest_cursor, oldest=self.hook.get_oldest_cursor
                )
                self.log.info("No stored cursor: starting from the %s cursor, %s", self.start_from, stored)
            else:
                self.log.info("Reading Kloudless events after the stored cursor %s", stored)
            self._start = stored
        return self._start

    def poke(self, context: Context) -> PokeReturnValue:
        start = self.start_cursor()
        position = start if self._position is None else self._position
        batch = read_events(
            self.hook.iter_events,
            position,
            event_types=self.event_types,
            max_events=self.max_events,
            page_size=self.page_size,
        )
        if not batch.events:
            self._position = batch.cursor  # past skipped events: the next poke does not read them again
            self.log.info("No new Kloudless events after cursor %s", start)
            return PokeReturnValue(is_done=False)
        result = EventBatch(previous_cursor=start, cursor=batch.cursor, events=batch.events)
        self.log.info(
            "%d Kloudless events after cursor %s; new cursor %s", result.count, start, result.cursor
        )
        return PokeReturnValue(is_done=True, xcom_value=result.as_xcom())

    def execute(self, context: Context) -> Any:
        try:
            if not self.deferrable:
                return super().execute(context)
            first = self.poke(context)
            if first.is_done:
                return first.xcom_value
            self.defer(
                trigger=self.make_trigger(self.start_cursor()),
                method_name="execute_complete",
                timeout=timedelta(seconds=self.timeout),
            )
        finally:
            if "hook" in self.__dict__:
                self.hook.close()

    def make_trigger(self, cursor: Cursor) -> KloudlessEventsTrigger:
        """Return the trigger that waits for events after ``cursor`` until the sensor's timeout."""
        return KloudlessEventsTrigger(
            conn_id=self.conn_id,
            cursor=cursor,
            account_id=self.account_id,
            event_types=self.event_types,
            max_events=self.max_events,
            page_size=self.page_size,
            poll_interval=self.poll_interval,
            end_time=time.time() + self.timeout,
        )

    def execute_complete(self, context: Context, event: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Return the events the trigger found, or raise the error it reported."""
        if not isinstance(event, Mapping):
            raise AirflowException(f"{self.task_id}: the trigger sent no event, got {event!r}")
        status = event.get("status")
        if status == "success":
            missing = [key for key in XCOM_KEYS if key not in event]
            if missing or not isinstance(event.get("events"), list) or not event["events"]:
                raise AirflowException(f"{self.task_id}: malformed success event (missing {missing})")
            self.log.info("%d Kloudless events; new cursor %s", event["count"], event["cursor"])
            return {key: event[key] for key in XCOM_KEYS}
        if status == "timeout":
            raise AirflowSensorTimeout(str(event.get("message") or "no Kloudless events before the timeout"))
        if status == "error":
            raise error_from_event(event, service="kloudless", message="the Kloudless events trigger failed")
        raise AirflowException(f"{self.task_id}: unknown trigger event status {status!r}")
