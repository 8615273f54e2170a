"""Several files at once (``hooks/kloudless/transfers.py``), with transfers made up here: order, failures, names."""

from __future__ import annotations

import threading

import pytest

from airflow_provider_cloud.exceptions import ApiConnectionError, NotFoundError
from airflow_provider_cloud.hooks.kloudless import transfers

WAIT = 10  # seconds a test waits for a thread before it fails instead of hanging


def test_results_come_in_the_order_given_whatever_order_they_finish_in():
    last_done = threading.Event()
    finished: list[int] = []

    def transfer(n: int) -> str:
        if n == 0:
            assert last_done.wait(WAIT)  # the first finishes last
        finished.append(n)
        if n == 3:
            last_done.set()
        return f"file-{n}"

    assert transfers.transfer_all(transfer, range(4), window=4, name="t") == [f"file-{n}" for n in range(4)]
    assert finished[-1] == 0


@pytest.mark.parametrize("window", [1, 2, 4])
def test_the_first_failure_stops_new_transfers_and_is_raised_after_those_in_flight(window: int):
    failed = threading.Event()
    started: list[int] = []
    finished: list[int] = []
    lock = threading.Lock()

    def transfer(n: int) -> int:
        with lock:
            started.append(n)
        if n == 5:
            failed.set()
            raise ApiConnectionError("the download broke off", service="kloudless")
        if n > 5:
            assert failed.wait(WAIT)  # still in flight when the failure comes
        with lock:
            finished.append(n)
        return n

    with pytest.raises(ApiConnectionError, match="broke off"):
        transfers.transfer_all(transfer, range(100), window=window, name="t")

    # Those started after the failing one were in flight with it (at most the window's others, and one
    # that took a slot as it was freed); none started later, and every one started has finished.
    assert max(started) <= 5 + window
    assert sorted(finished) == sorted(n for n in started if n != 5)


def test_a_missing_file_is_none_in_its_place_and_other_errors_still_fail():
    def transfer(n: int) -> int:
        if n == 1:
            raise NotFoundError("No file with id 'F1'", service="kloudless", status_code=404)
        if n == 9:
            raise ApiConnectionError("broke", service="kloudless")
        return n

    tolerant = transfers.missing_as_none(transfer)
    assert transfers.transfer_all(tolerant, [0, 1, 2], window=2, name="t") == [0, None, 2]
    with pytest.raises(ApiConnectionError):
        transfers.transfer_all(tolerant, [0, 9], window=2, name="t")
    with pytest.raises(NotFoundError):
        transfers.transfer_all(transfer, [0, 1], window=2, name="t")


def test_two_sources_of_one_name_are_refused_whatever_the_case():
    transfers.check_unique_names([("/a/data.csv", "data.csv"), ("/a/more.csv", "more.csv")], "root")
    with pytest.raises(
        ValueError, match=r"/a/data.csv and /b/DATA.csv would be uploaded as 'DATA.csv' twice"
    ):
        transfers.check_unique_names([("/a/data.csv", "data.csv"), ("/b/DATA.csv", "DATA.csv")], "root")
    with pytest.raises(ValueError, match=r"/a/x.csv is given twice: it would be uploaded as 'x.csv' twice"):
        transfers.check_unique_names([("/a/x.csv", "x.csv"), ("/a/x.csv", "x.csv")], "F9")
    with pytest.raises(ValueError, match="give the upload a name"):
        transfers.check_unique_names([("memory://", "")], "root")
