"""Business hours: weekly ranges, midnight, holidays, exceptions, overrides, zones and DST."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from dialplan.hours import check_hours
from dialplan.settings import FlowSettings, Schedule

MOSCOW = ZoneInfo("Europe/Moscow")
NEW_YORK = ZoneInfo("America/New_York")
WEEKDAYS_8_TO_20 = {day: ["08:00-20:00"] for day in ("mon", "tue", "wed", "thu", "fri")}


def make_schedule(timezone: str = "Europe/Moscow", **fields: Any) -> Schedule:
    """A schedule read from a document, as routing gets it."""
    doc = {"name": "s", "timezone": timezone, "closed_action": {"kind": "hangup"}, **fields}
    return FlowSettings.from_document({"default_queue": "q", "schedules": [doc]}).schedules["s"]


def moscow(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    """A Moscow wall-clock time."""
    return datetime(year, month, day, hour, minute, tzinfo=MOSCOW)


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    """A UTC time."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# 2026-11-23 is a Monday; 2026-11-27 a Friday, 2026-11-28 a Saturday.


def test_weekday_inside_hours_is_open() -> None:
    """Monday 10:00 falls in 08:00-20:00."""
    check = check_hours(make_schedule(weekly=WEEKDAYS_8_TO_20), moscow(2026, 11, 23, 10, 0))
    assert (check.open, check.reason) == (True, "weekly")


def test_opening_minute_is_open_and_closing_minute_is_closed() -> None:
    """A range includes its start and excludes its end."""
    schedule = make_schedule(weekly=WEEKDAYS_8_TO_20)
    assert check_hours(schedule, moscow(2026, 11, 23, 8, 0)).open
    assert check_hours(schedule, moscow(2026, 11, 23, 19, 59)).open
    closing = check_hours(schedule, moscow(2026, 11, 23, 20, 0))
    assert (closing.open, closing.reason) == (False, "outside_weekly")


def test_early_morning_before_opening_is_closed() -> None:
    """07:59 on a weekday is outside the weekly hours."""
    check = check_hours(make_schedule(weekly=WEEKDAYS_8_TO_20), moscow(2026, 11, 23, 7, 59))
    assert (check.open, check.reason) == (False, "outside_weekly")


def test_day_without_ranges_is_closed() -> None:
    """Saturday has no hours at all."""
    check = check_hours(make_schedule(weekly=WEEKDAYS_8_TO_20), moscow(2026, 11, 28, 12, 0))
    assert (check.open, check.reason) == (False, "outside_weekly")


def test_several_ranges_in_a_day_leave_the_lunch_break_closed() -> None:
    """09:00-13:00 and 14:00-18:00 leave 13:30 closed."""
    schedule = make_schedule(weekly={"mon": ["09:00-13:00", "14:00-18:00"]})
    assert check_hours(schedule, moscow(2026, 11, 23, 12, 0)).open
    assert not check_hours(schedule, moscow(2026, 11, 23, 13, 30)).open
    assert check_hours(schedule, moscow(2026, 11, 23, 15, 0)).open


def test_range_crossing_midnight_is_open_late_friday() -> None:
    """Friday 22:00-06:00 is open at Friday 23:30."""
    schedule = make_schedule(weekly={"fri": ["22:00-06:00"]})
    assert check_hours(schedule, moscow(2026, 11, 27, 23, 30)).open


def test_range_crossing_midnight_is_open_early_saturday() -> None:
    """Friday 22:00-06:00 is still open at Saturday 03:00, by Friday's weekly hours."""
    check = check_hours(make_schedule(weekly={"fri": ["22:00-06:00"]}), moscow(2026, 11, 28, 3, 0))
    assert (check.open, check.reason) == (True, "weekly")


def test_range_crossing_midnight_closes_at_its_end_next_morning() -> None:
    """Friday 22:00-06:00 is closed at Saturday 06:00 and before Friday 22:00."""
    schedule = make_schedule(weekly={"fri": ["22:00-06:00"]})
    assert not check_hours(schedule, moscow(2026, 11, 28, 6, 0)).open
    assert not check_hours(schedule, moscow(2026, 11, 27, 21, 59)).open
    assert not check_hours(schedule, moscow(2026, 11, 27, 3, 0)).open


def test_sunday_night_range_reaches_into_monday() -> None:
    """The week wraps: Sunday 22:00-02:00 is open Monday 01:00."""
    schedule = make_schedule(weekly={"sun": ["22:00-02:00"]})
    assert check_hours(schedule, moscow(2026, 11, 23, 1, 0)).open


def test_whole_day_range_is_open_around_the_clock() -> None:
    """00:00-00:00 opens the whole day and nothing of the next one."""
    schedule = make_schedule(weekly={"mon": ["00:00-00:00"]})
    assert check_hours(schedule, moscow(2026, 11, 23, 0, 0)).open
    assert check_hours(schedule, moscow(2026, 11, 23, 23, 59)).open
    assert not check_hours(schedule, moscow(2026, 11, 24, 0, 0)).open


def test_holiday_closes_a_weekday_with_hours() -> None:
    """A holiday wins over the weekly hours."""
    schedule = make_schedule(weekly=WEEKDAYS_8_TO_20, holidays=[{"date": "2026-11-23"}])
    check = check_hours(schedule, moscow(2026, 11, 23, 10, 0))
    assert (check.open, check.reason) == (False, "holiday")


def test_holiday_closes_the_morning_a_night_range_runs_into() -> None:
    """A holiday is closed all day, even the hours that crossed midnight into it."""
    schedule = make_schedule(weekly={"fri": ["22:00-06:00"]}, holidays=[{"date": "2026-11-28"}])
    check = check_hours(schedule, moscow(2026, 11, 28, 3, 0))
    assert (check.open, check.reason) == (False, "holiday")


def test_holiday_eve_night_hours_do_not_carry_over() -> None:
    """A closed Friday holiday has no night hours spilling into Saturday."""
    schedule = make_schedule(weekly={"fri": ["22:00-06:00"]}, holidays=[{"date": "2026-11-27"}])
    check = check_hours(schedule, moscow(2026, 11, 28, 3, 0))
    assert (check.open, check.reason) == (False, "outside_weekly")


def test_exception_hours_replace_the_weekly_hours() -> None:
    """A short day 10:00-14:00 is closed at 09:00 and 15:00 and open at 11:00."""
    schedule = make_schedule(
        weekly=WEEKDAYS_8_TO_20, exceptions=[{"date": "2026-11-23", "ranges": ["10:00-14:00"]}]
    )
    before = check_hours(schedule, moscow(2026, 11, 23, 9, 0))
    during = check_hours(schedule, moscow(2026, 11, 23, 11, 0))
    after = check_hours(schedule, moscow(2026, 11, 23, 15, 0))
    assert (before.open, before.reason) == (False, "exception_hours")
    assert (during.open, during.reason) == (True, "exception_hours")
    assert (after.open, after.reason) == (False, "exception_hours")


def test_exception_can_open_a_weekend_day() -> None:
    """A working Saturday is open by its exception."""
    schedule = make_schedule(
        weekly=WEEKDAYS_8_TO_20, exceptions=[{"date": "2026-11-28", "ranges": ["09:00-15:00"]}]
    )
    assert check_hours(schedule, moscow(2026, 11, 28, 12, 0)).open


def test_exception_without_ranges_closes_the_day() -> None:
    """An exception with no ranges closes a working day."""
    schedule = make_schedule(
        weekly=WEEKDAYS_8_TO_20, exceptions=[{"date": "2026-11-23", "ranges": []}]
    )
    check = check_hours(schedule, moscow(2026, 11, 23, 10, 0))
    assert (check.open, check.reason) == (False, "exception_closed")


def test_exception_wins_over_a_holiday_on_the_same_date() -> None:
    """An exception is more specific than a holiday."""
    schedule = make_schedule(
        holidays=[{"date": "2026-11-23", "name": "День"}],
        exceptions=[{"date": "2026-11-23", "ranges": ["10:00-12:00"]}],
    )
    check = check_hours(schedule, moscow(2026, 11, 23, 11, 0))
    assert (check.open, check.reason) == (True, "exception_hours")


def test_exception_night_hours_run_into_the_next_ordinary_day() -> None:
    """New Year's Eve 20:00-02:00 is open at 01:00 on January 1st."""
    schedule = make_schedule(
        weekly=WEEKDAYS_8_TO_20, exceptions=[{"date": "2026-12-31", "ranges": ["20:00-02:00"]}]
    )
    check = check_hours(schedule, moscow(2027, 1, 1, 1, 0))
    assert (check.open, check.reason) == (True, "exception_hours")


def test_override_open_wins_over_a_holiday() -> None:
    """An override is stronger than everything else."""
    schedule = make_schedule(
        holidays=[{"date": "2026-11-23"}], override={"state": "open", "until": None}
    )
    check = check_hours(schedule, moscow(2026, 11, 23, 3, 0))
    assert (check.open, check.reason) == (True, "override_open")


def test_override_closed_wins_over_weekly_hours() -> None:
    """Closing by hand closes during normal hours."""
    schedule = make_schedule(weekly=WEEKDAYS_8_TO_20, override={"state": "closed"})
    check = check_hours(schedule, moscow(2026, 11, 23, 10, 0))
    assert (check.open, check.reason) == (False, "override_closed")


def test_override_expires_at_its_until_time() -> None:
    """Until 12:00 the override applies; from 12:00 the weekly hours are back."""
    schedule = make_schedule(
        weekly=WEEKDAYS_8_TO_20, override={"state": "closed", "until": "2026-11-23T12:00:00+03:00"}
    )
    assert check_hours(schedule, moscow(2026, 11, 23, 11, 59)).reason == "override_closed"
    back = check_hours(schedule, moscow(2026, 11, 23, 12, 0))
    assert (back.open, back.reason) == (True, "weekly")


def test_override_until_in_another_zone_compares_the_same_instant() -> None:
    """An until written in UTC expires at that instant, whatever the schedule's zone."""
    schedule = make_schedule(
        weekly=WEEKDAYS_8_TO_20, override={"state": "closed", "until": "2026-11-23T09:00:00Z"}
    )
    assert check_hours(schedule, moscow(2026, 11, 23, 11, 59)).reason == "override_closed"
    assert check_hours(schedule, moscow(2026, 11, 23, 12, 0)).reason == "weekly"


def test_hours_are_read_in_the_schedule_time_zone() -> None:
    """08:00 Moscow is 05:00 UTC."""
    schedule = make_schedule(weekly=WEEKDAYS_8_TO_20)
    assert not check_hours(schedule, utc(2026, 11, 23, 4, 59)).open
    assert check_hours(schedule, utc(2026, 11, 23, 5, 0)).open


def test_time_given_in_a_far_zone_is_converted_first() -> None:
    """Tuesday 01:00 in Vladivostok is Monday 18:00 in Moscow: open."""
    at = datetime(2026, 11, 24, 1, 0, tzinfo=ZoneInfo("Asia/Vladivostok"))
    check = check_hours(make_schedule(weekly=WEEKDAYS_8_TO_20), at)
    assert (check.open, check.reason) == (True, "weekly")


def test_naive_time_is_refused() -> None:
    """Without a zone the moment is ambiguous."""
    with pytest.raises(ValueError, match="time zone"):
        check_hours(make_schedule(), datetime(2026, 11, 23, 10, 0))


def test_opening_time_follows_berlin_summer_time() -> None:
    """08:00 Berlin is 07:00 UTC on Friday before the change and 06:00 UTC the Monday after."""
    schedule = make_schedule("Europe/Berlin", weekly=WEEKDAYS_8_TO_20)
    assert not check_hours(schedule, utc(2026, 3, 27, 6, 30)).open
    assert check_hours(schedule, utc(2026, 3, 27, 7, 0)).open
    assert check_hours(schedule, utc(2026, 3, 30, 6, 30)).open
    assert not check_hours(schedule, utc(2026, 3, 30, 5, 59)).open


def test_night_range_over_spring_forward_ends_at_local_six() -> None:
    """Saturday 22:00-06:00 on 2026-03-29 closes at 06:00 CEST, 04:00 UTC, an hour short."""
    schedule = make_schedule("Europe/Berlin", weekly={"sat": ["22:00-06:00"]})
    assert check_hours(schedule, utc(2026, 3, 28, 21, 0)).open  # 22:00 CET
    assert check_hours(schedule, utc(2026, 3, 29, 1, 30)).open  # 03:30 CEST, 02:xx skipped
    assert check_hours(schedule, utc(2026, 3, 29, 3, 59)).open  # 05:59 CEST
    assert not check_hours(schedule, utc(2026, 3, 29, 4, 0)).open  # 06:00 CEST


def test_range_inside_the_skipped_hour_never_opens() -> None:
    """02:00-03:00 does not exist in Berlin on 2026-03-29: the clock jumps past it."""
    schedule = make_schedule("Europe/Berlin", weekly={"sun": ["02:00-03:00"]})
    assert not check_hours(schedule, utc(2026, 3, 29, 0, 59)).open  # 01:59 CET
    assert not check_hours(schedule, utc(2026, 3, 29, 1, 0)).open  # 03:00 CEST


def test_repeated_hour_at_fall_back_is_open_both_times() -> None:
    """02:15 happens twice in Berlin on 2026-10-25; a range until 02:30 covers both."""
    schedule = make_schedule("Europe/Berlin", weekly={"sat": ["22:00-02:30"]})
    assert check_hours(schedule, utc(2026, 10, 25, 0, 15)).open  # 02:15 CEST
    assert not check_hours(schedule, utc(2026, 10, 25, 0, 45)).open  # 02:45 CEST
    assert check_hours(schedule, utc(2026, 10, 25, 1, 15)).open  # 02:15 CET, again
    assert not check_hours(schedule, utc(2026, 10, 25, 1, 45)).open  # 02:45 CET


def test_new_york_opening_moves_an_hour_in_utc_with_dst() -> None:
    """09:00 New York is 14:00 UTC before 2026-03-08 and 13:00 UTC after."""
    schedule = make_schedule(
        "America/New_York",
        weekly={day: ["09:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri")},
    )
    assert not check_hours(schedule, utc(2026, 3, 6, 13, 30)).open
    assert check_hours(schedule, utc(2026, 3, 6, 14, 0)).open
    assert check_hours(schedule, utc(2026, 3, 9, 13, 30)).open
    assert check_hours(schedule, utc(2026, 11, 2, 14, 30)).open
    assert not check_hours(schedule, utc(2026, 11, 2, 13, 30)).open


def test_new_york_friday_night_range_reaches_saturday_local_not_utc() -> None:
    """Friday 20:00-02:00 New York is open at Saturday 01:00 local, already 06:00 UTC."""
    schedule = make_schedule("America/New_York", weekly={"fri": ["20:00-02:00"]})
    assert check_hours(schedule, datetime(2026, 11, 28, 1, 0, tzinfo=NEW_YORK)).open
    assert check_hours(schedule, utc(2026, 11, 28, 6, 0)).open
    assert not check_hours(schedule, utc(2026, 11, 28, 7, 0)).open
