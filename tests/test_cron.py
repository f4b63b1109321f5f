"""Velero's cron grammar (robfig/cron ParseStandard, v3 for Velero 1.15+ and v1 for 1.12 to 1.14): parsing, next
run, longest gap."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from velero_exporter.velero.cron import Cron, CronError, CronNeverMatchesError, RobfigVersion, parse_cron

MINUTE = 60
HOUR = 3600
DAY = 86400
NEW_YORK = ZoneInfo("America/New_York")


def at(*parts: int, tz: tzinfo = UTC) -> float:
    """POSIX seconds of the wall time ``year, month, day[, hour[, minute[, second]]]`` in ``tz``."""
    year, month, day, hour, minute, second = (*parts, 0, 0, 0)[:6]
    return datetime(year, month, day, hour, minute, second, tzinfo=tz).timestamp()


T0 = at(2024, 1, 15, 10, 17, 30)  # a Monday


# --- the seed's schedules --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected_next", "expected_max"),
    [
        ("0 * * * *", at(2024, 1, 15, 11, 0), HOUR),
        ("0 2 * * *", at(2024, 1, 16, 2, 0), DAY),
        ("0 3 * * 0", at(2024, 1, 21, 3, 0), 7 * DAY),
        ("*/30 * * * *", at(2024, 1, 15, 10, 30), 30 * MINUTE),
        ("0 4 1 * *", at(2024, 2, 1, 4, 0), 31 * DAY),
    ],
)
def test_seed_schedules(spec: str, expected_next: float, expected_max: float) -> None:
    cron = parse_cron(spec)
    assert cron.spec == spec
    assert cron.timezone == "UTC"
    assert cron.next_after(T0) == expected_next
    assert cron.max_interval(T0) == expected_max


def test_next_after_is_strictly_after() -> None:
    cron = parse_cron("0 * * * *")
    assert cron.next_after(at(2024, 1, 15, 11, 0)) == at(2024, 1, 15, 12, 0)
    assert cron.next_after(at(2024, 1, 15, 10, 59, 59) + 0.999) == at(2024, 1, 15, 11, 0)
    assert cron.next_after(at(2024, 1, 15, 11, 0) + 0.5) == at(2024, 1, 15, 12, 0)


def test_chained_runs() -> None:
    cron = parse_cron("*/30 * * * *")
    t = T0
    runs = []
    for _ in range(4):
        t = cron.next_after(t)
        runs.append(t)
    assert runs == [at(2024, 1, 15, 10, 30), at(2024, 1, 15, 11), at(2024, 1, 15, 11, 30), at(2024, 1, 15, 12)]


@pytest.mark.parametrize(
    ("spec", "expected_max"),
    [
        ("0 0 1 1,7 *", 184 * DAY),  # Jul 1 -> Jan 1
        ("0 0 1 1 *", 365 * DAY),
        ("0 0 29 2 *", 4 * 365 * DAY + DAY),  # leap days only
        ("0 9-17 * * 1-5", 64 * HOUR),  # Friday 17:00 -> Monday 09:00
        ("*/7 * * * *", 7 * MINUTE),  # :56 -> :00 is only 4
        ("10,20 * * * *", 50 * MINUTE),  # :20 -> next :10
        ("* * * * *", MINUTE),
        ("@every 1h30m", 90 * MINUTE),
    ],
)
def test_max_interval(spec: str, expected_max: float) -> None:
    assert parse_cron(spec).max_interval(T0) == expected_max


# --- descriptors and @every ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected_next", "expected_max"),
    [
        ("@yearly", at(2025, 1, 1), 365 * DAY),
        ("@annually", at(2025, 1, 1), 365 * DAY),
        ("@monthly", at(2024, 2, 1), 31 * DAY),
        ("@weekly", at(2024, 1, 21), 7 * DAY),
        ("@daily", at(2024, 1, 16), DAY),
        ("@midnight", at(2024, 1, 16), DAY),
        ("@hourly", at(2024, 1, 15, 11), HOUR),
    ],
)
def test_descriptors(spec: str, expected_next: float, expected_max: float) -> None:
    cron = parse_cron(spec)
    assert cron.next_after(T0) == expected_next
    assert cron.max_interval(T0) == expected_max


@pytest.mark.parametrize(
    ("spec", "delay"),
    [
        ("@every 6h", 6 * HOUR),
        ("@every 1h30m", 90 * MINUTE),
        ("@every 90s", 90),
        ("@every 1.5h", 90 * MINUTE),
        ("@every 2.9s", 2),  # sub-second part truncated
        ("@every 500ms", 1),  # below a second: rounded up to one
        ("@every 0", 1),
        ("@every -5m", 1),
        ("@every 1m0.5s", 60),
        ("@every 10\u00b5s", 1),
        ("CRON_TZ=America/New_York @every 6h", 6 * HOUR),
    ],
)
def test_every(spec: str, delay: int) -> None:
    cron = parse_cron(spec)
    assert cron.every == delay
    # ConstantDelaySchedule.Next: t + delay with t's sub-second part dropped.
    assert cron.next_after(T0 + 0.75) == T0 + delay
    assert cron.max_interval(T0) == delay


# --- time zones ----------------------------------------------------------------------------------


def test_cron_tz_spring_forward_skips_the_missing_hour() -> None:
    cron = parse_cron("CRON_TZ=America/New_York 30 2 * * *")
    assert cron.timezone == "America/New_York"
    # 2024-03-10 02:30 does not exist in New York: robfig skips that day.
    first = cron.next_after(at(2024, 3, 9, 12))
    assert first == at(2024, 3, 11, 2, 30, tz=NEW_YORK) == at(2024, 3, 11, 6, 30)
    assert cron.next_after(at(2024, 3, 8, 12)) == at(2024, 3, 9, 7, 30)  # 02:30 EST
    assert cron.max_interval(at(2024, 3, 1)) == 47 * HOUR
    assert cron.max_interval(at(2024, 4, 1)) == 47 * HOUR  # March 8 -> 10, 2025 is in the year too
    assert cron.max_interval(at(2024, 3, 11)) == 47 * HOUR


def test_cron_tz_fall_back_runs_twice() -> None:
    cron = parse_cron("CRON_TZ=America/New_York 30 1 * * *")
    t = at(2024, 11, 2, 12)
    runs = []
    for _ in range(3):
        t = cron.next_after(t)
        runs.append(t)
    # 01:30 EDT, 01:30 EST, then 01:30 EST the next day.
    assert runs == [at(2024, 11, 3, 5, 30), at(2024, 11, 3, 6, 30), at(2024, 11, 4, 6, 30)]
    assert cron.max_interval(at(2024, 6, 1)) == DAY  # the extra run only shortens gaps


def test_cron_tz_hourly_across_dst() -> None:
    cron = parse_cron("CRON_TZ=America/New_York 0 * * * *")
    assert cron.next_after(at(2024, 3, 10, 6, 30)) == at(2024, 3, 10, 7)  # 01:30 EST -> 03:00 EDT
    assert cron.max_interval(at(2024, 1, 1)) == HOUR


def test_tz_prefix_and_default_timezone() -> None:
    berlin = parse_cron("TZ=Europe/Berlin 0 2 * * *")
    assert berlin.timezone == "Europe/Berlin"
    assert berlin.next_after(T0) == at(2024, 1, 16, 1)
    tokyo = parse_cron("0 2 * * *", "Asia/Tokyo")
    assert tokyo.timezone == "Asia/Tokyo"
    assert tokyo.next_after(T0) == at(2024, 1, 15, 17)  # 02:00 JST on the 16th
    override = parse_cron("CRON_TZ=UTC 0 2 * * *", "Asia/Tokyo")
    assert override.timezone == "UTC"
    assert override.next_after(T0) == at(2024, 1, 16, 2)
    assert parse_cron("TZ=Local 0 2 * * *", "Asia/Tokyo").next_after(T0) == at(2024, 1, 15, 17)
    assert parse_cron("CRON_TZ=   0 2 * * *", "Asia/Tokyo").timezone == "UTC"  # "" is UTC in Go


# --- day-of-month / day-of-week rule ---------------------------------------------------------------

JAN1 = at(2024, 1, 1)  # a Monday


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("0 0 13 * 5", at(2024, 1, 5)),  # neither is a star: 13th OR Friday
        ("0 0 13 * *", at(2024, 1, 13)),
        ("0 0 * * 5", at(2024, 1, 5)),
        ("0 0 ? * 5", at(2024, 1, 5)),  # star: AND
        ("0 0 13 * */1", at(2024, 1, 13)),  # step 1 keeps the star: AND
        ("0 0 13 * */2", at(2024, 1, 2)),  # step above 1 is no star: 13th OR Sun/Tue/Thu/Sat
        ("0 0 13 * *,5", at(2024, 1, 13)),  # a star anywhere in the list: AND
        ("0 0 1-31 * 5", at(2024, 1, 2)),  # 1-31 is no star: OR, so every day
        ("0 0 */1 * 5", at(2024, 1, 5)),
        ("0 0 13 9 5", at(2024, 9, 6)),  # OR, within September: the first Friday
    ],
)
def test_day_rule(spec: str, expected: float) -> None:
    assert parse_cron(spec).next_after(JAN1) == expected


# --- names, steps, lists ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "after", "expected"),
    [
        ("0 0 * JAN-MAR mon-FRI", at(2024, 3, 29), at(2025, 1, 1)),
        ("0 0 1 dec *", JAN1, at(2024, 12, 1)),
        ("0 0 * * SUN", JAN1, at(2024, 1, 7)),
        ("0 0 * * sat,Sun", JAN1, at(2024, 1, 6)),
        ("0 0 * feb,Aug *", JAN1, at(2024, 2, 1)),
        ("5/10 * * * *", at(2024, 1, 1, 0, 56), at(2024, 1, 1, 1, 5)),
        ("5/10 * * * *", at(2024, 1, 1, 0, 6), at(2024, 1, 1, 0, 15)),
        ("1-30/5 * * * *", at(2024, 1, 1, 0, 26), at(2024, 1, 1, 1, 1)),
        ("1-30/5 * * * *", at(2024, 1, 1, 0, 2), at(2024, 1, 1, 0, 6)),
        ("*/15 * * * *", at(2024, 1, 1, 0, 46), at(2024, 1, 1, 1, 0)),
        ("0 */6 * * *", at(2024, 1, 1, 0, 0), at(2024, 1, 1, 6, 0)),
        ("0 22/3 * * *", at(2024, 1, 1, 0, 0), at(2024, 1, 1, 22, 0)),
        ("0,30 8,20 * * *", at(2024, 1, 1, 8, 0), at(2024, 1, 1, 8, 30)),
        ("? ? ? ? ?", at(2024, 1, 1, 0, 0), at(2024, 1, 1, 0, 1)),
        ("*-5 0 1 1 *", JAN1 + 1, at(2024, 1, 1, 0, 1)),  # robfig ignores what follows "*-"
        ("+5 0 * * *", JAN1, at(2024, 1, 1, 0, 5)),  # strconv.Atoi accepts a plus sign
        ("1,,2 0 * * *", JAN1, at(2024, 1, 1, 0, 1)),  # empty list items are skipped
        ("\t0  3\t* * *\n", JAN1, at(2024, 1, 1, 3, 0)),
        ("0 0 * * 0-6", JAN1, at(2024, 1, 2)),
    ],
)
def test_grammar(spec: str, after: float, expected: float) -> None:
    assert parse_cron(spec).next_after(after) == expected


# --- never fires -----------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", ["0 0 30 2 *", "0 0 31 4,6,9,11 *", ", * * * *", "0 0 , * *"])
def test_a_cron_that_matches_no_time(spec: str) -> None:
    """robfig accepts these, and its Next returns the zero time: the port raises instead."""
    cron = parse_cron(spec)
    with pytest.raises(CronNeverMatchesError, match="matches no time"):
        cron.next_after(T0)
    with pytest.raises(CronNeverMatchesError, match="matches no time"):
        cron.max_interval(T0)


def test_leap_day_fires_every_four_years() -> None:
    cron = parse_cron("0 0 29 2 *")
    assert cron.next_after(T0) == at(2024, 2, 29)
    assert cron.next_after(at(2024, 3, 1)) == at(2028, 2, 29)


# --- bad specs -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty spec"),
        ("   ", "expected exactly 5 fields, found 0"),
        ("0 * * *", "expected exactly 5 fields, found 4"),
        ("0 0 * * * *", "expected exactly 5 fields, found 6"),
        (" @daily", "found 1"),
        ("60 * * * *", "field 'minute': 60 is above 59"),
        ("0 25 * * *", "field 'hour': 25 is above 23"),
        ("0 0 0 * *", "field 'day-of-month': 0 is below 1"),
        ("0 0 32 * *", "field 'day-of-month': 32 is above 31"),
        ("0 0 * 13 *", "field 'month': 13 is above 12"),
        ("0 0 * 0 *", "field 'month': 0 is below 1"),
        ("0 0 * * 7", "field 'day-of-week': 7 is above 6"),
        ("0 0 * * 1-7", "field 'day-of-week': 7 is above 6"),
        ("0 0 * foo *", "'foo' is not a number or name"),
        ("0 0 * * MONDAY", "'MONDAY' is not a number or name"),
        ("0 jan * * *", "field 'hour': 'jan' is not a number"),
        ("x * * * *", "field 'minute': 'x' is not a number"),
        ("-5 * * * *", "'' is not a number"),
        ("5- * * * *", "'' is not a number"),
        ("5-3 * * * *", "range start 5 is beyond its end 3"),
        ("0 0 * * MON-SUN", "range start 1 is beyond its end 0"),
        ("*/0 * * * *", "step must be positive"),
        ("*/-1 * * * *", "negative step"),
        ("*/x * * * *", "step 'x' is not a number"),
        ("1-2-3 * * * *", "too many hyphens"),
        ("*/2/3 * * * *", "too many slashes"),
        ("99999999999999999999 * * * *", "is not a number"),
        ("@fortnightly", "unrecognized descriptor"),
        ("@DAILY", "unrecognized descriptor"),
        ("@daily ", "unrecognized descriptor"),
        ("@every", "unrecognized descriptor"),
        ("@every ", "invalid duration"),
        ("@every 10", "missing unit"),
        ("@every 1d", "unknown unit"),
        ("@every 1h x", "unknown unit"),
        ("@every .h", "invalid duration"),
        ("@every 99999999999h", "invalid duration"),
        ("CRON_TZ=Mars/Olympus 0 * * * *", "unknown time zone 'Mars/Olympus'"),
        ("TZ=../../etc/passwd 0 * * * *", "unknown time zone"),
        ("TZ=/etc/localtime 0 * * * *", "unknown time zone"),
        ("TZ=UTC", "followed by a space"),
        ("CRON_TZ=UTC ", "expected exactly 5 fields, found 0"),
        ("CRON_TZ=UTC 0 25 * * *", "field 'hour': 25 is above 23"),
    ],
)
def test_bad_specs(spec: str, message: str) -> None:
    with pytest.raises(CronError, match=None) as info:
        parse_cron(spec)
    assert message in str(info.value)


def test_bad_default_timezone() -> None:
    with pytest.raises(CronError, match="unknown time zone 'Nowhere/Land'"):
        parse_cron("0 * * * *", "Nowhere/Land")


def test_error_is_a_value_error() -> None:
    assert issubclass(CronError, ValueError)


def test_time_out_of_range() -> None:
    with pytest.raises(CronError, match="out of range"):
        parse_cron("0 * * * *").next_after(float("nan"))


# --- properties ------------------------------------------------------------------------------------

_ZONES = ["UTC", "America/New_York", "Europe/London", "Asia/Kolkata", "Australia/Sydney"]
_FIELD_BOUNDS = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 6)]
_MONTH_NAMES = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_DAY_NAMES = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]


@st.composite
def _item(draw: st.DrawFn, index: int) -> str:
    low, high = _FIELD_BOUNDS[index]

    def number(value: int) -> str:
        names = _MONTH_NAMES if index == 3 else _DAY_NAMES if index == 4 else None
        if names is not None and draw(st.booleans()):
            name = names[value - low]
            return draw(st.sampled_from([name, name.upper(), name.capitalize()]))
        return str(value)

    kind = draw(st.sampled_from(["star", "value", "range", "star-step", "value-step", "range-step"]))
    a = draw(st.integers(low, high))
    b = draw(st.integers(a, high))
    step = draw(st.integers(1, high - low + 2))
    star = draw(st.sampled_from(["*", "?"]))
    return {
        "star": star,
        "value": number(a),
        "range": f"{number(a)}-{number(b)}",
        "star-step": f"{star}/{step}",
        "value-step": f"{number(a)}/{step}",
        "range-step": f"{number(a)}-{number(b)}/{step}",
    }[kind]


@st.composite
def _spec(draw: st.DrawFn) -> tuple[str, str]:
    fields = [",".join(draw(st.lists(_item(i), min_size=1, max_size=3))) for i in range(5)]
    zone = draw(st.sampled_from(_ZONES))
    prefix = draw(st.sampled_from(["", "CRON_TZ=", "TZ="]))
    body = " ".join(fields)
    return (f"{prefix}{zone} {body}" if prefix else body), zone


_TIMES = st.floats(min_value=at(1999, 1, 1), max_value=at(2040, 1, 1), allow_nan=False)


def _zone(name: str) -> tzinfo:
    return UTC if name == "UTC" else ZoneInfo(name)


def _minute_matches(cron: Cron, instant: int, zone: tzinfo) -> bool:
    """Whether the wall clock at ``instant`` matches the parsed fields (robfig's dayMatches rule)."""
    wall = datetime.fromtimestamp(instant, zone)
    if not (cron.minutes >> wall.minute & 1 and cron.hours >> wall.hour & 1 and cron.months >> wall.month & 1):
        return False
    dom_ok = bool(cron.dom >> wall.day & 1)
    dow_ok = bool(cron.dow >> ((wall.weekday() + 1) % 7) & 1)
    if cron.dom_star or cron.dow_star:
        return dom_ok and dow_ok
    return dom_ok or dow_ok


@settings(max_examples=150, deadline=None)
@given(_spec(), _TIMES)
def test_next_after_matches_and_skips_nothing(spec_zone: tuple[str, str], t: float) -> None:
    spec, zone_name = spec_zone
    cron = parse_cron(spec, zone_name)  # the zone comes from the prefix or the default
    zone = _zone(zone_name)
    try:
        nxt = cron.next_after(t)
    except CronNeverMatchesError:
        return
    assert nxt > t
    assert nxt % 60 == 0
    assert _minute_matches(cron, int(nxt), zone)
    # No matching minute strictly between t and nxt (checked over at most the first 300 minutes).
    candidate = (int(t) // 60 + 1) * 60
    for _ in range(300):
        if candidate >= nxt:
            break
        assert not _minute_matches(cron, candidate, zone), datetime.fromtimestamp(candidate, zone)
        candidate += 60


@settings(max_examples=15, deadline=None)
@given(
    st.tuples(
        st.sampled_from(["0", "30", "15,45"]),
        st.sampled_from(["2", "1,13", "0-23/7", "1-3"]),
        st.sampled_from(["*", "1", "1-7", "*/10"]),
        st.sampled_from(["*", "mar-nov", "*/2"]),
        st.sampled_from(["*", "0", "1-5", "sat"]),
    ),
    st.sampled_from(["UTC", "America/New_York", "Europe/London"]),
    st.floats(min_value=at(2020, 1, 1), max_value=at(2030, 1, 1)),
)
def test_max_interval_agrees_with_chained_runs(fields: tuple[str, ...], zone: str, start: float) -> None:
    """The structural computation equals the brute force over robfig's own chained Next."""
    cron = parse_cron(f"CRON_TZ={zone} {' '.join(fields)}")
    try:
        prev = cron.next_after(start)
    except CronError:
        with pytest.raises(CronNeverMatchesError):
            cron.max_interval(start)
        return
    expected = 0.0
    while True:  # every gap that begins within 366 days, and always the first one
        nxt = cron.next_after(prev)
        expected = max(expected, nxt - prev)
        if nxt > start + 366 * DAY:
            break
        prev = nxt
    assert cron.max_interval(start) == expected


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(max_size=40),
        st.text(alphabet="0123456789*?,-/ @TZCRON_=abcdefghijklmnopqrstuvwxyz/.\t", max_size=40),
        st.lists(st.text(alphabet="0123456789*?,-/JANMONSUNjanmonsun", max_size=8), min_size=5, max_size=5).map(
            " ".join
        ),
        st.builds(lambda d: f"@every {d}", st.text(alphabet="0123456789.-+hmsun\u00b5", max_size=12)),
        st.builds(lambda z: f"CRON_TZ={z} 0 * * * *", st.text(max_size=20).filter(lambda z: " " not in z)),
    )
)
def test_arbitrary_text_parses_or_raises_cron_error(text: str) -> None:
    try:
        cron = parse_cron(text)
    except CronError:
        return
    assert isinstance(cron, Cron)
    assert cron.spec == text
    with contextlib.suppress(CronNeverMatchesError):
        assert cron.next_after(T0) > T0


# --- robfig/cron v1.1.0 (Velero 1.12 to 1.14) and v3.0.1 (1.15+) -----------------------------------
# The cases of the two libraries' own test tables (spec_test.go TestActivation and TestNext, parser_test.go
# TestRange and TestParseSchedule) written as the five-field specs Velero's ParseStandard reads, in UTC. Where a
# case is in one table only, the other library's outcome is the one its code gives, as noted.

SAO_PAULO = ZoneInfo("America/Sao_Paulo")


def _at_offset(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S%z").timestamp()


@pytest.mark.parametrize(
    ("spec", "after", "v1", "v3"),
    [
        # TestNext in both tables: a day-of-month with a step is a star in v1 (both must match), not in v3.
        ("0 0 */5 Apr,Aug,Oct Mon", at(2012, 7, 9, 23, 35), at(2012, 8, 6), at(2012, 8, 1)),
        # TestActivation: v1 lists "*/10 ... Sun" on Sunday 15 July 2012 as not active, v3 as active (its #70);
        # v1's next match is then a Sunday that is the 1st, 11th, 21st or 31st.
        ("* * */10 * Sun", at(2012, 7, 15) - 1, at(2012, 10, 21), at(2012, 7, 15)),
    ],
)
def test_the_libraries_differ_where_their_tables_do(spec: str, after: float, v1: float, v3: float) -> None:
    assert parse_cron(spec, library="v1").next_after(after) == v1
    assert parse_cron(spec, library="v3").next_after(after) == v3


def test_only_v3_corrects_for_a_missing_midnight() -> None:
    """TestNext in v3's table only (robfig/cron #157): in Sao Paulo, midnight of 4 November 2018 does not exist.
    v3 corrects for it; v1's Next has no such correction, carries 23:00 on from day to day and lands a month late.
    Velero 1.12 to 1.14 see that zone as the server's own (velero_timezone), not through a prefix."""
    after = _at_offset("2018-10-17T05:00:00-0400")
    v3 = parse_cron("CRON_TZ=America/Sao_Paulo 0 9 10 * *", library="v3")
    assert v3.next_after(after) == _at_offset("2018-11-10T06:00:00-0500")
    v1 = parse_cron("0 9 10 * *", "America/Sao_Paulo", library="v1")
    assert v1.next_after(after) == at(2018, 12, 10, 9, tz=SAO_PAULO)


@pytest.mark.parametrize("library", ["v1", "v3"])
@pytest.mark.parametrize(
    ("spec", "after", "expected"),
    [
        # TestActivation of both: active at the given minute in both libraries
        ("* * */2 * Sun", at(2012, 7, 15) - 1, at(2012, 7, 15)),
        ("* * 1,15 * Sun", at(2012, 7, 15) - 1, at(2012, 7, 15)),
        ("* * 1,15 * Sun", at(2012, 6, 15) - 1, at(2012, 6, 15)),
        ("* * 1,15 * Sun", at(2012, 8, 1) - 1, at(2012, 8, 1)),
        ("30 08 ? Jul Sun", at(2012, 7, 15, 8, 30) - 1, at(2012, 7, 15, 8, 30)),
        ("30 08 15 Jul ?", at(2012, 7, 15, 8, 30) - 1, at(2012, 7, 15, 8, 30)),
        # TestNext of both
        ("0 0 */5 Oct Mon", at(2012, 7, 9, 23, 35), at(2012, 10, 1)),
        ("0 0 9 Apr-Oct ?", at(2012, 7, 9, 23, 35), at(2012, 8, 9)),
        ("0 0 29 Feb ?", at(2012, 7, 9, 23, 35), at(2016, 2, 29)),
        ("@monthly", at(2012, 7, 9, 23, 35), at(2012, 8, 1)),
    ],
)
def test_the_libraries_agree_where_their_tables_do(
    library: RobfigVersion, spec: str, after: float, expected: float
) -> None:
    assert parse_cron(spec, library=library).next_after(after) == expected


@pytest.mark.parametrize(("library", "star"), [("v1", True), ("v3", False)])
def test_a_star_with_a_step_keeps_its_star_bit_in_v1_only(library: RobfigVersion, star: bool) -> None:
    """TestRange: "*/2" over 1-3 is 1<<1 | 1<<3 | starBit in v1, without starBit in v3."""
    cron = parse_cron("0 0 */2 * *", library=library)
    assert cron.dom == sum(1 << day for day in range(1, 32, 2))
    assert cron.dom_star is star
    assert parse_cron("0 0 * * *", library=library).dom_star is True  # a plain star is one in both


@pytest.mark.parametrize(
    ("spec", "zone", "first"),
    [
        # TestParseSchedule of v3 (the prefix, then any spaces)
        ("CRON_TZ=UTC  5 * * * *", "UTC", at(2024, 1, 15, 11, 5)),
        ("TZ=UTC  @midnight", "UTC", at(2024, 1, 16)),
        ("TZ=Asia/Tokyo @midnight", "Asia/Tokyo", at(2024, 1, 15, 15)),
    ],
)
def test_time_zone_prefixes_are_v3_only(spec: str, zone: str, first: float) -> None:
    cron = parse_cron(spec, library="v3")
    assert cron.timezone == zone
    assert cron.next_after(T0) == first
    # v1 has no prefix: it reads "CRON_TZ=UTC" as a field and rejects the spec
    with pytest.raises(CronError, match=r"prefix needs robfig/cron v3 \(Velero 1\.15 or later\)"):
        parse_cron(spec, library="v1")
