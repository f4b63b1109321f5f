"""End to end: sandbox -> exporter -> real Prometheus (the bundle's rules) -> real Alertmanager -> a webhook.

The firing set must equal what the sandbox's story implies (sandbox/story.py, sandbox/aws_story.py,
sandbox/volume_story.py, sandbox/cluster_story.py): nothing for the healthy tiers, no unexplained extra. Then two
faults are repaired in the sandbox (a new successful daily backup; the weekly schedule starts including the
unprotected namespace) and their alerts resolve at the webhook. The rules are the real ones; only `for` is
shortened to 0s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from velero_exporter.app import Exporter, Options
from velero_exporter.config.file import load_config
from velero_exporter.mixin.config import DEFAULT as MIXIN
from velero_exporter.mixin.rules import render_rule_file
from velero_exporter.sandbox import objects as o
from velero_exporter.sandbox.demo import DEMO_CONFIG, Sandbox, running_sandbox
from velero_exporter.sandbox.monitoring import free_port, query, running_alertmanager, running_prometheus
from velero_exporter.sandbox.volume_story import STALLED_BACKUP, STALLED_OPERATION, operations

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger("e2e")
Alert = frozenset[tuple[str, str]]
# Labels that depend on how Prometheus scrapes, not on what the story says.
SCRAPE_LABELS = {"job", "instance", "alertstate", "__name__"}


def alert(**labels: str) -> Alert:
    return frozenset(labels.items())


# What the story's volume data implies (sandbox/volume_story.py).
VOLUME_STORY: set[Alert] = {
    # hourly-hot's newest run left the database pod out ...
    *(
        alert(alertname=name, severity="warning", schedule="hourly-hot", tier="hot", method="fs-backup", reason=reason)
        for name, reason in (("VeleroBackupVolumeDataMissing", "fewer_volumes"), ("VeleroBackupShrank", "volume_bytes"))
    ),
    # ... weekly-full's newest run lost a file-system backup ...
    alert(
        alertname="VeleroVolumeOperationFailed",
        severity="warning",
        schedule="weekly-full",
        tier="full",
        method="fs-backup",
        phase="Failed",
    ),
    # ... an ad-hoc backup's DataUpload has moved nothing for 50 minutes ...
    alert(
        alertname="VeleroVolumeOperationStalled",
        severity="warning",
        kind="DataUpload",
        operation=STALLED_OPERATION,
        backup=STALLED_BACKUP,
    ),
    # ... and vault's repository maintenance fails.
    alert(
        alertname="VeleroRepositoryMaintenanceFailed",
        severity="warning",
        repository="vault-default-kopia",
        location="default",
        volume_namespace="vault",
    ),
}

# What the namespace created last week, in no schedule's list, raises (the test then adds it to weekly-full).
NEW_NAMESPACE: set[Alert] = {
    alert(alertname="VeleroNamespaceUnprotected", severity="warning", namespace="kailash-reports"),
    alert(
        alertname="VeleroVolumeUnprotected",
        severity="warning",
        namespace="kailash-reports",
        persistentvolumeclaim="reports-db-data",
        reason="namespace_not_selected",
    ),
}
# What the story implies, alert by alert.
EXPECTED: set[Alert] = {
    # weekly-full: the two newest runs PartiallyFailed, which the full tier does not accept ...
    alert(
        alertname="VeleroBackupFailure",
        severity="critical",
        schedule="weekly-full",
        tier="full",
        phase="PartiallyFailed",
    ),
    # ... so its recovery point is two to three weeks old: past the 8d RPO, and past two weekly intervals
    alert(alertname="RPOViolation", severity="critical", tier="full", reason="too_old"),
    alert(
        alertname="VeleroBackupMissing",
        severity="critical",
        schedule="weekly-full",
        tier="full",
        reason="schedule_stale",
    ),
    # ... and those runs had 12 warnings each
    alert(alertname="VeleroBackupWarnings", severity="warning", schedule="weekly-full", tier="full"),
    # daily-critical: the newest run Failed (the ad-hoc backup keeps the tier within its RPO)
    alert(
        alertname="VeleroBackupFailure", severity="critical", schedule="daily-critical", tier="critical", phase="Failed"
    ),
    # a restore from a critical backup failed two hours ago
    alert(alertname="VeleroRestoreFailure", severity="critical", tier="critical", schedule="daily-critical"),
    # only the hot tier has a restore drill
    *(
        alert(alertname="VeleroRestoreTestOverdue", severity="warning", tier=tier, reason="never_restored")
        for tier in ("critical", "full", "config", "dr")
    ),
    # the read-only DR location is Unavailable (not the default one: it silences nothing)
    alert(
        alertname="VeleroStorageLocationUnavailable",
        severity="critical",
        location="dr",
        default="false",
        reason="unavailable",
    ),
    # the critical tier's copies to the DR region stopped two and a half days ago
    alert(alertname="VeleroSnapshotCopyStale", severity="warning", tier="critical", region="us-west-2", reason="stale"),
    alert(
        alertname="VeleroSnapshotCopyStale", severity="warning", tier="critical", region="us-west-2", reason="lagging"
    ),
    # the primary bucket's lifecycle rule expires backups/ after 30 days; the full (90d) and dr (1y) tiers live there
    alert(
        alertname="VeleroBucketLifecycleBelowRetention",
        severity="warning",
        location="default",
        bucket="kailash-velero-backups",
        region="us-east-1",
        prefix="backups/",
    ),
    # the DR replica misses the newest Completed daily-critical folder ...
    alert(
        alertname="VeleroReplicaIncomplete",
        severity="warning",
        bucket="kailash-velero-backups",
        replica_bucket="kailash-velero-dr-backups",
    ),
    # ... and has no Object Lock, which the demo's config expects of DR replicas
    alert(
        alertname="VeleroDRBucketNotImmutable",
        severity="warning",
        location="dr",
        bucket="kailash-velero-dr-backups",
        region="us-west-2",
    ),
    # the volume data (sandbox/volume_story.py)
    *VOLUME_STORY,
    # coverage (sandbox/cluster_story.py): a namespace created last week that no schedule lists ...
    *NEW_NAMESPACE,
    # ... the media volume its pods opt out of fs-backup, which no snapshot plugin can copy (EFS) ...
    alert(
        alertname="VeleroVolumeUnprotected",
        severity="warning",
        namespace="kailash-app",
        persistentvolumeclaim="media",
        reason="volume_excluded",
    ),
    # ... and Grafana's volume on the class the volume policy skips
    alert(
        alertname="VeleroVolumeUnprotected",
        severity="warning",
        namespace="monitoring",
        persistentvolumeclaim="grafana-data",
        reason="policy_skip",
    ),
}
# The four alerts the DR plan names must reach the receiver with these labels.
NAMED = {
    "VeleroBackupFailure": {"schedule": "daily-critical", "tier": "critical", "phase": "Failed"},
    "VeleroBackupMissing": {"schedule": "weekly-full", "tier": "full"},
    "VeleroRestoreFailure": {"tier": "critical", "schedule": "daily-critical"},
    "RPOViolation": {"tier": "full"},
}


def test_rules(directory: Path) -> Path:
    """The real rules with every `for` at 0s: a test cannot wait the production durations."""
    config = replace(MIXIN, alert_for=dict.fromkeys(MIXIN.alert_for, "0s"))
    path = directory / "velero-exporter.rules.yml"
    path.write_text(render_rule_file(config))
    return path


test_rules.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


@dataclass
class Receiver:
    """The webhook Alertmanager notifies: every alert it was told about, firing or resolved."""

    notifications: list[dict[str, Any]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        for item in body["alerts"]:
            labels = item["labels"]
            log.info("received %s %s %s", item["status"], labels["alertname"], _brief(labels))
            self.notifications.append(item)
        return web.Response(text="ok")

    def seen(self, status: str, alertname: str, labels: dict[str, str]) -> bool:
        return any(
            n["status"] == status
            and n["labels"]["alertname"] == alertname
            and all(n["labels"].get(k) == v for k, v in labels.items())
            for n in self.notifications
        )


def _brief(labels: dict[str, str]) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k not in SCRAPE_LABELS | {"alertname"})


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield receiver, f"http://127.0.0.1:{port}/"
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def pipeline(tmp_path: Path, webhook_url: str) -> AsyncIterator[tuple[Sandbox, str]]:
    """The sandbox, the exporter on it, Alertmanager (the bundle's inhibitions) notifying the webhook, and
    Prometheus with the bundle's rules (every `for` at 0s) scraping each second: the sandbox and Prometheus' URL."""
    async with running_sandbox(time.time()) as sandbox:
        options = Options(listen_host="127.0.0.1", listen_port=0, kubeconfig=str(sandbox.kubeconfig))
        async with (
            Exporter(load_config(DEMO_CONFIG), options) as exporter,
            running_alertmanager(webhook_url, ROOT / "rules" / "alertmanager-inhibit.yml") as alertmanager,
            running_prometheus(
                [exporter.url.removeprefix("http://")], [test_rules(tmp_path)], alertmanager.url, scrape_interval="1s"
            ) as prometheus,
        ):
            yield sandbox, prometheus.url


async def firing(prometheus: str) -> set[Alert]:
    result = await query(prometheus, 'ALERTS{alertstate="firing"}')
    return {frozenset((k, v) for k, v in r["metric"].items() if k not in SCRAPE_LABELS) for r in result}


async def wait_for(check: Any, what: str, within: float = 120.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


async def test_story_alerts_reach_the_receiver_and_a_repair_resolves(
    tmp_path: Path, receiver: tuple[Receiver, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="e2e")
    webhook, webhook_url = receiver
    async with pipeline(tmp_path, webhook_url) as (sandbox, prometheus):
        last: set[Alert] = set()

        async def story_fires() -> bool:
            nonlocal last
            last = await firing(prometheus)
            return last == EXPECTED

        try:
            await wait_for(story_fires, "the story's alerts")
        except AssertionError:
            missing = [dict(a) for a in EXPECTED - last]
            extra = [dict(a) for a in last - EXPECTED]
            raise AssertionError(f"firing set differs: missing {missing}, unexplained {extra}") from None

        async def named_received() -> bool:
            return all(webhook.seen("firing", name, labels) for name, labels in NAMED.items())

        await wait_for(named_received, "the four named alerts at the receiver")
        # The unavailable DR location is not the default one: the backup failures were not inhibited.
        assert webhook.seen("firing", "VeleroStorageLocationUnavailable", {"location": "dr"})

        # Repair: the daily run succeeds again, with its DataUploads.
        repaired = time.time()
        for operation in operations("daily-critical-repaired", "daily-critical", repaired - 120, repaired - 5):
            sandbox.api.create(operation)
        sandbox.api.create(
            o.backup(
                "daily-critical-repaired",
                schedule="daily-critical",
                labels={"backup-tier": "critical"},
                started=repaired - 120,
                completed=repaired - 5,
                volume_snapshots_attempted=6,
                volume_snapshots_completed=6,
            )
        )
        failure = NAMED["VeleroBackupFailure"]

        async def resolved() -> bool:
            return webhook.seen("resolved", "VeleroBackupFailure", failure)

        await wait_for(resolved, "VeleroBackupFailure of daily-critical resolved at the receiver")

        # Repair: the weekly schedule starts including the new namespace.
        weekly = sandbox.api.get("schedules", "weekly-full")
        assert weekly is not None
        weekly["spec"]["template"]["includedNamespaces"].append("kailash-reports")
        sandbox.api.replace(weekly)

        async def covered() -> bool:
            return webhook.seen("resolved", "VeleroNamespaceUnprotected", {"namespace": "kailash-reports"})

        await wait_for(covered, "VeleroNamespaceUnprotected of kailash-reports resolved at the receiver")
        still = await firing(prometheus)
        assert still == EXPECTED - NEW_NAMESPACE - {
            alert(alertname="VeleroBackupFailure", severity="critical", **failure),  # type: ignore[arg-type]
        }
    received = {r.getMessage() for r in caplog.records if r.name == "e2e"}
    for name in NAMED:
        assert any(m.startswith(f"received firing {name}") for m in received), name
    assert any(m.startswith("received resolved VeleroBackupFailure") for m in received)
