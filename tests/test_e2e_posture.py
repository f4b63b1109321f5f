"""End to end, the DR posture alerts: a world in moto and the fake Kubernetes API whose copies are neither
immutable, encrypted, complete nor isolated, and about to lose their last recovery point; the real exporter; real
Prometheus with the shipped rules (only `for` shortened). Each of the nine posture alerts fires from the exporter's
real output, with its labels; then moto's configuration is fixed and each resolves. Isolation needs the exporter
told where the DR account's copies are (a role): that last fix restarts it with that config.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.test_e2e import Alert, alert, firing, wait_for
from tests.test_e2e import test_rules as rules_for_tests
from velero_exporter.app import Exporter, Options
from velero_exporter.config.settings import (
    AwsConfig,
    BucketSettings,
    Config,
    ExtraBucket,
    RegionSettings,
    Tier,
    TierSchedule,
)
from velero_exporter.sandbox import aws_story
from velero_exporter.sandbox import objects as o
from velero_exporter.sandbox.demo import environment
from velero_exporter.sandbox.kube_api import FakeKubeAPI
from velero_exporter.sandbox.monitoring import free_port, running_prometheus
from velero_exporter.sandbox.moto_server import MotoServer, aws_environment

H, D = 3600.0, 86400.0
PRIMARY, DR = "posture-primary", "posture-dr"
PRIMARY_REGION, DR_REGION = "us-east-1", "us-west-2"
DR_ROLE = "arn:aws:iam::210987654321:role/velero-exporter-dr-reader"
TIER_LABEL = "backup-tier"
POSTURE_ALERTS = frozenset(
    {
        "VeleroBucketNotVersioned",
        "VeleroBucketUnencrypted",
        "VeleroBucketPublicAccessNotBlocked",
        "VeleroBucketLifecycleBelowRetention",
        "VeleroReplicaIncomplete",
        "VeleroDRBucketNotImmutable",
        "VeleroSnapshotUnencrypted",
        "VeleroDRCopySameAccount",
        "VeleroLastRecoveryPointExpiring",
    }
)
PRIMARY_WHERE = {"location": "default", "bucket": PRIMARY, "region": PRIMARY_REGION}
EXPECTED: set[Alert] = {
    # the primary: never versioned, no default encryption, no public access block, backups/ expire after 30d
    # while the full tier keeps them 90d
    alert(alertname="VeleroBucketNotVersioned", severity="warning", **PRIMARY_WHERE),
    alert(alertname="VeleroBucketUnencrypted", severity="warning", **PRIMARY_WHERE),
    alert(alertname="VeleroBucketPublicAccessNotBlocked", severity="warning", **PRIMARY_WHERE),
    alert(alertname="VeleroBucketLifecycleBelowRetention", severity="warning", prefix="backups/", **PRIMARY_WHERE),
    # the DR replica misses full-old and has no Object Lock
    alert(alertname="VeleroReplicaIncomplete", severity="warning", bucket=PRIMARY, replica_bucket=DR),
    alert(alertname="VeleroDRBucketNotImmutable", severity="warning", location="dr", bucket=DR, region=DR_REGION),
    # the DR region's copy is unencrypted, and it is the primary account's own
    alert(alertname="VeleroSnapshotUnencrypted", severity="warning", region=DR_REGION, tier="full"),
    alert(alertname="VeleroDRCopySameAccount", severity="warning", source="snapshots", target=DR_REGION),
    # the newer weekly run failed, and the good one expires in 6 hours
    alert(alertname="VeleroLastRecoveryPointExpiring", severity="critical", tier="full"),
}


def full_backup(name: str, started: float, *, phase: str = "Completed", expiration: float | None = None) -> o.Obj:
    return o.backup(
        name,
        schedule="weekly-full",
        labels={TIER_LABEL: "full"},
        phase=phase,
        started=started,
        completed=started + H,
        expiration=expiration,
        ttl="2160h0m0s",
        volume_snapshots_attempted=1,
        volume_snapshots_completed=1 if phase == "Completed" else 0,
    )


@dataclass
class World:
    now: float
    moto: MotoServer
    api: FakeKubeAPI
    kubeconfig: Path

    def __post_init__(self) -> None:
        self.old = full_backup("full-old", self.now - 14 * D, expiration=self.now - 14 * D + 90 * D)
        self.good = full_backup("full-good", self.now - 7 * D, expiration=self.now + 6 * H)
        self.failed = full_backup("full-failed", self.now - 5 * H, phase="Failed", expiration=self.now + 90 * D)

    def dr_account(self, service: str, region: str) -> Any:
        """A client of the DR account (210987654321), through the role the exporter is given."""
        sts = self.moto.client("sts")
        keys = sts.assume_role(RoleArn=DR_ROLE, RoleSessionName="set-up")["Credentials"]
        return boto3.client(
            service,
            region_name=region,
            endpoint_url=self.moto.url,
            aws_access_key_id=keys["AccessKeyId"],
            aws_secret_access_key=keys["SecretAccessKey"],
            aws_session_token=keys["SessionToken"],
        )

    def lay_out(self) -> None:
        for obj in (
            o.storage_location("default", bucket=PRIMARY, region=PRIMARY_REGION, default=True),
            o.snapshot_location("default", region=PRIMARY_REGION),
            o.schedule("weekly-full", cron="0 3 * * 0", tier_label=(TIER_LABEL, "full"), created=self.now - 30 * D),
            self.old,
            self.good,
            self.failed,
        ):
            self.api.create(obj)
        primary = self.moto.client("s3", PRIMARY_REGION)
        aws_story.upload(primary, PRIMARY, aws_story.layout([self.old, self.good, self.failed]), region=PRIMARY_REGION)
        neglected = aws_story.BucketSetup(
            versioning="", encryption="", public_access_blocked=False, expire_backups_after_days=30
        )
        aws_story.set_up_bucket(primary, PRIMARY, neglected)
        # The DR replica lives in the DR account; it missed full-old. It was made with Object Lock on, but without
        # a default retention, so nothing Velero's replication writes there is locked.
        dr = self.dr_account("s3", DR_REGION)
        where = {"LocationConstraint": DR_REGION}
        dr.create_bucket(Bucket=DR, CreateBucketConfiguration=where, ObjectLockEnabledForBucket=True)
        aws_story.set_up_bucket(dr, DR, aws_story.SEED_SETUP)
        aws_story.put_objects(dr, DR, aws_story.layout([self.good, self.failed]))
        taken = aws_story.take_snapshots(self.moto.client("ec2", PRIMARY_REGION), [self.good], encrypted=True)
        self.primary_snapshot = taken["full-good"][0]
        # The DR region's copy, kept in the primary's account and not encrypted.
        aws_story.take_snapshots(self.moto.client("ec2", DR_REGION), [self.good])

    def fix(self) -> None:
        """Everything the operator repairs in AWS and Velero: the buckets' settings, the missing folder, an
        encrypted DR copy (in both accounts: the exporter is told of the DR account's only in the last step), and
        a new full backup that succeeds."""
        aws_story.set_up_bucket(self.moto.client("s3", PRIMARY_REGION), PRIMARY, aws_story.SEED_SETUP)
        # moto takes a default retention only on an empty bucket (AWS takes it any time): the replica is emptied
        # (nothing in it is locked yet), given its retention, and filled again, full-old included.
        dr = self.dr_account("s3", DR_REGION)
        for version in dr.list_object_versions(Bucket=DR).get("Versions", []):
            dr.delete_object(Bucket=DR, Key=version["Key"], VersionId=version["VersionId"])
        aws_story.set_up_bucket(dr, DR, replace(aws_story.SEED_SETUP, object_lock_days=400))
        aws_story.put_objects(dr, DR, aws_story.layout([self.old, self.good, self.failed]))
        west = self.moto.client("ec2", DR_REGION)
        velero = [{"Name": "tag-key", "Values": ["velero.io/backup"]}]
        for snapshot in west.describe_snapshots(OwnerIds=["self"], Filters=velero)["Snapshots"]:
            west.delete_snapshot(SnapshotId=snapshot["SnapshotId"])
        east = self.moto.client("ec2", PRIMARY_REGION)
        aws_story.copy_snapshots(east, west, [self.primary_snapshot])
        # The DR account's copy (shared and copied over, in AWS; moto keeps each account's snapshots to itself).
        aws_story.take_snapshots(self.dr_account("ec2", DR_REGION), [self.good], encrypted=True)
        new = full_backup("full-new", time.time() - 2 * H, expiration=time.time() + 88 * D)
        for s3, bucket in ((self.moto.client("s3", PRIMARY_REGION), PRIMARY), (dr, DR)):
            aws_story.put_objects(s3, bucket, aws_story.layout([new]))
        self.api.create(new)


def exporter_config(*, dr_region_role: bool) -> Config:
    seconds = 1.0
    aws = AwsConfig(
        buckets_interval=seconds,
        repositories_interval=seconds,
        snapshots_interval=seconds,
        posture_interval=seconds,
        jitter=0.0,
        snapshot_lock=False,  # moto does not implement DescribeLockedSnapshots
        require_separate_dr_account=True,
        require_dr_object_lock=True,
        extra_buckets=(
            ExtraBucket("dr", DR, DR_REGION, settings=BucketSettings(role_arn=DR_ROLE), replica_of="default"),
        ),
        extra_regions=(DR_REGION,),
        regions=((DR_REGION, RegionSettings(DR_ROLE)),) if dr_region_role else (),
    )
    full = Tier("full", 8 * D, 4 * H, 90 * D, (TierSchedule("weekly-full", "0 3 * * 0"),))
    return Config(tiers=(full,), tier_label=TIER_LABEL, aws=aws)


@contextlib.contextmanager
def aws_pointed_at(moto: MotoServer) -> Iterator[None]:
    with environment(aws_environment(moto.url)):
        yield


@contextlib.asynccontextmanager
async def world(tmp_path: Path) -> AsyncIterator[World]:
    moto = MotoServer()
    moto.start()
    api = FakeKubeAPI(namespace="velero", bookmark_interval=0.5)
    await api.start()
    try:
        with aws_pointed_at(moto):
            built = World(time.time(), moto, api, api.write_kubeconfig(tmp_path / "kubeconfig"))
            built.lay_out()
            yield built
    finally:
        await api.stop()
        moto.stop()


async def posture_firing(prometheus: str) -> set[Alert]:
    return {a for a in await firing(prometheus) if dict(a)["alertname"] in POSTURE_ALERTS}


@pytest.mark.slow
async def test_every_posture_alert_fires_from_the_exporter_and_resolves_when_aws_is_fixed(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        port = free_port()
        options = Options(
            listen_host="127.0.0.1",
            listen_port=port,
            kubeconfig=str(w.kubeconfig),
            namespace="velero",
            aws_options={"tick": 0.2, "backoff_base": 0.0},
        )
        rules = rules_for_tests(tmp_path)
        async with running_prometheus([f"127.0.0.1:{port}"], [rules], scrape_interval="1s") as prometheus:
            last: set[Alert] = set()

            async def now_firing(expected: set[Alert]) -> bool:
                nonlocal last
                last = await posture_firing(prometheus.url)
                return last == expected

            async def until(expected: set[Alert], what: str) -> None:
                try:
                    await wait_for(lambda: now_firing(expected), what, within=180.0)
                except AssertionError:
                    missing = [dict(a) for a in expected - last]
                    extra = [dict(a) for a in last - expected]
                    raise AssertionError(f"{what}: missing {missing}, unexplained {extra}") from None

            async with Exporter(exporter_config(dr_region_role=False), options):
                await until(EXPECTED, "the nine posture alerts")
                w.fix()
                same_account = alert(
                    alertname="VeleroDRCopySameAccount", severity="warning", source="snapshots", target=DR_REGION
                )
                await until({same_account}, "every fix but the DR account's")
            # Told that the DR region is read with the DR account's role: its copies are apart.
            async with Exporter(exporter_config(dr_region_role=True), options):
                await until(set(), "the DR account's fix")
