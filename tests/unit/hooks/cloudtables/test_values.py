"""Values against their data point's type, as the service (the emulator's rules) stores or refuses them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from airflow_provider_cloud.hooks.cloudtables.values import same_value, stored_as


@pytest.mark.parametrize(
    ("point_type", "value", "stored"),
    [
        ("number", "5", 5),
        ("number", " -7 ", -7),
        ("number", 2.5, 2.5),
        ("number", "1e3", 1000.0),
        ("number", Decimal("3.25"), 3.25),
        ("number", "", None),
        ("number", None, None),
        ("sequence", "12", 12),
        ("sequence", 12.0, 12),
        ("boolean", True, True),
        ("boolean", "YES", True),
        ("checkbox", "off", False),
        ("boolean", 0, False),
        ("date", "2024-02-29", "2024-02-29"),
        ("date", dt.date(2024, 1, 2), "2024-01-02"),
        ("datetime", "2024-01-02T03:04:05Z", "2024-01-02T03:04:05Z"),
        ("datetime", "2024-01-02 03:04", "2024-01-02 03:04"),
        ("time", "09:30", "09:30"),
        ("time", "09:30:15.5", "09:30:15.5"),
        ("text", 5, "5"),
        ("text", "  kept as is ", "  kept as is "),
        ("select", "anything", "anything"),
        (None, [1, 2], "[1,2]"),
    ],
)
def test_values_are_stored_as_their_type_wants(point_type, value, stored):
    assert stored_as(point_type, value) == stored


@pytest.mark.parametrize(
    ("point_type", "value", "reason"),
    [
        ("number", "many", "'many' is not a number (the data point's type is 'number')"),
        ("number", "1e400", "'1e400' is not a finite number"),
        ("number", "nan", "'nan' is not a finite number"),
        ("number", True, "'true' is not a number"),
        ("number", [1], "'[1]' is not a number"),
        ("sequence", "2.5", "'2.5' is not a whole number"),
        ("boolean", "maybe", "'maybe' is not true or false"),
        ("date", "2024-02-30", "'2024-02-30' is not an ISO 8601 date"),
        ("date", "02/01/2024", "'02/01/2024' is not an ISO 8601 date"),
        ("date", "2024-01-02T00:00", "is not an ISO 8601 date"),
        ("datetime", "yesterday", "'yesterday' is not an ISO 8601 date and time"),
        ("time", "9:30", "'9:30' is not an ISO 8601 time"),
        ("time", "25:00", "'25:00' is not an ISO 8601 time"),
    ],
)
def test_values_that_do_not_fit_say_why_naming_the_value_and_the_type(point_type, value, reason):
    with pytest.raises(ValueError, match=r" is ") as caught:
        stored_as(point_type, value)
    assert reason in str(caught.value)


def test_a_long_bad_value_is_shortened_in_the_message():
    with pytest.raises(ValueError, match=r"^'x{57}\.\.\.' is not a number") as caught:
        stored_as("number", "x" * 500)
    assert len(str(caught.value)) < 140


@pytest.mark.parametrize(
    ("point_type", "sent", "stored", "same"),
    [
        ("number", "5.0", 5, True),
        ("number", 5, 5.0, True),
        ("number", "5", 6, False),
        ("boolean", "yes", True, True),
        ("boolean", "no", True, False),
        ("text", 5, "5", True),
        ("text", "5.0", "5", False),  # text is compared as text
        ("number", "", None, True),
        ("text", None, "", True),
        ("number", "many", "many", True),  # the same text is the same value, whatever the type says
        ("number", "many", 5, False),
    ],
)
def test_a_stored_value_is_the_same_as_what_was_sent_when_the_service_made_it_of_that(
    point_type, sent, stored, same
):
    assert same_value(point_type, sent, stored) is same
