"""How the human-readable formats (Markdown, HTML) write times, durations and ratios."""

from __future__ import annotations

from datetime import UTC, datetime

from velero_exporter.config.durations import format_duration

NOT_KNOWN = "—"


def when(t: float | None) -> str:
    """2024-05-01 04:00 UTC (to the minute: the report is exact to a step, rarely finer)."""
    if t is None:
        return NOT_KNOWN
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M UTC")


def span(seconds: float | None) -> str:
    """The two largest units, the rest cut off: 3d4h, 2h30m, 45s."""
    if seconds is None:
        return NOT_KNOWN
    text = format_duration(round(max(seconds, 0.0)))
    units = 0
    for i, ch in enumerate(text):
        if ch.isalpha() and (i + 1 == len(text) or not text[i + 1].isalpha()):
            units += 1
            if units == 2:
                return text[: i + 1]
    return text


def percent(ratio: float | None) -> str:
    """99.95 %, never rounded up to 100 % while any violation remains."""
    if ratio is None:
        return NOT_KNOWN
    value = ratio * 100
    shown = f"{value:.2f}"
    if shown == "100.00" and ratio < 1:
        shown = "99.99"
    return f"{shown} %"


def days(value: float | None) -> str:
    return NOT_KNOWN if value is None else f"{value:.1f} d"
