"""Prometheus durations: the grammar of prometheus/common model.ParseDuration and its canonical String()."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from velero_exporter.config.durations import MAX_MILLISECONDS, DurationError, format_duration, parse_duration

MINUTE = 60
HOUR = 3600
DAY = 86400


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0", 0),
        ("0s", 0),
        ("0ms", 0),
        ("1ms", 0.001),
        ("30s", 30),
        ("30m", 30 * MINUTE),
        ("4h", 4 * HOUR),
        ("7d", 7 * DAY),
        ("1w", 7 * DAY),
        ("1y", 365 * DAY),
        ("1h30m", 90 * MINUTE),
        ("1w2d", 9 * DAY),
        ("1y1w1d1h1m1s1ms", 365 * DAY + 7 * DAY + DAY + HOUR + MINUTE + 1.001),
        ("90m", 90 * MINUTE),  # a unit may exceed the next larger one
        ("1h0m", HOUR),
        ("01h", HOUR),  # Prometheus' regexp allows leading zeros
        ("292y", 292 * 365 * DAY),
    ],
)
def test_parses_prometheus_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "an empty string is not a duration (use Prometheus syntax such as 30m, 4h, 7d)"),
        ("1hour", "'1hour' is not a duration (use Prometheus syntax such as 30m, 4h, 7d)"),
        ("1H", "'1H' is not a duration (use Prometheus syntax such as 30m, 4h, 7d)"),
        ("h", "'h' is not a duration (use Prometheus syntax such as 30m, 4h, 7d)"),
        ("1d1", "'1d1' is not a duration (use Prometheus syntax such as 30m, 4h, 7d)"),
        (
            "3600",
            "'3600' is not a duration (a number needs a unit, e.g. 3600s; use Prometheus syntax such as 30m, 4h, 7d)",
        ),
        (
            "30m1h",
            "'30m1h' is not a duration (units go from largest to smallest, each at most once: y w d h m s ms)",
        ),
        (
            "1h1h",
            "'1h1h' is not a duration (units go from largest to smallest, each at most once: y w d h m s ms)",
        ),
        ("1h 30m", "'1h 30m' is not a duration (no spaces; use Prometheus syntax such as 30m, 4h, 7d)"),
        (" 1h", "' 1h' is not a duration (no spaces; use Prometheus syntax such as 30m, 4h, 7d)"),
        ("1h\n", "'1h\\n' is not a duration (no spaces; use Prometheus syntax such as 30m, 4h, 7d)"),
        (
            "-1h",
            "'-1h' is not a duration (no sign, durations are never negative; "
            "use Prometheus syntax such as 30m, 4h, 7d)",
        ),
        (
            "+1h",
            "'+1h' is not a duration (no sign, durations are never negative; "
            "use Prometheus syntax such as 30m, 4h, 7d)",
        ),
        (
            "1.5h",
            "'1.5h' is not a duration (whole numbers only, e.g. 90m instead of 1.5h; "
            "use Prometheus syntax such as 30m, 4h, 7d)",
        ),
        (
            "\u0661h",
            "'\u0661h' is not a duration (use Prometheus syntax such as 30m, 4h, 7d)",
        ),  # ASCII digits only
        ("300y", "'300y' is out of range (at most about 292y)"),
    ],
)
def test_refuses_what_prometheus_refuses(text: str, message: str) -> None:
    with pytest.raises(DurationError) as raised:
        parse_duration(text)
    assert str(raised.value) == message
    assert isinstance(raised.value, ValueError)


def test_the_largest_duration_prometheus_holds() -> None:
    assert parse_duration(f"{MAX_MILLISECONDS}ms") == MAX_MILLISECONDS / 1000
    with pytest.raises(DurationError, match="out of range"):
        parse_duration(f"{MAX_MILLISECONDS + 1}ms")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.0004, "0s"),  # below a millisecond
        (0.001, "1ms"),
        (1.5, "1s500ms"),
        (90, "1m30s"),
        (90 * MINUTE, "1h30m"),
        (90000, "1d1h"),
        (DAY, "1d"),
        (7 * DAY, "1w"),
        (14 * DAY, "2w"),
        (8 * DAY, "8d"),  # weeks only when they divide the value
        (30 * DAY, "30d"),
        (90 * DAY, "90d"),
        (365 * DAY, "1y"),
        (366 * DAY, "366d"),  # years too
        (730 * DAY, "2y"),
        (31 * DAY + 60, "31d1m"),
    ],
)
def test_formats_the_canonical_prometheus_form(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize("seconds", [-1, float("nan"), float("inf")])
def test_cannot_format_what_is_not_a_duration(seconds: float) -> None:
    with pytest.raises(DurationError):
        format_duration(seconds)


@given(st.integers(min_value=0, max_value=MAX_MILLISECONDS))
def test_format_then_parse_is_identity_to_the_millisecond(milliseconds: int) -> None:
    text = format_duration(milliseconds / 1000)
    assert round(parse_duration(text) * 1000) == milliseconds


@given(st.integers(min_value=0, max_value=292), st.sampled_from(["ms", "s", "m", "h", "d", "w", "y"]))
def test_parse_then_format_then_parse_is_stable(count: int, unit: str) -> None:
    seconds = parse_duration(f"{count}{unit}")
    assert parse_duration(format_duration(seconds)) == seconds
