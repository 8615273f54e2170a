"""
Event-driven scheduling on Kloudless events: a ``BaseEventTrigger`` for ``AssetWatcher``.

::

    from airflow.sdk import Asset, AssetWatcher, dag

    from airflow_provider_cloud.triggers.kloudless_events import KloudlessEventsEventTrigger

    drive = Asset(
        "kloudless://drive/files",
        watchers=[
            AssetWatcher(
                name="drive_files",
                trigger=KloudlessEventsEventTrigger(conn_id="kloudless_default", event_types=["add"]),
            )
        ],
    )


    @dag(schedule=[drive])
    def on_new_files(): ...

Each batch of new events becomes one asset event; a consumer reads the payload from
``context["triggering_asset_events"][drive][i].extra["payload"]`` and, if it needs the full events, re-reads
them with ``KloudlessHook.iter_events(payload["previous_cursor"], max_events=payload["count"], types=...)``.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from typing import Any, Protocol

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from airflow_provider_cloud.exceptions import CloudApiError, CursorExpiredError
from airflow_provider_cloud.hooks.kloudless import (
    DEFAULT_MAX_EVENTS,
    DEFAULT_POLL_INTERVAL,
    Cursor,
    EventBatch,
    KloudlessHook,
    check_max_events,
    check_poll_interval,
    normalize_event_types,
)

CURSOR_KEY = "cursor"
"""The key of the cursor in the watched asset's state store."""
DEFAULT_MAX_CONSECUTIVE_FAILURES = 5


class StateStore(Protocol):
    """What the trigger needs of Airflow's ``AssetStateStoreAccessors`` (and of a fake one in tests)."""

    async def aget(self, key: str, default: Any = None) -> Any: ...

    async def aset(self, key: str, value: Any) -> None: ...


class MemoryStateStore:
    """A state store living as long as the trigger instance: the fallback when Airflow injects none."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    async def aget(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    async def aset(self, key: str, value: Any) -> None:
        self.values[key] = value


class KloudlessEventsEventTrigger(BaseEventTrigger):
    """
    Watch a Kloudless account's events and fire one trigger event per batch of new events.

    The cursor lives in the watched asset's state store (``self.asset_state_store``, injected by the
    triggerer, key ``"cursor"``), so nothing that changes goes into the kwargs and the watcher keeps its
    identity across DAG parses. When no cursor is stored yet, the trigger stores the latest cursor and fires
    nothing: events from before the watcher existed are not replayed.

    Each poll reads at most ``max_events`` events of ``event_types`` after the stored cursor (events of other
    types are skipped and the cursor moves past them). A non-empty batch yields
    ``TriggerEvent({"cursor", "previous_cursor", "count", "event_ids", "types"})`` — ``event_ids`` lists the
    batch's event ids (at most ``max_events``), ``types`` counts its events by type — and the new cursor is
    stored only *after* the yield returns, so a triggerer that dies in between fires the batch again
    (at-least-once; consumers dedupe by event id).

    Between polls the trigger sleeps ``poll_interval`` seconds, also after a failure; after a full batch it
    polls again at once, so a backlog is drained in batches instead of one batch per interval. Transient
    failures (connection errors, timeouts, 429, 5xx: ``CloudApiError.retryable``), which the HTTP core has
    already retried, are logged and survived until ``max_consecutive_failures`` of them in a row; the next
    one is raised. Other errors (a bad token, a missing account) are raised at once. A stored cursor older
    than the service's retention is logged as an error (the events in between are lost) and replaced by the
    oldest retained cursor, so the events still kept are delivered.

    The connection is looked up once per trigger (:meth:`KloudlessHook.async_create`, Airflow's async-safe
    lookup) and every poll is sent on the hook's async client (:meth:`KloudlessHook.aread_events`), under the
    HTTP core's retry rules: no thread per poll; the client is closed in :meth:`cleanup`.

    Without a state store (a trigger not run by an asset watcher), the cursor is kept in memory and a
    warning is logged. Airflow gives one state store per watched asset: a trigger whose kwargs are identical
    on several assets is one trigger for all of them, and its store cannot pick one — give each asset its own
    trigger arguments.

    :param conn_id: the Kloudless connection id.
    :param account_id: the account (default: the connection's, else ``me``).
    :param event_types: only these event types fire (default: all).
    :param poll_interval: seconds between polls.
    :param max_events: the most events per trigger event (1 to 1000).
    :param max_consecutive_failures: transient failures in a row that are survived.
    :param page_size: events per request (the service's default when ``None``).
    """

    def __init__(
        self,
        *,
        conn_id: str,
        account_id: str | int | None = None,
        event_types: Iterable[str] | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        max_events: int = DEFAULT_MAX_EVENTS,
        max_consecutive_failures: int = DEFAULT_MAX_CONSECUTIVE_FAILURES,
        page_size: int | None = None,
    ) -> None:
        super().__init__()
        if isinstance(max_consecutive_failures, bool) or not isinstance(max_consecutive_failures, int):
            raise ValueError(f"max_consecutive_failures must be an integer, got {max_consecutive_failures!r}")
        if max_consecutive_failures < 0:
            raise ValueError("max_consecutive_failures must be 0 or more")
        self.conn_id = conn_id
        self.account_id = account_id
        self.event_types = normalize_event_types(event_types)
        self.poll_interval = check_poll_interval(poll_interval)
        self.max_events = check_max_events(max_events)
        self.max_consecutive_failures = max_consecutive_failures
        self.page_size = page_size
        self._hook: KloudlessHook | None = None

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "conn_id": self.conn_id,
                "account_id": self.account_id,
                "event_types": self.event_types,
                "poll_interval": self.poll_interval,
                "max_events": self.max_events,
                "max_consecutive_failures": self.max_consecutive_failures,
                "page_size": self.page_size,
            },
        )

    def _state_store(self) -> StateStore:
        store: StateStore | None = getattr(self, "asset_state_store", None)
        if store is None:
            self.log.warning(
                "No asset state store was injected (not run by an AssetWatcher): the events cursor is kept "
                "in memory and starts again from the latest cursor when the trigger restarts"
            )
            store = MemoryStateStore()
            self.asset_state_store = store  # type: ignore[assignment]
        return store

    async def run(self) -> AsyncIterator[TriggerEvent]:
        store = self._state_store()
        failures = 0
        try:
            while True:
                full_batch = False
                try:
                    batch = await self._poll_once(store)
                    failures = 0
                except CloudApiError as exc:
                    if not exc.retryable:
                        raise
                    failures += 1
                    if failures > self.max_consecutive_failures:
                        self.log.error("Giving up after %d failed polls in a row: %s", failures, exc)
                        raise
                    self.log.warning(
                        "Kloudless events poll failed (%d of %d tolerated in a row): %s",
                        failures,
                        self.max_consecutive_failures,
                        exc,
                    )
                    batch = None
                if batch is not None and batch.events:
                    yield TriggerEvent(self.payload(batch))
                    await store.aset(CURSOR_KEY, batch.cursor)  # after the yield: at-least-once
                    full_batch = batch.count >= self.max_events
                elif batch is not None and batch.cursor != batch.previous_cursor:
                    await store.aset(CURSOR_KEY, batch.cursor)  # only skipped events: move past them
                await asyncio.sleep(0 if full_batch else self.poll_interval)
        finally:
            await self.cleanup()

    async def cleanup(self) -> None:
        """Close the hook's HTTP client."""
        hook, self._hook = self._hook, None
        if hook is not None:
            await hook.aclose()

    async def _poll_once(self, store: StateStore) -> EventBatch | None:
        """Poll once; return the batch read, or ``None`` when this poll only positioned the cursor."""
        if self._hook is None:
            self._hook = await KloudlessHook.async_create(self.conn_id, account_id=self.account_id)
        hook = self._hook
        try:
            return await self._poll(hook, store)
        except CursorExpiredError as exc:
            await self._skip_expired(hook, store, exc)
            return None

    async def _load_cursor(self, store: StateStore) -> Cursor | None:
        try:
            value: Cursor | None = await store.aget(CURSOR_KEY, default=None)
        except ValueError as exc:
            raise ValueError(
                f"{type(self).__name__}: the asset state store does not name one asset ({exc}); this "
                "happens when identical trigger arguments watch several assets"
            ) from exc
        return value

    async def _poll(self, hook: KloudlessHook, store: StateStore) -> EventBatch | None:
        cursor = await self._load_cursor(store)
        if cursor is None:
            latest = await hook.aget_latest_cursor()
            await store.aset(CURSOR_KEY, latest)
            self.log.info("No stored Kloudless events cursor: starting from the latest, %s", latest)
            return None
        return await hook.aread_events(
            cursor,
            event_types=self.event_types,
            max_events=self.max_events,
            page_size=self.page_size,
        )

    async def _skip_expired(self, hook: KloudlessHook, store: StateStore, exc: CursorExpiredError) -> None:
        stored = await self._load_cursor(store)
        oldest = await hook.aget_oldest_cursor()
        self.log.error(
            "The stored Kloudless events cursor %s has expired (%s): events between it and %s are lost; "
            "continuing from the oldest retained event",
            stored,
            exc,
            oldest,
        )
        await store.aset(CURSOR_KEY, oldest)

    def payload(self, batch: EventBatch) -> dict[str, Any]:
        """Return the bounded trigger payload for a batch: cursors, count, event ids and counts by type."""
        ids = [event.get("id", event.get("event_id")) for event in batch.events[: self.max_events]]
        types = Counter(str(event.get("type")) for event in batch.events)
        return {
            "cursor": batch.cursor,
            "previous_cursor": batch.previous_cursor,
            "count": batch.count,
            "event_ids": ids,
            "types": dict(sorted(types.items())),
        }
