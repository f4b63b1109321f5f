"""End to end, as Velero 1.18 behaves: the real exporter against the fake Kubernetes API and moto (behind the fault
proxy), real Prometheus with the shipped rules (only `for` shortened): the exact set of firing alerts.

What must raise nothing (issue 12), each a false alert before:
- `nightly`, paused for a day and unpaused five minutes ago with --skip-immediately: Velero counts its next run
  from the skip (status.lastSkipped), so it is not overdue;
- `hourly-hot`, labelled with its tier only on the Schedule's own metadata (Velero's Helm chart), as Velero then
  labels its backups;
- the `archive` location, whose validation is disabled (validationFrequency 0s): validated once, ten days ago.
What must fire, and resolve when the objects change:
- VeleroBackupDeletionStuck: a nightly backup Deleting for three hours (dated by its managedFields);
- VeleroRecoveryPointHistoryLost: `weekly` is 400 days old with a 90-day retention, and only two weeks of backups
  are left (a lifecycle rule removed the folders; Velero's sync removed the Backups);
- VeleroSnapshotsFailed: the newest nightly backup's EBS snapshot, which AWS failed after the plugin had reported
  it completed (moto cannot fail a snapshot: the fault proxy turns its state to error on the wire).
"""

from __future__ import annotations

import asyncio
import re
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fault_proxy import Fault, FaultProxy
from tests.scenario_run import Labels as Alert
from tests.scenario_run import firing, rule_file, wait_for
from tests.scenario_run import labels as alert
from velero_exporter.app import Exporter, Options
from velero_exporter.config.settings import DAY, HOUR, MINUTE, AwsConfig, Config, Tier, TierSchedule
from velero_exporter.sandbox import objects as o
from velero_exporter.sandbox.cloud import SEED_SETUP, layout, set_up_bucket, take_snapshots, upload
from velero_exporter.sandbox.demo import environment
from velero_exporter.sandbox.kube_api import FakeKubeAPI
from velero_exporter.sandbox.monitoring import query, running_prometheus
from velero_exporter.sandbox.moto_server import MotoServer, aws_environment
from velero_exporter.sandbox.objects import run_name
from velero_exporter.sandbox.plan import last_fire, scheduled_runs

TIER = "backup-tier"
PRIMARY, ARCHIVE = "kailash-velero-backups", "kailash-velero-archive"
REGION = "us-east-1"

CONFIG = Config(
    tiers=(
        # hot lists no schedule: hourly-hot joins it through the label on the Schedule's own metadata
        Tier("hot", 2 * HOUR, 15 * MINUTE, 7 * DAY),
        Tier("nightly", 2 * DAY, HOUR, 30 * DAY, (TierSchedule("nightly", "0 2 * * *"),)),
        Tier("weekly", 8 * DAY, 4 * HOUR, 90 * DAY, (TierSchedule("weekly", "0 3 * * 0"),)),
    ),
    # the snapshot source looks every two seconds, so that a repair shows at once
    aws=AwsConfig(snapshots_interval=2.0, jitter=0.0),
)

EXPECTED: set[Alert] = {
    alert(
        alertname="VeleroBackupDeletionStuck",
        severity="warning",
        backup="nightly-deleting",
        schedule="nightly",
        tier="nightly",
    ),
    alert(alertname="VeleroRecoveryPointHistoryLost", severity="warning", tier="weekly"),
    alert(alertname="VeleroSnapshotsFailed", severity="warning", region=REGION),
}


@dataclass(frozen=True, slots=True)
class Scene:
    objects: list[o.Obj]
    failed_snapshot_backup: str  # the backup whose EBS snapshot AWS failed
    lost_weekly: list[o.Obj]  # the weekly backups a lifecycle rule took (with their folders)


def drill(name: str, backup: o.Obj, start: float) -> o.Obj:
    return o.restore(name, backup_name=backup["metadata"]["name"], started=start, completed=start + 300)


def scene(now: float) -> Scene:
    # hourly-hot: three days old, labelled on its own metadata only; runs cron-aligned
    hourly = [last_fire("0 * * * *", now - 120) - i * HOUR for i in range(3)]
    hot_runs = [
        o.backup(
            run_name("hourly-hot", t),
            schedule="hourly-hot",
            labels={TIER: "hot", "app.kubernetes.io/instance": "velero"},  # what Velero copies from the Schedule
            started=t,
            completed=t + 90,
            expiration=t + 7 * DAY,
            ttl="168h0m0s",
            items_backed_up=412,
            items_total=412,
        )
        for t in hourly
    ]
    hot_schedule = o.schedule(
        "hourly-hot",
        cron="0 * * * *",
        labels={TIER: "hot", "app.kubernetes.io/instance": "velero"},
        created=now - 3 * DAY,
        last_backup=hourly[0],
        ttl="168h0m0s",
    )
    # nightly: its last backup 30 hours ago (taken at an earlier unpause), paused since, unpaused five minutes ago
    # with --skip-immediately: Velero consumed the flag and recorded the skip
    last_nightly = now - 30 * HOUR
    # (the AWS plugin reports its snapshot completed at once)
    nightly_last, nightly_before = (
        scheduled_runs(
            "nightly", "nightly", last_run=t, step=DAY, count=1, duration=600, ttl="720h0m0s", items=200, snapshots=n
        )[0]
        for t, n in ((last_nightly, 1), (last_fire("0 2 * * *", last_nightly) - DAY, 0))
    )
    deleting = o.backup(
        "nightly-deleting",
        schedule="nightly",
        labels={TIER: "nightly"},
        phase="Deleting",
        started=now - 5 * DAY,
        completed=now - 5 * DAY + 600,
        expiration=now + 25 * DAY,
        changed=now - 3 * HOUR,  # when Velero marked it Deleting; its deletion failed
    )
    nightly_schedule = o.schedule(
        "nightly",
        cron="0 2 * * *",
        tier_label=(TIER, "nightly"),
        created=now - 20 * DAY,
        last_backup=last_nightly,
        last_skipped=now - 5 * MINUTE,
        skip_immediately=False,
    )
    # weekly: 400 days old, 90-day retention, and only its two newest runs left
    last_weekly = last_fire("0 3 * * 0", now - 4 * HOUR)
    weekly_runs = scheduled_runs(  # 84 days and more: the whole retention less one interval
        "weekly", "weekly", last_run=last_weekly, step=7 * DAY, count=13, duration=3 * HOUR, ttl="2160h0m0s", items=200
    )
    weekly_schedule = o.schedule(
        "weekly",
        cron="0 3 * * 0",
        tier_label=(TIER, "weekly"),
        created=now - 400 * DAY,
        last_backup=last_weekly,
        ttl="2160h0m0s",
    )
    # archive: validation disabled, validated once ten days ago; one backup synced from it (no tier)
    archive_backup = o.backup(
        "archive-2026", started=now - 10 * DAY, completed=now - 10 * DAY + 60, storage_location="archive"
    )
    archive = o.storage_location(
        "archive", bucket=ARCHIVE, region=REGION, access_mode="ReadOnly", last_validated=now - 10 * DAY
    )
    archive["spec"]["validationFrequency"] = "0s"
    objects = [
        hot_schedule,
        *hot_runs,
        nightly_schedule,
        nightly_last,
        nightly_before,
        deleting,
        weekly_schedule,
        *weekly_runs[:2],
        archive_backup,
        drill("drill-hot", hot_runs[1], now - 2 * HOUR),
        drill("drill-nightly", nightly_before, now - 3 * HOUR),
        drill("drill-weekly", weekly_runs[1], now - 4 * HOUR),
        o.storage_location(
            "default", bucket=PRIMARY, region=REGION, default=True, last_validated=now - 30, last_synced=now - 20
        ),
        archive,
        o.snapshot_location("default", region=REGION),
    ]
    return Scene(objects, nightly_last["metadata"]["name"], weekly_runs[2:])


def _failed(snapshot_ids: list[str]) -> Fault:
    """DescribeSnapshots answers with these snapshots in state error, as AWS reports one it failed."""

    def rewrite(body: bytes) -> bytes:
        for snapshot_id in snapshot_ids:
            pattern = rf"(<snapshotId>{snapshot_id}</snapshotId>.*?<status>)completed(</status>)"
            body = re.sub(pattern.encode(), rb"\1error\2", body, count=1, flags=re.S)
        return body

    return Fault(None, service="ec2", operation="DescribeSnapshots", rewrite=rewrite)


@dataclass(slots=True)
class Peers:
    api: FakeKubeAPI
    moto: MotoServer
    proxy: FaultProxy
    scene: Scene
    failed: list[str]  # the failed snapshot's id
    kubeconfig: Path


@pytest.fixture
async def peers() -> AsyncIterator[Peers]:
    now = time.time()
    world = scene(now)
    moto = MotoServer()
    await asyncio.to_thread(moto.start)
    proxy = FaultProxy(moto.url)
    proxy.start()
    api = FakeKubeAPI()
    await api.start()
    try:
        backups = [b for b in world.objects if b["kind"] == "Backup" and b["status"]["phase"] == "Completed"]
        primary = [b for b in backups if b["spec"]["storageLocation"] == "default"]
        archived = [b for b in backups if b["spec"]["storageLocation"] == "archive"]
        s3 = moto.client("s3", REGION)
        for bucket, held in ((PRIMARY, primary), (ARCHIVE, archived)):
            await asyncio.to_thread(upload, s3, bucket, layout(held), region=REGION)
            await asyncio.to_thread(set_up_bucket, s3, bucket, SEED_SETUP)  # versioned, encrypted, private
        failed_backup = next(b for b in backups if b["metadata"]["name"] == world.failed_snapshot_backup)
        ec2 = moto.client("ec2", REGION)
        taken = await asyncio.to_thread(take_snapshots, ec2, [failed_backup], encrypted=True)
        failed = taken[world.failed_snapshot_backup]
        proxy.add(_failed(failed))
        for obj in world.objects:
            api.create(obj)
        with (
            tempfile.TemporaryDirectory(prefix="velero-exporter-fidelity-") as tmp,
            environment(aws_environment(proxy.url)),
        ):
            yield Peers(api, moto, proxy, world, failed, api.write_kubeconfig(Path(tmp) / "kubeconfig"))
    finally:
        await api.stop()
        proxy.stop()
        await asyncio.to_thread(moto.stop)


async def test_velero_as_it_behaves_raises_exactly_the_alerts_it_should(peers: Peers, tmp_path: Path) -> None:
    rules = rule_file(tmp_path)
    options = Options(listen_host="127.0.0.1", listen_port=0, kubeconfig=str(peers.kubeconfig))
    async with (
        Exporter(CONFIG, options) as exporter,
        running_prometheus([exporter.url.removeprefix("http://")], [rules], None, scrape_interval="1s") as prometheus,
    ):
        last: set[Alert] = set()

        async def settled(expected: set[Alert]) -> bool:
            nonlocal last
            last = await firing(prometheus.url)
            return last == expected

        async def expect(expected: set[Alert], what: str) -> None:
            try:
                await wait_for(lambda: settled(expected), what)
            except AssertionError:
                missing = [dict(a) for a in expected - last]
                extra = [dict(a) for a in last - expected]
                raise AssertionError(f"{what}: missing {missing}, unexplained {extra}") from None

        await expect(EXPECTED, "the scene's alerts")

        # What the rules read, as Prometheus has it: the three cases that used to alert.
        async def one(expr: str) -> float:
            (sample,) = await query(prometheus.url, expr)
            return float(sample["value"][1])

        assert await one('velero_schedule_next_run_timestamp_seconds{schedule="nightly"} - time() > 0') > 0
        assert await one('velero_schedule_info{schedule="hourly-hot", tier="hot"}') == 1
        assert await one('velero_storage_location_validation_frequency_seconds{location="archive"}') == 0

        # Repairs. Velero finishes the deletion: the Backup is gone.
        peers.api.delete("backups", "nightly-deleting")
        # The failed snapshot is deleted (the next backup took a good one).
        for snapshot_id in peers.failed:
            await asyncio.to_thread(peers.moto.client("ec2", REGION).delete_snapshot, SnapshotId=snapshot_id)
        # The weekly folders come back from noncurrent versions, and Velero's sync brings their Backups back.
        for backup in peers.scene.lost_weekly:
            peers.api.create(backup)
        await expect(set(), "every alert resolved")
