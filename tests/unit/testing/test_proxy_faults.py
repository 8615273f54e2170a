"""The proxy's fault plan, its reproducible per-request decisions, scripts, and the link's numbers."""

from __future__ import annotations

import random

import pytest

from airflow_provider_cloud.testing._proxy.counts import Tally
from airflow_provider_cloud.testing._proxy.faults import Decider, retry_after_text
from airflow_provider_cloud.testing._proxy.link import Conditions, Direction
from airflow_provider_cloud.testing.proxy import Fault, FaultPlan, RequestInfo, matching

SUITE_PLAN = FaultPlan(too_many_requests=0.05, unavailable=0.05, reset=0.03, lost=0.03)


def info(
    method: str = "POST", path: str = "/data/t/-/upsert", body: bytes = b"", query: str = ""
) -> RequestInfo:
    return RequestInfo(method, path, query, (), body)


def requests_(count: int) -> list[RequestInfo]:
    return [info(body=f'{{"rows": [{{"id": {n}}}]}}'.encode()) for n in range(count)]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"lost": 1.5}, "FaultPlan.lost must be a chance from 0 to 1", id="over-one"),
        pytest.param({"reset": -0.1}, "FaultPlan.reset must be a chance from 0 to 1", id="negative"),
        pytest.param({"stall": "x"}, "FaultPlan.stall must be a chance from 0 to 1", id="not-a-number"),
        pytest.param({"lost": 0.6, "reset": 0.6}, "add up to more than 1", id="sum-over-one"),
        pytest.param(
            {"retry_after": -1}, "FaultPlan.retry_after must be a finite", id="negative-retry-after"
        ),
        pytest.param({"slow_seconds": float("inf")}, "FaultPlan.slow_seconds must be a finite", id="inf"),
    ],
)
def test_a_plan_that_cannot_be_is_refused_naming_the_field(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        FaultPlan(**kwargs)


def test_every_fault_kind_is_a_rate_of_the_plan() -> None:
    plan = FaultPlan(**{kind.value: 0.1 for kind in Fault})
    assert plan.rates() == [(kind, 0.1) for kind in Fault]
    assert SUITE_PLAN.describe() == "too_many_requests 5 %, unavailable 5 %, reset 3 %, lost 3 %"
    assert FaultPlan().describe() == "no faults"


def test_decisions_follow_the_rates() -> None:
    decider = Decider(SUITE_PLAN, seed=1)
    found = [decider.decide(request)[0] for request in requests_(20_000)]
    for kind, rate in SUITE_PLAN.rates():
        share = found.count(kind) / len(found)
        assert abs(share - rate) < 0.006, (kind, share)


def test_decisions_do_not_depend_on_arrival_order() -> None:
    sent = requests_(500)
    first = Decider(SUITE_PLAN, seed=7)
    in_order = {r.body: first.decide(r)[0] for r in sent}
    shuffled = sent[:]
    random.Random(3).shuffle(shuffled)
    second = Decider(SUITE_PLAN, seed=7)
    assert {r.body: second.decide(r)[0] for r in shuffled} == in_order
    assert any(in_order.values())


def test_another_seed_decides_otherwise() -> None:
    sent = requests_(500)
    one, two = Decider(SUITE_PLAN, seed=1), Decider(SUITE_PLAN, seed=2)
    assert [one.decide(r)[0] for r in sent] != [two.decide(r)[0] for r in sent]


def test_the_same_request_again_is_a_new_draw_and_reproducible() -> None:
    plan = FaultPlan(lost=0.5)
    request = info(body=b"same")
    first = [Decider(plan, seed=4).decide(request)[0] for _ in range(3)]
    assert len(set(first)) == 1  # a fresh decider: the first sighting decides alike
    decider = Decider(plan, seed=4)
    again = [decider.decide(request)[0] for _ in range(40)]
    assert set(again) == {Fault.LOST, None}  # later sightings draw anew
    replay = Decider(plan, seed=4)
    assert [replay.decide(request)[0] for _ in range(40)] == again


def test_jitter_comes_from_the_request_draw() -> None:
    conditions = Conditions(latency=0.1, jitter=0.1)
    request = info(body=b"x")
    delays = {conditions.one_way(Decider(FaultPlan(), seed=5).decide(request)[1]) for _ in range(3)}
    assert len(delays) == 1
    (one_way,) = delays
    assert 0.05 <= one_way <= 0.1


def test_with_nothing_to_decide_requests_are_not_remembered() -> None:
    decider = Decider(FaultPlan(), seed=0)
    assert decider.decide(info(body=b"a"), draw=False) == (None, None)
    assert decider.remembered == 0
    assert decider.decide(info(body=b"a"))[1] is not None  # jitter to draw: remembered
    assert decider.remembered == 1
    decider.script([Fault.LOST], None)
    assert decider.decide(info(body=b"b"), draw=False)[0] is Fault.LOST


def test_only_restricts_the_rates() -> None:
    plan = FaultPlan(unavailable=1.0, only=matching("POST", r"/-/create$"))
    decider = Decider(plan, seed=0)
    assert decider.decide(info("POST", "/data/-/create"))[0] is Fault.UNAVAILABLE
    assert decider.decide(info("GET", "/data/-/create"))[0] is None
    assert decider.decide(info("POST", "/data/t/-/insert"))[0] is None


def test_matching_by_methods_and_path() -> None:
    writes = matching(["post", "PUT"])
    assert writes(info("POST"))
    assert writes(info("PUT"))
    assert not writes(info("GET"))
    assert matching(path=r"^/v1/")(info("GET", "/v1/accounts"))
    assert not matching(path=r"^/v1/")(info("GET", "/io/v1"))
    assert matching()(info())


def test_a_script_comes_first_in_order_then_the_rates() -> None:
    decider = Decider(FaultPlan(too_many_requests=1.0), seed=0)
    decider.script([Fault.LOST, None, "reset"], None)
    assert decider.pending == 3
    assert [decider.decide(info())[0] for _ in range(4)] == [
        Fault.LOST,
        None,
        Fault.RESET,
        Fault.TOO_MANY_REQUESTS,
    ]
    assert decider.pending == 0


def test_a_scripted_entry_waits_for_a_request_it_accepts() -> None:
    decider = Decider(FaultPlan(), seed=0)
    decider.script([Fault.LOST], matching("POST", "create"))
    decider.script([Fault.STALL], None)
    assert decider.decide(info("GET", "/data/t"))[0] is None  # the head wants a create: no scripted fault
    assert decider.decide(info("POST", "/data/-/create"))[0] is Fault.LOST
    assert decider.decide(info("GET", "/data/t"))[0] is Fault.STALL
    decider.script([Fault.SLOW], None)
    decider.clear_script()
    assert decider.pending == 0


def test_a_script_of_unknown_outcomes_is_refused() -> None:
    with pytest.raises(ValueError, match="'boom' is not a valid Fault"):
        Decider(FaultPlan(), seed=0).script(["boom"], None)


@pytest.mark.parametrize(("seconds", "text"), [(1, "1"), (2.0, "2"), (0.05, "0.05"), (0, "0")])
def test_retry_after_text(seconds: float, text: str) -> None:
    assert retry_after_text(seconds) == text


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"latency": -1}, "latency must be", id="negative-latency"),
        pytest.param({"jitter": float("nan")}, "jitter must be", id="nan-jitter"),
        pytest.param({"bandwidth": 0}, "bandwidth must be a positive", id="zero-bandwidth"),
    ],
)
def test_conditions_that_cannot_be_are_refused(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        Conditions(**kwargs)


def test_a_direction_books_bytes_one_after_another() -> None:
    direction = Direction()
    assert direction.reserve(1000, None, now=5.0) == 0.0
    assert direction.reserve(1000, 1000.0, now=5.0) == pytest.approx(1.0)
    assert direction.reserve(500, 1000.0, now=5.5) == pytest.approx(1.0)  # waits for the first, then its own
    assert direction.reserve(100, 1000.0, now=10.0) == pytest.approx(0.1)  # the link was idle meanwhile


def test_the_tally_counts_and_remembers_faults() -> None:
    tally = Tally()
    assert tally.add("seen") == 1
    tally.add("forwarded")
    tally.fault(1, Fault.LOST, "POST", "/x")
    counts = tally.snapshot()
    assert (counts.seen, counts.forwarded, counts.delivered, counts.total_faulted) == (1, 1, 0, 1)
    assert counts.faulted == {kind.value: int(kind is Fault.LOST) for kind in Fault}
    assert [(r.number, r.fault, r.method, r.target) for r in tally.records()] == [
        (1, Fault.LOST, "POST", "/x")
    ]
    assert counts.as_dict()["faulted"]["lost"] == 1
    tally.reset()
    assert tally.snapshot().seen == 0
    assert tally.records() == []
