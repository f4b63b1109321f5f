"""The report's window: `--from`/`--to` as RFC 3339 times or durations before now, the step, the step grid.

The window is cut into whole steps on the step's own grid (multiples of the step since the epoch), as Grafana
aligns range queries: step i (1..n) is the interval (start + (i-1)·step, start + i·step], and Prometheus
evaluates it at its end. A range query may return at most 11,000 points per series, so longer windows are
asked for in chunks of whole steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from velero_exporter.config.durations import DurationError, parse_duration

# Prometheus refuses a range query with more points per series than this (promql: "exceeded maximum
# resolution of 11,000 points per timeseries").
MAX_POINTS_PER_QUERY = 11_000


class WindowError(ValueError):
    """A window that cannot be reported on; str() is one line saying why."""


@dataclass(slots=True, frozen=True)
class Window:
    start: float
    end: float
    step: float

    @property
    def steps(self) -> int:
        return round((self.end - self.start) / self.step)

    @property
    def seconds(self) -> float:
        return self.steps * self.step

    def step_end(self, i: int) -> float:
        """The end of step i (1-based), where Prometheus evaluates it."""
        return self.start + i * self.step

    def step_index(self, t: float) -> int:
        """The step whose end is t (Prometheus answers at the times it was asked for, to the millisecond)."""
        return round((t - self.start) / self.step)


def parse_time(text: str, now: float) -> float:
    """`now`, a Prometheus duration before now (`30d`), or an RFC 3339 time with its offset."""
    if text == "now":
        return now
    try:
        return now - parse_duration(text)
    except DurationError:
        pass
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise WindowError(
            f"{text!r} is neither an RFC 3339 time (2024-05-01T00:00:00Z) nor a duration before now (30d)"
        ) from None
    if parsed.tzinfo is None:
        raise WindowError(f"{text!r} has no UTC offset: write it as RFC 3339, e.g. {text}Z")
    return parsed.timestamp()


def make_window(start_text: str, end_text: str, step_text: str, now: float) -> Window:
    try:
        step = parse_duration(step_text)
    except DurationError as exc:
        raise WindowError(f"--step: {exc}") from None
    if step <= 0:
        raise WindowError("--step must be longer than 0s")
    start = math.ceil(parse_time(start_text, now) / step) * step
    end = math.floor(parse_time(end_text, now) / step) * step
    if end <= start:
        raise WindowError(
            f"the window from {rfc3339(start)} to {rfc3339(end)} holds no whole step of {step_text}: "
            "--from must be earlier than --to"
        )
    return Window(start, end, step)


def chunks(window: Window, max_points: int = MAX_POINTS_PER_QUERY) -> list[tuple[int, int]]:
    """The steps (first, last; inclusive, 1-based) that each range query asks for."""
    return [(first, min(first + max_points - 1, window.steps)) for first in range(1, window.steps + 1, max_points)]


def rfc3339(t: float) -> str:
    """UTC, whole seconds unless the time has a fraction: 2024-05-01T00:00:00Z."""
    moment = datetime.fromtimestamp(t, UTC)
    text = moment.isoformat(timespec="milliseconds" if t % 1 else "seconds")
    return text.replace("+00:00", "Z")
