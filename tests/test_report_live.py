"""The report on a live Prometheus: the sandbox's story, scraped by a real Prometheus with the bundle's rules,
reported with the command `velero-exporter demo` prints.

The history is only seconds long, so most of the window is unknown; what is known must say what the story
says (sandbox/story.py): the full tier past its RPO since its first sample, the others within theirs, and the
two restores of the last day with their phases and durations, the hot tier's one a verified drill.
"""

from __future__ import annotations

import asyncio
import json
import shlex
import time
from datetime import datetime
from pathlib import Path

from tests.scenario_run import rule_file, wait_for
from velero_exporter.app import Exporter, Options
from velero_exporter.cli import main
from velero_exporter.config.file import load_config
from velero_exporter.sandbox.demo import report_command, running_sandbox
from velero_exporter.sandbox.monitoring import query, running_prometheus
from velero_exporter.sandbox.story import DEMO_CONFIG

HOUR = 3600.0
WINDOW = 26 * HOUR  # back to the hot tier's drill a day ago
STEP = 2.0  # two scrapes per step


async def test_the_demo_report_command_on_the_sandbox(tmp_path: Path) -> None:
    now = time.time()
    async with running_sandbox(now) as sandbox:
        options = Options(listen_host="127.0.0.1", listen_port=0, kubeconfig=str(sandbox.kubeconfig))
        async with (
            Exporter(load_config(DEMO_CONFIG), options) as exporter,
            running_prometheus(
                [exporter.url.removeprefix("http://")], [rule_file(tmp_path)], scrape_interval="1s"
            ) as prometheus,
        ):

            async def scraped() -> bool:
                tiers = await query(prometheus.url, "velero_tier_rpo_seconds")
                firing = await query(prometheus.url, 'ALERTS{alertname="RPOViolation", alertstate="firing"}')
                return len(tiers) == 5 and bool(firing)

            await wait_for(scraped, "five tiers and the full tier's RPOViolation in Prometheus", within=60)
            await asyncio.sleep(3 * STEP)  # a few whole steps of history
            out = tmp_path / "report.json"
            command = shlex.split(report_command(prometheus.url))
            assert command[:2] == ["velero-exporter", "report"]
            args = [*command[1:], "--from", "26h", "--step", "2s", "--output", str(out)]
            assert await asyncio.to_thread(main, args) == 0
    doc = json.loads(out.read_text())
    assert doc["window"]["step_seconds"] == STEP
    tiers = {t["tier"]: t for t in doc["tiers"]}
    assert set(tiers) == {"hot", "critical", "full", "config", "dr", "unassigned"}
    known = tiers["hot"]["known_seconds"]
    assert 3 * STEP <= known <= time.time() - now + STEP
    for name in ("hot", "critical", "config", "dr"):
        assert (tiers[name]["rpo_compliance_ratio"], tiers[name]["violations"]) == (1.0, []), name
    full = tiers["full"]
    assert full["rpo_compliance_ratio"] == 0.0 and full["known_seconds"] == known
    [violation] = full["violations"]
    # the two newest weekly runs PartiallyFailed: the recovery point is two to three weeks old
    assert 14 * 24 * HOUR < violation["worst_age_seconds"] < 22 * 24 * HOUR
    assert violation["duration_seconds"] == known
    window = datetime.fromisoformat(doc["window"]["to"]) - datetime.fromisoformat(doc["window"]["from"])
    assert WINDOW - STEP <= window.total_seconds() <= WINDOW  # whole steps on the steps' grid
    assert full["unknown_seconds"] == window.total_seconds() - known
    # the unassigned tier has no objective: no compliance, and its restores, if any, would still be listed
    assert tiers["unassigned"]["rpo_compliance_ratio"] is None
    [failed] = tiers["critical"]["restores"]
    assert (failed["schedule"], failed["phase"], failed["duration_seconds"], failed["within_rto"]) == (
        "daily-critical",
        "Failed",
        300,
        None,
    )
    [drill] = tiers["hot"]["restores"]
    assert (drill["phase"], drill["duration_seconds"], drill["rto_seconds"], drill["within_rto"]) == (
        "Completed",
        540,
        900,
        True,
    )
    # the drill was labelled as one and its validation passed: a verified drill, a day (less 9 minutes) old
    assert tiers["hot"]["last_drill_result"] == "passed"
    assert 0.99 < tiers["hot"]["last_verified_restore"]["days_since"] < 1.0
    assert tiers["hot"]["last_verified_restore"] == tiers["hot"]["last_successful_restore"]
    assert (tiers["critical"]["last_drill_result"], tiers["critical"]["last_verified_restore"]) == (None, None)
    fired = {(a["alertname"], a["tier"], a["labels"].get("reason")) for a in doc["alerts"]}
    assert ("RPOViolation", "full", "too_old") in fired
    assert all(a["firing_at_end"] for a in doc["alerts"] if a["alertname"] == "RPOViolation")
