"""`velero-exporter report` against a real Prometheus that holds a month of known history.

tests/report_history.py tells the month as events and writes the exporter's series (and Prometheus' ALERTS) as
OpenMetrics; promtool backfills them, Debian's Prometheus serves them, and the report command reads them over
the HTTP API like any client. Every number below is derived by hand from those events (the comments show how)
and must match to one step (1m): samples are taken at hh:mm:17, so a change at hh:mm is seen in the step that
ends at hh:mm+1.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.report_history import DAY, END, HOUR, MINUTE, R1, R2, R3, R4, T0, at, history, write_openmetrics
from tests.test_status_page import parse_tables, run_chromium
from velero_exporter.cli import main
from velero_exporter.report.command import gather
from velero_exporter.report.document import Report
from velero_exporter.report.evidence import Selection
from velero_exporter.report.prometheus import Connection, PrometheusClient
from velero_exporter.report.render_csv import render_csv
from velero_exporter.report.render_html import render_html
from velero_exporter.report.render_markdown import render_markdown
from velero_exporter.report.window import Window, rfc3339
from velero_exporter.sandbox.monitoring import backfill, running_prometheus

ROOT = Path(__file__).resolve().parent.parent
STEP = 60
KNOWN_PROD = 30 * DAY - 30 * HOUR  # the exporter was down 6h on day 10 and 24h on day 20


@dataclass
class History:
    prometheus: str
    document: dict[str, Any]  # what `velero-exporter report --format json` wrote
    report: Report  # the same, as the renderers get it
    directory: Path


def ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def report_args(prometheus: str, *extra: str) -> list[str]:
    return ["report", "--prometheus", prometheus, "--from", rfc3339(T0), "--to", rfc3339(END), *extra]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def month(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[History]:
    directory = tmp_path_factory.mktemp("history")
    samples = write_openmetrics(history(), directory / "history.om")
    assert samples > 1_000_000  # a month of minutes of some fifty series
    await backfill(directory / "history.om", directory / "data")
    (directory / "history.om").unlink()
    async with running_prometheus([], storage=directory / "data") as prometheus:
        out = directory / "report.json"
        code = await asyncio.to_thread(main, report_args(prometheus.url, "--output", str(out)))
        assert code == 0
        report = await gather(Connection(prometheus.url), Window(T0, END, STEP), Selection(), now=END + DAY)
        yield History(prometheus.url, json.loads(out.read_text()), report, directory)


def tiers(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(t["cluster"], t["tier"]): t for t in document["tiers"]}


def close(actual: float | None, expected: float, tolerance: float = STEP) -> bool:
    return actual is not None and abs(actual - expected) <= tolerance


pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]


async def test_the_document_names_its_window_and_schema(month: History) -> None:
    doc = month.document
    assert doc["schema"] == 1
    assert doc["window"] == {"from": "2025-01-01T00:00:00Z", "to": "2025-01-31T00:00:00Z", "step_seconds": 60}
    assert doc["prometheus"] == month.prometheus
    assert set(tiers(doc)) == {("prod", t) for t in ("hot", "critical", "config", "dr")} | {("staging", "hot")}


# Violations, derived from the backups in tests/report_history.py (violation = known time with age > RPO):
VIOLATIONS: dict[tuple[str, str], list[tuple[int, int, int | None]]] = {
    # hot, RPO 2h: runs 08:00-13:00 of day 5 missed; the 07:00 run is too old from 09:00 until the 14:00 run
    # completes at 14:05; worst age 14:05 - 07:00.
    # Runs 04:00-08:00 of day 10 missed: too old from 05:00; the exporter is down from 06:00, so the known
    # violation ends there, 3h after the 03:00 run.
    # RPO 90m from day 25 on: the 10:00 run of day 28 missed: the 09:00 run is too old from 10:30 until 11:05.
    ("prod", "hot"): [
        (at(5, 9), at(5, 14, 5), 7 * HOUR + 5 * MINUTE),
        (at(10, 5), at(10, 6), 3 * HOUR),
        (at(28, 10, 30), at(28, 11, 5), 2 * HOUR + 5 * MINUTE),
    ],
    # critical, RPO 26h: runs of days 15 and 16 failed: day 14's 02:00 run is too old from day 15 04:00 until
    # day 17's run completes at 02:40; worst age 3d 40m.
    ("prod", "critical"): [(at(15, 4), at(17, 2, 40), 3 * DAY + 40 * MINUTE)],
    # config: no recovery point at all until the first backup completes, day 2 10:02.
    ("prod", "config"): [(T0, at(2, 10, 2), None)],
    ("prod", "dr"): [],
    ("staging", "hot"): [],
}


async def test_violation_intervals_match_the_history_to_one_step(month: History) -> None:
    by_tier = tiers(month.document)
    for key, expected in VIOLATIONS.items():
        found = by_tier[key]["violations"]
        assert len(found) == len(expected), (key, found)
        for violation, (start, end, worst) in zip(found, expected, strict=True):
            assert close(ts(violation["start"]), start), (key, violation)
            assert close(ts(violation["end"]), end), (key, violation)
            assert close(violation["duration_seconds"], end - start, 2 * STEP), (key, violation)
            if worst is None:
                assert violation["worst_age_seconds"] is None
                assert violation["without_recovery_point_seconds"] == violation["duration_seconds"]
            else:
                assert close(violation["worst_age_seconds"], worst), (key, violation)
                assert violation["without_recovery_point_seconds"] == 0


async def test_compliance_ratios_and_unknown_time_match_the_history(month: History) -> None:
    by_tier = tiers(month.document)
    for key, violations in VIOLATIONS.items():
        tier = by_tier[key]
        known = KNOWN_PROD if key[0] == "prod" else 30 * DAY
        # Unknown time is exact: the outages begin and end on whole minutes.
        assert tier["known_seconds"] == known, key
        assert tier["unknown_seconds"] == 30 * DAY - known, key
        violated = sum(end - start for start, end, _ in violations)
        # Each violation's two ends are each within a step.
        tolerance = 2 * STEP * len(violations) / known
        assert abs(tier["rpo_compliance_ratio"] - (1 - violated / known)) <= tolerance, key
        assert tier["compliant_seconds"] == pytest.approx(tier["rpo_compliance_ratio"] * known)
    assert by_tier["prod", "dr"]["rpo_compliance_ratio"] == 1.0
    gaps = [
        {"start": rfc3339(at(10, 6)), "end": rfc3339(at(10, 12)), "duration_seconds": 6 * HOUR},
        {"start": rfc3339(at(20)), "end": rfc3339(at(21)), "duration_seconds": DAY},
    ]
    assert by_tier["prod", "critical"]["unknown_intervals"] == gaps
    assert by_tier["staging", "hot"]["unknown_intervals"] == []


async def test_objectives_in_force(month: History) -> None:
    by_tier = tiers(month.document)
    # hot's RPO changed from 2h to 90m on day 25: the one at the window's end is reported (the violations
    # above were measured against the RPO in force at each step).
    assert {k: (t["rpo_seconds"], t["rto_seconds"]) for k, t in by_tier.items()} == {
        ("prod", "hot"): (90 * MINUTE, 15 * MINUTE),
        ("prod", "critical"): (26 * HOUR, HOUR),
        ("prod", "config"): (HOUR, 30 * MINUTE),
        ("prod", "dr"): (32 * DAY, 2 * HOUR),
        ("staging", "hot"): (2 * HOUR, 15 * MINUTE),
    }


async def test_restores_in_the_window_against_the_rto(month: History) -> None:
    by_tier = tiers(month.document)

    def restore(schedule: str, phase: str, completed: float, duration: float, *, rto: float) -> dict[str, Any]:
        return {
            "schedule": schedule,
            "phase": phase,
            "started": rfc3339(completed - duration),
            "completed": rfc3339(completed),
            "duration_seconds": duration,
            "rto_seconds": rto,
            # only a Completed restore demonstrates the RTO
            "within_rto": duration <= rto if phase == "Completed" else None,
        }

    # R1 was deleted with its backup on day 9 (its series vanished) and still counts: it finished in the window.
    assert by_tier["prod", "hot"]["restores"] == [
        restore("hourly-hot", "Completed", R1, 600, rto=900),
        restore("hourly-hot", "Failed", R2, 300, rto=900),
        restore("hourly-hot", "Completed", R3, 1200, rto=900),  # slower than the RTO
    ]
    assert [r["within_rto"] for r in by_tier["prod", "hot"]["restores"]] == [True, None, False]
    assert by_tier["prod", "critical"]["restores"] == [restore("daily-critical", "PartiallyFailed", R4, 3000, rto=3600)]
    # config's only restore finished two days before the window: evidence of a successful restore, not one in it
    assert by_tier["prod", "config"]["restores"] == []
    assert by_tier["prod", "config"]["last_successful_restore"] == {
        "completed": rfc3339(T0 - 2 * DAY),
        "days_since": 32.0,
    }


async def test_drills(month: History) -> None:
    by_tier = tiers(month.document)
    hot = by_tier["prod", "hot"]
    # R3 (day 26 09:30) is the newest drill that Completed and passed validation; 3d 14h 30m before the end
    assert hot["last_verified_restore"] == {"completed": rfc3339(R3), "days_since": pytest.approx(3 + 14.5 / 24)}
    assert hot["last_drill_result"] == "passed"
    assert by_tier["prod", "critical"]["last_verified_restore"] is None
    assert by_tier["prod", "critical"]["last_drill_result"] == "failed"
    assert by_tier["prod", "dr"]["last_drill_result"] is None


async def test_dr_freshness(month: History) -> None:
    buckets = {b["location"]: b for b in month.document["buckets"]}
    dr = buckets["dr"]
    # The DR bucket's newest backup started 25 days before the window (04:00) until the monthly copy landed on
    # day 5 at 06:30: 30d 2h30m stale then; at the end it holds day 5's 04:00 backup, 24d 20h old.
    assert (dr["bucket"], dr["region"]) == ("kailash-velero-dr-backups", "us-west-2")
    assert close(dr["worst_staleness_seconds"], 30 * DAY + 2 * HOUR + 30 * MINUTE)
    assert close(ts(dr["worst_at"]), at(5, 6, 30))
    assert dr["final_staleness_seconds"] == 24 * DAY + 20 * HOUR
    assert dr["known_seconds"] == KNOWN_PROD
    # The primary bucket follows the critical tier: its worst is the critical tier's worst age.
    assert close(buckets["default"]["worst_staleness_seconds"], 3 * DAY + 40 * MINUTE)
    snapshots = {(s["tier"], s["region"]): s for s in month.document["snapshots"]}
    assert set(snapshots) == {("critical", "us-east-1"), ("critical", "us-west-2")}
    # The copies to us-west-2 stopped after day 22's 02:00 backup: stalest at the window's end, 7d 22h.
    west = snapshots["critical", "us-west-2"]
    assert west["worst_staleness_seconds"] == west["final_staleness_seconds"] == 7 * DAY + 22 * HOUR
    assert west["worst_at"] == rfc3339(END)
    assert close(snapshots["critical", "us-east-1"]["final_staleness_seconds"], 22 * HOUR)


async def test_alerts_that_fired(month: History) -> None:
    alerts = [
        (a["alertname"], a["tier"], a["start"], a["end"], a["firing_at_start"], a["firing_at_end"], a["labels"])
        for a in month.document["alerts"]
    ]
    # Watchdog is not one of the bundle's alerts; pending time is not firing time.
    assert alerts == [
        ("VeleroRestoreTestOverdue", "dr", rfc3339(T0), rfc3339(at(1)), True, False, {"reason": "never_restored"}),
        ("RPOViolation", "hot", rfc3339(at(5, 9, 15)), rfc3339(at(5, 14, 6)), False, False, {"reason": "too_old"}),
        (
            "VeleroRestoreFailure",
            "hot",
            rfc3339(at(12, 15, 1)),
            rfc3339(at(13, 15, 1)),
            False,
            False,
            {"schedule": "hourly-hot"},
        ),
        (
            "VeleroSnapshotCopyStale",
            "critical",
            rfc3339(at(28)),
            rfc3339(END),
            False,
            True,
            {"reason": "stale", "region": "us-west-2"},
        ),
    ]
    rpo = month.document["alerts"][1]
    assert (rpo["severity"], rpo["active_since"], rpo["duration_seconds"]) == (
        "critical",
        rfc3339(at(5, 9)),
        4 * HOUR + 51 * MINUTE,
    )


async def test_one_query_over_the_month_is_more_than_prometheus_answers(month: History) -> None:
    """Why the report asks in chunks: 43,200 steps in one range query are refused."""
    window = Window(T0, END, STEP)
    async with PrometheusClient(Connection(month.prometheus)) as client:
        body = await client.query_range("velero_tier_rpo_seconds", window, (1, window.steps))
    assert body["status"] == "error"
    assert "11,000 points" in body["error"]


async def test_csv_has_a_row_per_tier_and_per_violation(month: History) -> None:
    rows = list(csv.DictReader(io.StringIO(render_csv(month.report))))
    assert [(r["record"], r["cluster"], r["tier"]) for r in rows] == [
        ("tier", "prod", "config"),
        ("tier", "prod", "critical"),
        ("tier", "prod", "dr"),
        ("tier", "prod", "hot"),
        ("tier", "staging", "hot"),
        ("violation", "prod", "config"),
        ("violation", "prod", "critical"),
        *[("violation", "prod", "hot")] * 3,
    ]
    hot = rows[3]
    assert (hot["rpo_seconds"], hot["violations"], hot["restores"], hot["restores_within_rto"]) == (
        "5400",
        "3",
        "3",
        "1",
    )
    assert hot["unknown_seconds"] == str(30 * HOUR)
    assert hot["last_verified_restore"] == rfc3339(R3) and hot["last_drill_result"] == "passed"
    assert rows[5]["worst_age_seconds"] == ""  # config had no recovery point at all
    assert rows[6]["start"] == rfc3339(at(15, 4)) and rows[6]["worst_age_seconds"] == str(3 * DAY + 40 * MINUTE)


async def test_markdown_tables(month: History) -> None:
    text = render_markdown(month.report)
    assert text.startswith("# Velero backup compliance report\n")
    assert (
        "| prod | hot | 1h30m | 99.03 % | 3 | 1d6h | 3 (1 within RTO 15m) | 2025-01-27 09:30 UTC | 3.6 d | passed |"
        in text
    )
    assert "| prod | config | 2025-01-01 00:00 UTC | 2025-01-03 10:02 UTC | 2d10h | no recovery point |" in text


async def test_the_html_page_in_a_real_browser(month: History) -> None:
    page = month.directory / "report.html"
    page.write_text(render_html(month.report))
    html = page.read_text()
    assert "<script" not in html and "src=" not in html and "href=" not in html and "url(" not in html
    dom = await run_chromium(page.as_uri(), month.directory / "profile", "--dump-dom")
    tables = parse_tables(dom)
    assert [row[:4] for row in tables["Tiers"]] == [
        ["prod", "config", "1h", "91.59 %"],
        ["prod", "critical", "1d2h", "93.24 %"],
        ["prod", "dr", "32d", "100.00 %"],
        ["prod", "hot", "1h30m", "99.03 %"],
        ["staging", "hot", "2h", "100.00 %"],
    ]
    assert len(tables["RPO violations"]) == 5 and len(tables["Restores"]) == 4 and len(tables["Alerts that fired"]) == 4
    # one age plot per tier with objectives, each with its age line, RPO line and shaded violations
    assert dom.count('<svg class="plot"') == 5 and dom.count('<svg class="bars"') == 1
    assert dom.count("<polyline") >= 5
    shot = month.directory / "report.png"
    await run_chromium(
        page.as_uri(),
        month.directory / "profile2",
        f"--screenshot={shot}",
        "--window-size=1100,1900",
        "--hide-scrollbars",
    )
    assert shot.stat().st_size > 20_000
    if os.environ.get("UPDATE_DOCS_SCREENSHOTS"):
        shutil.copy(shot, ROOT / "docs" / "report.png")


async def test_one_cluster_in_csv(month: History) -> None:
    out = month.directory / "staging.csv"
    args = report_args(month.prometheus, "--cluster", "staging", "--output", str(out))
    assert await asyncio.to_thread(main, args) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [(r["record"], r["cluster"], r["tier"], r["rpo_compliance_ratio"]) for r in rows] == [
        ("tier", "staging", "hot", "1")
    ]


async def test_a_query_prometheus_refuses_is_one_line(month: History, capsys: pytest.CaptureFixture[str]) -> None:
    args = report_args(month.prometheus, "--cluster-label", "not a label")
    assert await asyncio.to_thread(main, args) == 1
    err = capsys.readouterr().err
    assert err.startswith("velero-exporter report: query 'max by (not a label, tier)")
    assert "bad_data" in err and err.count("\n") == 1
