"""
One attempt of a write whose answer may be lost: sent, and checked when its outcome is unknown.

A write that is not safe to repeat and got no answer (or a 5xx) may or may not have happened
(``policy.outcome_unknown``). With a ``reconcile`` check, the attempt asks the service: the write counts as
done (:class:`Reconciled` carries what stands for its answer out of the retry loop) or is sent again (the
error becomes retryable). A check that fails too leaves the write in doubt: the error is raised, never resent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from airflow_provider_cloud.exceptions import CloudApiError
from airflow_provider_cloud.hooks.core.policy import outcome_unknown

T = TypeVar("T")

#: Checks whether a write whose answer was lost happened: what stands for the answer if it did, else ``None``.
Reconcile = Callable[[], Any]


class Reconciled(Exception):
    """Carries the checked outcome of a write whose answer was lost out of the retry loop."""

    def __init__(self, payload: Any) -> None:
        super().__init__("reconciled")
        self.payload = payload


def send_or_check(
    send: Callable[[], T],
    reconcile: Reconcile | None,
    *,
    where: str,
    count: Callable[[str], None],
    warn: Callable[..., None],
) -> T:
    """Return ``send()``; when its outcome is unknown, check with ``reconcile`` (see the module docstring)."""
    try:
        return send()
    except CloudApiError as exc:
        if reconcile is None or not outcome_unknown(exc):
            raise
        try:
            payload = reconcile()
        except CloudApiError as check:  # still in doubt: never resend a write that may have happened
            warn("%s: %s; checking whether the write happened failed too: %s", where, exc, check)
            raise exc from check
        if payload is not None:
            count("reconciled")
            warn("%s: %s; the write happened (checked), so it counts as done", where, exc)
            raise Reconciled(payload) from None
        count("resent")
        warn("%s: %s; the write did not happen (checked), so it is sent again", where, exc)
        exc.retryable = True
        raise
