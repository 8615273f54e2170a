"""
The fault suite's common parts: the plan, the connection extras that keep waits short, counting what the hooks
did, timing a case, and the report printed at the end of the session (``conftest.py``).

Every case runs its work once through a fault-free proxy (the baseline: same path, same overhead) and then
through the faulty one on each seed; a case passes when its result equals the baseline's on the first try.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from airflow_provider_cloud.hooks.core import CloudApiHook
from airflow_provider_cloud.testing.proxy import Fault, FaultPlan, NetworkConditionsProxy, ProxyCounts

SEEDS = (1, 2, 3)
#: A lost answer closes the connection, on every seed.
LOST_VARIANTS = [pytest.param(Fault.LOST, seed, id=f"lost-seed{seed}") for seed in SEEDS]
#: ... and one more run lets it stall until the read timeout (each stall costs :data:`STALL_TIMEOUT`).
VARIANTS = [*LOST_VARIANTS, pytest.param(Fault.STALL, 1, id="stall-seed1")]
#: The ways the answer to one chosen write goes missing, for the scripted cases.
UNSEEN = [Fault.LOST, Fault.RESET, Fault.STALL]
#: Read timeout of the stall variant: a stalled answer costs this much.
STALL_TIMEOUT = 1.0
RETRY_AFTER = 0.05


def suite_plan(lost: Fault = Fault.LOST) -> FaultPlan:
    """5 % 429, 5 % 503, 3 % resets before forwarding, 3 % answers lost after forwarding (closed or stalled)."""
    rates = {"too_many_requests": 0.05, "unavailable": 0.05, "reset": 0.03, lost.value: 0.03}
    return FaultPlan(**rates, retry_after=RETRY_AFTER)


def core_extras(lost: Fault | None = None) -> dict[str, Any]:
    """Connection extras of the HTTP core: short backoffs and ``Retry-After`` caps, room for unlucky streaks."""
    extras: dict[str, Any] = {"retry_backoff_max": 0.05, "retry_after_max": 0.1, "retry_limit": 8}
    if lost is Fault.STALL:
        extras["timeout"] = STALL_TIMEOUT
    return extras


def set_connection(monkeypatch: pytest.MonkeyPatch, conn_id: str, connection: dict[str, Any]) -> str:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(connection))
    return conn_id


@contextlib.contextmanager
def hooks_made() -> Iterator[list[CloudApiHook]]:
    """Collect every hook made inside the block (operators make their own), to read their counts."""
    made: list[CloudApiHook] = []
    original = CloudApiHook.__init__

    def recording(self: CloudApiHook, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        made.append(self)

    CloudApiHook.__init__ = recording  # type: ignore[method-assign]
    try:
        yield made
    finally:
        CloudApiHook.__init__ = original  # type: ignore[method-assign]


@dataclass
class CaseRun:
    """One run of a case: what the proxy and the hooks saw, how long it took, and how it ended."""

    case: str
    variant: str
    seconds: float = 0.0
    proxy: ProxyCounts = field(default_factory=ProxyCounts)
    hooks: dict[str, int] = field(default_factory=dict)
    outcome: str = "not run"
    result: Any = None


#: Every run of the session, for the report.
RUNS: list[CaseRun] = []
BASELINES: dict[str, CaseRun] = {}


def run_case(case: str, variant: str, proxy: NetworkConditionsProxy, work: Callable[[], Any]) -> CaseRun:
    """Run ``work`` once (no task retry), timing it and counting what the proxy and the hooks did."""
    run = CaseRun(case, variant)
    proxy.reset_counts()
    started = time.monotonic()
    with hooks_made() as hooks:
        try:
            run.result = work()
            run.outcome = "passed"
        except Exception as exc:
            run.outcome = f"failed: {type(exc).__name__}: {str(exc)[:300]}"
            raise
        finally:
            run.seconds = time.monotonic() - started
            run.proxy = proxy.counts
            run.hooks = total_counts(hooks)
            (BASELINES.__setitem__(case, run) if variant == "baseline" else RUNS.append(run))
    return run


def total_counts(hooks: list[CloudApiHook]) -> dict[str, int]:
    total = {"hooks": len(hooks), "attempts": 0, "retries": 0, "reconciled": 0, "resent": 0}
    for hook in hooks:
        for name, value in hook.counts.as_dict().items():
            total[name] += value
    return total


def report_lines() -> list[str]:
    """The report: one line per run, beside its case's fault-free time."""
    kinds = [Fault.TOO_MANY_REQUESTS, Fault.UNAVAILABLE, Fault.RESET, Fault.LOST, Fault.STALL]
    header = (
        f"{'case':<22} {'variant':<12} {'seen':>6} {'429':>4} {'503':>4} {'reset':>5} {'lost':>4} {'stall':>5} "
        f"{'retries':>7} {'reconc':>6} {'resent':>6} {'time s':>7} {'base s':>7}  outcome"
    )
    lines = [header]
    for run in [*BASELINES.values(), *RUNS]:
        base = BASELINES.get(run.case)
        faulted = " ".join(
            f"{run.proxy.faulted[k.value]:>{w}}" for k, w in zip(kinds, (4, 4, 5, 4, 5), strict=True)
        )
        lines.append(
            f"{run.case:<22} {run.variant:<12} {run.proxy.seen:>6} {faulted} "
            f"{run.hooks.get('retries', 0):>7} {run.hooks.get('reconciled', 0):>6} {run.hooks.get('resent', 0):>6} "
            f"{run.seconds:>7.2f} {base.seconds if base else float('nan'):>7.2f}  {run.outcome}"
        )
    return lines
