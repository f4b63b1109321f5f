"""Go's duration grammar, as Velero reads durations: time.ParseDuration (Go's src/time/format.go) behind
metav1.Duration (Backup.spec.ttl, serialised as "720h0m0s") and robfig/cron's ``@every <duration>``.

A line-by-line port: the same units (ns, us, µs, μs, ms, s, m, h), an optional sign, decimal fractions, a bare
"0", and int64 nanoseconds with Go's overflow checks.
"""

from __future__ import annotations

INT64_MAX = (1 << 63) - 1


class GoDurationError(ValueError):
    """A text time.ParseDuration refuses; str() is Go's reason."""


_NANOSECOND = 1
_UNITS = {
    "ns": _NANOSECOND,
    "us": 1_000,
    "\u00b5s": 1_000,  # U+00B5 micro sign
    "\u03bcs": 1_000,  # U+03BC Greek mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}


def parse_go_duration(text: str) -> int:
    """time.ParseDuration, line by line: nanoseconds, or GoDurationError with Go's reason."""
    orig = text
    s = text
    neg = False
    if s and s[0] in "+-":
        neg = s[0] == "-"
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        raise GoDurationError(f"invalid duration {orig!r}")
    total = 0
    while s:
        if not (s[0] == "." or "0" <= s[0] <= "9"):
            raise GoDurationError(f"invalid duration {orig!r}")
        # leadingInt
        i = 0
        v = 0
        while i < len(s) and "0" <= s[i] <= "9":
            if v > (1 << 63) // 10:
                raise GoDurationError(f"invalid duration {orig!r}")
            v = v * 10 + ord(s[i]) - ord("0")
            if v > 1 << 63:
                raise GoDurationError(f"invalid duration {orig!r}")
            i += 1
        pre = i > 0
        s = s[i:]
        post = False
        f = 0
        scale = 1.0
        if s and s[0] == ".":
            s = s[1:]
            # leadingFraction
            i = 0
            overflow = False
            while i < len(s) and "0" <= s[i] <= "9":
                if not overflow:
                    if f > INT64_MAX // 10:
                        overflow = True
                    else:
                        y = f * 10 + ord(s[i]) - ord("0")
                        if y > 1 << 63:
                            overflow = True
                        else:
                            f = y
                            scale *= 10
                i += 1
            post = i > 0
            s = s[i:]
        if not pre and not post:
            raise GoDurationError(f"invalid duration {orig!r}")
        i = 0
        while i < len(s) and not (s[i] == "." or "0" <= s[i] <= "9"):
            i += 1
        if i == 0:
            raise GoDurationError(f"missing unit in duration {orig!r}")
        unit_name, s = s[:i], s[i:]
        unit = _UNITS.get(unit_name)
        if unit is None:
            raise GoDurationError(f"unknown unit {unit_name!r} in duration {orig!r}")
        if v > (1 << 63) // unit:
            raise GoDurationError(f"invalid duration {orig!r}")
        v *= unit
        if f > 0:
            v += int(float(f) * (float(unit) / scale))
            if v > 1 << 63:
                raise GoDurationError(f"invalid duration {orig!r}")
        total += v
        if total > 1 << 63:
            raise GoDurationError(f"invalid duration {orig!r}")
    if neg:
        return -total
    if total > INT64_MAX:
        raise GoDurationError(f"invalid duration {orig!r}")
    return total


def go_duration_seconds(text: str) -> float | None:
    """Seconds in a Go duration; None when Go would refuse it."""
    try:
        return parse_go_duration(text) / 1e9
    except GoDurationError:
        return None
