"""Prometheus durations ("30m", "4h", "1w2d", "1y"): parsing to seconds and the canonical form back.

The grammar is Prometheus' own (prometheus/common model.ParseDuration): one or more `<integer><unit>` terms,
units y (365d), w (7d), d (24h), h, m, s, ms, largest first, each at most once, no sign, no spaces; a bare
"0" is allowed. The canonical form is model.Duration.String(): largest units first, years and weeks only when
they divide the value exactly (90d stays "90d", not "12w6d"), and "0s" for zero.
"""

from __future__ import annotations

import math
import re

MILLISECOND_UNITS: tuple[tuple[str, int], ...] = (
    ("y", 365 * 24 * 3600 * 1000),
    ("w", 7 * 24 * 3600 * 1000),
    ("d", 24 * 3600 * 1000),
    ("h", 3600 * 1000),
    ("m", 60 * 1000),
    ("s", 1000),
    ("ms", 1),
)

# Prometheus stores a duration as a Go time.Duration: int64 nanoseconds, about 292 years.
MAX_MILLISECONDS = (2**63 - 1) // 1_000_000

_SYNTAX = "use Prometheus syntax such as 30m, 4h, 7d"
_DURATION = re.compile("".join(rf"(?:(?P<{unit}>[0-9]+){unit})?" for unit, _ in MILLISECOND_UNITS))
_TERM = re.compile(r"([0-9]+)([a-zA-Z]+)")


class DurationError(ValueError):
    """A text that is not a Prometheus duration; str() is one line saying why."""


def parse_duration(text: str) -> float:
    """Seconds in a Prometheus duration; raises DurationError for anything Prometheus would refuse."""
    if text == "0":
        return 0.0
    if text == "":
        raise DurationError(f"an empty string is not a duration ({_SYNTAX})")
    match = _DURATION.fullmatch(text)
    if match is None:
        raise DurationError(f"{text!r} is not a duration ({_why_not(text)})")
    milliseconds = sum(
        int(match.group(unit)) * size for unit, size in MILLISECOND_UNITS if match.group(unit) is not None
    )
    if milliseconds > MAX_MILLISECONDS:
        raise DurationError(f"{text!r} is out of range (at most about 292y)")
    return milliseconds / 1000


def format_duration(seconds: float) -> str:
    """The canonical Prometheus form, rounded to the millisecond: 90000 -> "1d1h", 0 -> "0s"."""
    if not math.isfinite(seconds) or seconds < 0:
        raise DurationError(f"{seconds!r} seconds cannot be written as a duration (it must be finite and >= 0)")
    remaining = round(seconds * 1000)
    if remaining == 0:
        return "0s"
    terms = []
    for unit, size in MILLISECOND_UNITS:
        if unit in ("y", "w") and remaining % size != 0:
            continue
        count, remaining = divmod(remaining, size)
        if count:
            terms.append(f"{count}{unit}")
    return "".join(terms)


def _why_not(text: str) -> str:
    """The most helpful reason a text failed the grammar, for the error message."""
    if text.strip() != text or any(c.isspace() for c in text):
        return f"no spaces; {_SYNTAX}"
    if text.startswith(("-", "+")):
        return f"no sign, durations are never negative; {_SYNTAX}"
    terms = _TERM.findall(text)
    if terms and "".join(n + u for n, u in terms) == text:
        order = [unit for unit, _ in MILLISECOND_UNITS]
        if all(unit in order for _, unit in terms):
            return f"units go from largest to smallest, each at most once: {' '.join(order)}"
    if re.fullmatch(r"[0-9]+", text):
        return f"a number needs a unit, e.g. {text}s; {_SYNTAX}"
    if re.search(r"[0-9]*\.[0-9]", text):
        return f"whole numbers only, e.g. 90m instead of 1.5h; {_SYNTAX}"
    return _SYNTAX
