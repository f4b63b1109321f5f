"""The status page at /: the tier table's states, and the page as a real headless browser shows it."""

from __future__ import annotations

import asyncio
import re
import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.metrics_text import value
from tests.test_metric_values import NOW, fixture_objects, load, render
from velero_exporter.app import Exporter, Options
from velero_exporter.config.file import load_config
from velero_exporter.config.settings import BucketSettings, Config
from velero_exporter.exposition.status_page import (
    NO_RECOVERY_POINT,
    OK,
    VIOLATED,
    posture_problems,
    render_status_page,
    tier_rows,
)
from velero_exporter.model.aws import AwsModel, PostureState
from velero_exporter.model.velero import Model, build_model
from velero_exporter.sandbox import objects as o
from velero_exporter.sandbox.demo import running_sandbox
from velero_exporter.sandbox.story import DEMO_CONFIG
from velero_exporter.state.aws_records import BucketPosture, BucketTarget, Checked, LifecycleExpiration, ObjectLock
from velero_exporter.state.store import Health
from velero_exporter.velero.cron import Cron, CronError, parse_cron


class Tables(HTMLParser):
    """Every table of a page as {caption: [row cells]}."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._caption: str | None = None
        self._in: str | None = None
        self._row: list[str] = []
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("caption", "td", "th"):
            self._in, self._text = tag, ""
        elif tag == "tr":
            self._row = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "caption":
            self._caption = self._text.strip()
            self.tables[self._caption] = []
        elif tag == "td" and self._caption is not None:
            self._row.append(self._text.strip())
        elif tag == "tr" and self._caption is not None and self._row:
            self.tables[self._caption].append(self._row)
        if tag == self._in:
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in:
            self._text += data


def parse_tables(page: str) -> dict[str, list[list[str]]]:
    parser = Tables()
    parser.feed(page)
    return parser.tables


NO_AWS = AwsModel(buckets=(), regions=())
H = 3600.0


def utc(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M UTC")


def cron_or_error(spec: str) -> Cron | CronError:
    try:
        return parse_cron(spec)
    except CronError as exc:
        return exc


def model_of(objs: dict[str, list[o.Obj]]) -> Model:
    return build_model(load(objs).view(), Config(), NOW, cron_or_error)


def test_tier_states_for_the_fixture_set() -> None:
    model = model_of(fixture_objects())
    rows = {row.tier: row for row in tier_rows(model, NOW)}
    # hot: recovery point 2h30s old against a 1h RPO
    assert (rows["hot"].state, rows["hot"].recovery_point_age, rows["hot"].last_result) == (VIOLATED, 7230, "Failed")
    assert (rows["critical"].state, rows["critical"].recovery_point_age) == (OK, 3 * 3600)
    assert (rows["config"].state, rows["config"].recovery_point_age) == (OK, 600)
    assert (rows["full"].state, rows["full"].last_result) == (NO_RECOVERY_POINT, "PartiallyFailed")
    assert rows["dr"].state == NO_RECOVERY_POINT
    page = render_status_page(model, NO_AWS, Health(), NOW, version="t", telemetry_path="/metrics")
    tables = parse_tables(page)
    assert [r[0] for r in tables["Tiers"]] == ["hot", "critical", "full", "config", "dr", "unassigned"]
    assert tables["Tiers"][0] == ["hot", "1h", "2h ago", "RPO violated", "Failed", "15m"]
    failing = {r[0]: r[-1] for r in tables["Schedules"]}
    assert failing["broken-cron"] == "invalid"
    assert failing["every-6h"] == "paused"
    assert "<script" not in page and "http://" not in page and "https://" not in page


def test_a_schedule_whose_cron_matches_no_time_shows_back_to_back_runs() -> None:
    objs = {"schedules": [o.schedule("feb-30", cron="0 0 30 2 *", created=NOW - 86400)]}
    page = render_status_page(model_of(objs), NO_AWS, Health(), NOW, version="t", telemetry_path="/metrics")
    (row,) = [r for r in parse_tables(page)["Schedules"] if r[0] == "feb-30"]
    assert row[5:] == [
        "every reconcile",
        "back to back: its cron matches no time, so Velero backs up at every reconcile",
    ]
    assert "<tr class='bad'><td>feb-30</td>" in page


def test_restore_drills_show_each_tiers_newest_drill_and_last_verified_one() -> None:
    """velero_tier_last_drill_result, velero_tier_last_verified_restore_timestamp_seconds and the tier's
    require_validation, tier by tier, as the metrics say them."""
    config = Config(tiers=tuple(replace(t, require_validation=t.name == "critical") for t in Config().tiers))
    objs = {
        "backups": [
            o.backup("hot-1", schedule="hourly-hot", started=NOW - 30 * H, completed=NOW - 30 * H + 60),
            o.backup("critical-1", schedule="daily-critical", started=NOW - 30 * H, completed=NOW - 30 * H + 60),
            o.backup("full-1", schedule="weekly-full", started=NOW - 30 * H, completed=NOW - 30 * H + 60),
        ],
        "restores": [
            # hot: a verified drill yesterday, then a newer one whose validation has not reported yet
            o.restore("drill-hot-1", backup_name="hot-1", completed=NOW - 26 * H, drill=True, validation="passed"),
            o.restore("drill-hot-2", backup_name="hot-1", completed=NOW - H, drill=True),
            # critical: its validation found the application broken; never verified
            o.restore("drill-crit", backup_name="critical-1", completed=NOW - 3 * H, drill=True, validation="failed"),
            # full: a plain restore is no drill
            o.restore("restore-full", backup_name="full-1", completed=NOW - 2 * H),
        ],
    }
    model = build_model(load(objs).view(), config, NOW, cron_or_error)
    page = render_status_page(model, NO_AWS, Health(), NOW, version="t", telemetry_path="/metrics")
    assert parse_tables(page)["Restore drills"] == [
        ["hot", "unvalidated", f"{utc(NOW - 26 * H)} (1d2h ago)", "no"],
        ["critical", "failed", "never", "yes"],
        ["full", "none", "never", "no"],
        ["config", "none", "never", "no"],
        ["dr", "none", "never", "no"],
    ]
    assert re.findall(r"<tr class='(\w*)'><td>(hot|critical|full)</td><td>(?:unvalidated|failed|none)", page) == [
        ("warn", "hot"),
        ("bad", "critical"),
        ("", "full"),
    ]
    samples = render(load(objs), config)
    assert value(samples, "velero_tier_last_drill_result", tier="hot", result="unvalidated") == 1
    assert value(samples, "velero_tier_last_drill_result", tier="critical", result="failed") == 1
    assert value(samples, "velero_tier_last_verified_restore_timestamp_seconds", tier="hot") == NOW - 26 * H
    assert value(samples, "velero_tier_last_verified_restore_timestamp_seconds", tier="critical") is None
    assert value(samples, "velero_tier_drill_validation_required", tier="critical") == 1


def test_html_is_escaped() -> None:
    objs = fixture_objects()
    objs["schedules"][0]["spec"]["schedule"] = "<script>alert(1)</script>"
    page = render_status_page(model_of(objs), NO_AWS, Health(), NOW, version="t", telemetry_path="/m")
    assert "<script>" not in page
    assert "&lt;script&gt;" in page


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if found := shutil.which(name):
            return found
    pytest.fail("chromium is not installed: scripts/test.sh installs Debian's chromium")


CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


async def run_chromium(url: str, profile: Path, *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        chromium(),
        *CHROMIUM_FLAGS,
        f"--user-data-dir={profile}",
        *args,
        url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 90)
    assert proc.returncode == 0
    return out.decode()


@dataclass(frozen=True)
class DemoExporter:
    exporter: Exporter
    # When the story happens: ages on the page grow with the time the test takes to get there.
    story_now: float


@pytest.fixture
async def demo_exporter() -> AsyncIterator[DemoExporter]:
    story_now = time.time()
    async with running_sandbox(story_now) as sandbox:
        options = Options(listen_host="127.0.0.1", listen_port=0, kubeconfig=str(sandbox.kubeconfig))
        async with Exporter(load_config(DEMO_CONFIG), options) as exporter:
            deadline = time.monotonic() + 30
            sources = ("kube", "buckets", "repositories", "snapshots", "posture", "accounts")
            health = exporter.store.health
            while time.monotonic() < deadline and not all(health.source(s).up for s in sources):
                await asyncio.sleep(0.05)
            await exporter.renderer.render_now()
            yield DemoExporter(exporter, story_now)


def _minutes(ago: str) -> float:
    """'3h1m ago' -> 181."""
    match = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)? ago", ago)
    assert match is not None, ago
    return int(match[1] or 0) * 60 + int(match[2] or 0)


async def test_the_page_in_a_real_browser_shows_the_sandbox_tiers(demo_exporter: DemoExporter, tmp_path: Path) -> None:
    url = demo_exporter.exporter.url + "/"
    dom = await run_chromium(url, tmp_path / "profile", "--dump-dom")
    tiers = {row[0]: row for row in parse_tables(dom)["Tiers"]}
    # the story (sandbox/story.py) against the demo config: only full is past its RPO
    assert {tier: row[3] for tier, row in tiers.items()} == {
        "hot": OK,
        "critical": OK,
        "full": VIOLATED,
        "config": OK,
        "dr": OK,
        "unassigned": OK,
    }
    assert [tiers[t][1] for t in ("hot", "critical", "full", "config", "dr")] == ["2h", "1d2h", "8d", "1h", "32d"]
    assert tiers["critical"][4] == "Failed"
    # The ad-hoc backup started 3h before the story's now; the page was rendered later, on a machine that may
    # be busy: its age is 3h plus that delay, shown to the minute.
    age = _minutes(tiers["critical"][2])
    assert 180 <= age <= 180 + (time.time() - demo_exporter.story_now) / 60 + 1
    tables = parse_tables(dom)
    # The story's verified drill of the hot tier completed a day less nine minutes before the story's now; the
    # dr tier requires validation (the demo's config) and has no drill yet.
    drills = {row[0]: row[1:] for row in tables["Restore drills"]}
    assert {tier: (row[0], row[2]) for tier, row in drills.items()} == {
        "hot": ("passed", "no"),
        "critical": ("none", "no"),
        "full": ("none", "no"),
        "config": ("none", "no"),
        "dr": ("none", "yes"),
    }
    assert [row[1] for tier, row in drills.items() if tier != "hot"] == ["never"] * 4
    verified = _minutes(drills["hot"][1].split("(")[1].rstrip(")"))
    assert 24 * 60 - 9 <= verified <= 24 * 60 - 9 + (time.time() - demo_exporter.story_now) / 60 + 1
    locations = {row[0]: row[3] for row in tables["Storage locations"]}
    assert locations == {"default": "Available", "dr": "Unavailable"}
    # the story's stale DR copy: the critical tier's copies in us-west-2 stopped 2.5 days ago
    snapshots = {row[0]: row[1:] for row in tables["Snapshot freshness per region"]}
    assert set(snapshots) == {"critical", "full", "dr"}
    assert snapshots["full"][0] == snapshots["full"][1]
    assert re.findall(r'<tr class="(\w*)"><td>critical</td><td>[^<]*ago</td>', dom) == ["bad"]
    buckets = {row[1]: row for row in tables["Buckets"]}
    assert set(buckets) == {"kailash-velero-backups", "kailash-velero-dr-backups"}
    targets = tables["AWS targets"]
    assert targets and all(row[2] == "yes" for row in targets)
    # The story's posture (sandbox/scenarios/buckets.py): the primary's lifecycle rule is shorter than the tiers stored
    # there; the DR replica has no Object Lock (the demo's config requires it) and misses one backup folder.
    posture = {row[0]: row[1:10] for row in tables["Bucket posture"]}
    assert posture == {
        "default": [
            "kailash-velero-backups",
            "yes",
            "AES256",
            "yes",
            "none",
            "30d (backups/)",
            "kailash-velero-dr-backups",
            "123456789012",
            "lifecycle below retention",
        ],
        "dr": [
            "kailash-velero-dr-backups",
            "yes",
            "AES256",
            "yes",
            "none (required)",
            "never",
            "—",
            "123456789012",
            "not immutable",
        ],
    }
    assert tables["DR replicas"] == [["kailash-velero-backups", "kailash-velero-dr-backups", "1"]]
    shot = tmp_path / "status.png"
    await run_chromium(url, tmp_path / "profile2", f"--screenshot={shot}", "--window-size=1200,1400")
    assert shot.stat().st_size > 10_000


def test_posture_problems_say_what_the_posture_alerts_say() -> None:
    target = BucketTarget("dr", "replica", "", "us-west-2", "", BucketSettings(), discovered=False)
    day = 86400.0

    def problems(posture: BucketPosture, *, required: bool = False, retention: float | None = None) -> list[str]:
        return posture_problems(PostureState(posture, required), retention)

    unread = BucketPosture(target)
    assert problems(unread, required=True, retention=90 * day) == []  # nothing read: nothing claimed
    bad = BucketPosture(
        target,
        versioning=Checked(False, NOW),
        object_lock=Checked(None, NOW),
        encryption=Checked("none", NOW),
        public_access_block=Checked(False, NOW),
        lifecycle=Checked(LifecycleExpiration("", 30 * day), NOW),
    )
    assert problems(bad, required=True, retention=90 * day) == [
        "not versioned",
        "unencrypted",
        "public access not blocked",
        "lifecycle below retention",
        "not immutable",
    ]
    assert problems(bad, retention=30 * day) == ["not versioned", "unencrypted", "public access not blocked"]
    good = BucketPosture(
        target,
        versioning=Checked(True, NOW),
        object_lock=Checked(ObjectLock("COMPLIANCE", 365 * day), NOW),
        encryption=Checked("aws:kms", NOW),
        public_access_block=Checked(True, NOW),
        lifecycle=Checked(None, NOW),
    )
    assert problems(good, required=True, retention=90 * day) == []
    no_default_retention = BucketPosture(target, object_lock=Checked(ObjectLock("none", 0.0), NOW))
    assert problems(no_default_retention, required=True) == ["not immutable"]
