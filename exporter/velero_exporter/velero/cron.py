"""Velero's cron grammar: a pure-Python port of robfig/cron ``cron.ParseStandard``, v3 and v1.

Velero validates and evaluates ``Schedule.spec.schedule`` with ``cron.ParseStandard`` and
``Schedule.Next``: Velero 1.12 to 1.14 with robfig/cron v1.1.0, 1.15 and later with v3.0.1 (Velero's
go.mod; changelog 1.15, #7793). This module accepts exactly what the chosen library accepts and
computes the same next run times, so the exporter can tell when a backup is due without running Go.
robfig/cron v3 (the default):

* five fields ``minute hour day-of-month month day-of-week``; each a comma list of ``*``/``?``,
  ``N``, ``N-M``, with an optional ``/step`` (``N/step`` means ``N-max/step``); month names
  ``jan``..``dec`` and weekday names ``sun``..``sat``, case-insensitive; day-of-week is 0-6
  (robfig rejects 7);
* the descriptors ``@yearly @annually @monthly @weekly @daily @midnight @hourly`` and
  ``@every <Go duration>``;
* a ``CRON_TZ=Zone`` or ``TZ=Zone`` prefix followed by a space.

Day matching follows robfig: when the day-of-month or the day-of-week field contains a star
(``*`` or ``?`` not followed by a step above 1), both must match; otherwise either may.

``Cron.next_after`` is a line-by-line port of ``SpecSchedule.Next`` (spec.go) on top of a small
emulation of Go's ``time.Date``/``AddDate``/``Add``/``Truncate`` in an IANA zone, so daylight-saving
behaviour is robfig's: a wall time skipped by a spring-forward transition does not run that day, a
wall time repeated by a fall-back transition runs twice. Like robfig, it gives up when no run is
found before the end of the fifth year after ``t``; robfig then returns Go's zero time, this port
raises :class:`CronNeverMatchesError` instead.

Deviations from robfig, all on inputs robfig cannot handle either:

* a ``TZ=`` prefix without a following space makes robfig panic (Velero recovers and reports an
  invalid schedule); here it is a :class:`CronError`;
* the zone named ``Local`` resolves to ``default_timezone`` (Velero's ``time.Local`` is the
  server's zone, which is what ``default_timezone`` stands for);
* times outside years 2..9990 raise :class:`CronError` (Python's ``datetime`` range);
* a field with no values at all (``","`` is one: robfig skips empty list items) is reported as
  never firing at once instead of after robfig's five-year scan; the outcome is the same.

robfig/cron v1.1.0 (``library="v1"``) differs in three ways, all kept here:

* no ``CRON_TZ=``/``TZ=`` prefix: v1 reads it as a field, so the spec has the wrong number of
  fields or an invalid minute, and Velero marks the Schedule FailedValidation;
* a star keeps its star bit with a step (``*/2`` is a star in v1, not in v3), so a day-of-month of
  ``*/2`` with a day-of-week of ``1`` requires both in v1 and either in v3;
* ``Next`` has no correction for a day that does not start at midnight (DST at midnight).

``Cron.max_interval`` is computed from the structure of the schedule rather than by chaining
``next_after``; see its docstring for the one place where it may differ from robfig.
"""

from __future__ import annotations

import math
import re
import zoneinfo
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from itertools import pairwise
from typing import Literal

from velero_exporter.velero.duration import INT64_MAX, GoDurationError, parse_go_duration

__all__ = ["Cron", "CronError", "CronNeverMatchesError", "RobfigVersion", "parse_cron"]

# The robfig/cron major version a Velero release parses crons with.
RobfigVersion = Literal["v1", "v3"]


class CronError(ValueError):
    """A cron spec that robfig/cron would reject, or a time it cannot compute."""


class CronNeverMatchesError(CronError):
    """A valid spec that matches no time within five years: robfig's Next returns the zero time."""


# --- Go-compatible lexical helpers -------------------------------------------------------------

# unicode.IsSpace, which strings.Fields and strings.TrimSpace use. Python's str.split() would
# also split on U+001C..U+001F, which Go does not.
_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"
_FIELDS_RE = re.compile(f"[^{re.escape(_GO_SPACE)}]+")
_ATOI_RE = re.compile(r"[+-]?[0-9]+")


def _go_fields(text: str) -> list[str]:
    return _FIELDS_RE.findall(text)


def _go_trim_space(text: str) -> str:
    return text.strip(_GO_SPACE)


def _atoi(text: str) -> int | None:
    """strconv.Atoi: optional sign and ASCII digits, within int64; None when Go returns an error."""
    if not _ATOI_RE.fullmatch(text) or len(text.lstrip("+-").lstrip("0")) > 19:
        return None  # not a number, or far outside int64 (and int() limits long digit strings)
    value = int(text)
    if not -INT64_MAX - 1 <= value <= INT64_MAX:
        return None
    return value


# --- fields ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Bounds:
    name: str
    low: int
    high: int
    names: dict[str, int] | None = None


_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_MINUTES = _Bounds("minute", 0, 59)
_HOURS = _Bounds("hour", 0, 23)
_DOM = _Bounds("day-of-month", 1, 31)
_MONTHS = _Bounds(
    "month",
    1,
    12,
    {n: i + 1 for i, n in enumerate(_MONTH_NAMES)},
)
_DOW = _Bounds("day-of-week", 0, 6, {n: i for i, n in enumerate(_DAY_NAMES)})


def _parse_number(text: str, b: _Bounds, expr: str) -> int:
    if b.names is not None:
        named = b.names.get(text.lower())
        if named is not None:
            return named
    value = _atoi(text)
    if value is None:
        what = "a number or name" if b.names is not None else "a number"
        raise CronError(f"field {b.name!r}: {text!r} is not {what} in {expr!r}")
    if value < 0:
        raise CronError(f"field {b.name!r}: negative number {value} in {expr!r}")
    return value


def _parse_range(expr: str, b: _Bounds, library: RobfigVersion) -> tuple[int, bool]:
    """getRange: the bits of one list element and whether it counts as a star."""
    range_and_step = expr.split("/")
    low_and_high = range_and_step[0].split("-")
    single = len(low_and_high) == 1
    star = False
    if low_and_high[0] in ("*", "?"):
        # robfig ignores anything after "*-" here: "*-5" is "*".
        start, end, star = b.low, b.high, True
    else:
        start = _parse_number(low_and_high[0], b, expr)
        if len(low_and_high) == 1:
            end = start
        elif len(low_and_high) == 2:
            end = _parse_number(low_and_high[1], b, expr)
        else:
            raise CronError(f"field {b.name!r}: too many hyphens in {expr!r}")
    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        parsed = _atoi(range_and_step[1])
        if parsed is None:
            raise CronError(f"field {b.name!r}: step {range_and_step[1]!r} is not a number in {expr!r}")
        if parsed < 0:
            raise CronError(f"field {b.name!r}: negative step {parsed} in {expr!r}")
        step = parsed
        if single:  # "N/step" means "N-max/step"
            end = b.high
        if step > 1 and library == "v3":  # v1 keeps the star bit of "*/2"
            star = False
    else:
        raise CronError(f"field {b.name!r}: too many slashes in {expr!r}")
    if start < b.low:
        raise CronError(f"field {b.name!r}: {start} is below {b.low} in {expr!r}")
    if end > b.high:
        raise CronError(f"field {b.name!r}: {end} is above {b.high} in {expr!r}")
    if start > end:
        raise CronError(f"field {b.name!r}: range start {start} is beyond its end {end} in {expr!r}")
    if step == 0:
        raise CronError(f"field {b.name!r}: step must be positive in {expr!r}")
    bits = 0
    for value in range(start, end + 1, step):
        bits |= 1 << value
    return bits, star


def _parse_field(text: str, b: _Bounds, library: RobfigVersion) -> tuple[int, bool]:
    """getField: a comma list (empty elements are skipped, as strings.FieldsFunc does)."""
    bits = 0
    star = False
    for expr in text.split(","):
        if expr:
            more, is_star = _parse_range(expr, b, library)
            bits |= more
            star = star or is_star
    return bits, star


# --- time zones and a Go time emulation ---------------------------------------------------------


def _load_zone(name: str, local: tzinfo | None) -> tzinfo:
    """time.LoadLocation: "" and "UTC" are UTC, "Local" is the default zone, else IANA."""
    if name in ("", "UTC"):
        return UTC
    if name == "Local" and local is not None:
        return local
    if ".." in name or name.startswith(("/", "\\")):
        raise CronError(f"unknown time zone {name!r}")
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError, KeyError) as exc:
        raise CronError(f"unknown time zone {name!r}") from exc


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_MIN_T = datetime(2, 1, 1, tzinfo=UTC).timestamp()
_MAX_T = datetime(9990, 1, 1, tzinfo=UTC).timestamp()
_SECOND = timedelta(seconds=1)


def _offset(ts: int, zone: tzinfo) -> int:
    """UTC offset in seconds of the instant ``ts`` in ``zone``."""
    off = datetime.fromtimestamp(ts, zone).utcoffset()
    return 0 if off is None else off // _SECOND


# (year, month, day, hour, minute, second, Go weekday with Sunday = 0)
_Fields = tuple[int, int, int, int, int, int, int]


def _fields(ts: int, zone: tzinfo) -> _Fields:
    dt = datetime.fromtimestamp(ts, zone)
    return dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second, (dt.weekday() + 1) % 7


def _wall_seconds(parts: tuple[int, int, int, int, int, int]) -> int:
    """Wall-clock seconds since 1970-01-01 00:00, normalising out-of-range parts like Go."""
    year, month, day, hour, minute, second = parts
    year += (month - 1) // 12
    month = (month - 1) % 12 + 1
    days = date(year, month, 1).toordinal() - _EPOCH_ORDINAL + day - 1
    return days * 86400 + hour * 3600 + minute * 60 + second


def _go_date(zone: tzinfo, *parts: int) -> int:
    """time.Date(year, month, day, hour, min, sec, 0, zone), including Go's choice of instant
    for wall times skipped or repeated by DST."""
    year, month, day, hour, minute, second = parts
    unix = _wall_seconds((year, month, day, hour, minute, second))
    offset = _offset(unix, zone)
    if offset != 0:
        # Go looks the offset up again at the corrected instant when that instant lies outside
        # the zone period found first; when the period's offset is the same the result is too.
        unix -= _offset(unix - offset, zone)
    return unix


# --- the schedule --------------------------------------------------------------------------------

_YEAR_WINDOW = 366 * 86400


@dataclass(frozen=True, slots=True)
class Cron:
    """A parsed schedule. Build it with :func:`parse_cron`.

    ``spec`` is the text as written, ``timezone`` the zone it is evaluated in. The field sets
    are bitmasks (bit n set: value n allowed; weekday 0 is Sunday); ``dom_star``/``dow_star``
    record robfig's star bit, which selects the AND rule for days.
    """

    spec: str
    timezone: str = "UTC"
    library: RobfigVersion = "v3"
    every: int = 0  # @every delay in whole seconds; 0 for a field schedule
    minutes: int = field(default=0, repr=False)
    hours: int = field(default=0, repr=False)
    dom: int = field(default=0, repr=False)
    months: int = field(default=0, repr=False)
    dow: int = field(default=0, repr=False)
    dom_star: bool = field(default=False, repr=False)
    dow_star: bool = field(default=False, repr=False)
    zone: tzinfo = field(default=UTC, repr=False, compare=False)
    # Sorted seconds after midnight of the hour x minute combinations, and their largest gap.
    times_of_day: tuple[int, ...] = field(default=(0,), repr=False, compare=False)
    largest_daily_gap: int = field(default=0, repr=False, compare=False)

    # -- next run ---------------------------------------------------------------------------------

    def next_after(self, t: float) -> float:
        """The first run strictly after ``t`` (POSIX seconds), as robfig's ``Next`` computes it.

        Raises CronNeverMatchesError where robfig returns the zero time: no run
        before the end of the fifth year after ``t``.
        """
        if not math.isfinite(t) or not _MIN_T <= t <= _MAX_T:
            raise CronError(f"time {t!r} is out of range")
        if self.every:
            # ConstantDelaySchedule.Next: t + delay - t.Nanosecond()
            return float(math.floor(t) + self.every)
        return float(self._spec_next(math.floor(t) + 1))

    def _day_matches(self, day: int, weekday: int) -> bool:
        dom_match = bool(self.dom >> day & 1)
        dow_match = bool(self.dow >> weekday & 1)
        if self.dom_star or self.dow_star:
            return dom_match and dow_match
        return dom_match or dow_match

    def _can_fire(self) -> bool:
        """False for empty fields (e.g. "," as a field), which robfig would scan 5 years for."""
        if not (self.minutes and self.hours and self.months):
            return False
        if self.dom_star or self.dow_star:
            return bool(self.dom and self.dow)
        return bool(self.dom or self.dow)

    def _spec_next(self, ts: int) -> int:
        zone = self.zone
        if not self._can_fire():
            raise CronNeverMatchesError(f"schedule {self.spec!r} matches no time at all")
        f = _fields(ts, zone)
        added = False
        year_limit = f[0] + 5
        while True:  # WRAP
            f = _fields(ts, zone)
            if f[0] > year_limit:
                raise CronNeverMatchesError(f"schedule {self.spec!r} matches no time within five years")
            wrapped = False
            while not self.months >> f[1] & 1:
                if not added:
                    added = True
                    ts = _go_date(zone, f[0], f[1], 1, 0, 0, 0)
                    f = _fields(ts, zone)
                ts = _go_date(zone, f[0], f[1] + 1, f[2], f[3], f[4], f[5])  # AddDate(0, 1, 0)
                f = _fields(ts, zone)
                if f[1] == 1:
                    wrapped = True
                    break
            if wrapped:
                continue
            while not self._day_matches(f[2], f[6]):
                if not added:
                    added = True
                    ts = _go_date(zone, f[0], f[1], f[2], 0, 0, 0)
                    f = _fields(ts, zone)
                ts = _go_date(zone, f[0], f[1], f[2] + 1, f[3], f[4], f[5])  # AddDate(0, 0, 1)
                f = _fields(ts, zone)
                # robfig v3: notice if the hour is no longer midnight due to DST (v1 does not).
                if f[3] != 0 and self.library == "v3":
                    ts += (24 - f[3]) * 3600 if f[3] > 12 else -f[3] * 3600
                    f = _fields(ts, zone)
                if f[2] == 1:
                    wrapped = True
                    break
            if wrapped:
                continue
            while not self.hours >> f[3] & 1:
                if not added:
                    added = True
                    ts = _go_date(zone, f[0], f[1], f[2], f[3], 0, 0)
                    f = _fields(ts, zone)
                ts += 3600
                f = _fields(ts, zone)
                if f[3] == 0:
                    wrapped = True
                    break
            if wrapped:
                continue
            while not self.minutes >> f[4] & 1:
                if not added:
                    added = True
                    ts -= ts % 60  # Truncate(time.Minute): absolute, like Go
                    f = _fields(ts, zone)
                ts += 60
                f = _fields(ts, zone)
                if f[4] == 0:
                    wrapped = True
                    break
            if wrapped:
                continue
            if f[5] != 0:
                # The seconds field is always "0": robfig steps one second at a time until the
                # second is 0, then wraps. Jump there when the offset cannot change on the way.
                added = True
                step = 60 - f[5]
                if _offset(ts, zone) == _offset(ts + step, zone):
                    ts += step
                else:
                    ts += 1
                    while _fields(ts, zone)[5] != 0:
                        ts += 1
                continue
            return ts

    # -- longest gap ------------------------------------------------------------------------------

    def max_interval(self, start: float) -> float:
        """The longest gap between consecutive runs, over the gaps that begin within a year.

        Precisely: with r0 = next_after(start) < r1 < ... the consecutive runs, the maximum of
        r[i+1] - r[i] over every i with r[i] <= start + 366 days (so there is always at least
        one gap). For ``@every`` it is the delay.

        It does not chain next_after (525,600 calls for "* * * * *"). A run is an instant whose
        wall clock in the schedule's zone matches the fields, which is what robfig's Next yields
        (skipped wall times never run, repeated ones run twice). The matching days are walked
        one by one; a day with no UTC-offset change near it contributes its first run, its last
        run and the fixed largest gap between consecutive times of day; the few days next to a
        DST transition, and the first and last day of the window, have their runs listed
        exactly. Deviation: zones whose DST transition skips midnight itself (robfig has an
        ad-hoc correction there) may differ by up to an hour on those days.
        Raises CronNeverMatchesError when the schedule matches no time (as next_after does).
        """
        if self.every:
            return float(self.every)
        first = self.next_after(start)
        zone = self.zone
        times, intra = self.times_of_day, self.largest_daily_gap
        window_end = start + _YEAR_WINDOW
        first_ord = _fields(int(first), zone)
        ordinal = date(first_ord[0], first_ord[1], first_ord[2]).toordinal()
        best = 0
        prev: int | None = None
        prev_ord = ordinal
        while True:
            anchor_ord = prev_ord if prev is not None else ordinal
            if ordinal - anchor_ord > 5 * 366 + 2:
                # Model and port disagree or the next run is past robfig's horizon: ask the port.
                anchor = prev if prev is not None else int(first)
                return float(max(best, self.next_after(anchor) - anchor))
            day = date.fromordinal(ordinal)
            if not self.months >> day.month & 1:
                ordinal = date(day.year + day.month // 12, day.month % 12 + 1, 1).toordinal()
                continue
            if self._day_matches(day.day, (day.weekday() + 1) % 7):
                wall_mid = (ordinal - _EPOCH_ORDINAL) * 86400
                off_a = _offset(wall_mid - 15 * 3600, zone)
                off_b = _offset(wall_mid + 86400 + 15 * 3600, zone)
                if (
                    off_a == off_b
                    and wall_mid - off_a + times[0] > start
                    and wall_mid - off_a + times[-1] <= window_end
                ):
                    if prev is not None:
                        best = max(best, wall_mid - off_a + times[0] - prev)
                    best = max(best, intra)
                    prev = wall_mid - off_a + times[-1]
                    prev_ord = ordinal
                else:
                    runs = [r for r in self._day_runs(wall_mid, times, off_a, off_b) if r > start]
                    if runs:
                        # The runs that begin a gap inside the window, plus the one closing the last.
                        last = 1 if prev is None and runs[0] > window_end else bisect_right(runs, window_end)
                        seq = runs[: last + 1]
                        if prev is not None:
                            best = max(best, seq[0] - prev)
                        best = max(best, max((b - a for a, b in pairwise(seq)), default=0))
                        if last < len(runs):
                            return float(best)
                        prev, prev_ord = seq[-1], ordinal
            ordinal += 1

    def _day_runs(self, wall_mid: int, times: tuple[int, ...], off_a: int, off_b: int) -> list[int]:
        """The instants whose wall clock is ``wall_mid + times[i]``, in order.

        Assumes at most one offset change between 15 h before and 15 h after the local day.
        """
        if off_a == off_b:
            return [wall_mid - off_a + x for x in times]
        lo, hi = wall_mid - 15 * 3600, wall_mid + 86400 + 15 * 3600
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if _offset(mid, self.zone) == off_a:
                lo = mid
            else:
                hi = mid
        transition = hi
        off_b = _offset(transition, self.zone)
        before = [wall_mid - off_a + x for x in times if wall_mid - off_a + x < transition]
        after = [wall_mid - off_b + x for x in times if wall_mid - off_b + x >= transition]
        return before + after


# --- parsing -------------------------------------------------------------------------------------

_DESCRIPTORS: dict[str, tuple[str, str, str, str, str]] = {
    "@yearly": ("0", "0", "1", "1", "*"),
    "@annually": ("0", "0", "1", "1", "*"),
    "@monthly": ("0", "0", "1", "*", "*"),
    "@weekly": ("0", "0", "*", "*", "0"),
    "@daily": ("0", "0", "*", "*", "*"),
    "@midnight": ("0", "0", "*", "*", "*"),
    "@hourly": ("0", "*", "*", "*", "*"),
}
_EVERY = "@every "


def parse_cron(spec: str, default_timezone: str = "UTC", library: RobfigVersion = "v3") -> Cron:
    """Parse a Velero schedule like robfig/cron's ``ParseStandard`` (``library`` v3 or v1); raise
    CronError if invalid.

    ``default_timezone`` is the zone of specs without a ``CRON_TZ=``/``TZ=`` prefix (Velero's
    ``time.Local``); it is validated even when the spec carries its own zone.
    """
    default_zone = _load_zone(default_timezone, None)
    if not spec:
        raise CronError("empty spec")
    zone, zone_name = default_zone, default_timezone
    rest = spec
    if rest.startswith(("TZ=", "CRON_TZ=")) and library == "v1":
        # v1 has no prefix: it reads "CRON_TZ=..." as a field and rejects the spec, whatever follows.
        raise CronError(
            f"a CRON_TZ=/TZ= prefix needs robfig/cron v3 (Velero 1.15 or later); robfig/cron v1 (Velero "
            f"1.12 to 1.14) reads it as a field and rejects {spec!r}"
        )
    if rest.startswith(("TZ=", "CRON_TZ=")):
        space = rest.find(" ")
        if space < 0:
            raise CronError(f"time zone prefix must be followed by a space and a schedule in {spec!r}")
        zone_name = rest[rest.index("=") + 1 : space]
        zone = _load_zone(zone_name, default_zone)
        if zone is default_zone:
            zone_name = default_timezone
        elif zone is UTC:
            zone_name = "UTC"
        rest = _go_trim_space(rest[space:])

    if rest.startswith("@"):
        fixed = _DESCRIPTORS.get(rest)
        if fixed is not None:
            fields = list(fixed)
        elif rest.startswith(_EVERY):
            try:
                nanos = parse_go_duration(rest[len(_EVERY) :])
            except GoDurationError as exc:
                raise CronError(str(exc)) from None
            # Every(): below one second becomes one second; sub-second parts are truncated.
            nanos = max(nanos, 1_000_000_000)
            return Cron(spec=spec, timezone=zone_name, library=library, every=nanos // 1_000_000_000, zone=zone)
        else:
            raise CronError(f"unrecognized descriptor {rest!r}")
    else:
        fields = _go_fields(rest)
        if len(fields) != 5:
            raise CronError(f"expected exactly 5 fields, found {len(fields)} in {spec!r}")

    minutes, _ = _parse_field(fields[0], _MINUTES, library)
    hours, _ = _parse_field(fields[1], _HOURS, library)
    dom, dom_star = _parse_field(fields[2], _DOM, library)
    months, _ = _parse_field(fields[3], _MONTHS, library)
    dow, dow_star = _parse_field(fields[4], _DOW, library)
    times = tuple(h * 3600 + m * 60 for h in range(24) if hours >> h & 1 for m in range(60) if minutes >> m & 1)
    return Cron(
        spec=spec,
        timezone=zone_name,
        library=library,
        minutes=minutes,
        hours=hours,
        dom=dom,
        months=months,
        dow=dow,
        dom_star=dom_star,
        dow_star=dow_star,
        zone=zone,
        times_of_day=times,
        largest_daily_gap=max((b - a for a, b in pairwise(times)), default=0),
    )
