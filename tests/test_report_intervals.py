"""The report's arithmetic without I/O: the window's steps and chunks, compliance and violation intervals from
rows of step values, staleness, restore events, the plots' slices, Prometheus' answers and the wording."""

from __future__ import annotations

import io
import math
import os
import select

import pytest

from velero_exporter.report.command import output_format, terminal_progress, without_credentials
from velero_exporter.report.intervals import (
    Interval,
    Violation,
    age_profile,
    column_max,
    first_seen,
    rpo_compliance,
    staleness,
    unknown_intervals,
)
from velero_exporter.report.prometheus import QueryError, Rows, parse_matrix
from velero_exporter.report.window import Window, WindowError, chunks, make_window, parse_time, rfc3339
from velero_exporter.report.wording import percent, span

NAN = math.nan
# Ten steps of a minute: step i is (60(i-1), 60i].
W = Window(0.0, 600.0, 60.0)


def row(*values: float | None) -> list[float]:
    return [NAN if v is None else float(v) for v in values]


def test_window_is_cut_into_whole_steps_on_the_steps_grid() -> None:
    now = 999_960.0 + 30  # half a minute past a whole minute
    window = make_window("1h", "now", "1m", now)
    assert (window.start, window.end, window.steps) == (999_960 - 3600 + 60, 999_960, 59)
    assert make_window("2025-01-01T00:00:00Z", "2025-01-02T00:00:00+00:00", "5m", now).steps == 288
    assert parse_time("2025-01-01T02:00:00+02:00", now) == parse_time("2025-01-01T00:00:00Z", now)
    assert rfc3339(1_735_689_600) == "2025-01-01T00:00:00Z" and rfc3339(1.5) == "1970-01-01T00:00:01.500Z"


@pytest.mark.parametrize(
    ("start", "end", "step", "message"),
    [
        ("2h", "3h", "1m", "--from must be earlier than --to"),
        ("90s", "60s", "1m", "holds no whole step of 1m"),  # half a minute each side of one grid line
        ("30d", "now", "-1m", "--step: '-1m' is not a duration (no sign"),
        ("last week", "now", "1m", "'last week' is neither an RFC 3339 time"),
    ],
)
def test_windows_that_cannot_be_reported(start: str, end: str, step: str, message: str) -> None:
    with pytest.raises(WindowError, match=message.replace("(", r"\(")):
        make_window(start, end, step, 999_960.0 + 30)


def test_chunks_stay_under_prometheus_points_limit() -> None:
    month = Window(0.0, 30 * 86400.0, 60.0)
    assert chunks(month) == [(1, 11000), (11001, 22000), (22001, 33000), (33001, 43200)]
    assert chunks(W) == [(1, 10)]
    assert chunks(W, max_points=4) == [(1, 4), (5, 8), (9, 10)]


def test_a_compliant_tier() -> None:
    c = rpo_compliance(W, row(*[0] * 10), row(*[3600] * 10))
    assert (c.known_seconds, c.compliant_seconds, c.violations, c.unknown, c.ratio) == (600, 600, (), (), 1.0)


def test_the_violation_starts_when_the_recovery_point_passes_the_rpo_inside_a_step() -> None:
    # recovery point at 0, RPO 90s: too old from 90, in the middle of step 2; a new point (570) in step 10
    c = rpo_compliance(W, row(0, 0, 0, 0, 0, 0, 0, 0, 0, 570), row(*[90] * 10))
    assert c.violations == (Violation(90, 540, 540, 0),)
    assert c.compliant_seconds == 90 + 60 and c.ratio == 150 / 600


def test_an_age_equal_to_the_rpo_complies() -> None:
    c = rpo_compliance(W, row(*[0] * 10), row(*[120] * 10))
    assert c.violations[0].start == 120 and c.compliant_seconds == 120


def test_no_recovery_point_violates_and_unknown_time_splits_violations() -> None:
    points = row(None, None, None, None, None, 0, 0, 0, 0, 0)
    rpos = row(60, 60, None, None, 60, 60, 60, 60, 600, 600)
    c = rpo_compliance(W, points, rpos)
    assert c.violations == (
        Violation(0, 120, None, 120),  # no recovery point, until the exporter went away
        # back: still none for a step, then a point at 0 older than its 60s RPO ... until the RPO became 10m
        Violation(240, 480, 480, 60),
    )
    assert c.unknown == (Interval(120, 240),)
    assert (c.known_seconds, c.compliant_seconds) == (480, 120)


def test_a_violation_ends_where_a_step_complies_and_a_new_one_starts_after() -> None:
    points = row(0, 0, 0, 180, 180, 180, 180, 180, 180, 180)
    c = rpo_compliance(W, points, row(*[100] * 10))
    assert c.violations == (Violation(100, 180, 180, 0), Violation(280, 600, 420, 0))


def test_nothing_known_is_no_ratio() -> None:
    c = rpo_compliance(W, row(*[0] * 10), row(*[None] * 10))
    assert (c.ratio, c.known_seconds, c.unknown) == (None, 0, (Interval(0, 600),))


def test_unknown_intervals() -> None:
    assert unknown_intervals(W, row(None, 1, 1, None, None, 1, 1, 1, 1, None)) == (
        Interval(0, 60),
        Interval(180, 300),
        Interval(540, 600),
    )


def test_staleness() -> None:
    s = staleness(W, row(0, 0, None, 100, 100, 100, 100, 100, 100, None))
    assert (s.worst, s.worst_at, s.final, s.known_seconds) == (440, 540, None, 480)
    assert staleness(W, row(*[None] * 10)).worst is None


def test_first_seen_lists_each_new_value_once() -> None:
    # 50 is before the window (low=60), 200 comes back after a deletion, 700 is after it (high=600)
    assert first_seen(row(50, 50, 200, 200, None, 300, 200, 700, 700, None), 60, 600) == {200: 3, 300: 6}


def test_plot_slices() -> None:
    points = row(0, 0, None, 0, 0, 0, None, None, 500, 500)
    rpos = row(1, 1, 1, None, None, 1, 1, 1, 1, 1)
    assert age_profile(W, points, rpos, 5) == [120, math.inf, 360, math.inf, 100]
    assert column_max(row(1, 2, None, None, 5, 6, 7, 8, 9, 10), 3) == [2, 6, 10]
    assert column_max(row(None, None), 2) == [None, None]


def test_prometheus_answers() -> None:
    rows: Rows = {}
    body = {
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": [{"metric": {"tier": "hot"}, "values": [[60, "1"], [180.0, "NaN"], [600, "+Inf"], [660, "9"]]}],
        },
    }
    parse_matrix(body, W, rows)
    values = rows[(("tier", "hot"),)]
    assert values[0] == 1 and math.isnan(values[1]) and math.isnan(values[2]) and values[9] == math.inf
    with pytest.raises(QueryError, match="bad_data: parse error"):
        parse_matrix({"status": "error", "errorType": "bad_data", "error": "parse error"}, W, rows)
    with pytest.raises(QueryError, match="not a range query's matrix"):
        parse_matrix({"status": "success", "data": {"resultType": "vector", "result": []}}, W, rows)


def test_wording() -> None:
    assert [span(s) for s in (0, 45, 3600 + 1800 + 7, 3 * 86400 + 40 * 60 + 5, None)] == [
        "0s",
        "45s",
        "1h30m",
        "3d40m",
        "—",
    ]
    # never 100 % while anything was violated
    assert [percent(r) for r in (1.0, 0.99999, 0.5, None)] == ["100.00 %", "99.99 %", "50.00 %", "—"]


def test_progress_only_on_a_terminal() -> None:
    assert terminal_progress(io.StringIO()) is None
    main_fd, terminal_fd = os.openpty()
    shown = b""
    with os.fdopen(terminal_fd, "w") as terminal:
        show = terminal_progress(terminal)
        assert show is not None
        show(1, 2)
        show(2, 2)
        while select.select([main_fd], [], [], 0.5)[0]:  # the terminal hands the output over in pieces
            shown += os.read(main_fd, 1000)
    os.close(main_fd)
    assert shown.decode().replace("\r\n", "\n") == (
        "\rquerying Prometheus: 1/2 range queries\rquerying Prometheus: 2/2 range queries\n"
    )


def test_the_report_never_shows_credentials_of_the_url() -> None:
    assert without_credentials("https://user:secret@thanos.example:9090/prom") == "https://thanos.example:9090/prom"


@pytest.mark.parametrize(
    ("flags", "expected"),
    [((), "json"), (("report.HTML",), "html"), (("r.md",), "markdown"), (("r.csv",), "csv"), (("r.txt",), "json")],
)
def test_the_format_follows_the_output_file(flags: tuple[str, ...], expected: str) -> None:
    from argparse import Namespace  # noqa: PLC0415

    assert output_format(Namespace(format=None, output=flags[0] if flags else None)) == expected
