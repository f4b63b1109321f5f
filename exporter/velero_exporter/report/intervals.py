"""Interval arithmetic over rows of step values: pure functions, no I/O.

A row holds, for each step of the window, the value the exporter last reported during that step, or NaN when it
reported none: that step is unknown. Within a step the value is taken to hold for the whole step, so every
boundary found here is exact to one step; the moment a recovery point becomes too old is exact, since it is
the recovery point's own timestamp plus the RPO.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from velero_exporter.report.window import Window


@dataclass(slots=True, frozen=True)
class Interval:
    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass(slots=True, frozen=True)
class Violation:
    """A stretch of known time during which the tier's recovery point was older than its RPO, or missing."""

    start: float
    end: float
    # The recovery point's greatest age during the stretch; None when there was no recovery point at all.
    worst_age: float | None
    # How much of the stretch the tier had no recovery point at all.
    without_recovery_point: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass(slots=True, frozen=True)
class Compliance:
    known_seconds: float
    compliant_seconds: float
    violations: tuple[Violation, ...]
    unknown: tuple[Interval, ...]

    @property
    def ratio(self) -> float | None:
        """Compliant time over known time; None when nothing is known (never 1: no data is no evidence)."""
        return self.compliant_seconds / self.known_seconds if self.known_seconds > 0 else None


def known(value: float) -> bool:
    return not math.isnan(value)


def runs(row: Sequence[float]) -> list[tuple[int, int]]:
    """Maximal runs of known steps, as (first, last) 1-based step numbers."""
    found: list[tuple[int, int]] = []
    first: int | None = None
    for i, value in enumerate(row, start=1):
        if known(value):
            if first is None:
                first = i
        elif first is not None:
            found.append((first, i - 1))
            first = None
    if first is not None:
        found.append((first, len(row)))
    return found


def run_interval(window: Window, first: int, last: int) -> Interval:
    return Interval(window.step_end(first - 1), window.step_end(last))


def unknown_intervals(window: Window, row: Sequence[float]) -> tuple[Interval, ...]:
    """The stretches of the window in which the row has no value."""
    gaps: list[Interval] = []
    position = window.start
    for first, last in runs(row):
        run = run_interval(window, first, last)
        if run.start > position:
            gaps.append(Interval(position, run.start))
        position = run.end
    if position < window.end:
        gaps.append(Interval(position, window.end))
    return tuple(gaps)


@dataclass(slots=True)
class _OpenViolation:
    start: float
    end: float
    worst_age: float | None
    without_recovery_point: float

    def close(self) -> Violation:
        return Violation(self.start, self.end, self.worst_age, self.without_recovery_point)


@dataclass(slots=True)
class _Violations:
    closed: list[Violation] = field(default_factory=list)
    open: _OpenViolation | None = None

    def add(self, start: float, end: float, age: float | None, without_recovery_point: float) -> None:
        current = self.open
        if current is not None and math.isclose(current.end, start):
            current.end = end
            if age is not None and (current.worst_age is None or age > current.worst_age):
                current.worst_age = age
            current.without_recovery_point += without_recovery_point
            return
        self.close()
        self.open = _OpenViolation(start, end, age, without_recovery_point)

    def close(self) -> None:
        if self.open is not None:
            self.closed.append(self.open.close())
            self.open = None


def rpo_compliance(window: Window, recovery_points: Sequence[float], rpos: Sequence[float]) -> Compliance:
    """Known time is where the tier's RPO is reported (the exporter was there and the tier configured). In it, a
    step complies while its recovery point's age (the step's time minus the recovery point) is at most the RPO;
    a step without any recovery point violates it."""
    known_seconds = compliant = 0.0
    violations = _Violations()
    for i in range(1, window.steps + 1):
        rpo, point = rpos[i - 1], recovery_points[i - 1]
        if not known(rpo):
            violations.close()
            continue
        step_start, step_end = window.step_end(i - 1), window.step_end(i)
        known_seconds += window.step
        if not known(point):
            violations.add(step_start, step_end, None, window.step)
            continue
        too_old_from = point + rpo
        if too_old_from >= step_end:
            compliant += window.step
            violations.close()
            continue
        violation_start = max(step_start, too_old_from)
        compliant += violation_start - step_start
        violations.add(violation_start, step_end, step_end - point, 0.0)
    violations.close()
    return Compliance(known_seconds, compliant, tuple(violations.closed), unknown_intervals(window, rpos))


@dataclass(slots=True, frozen=True)
class Staleness:
    """How old a timestamp series' value was (the time minus the value) over the window."""

    worst: float | None
    worst_at: float | None
    final: float | None  # at the window's end; None when the last step is unknown
    known_seconds: float


def staleness(window: Window, row: Sequence[float]) -> Staleness:
    worst: float | None = None
    worst_at: float | None = None
    known_seconds = 0.0
    for i, value in enumerate(row, start=1):
        if not known(value):
            continue
        known_seconds += window.step
        at = window.step_end(i)
        if worst is None or at - value > worst:
            worst, worst_at = at - value, at
    final = window.end - row[-1] if row and known(row[-1]) else None
    return Staleness(worst, worst_at, final, known_seconds)


def first_seen(row: Sequence[float], low: float, high: float) -> dict[float, int]:
    """Each distinct value in (low, high], with the first step that shows it: the events a "newest ..."
    timestamp series records (a new restore changes the newest restore's completion time)."""
    seen: dict[float, int] = {}
    for i, value in enumerate(row, start=1):
        if known(value) and low < value <= high and value not in seen:
            seen[value] = i
    return seen


def newest(row: Sequence[float], high: float) -> float | None:
    """The greatest value at most `high`: a latched timestamp's newest known value."""
    values = [v for v in row if known(v) and v <= high]
    return max(values) if values else None


def last_known(row: Sequence[float]) -> tuple[int, float] | None:
    for i in range(len(row), 0, -1):
        if known(row[i - 1]):
            return i, row[i - 1]
    return None


def age_profile(
    window: Window, recovery_points: Sequence[float], rpos: Sequence[float], columns: int
) -> list[float | None]:
    """The worst recovery point age in each of `columns` equal slices of the window (for a plot): None where
    the slice is unknown, math.inf where its known steps had no recovery point at all."""
    ages = [
        (window.step_end(i) - point if known(point) else math.inf) if known(rpo) else math.nan
        for i, (point, rpo) in enumerate(zip(recovery_points, rpos, strict=True), start=1)
    ]
    return column_max(ages, columns)


def column_max(row: Sequence[float], columns: int) -> list[float | None]:
    """The greatest value in each of `columns` equal slices of the row; None where a slice has none."""
    n = len(row)
    out: list[float | None] = []
    for c in range(columns):
        first, last = c * n // columns, max(c * n // columns + 1, (c + 1) * n // columns)
        values = [v for v in row[first:last] if known(v)]
        out.append(max(values) if values else None)
    return out
