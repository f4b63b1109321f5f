"""The DR posture on AWS: buckets that are not versioned, encrypted, private or immutable, a lifecycle rule shorter
than the retention, a DR replica that misses a backup, unencrypted snapshots, DR copies in the primary's account,
and a tier whose last recovery point is about to expire.

The cluster keeps its DR copies apart, as the config requires: the replica bucket and the DR region's snapshot
copies live in the DR account, which the exporter reads through a role (moto's STS grants it). The primary is in
us-east-2 and the DR region is ca-central-1, regions no other scenario uses.
"""

from __future__ import annotations

from dataclasses import replace

from velero_exporter.sandbox import cloud, objects
from velero_exporter.sandbox.cloud import BucketSetup
from velero_exporter.sandbox.scenario import Change, Scenario, Trouble, alert
from velero_exporter.sandbox.scenarios import base
from velero_exporter.sandbox.scenarios.base import TierPlan
from velero_exporter.sandbox.world import HOUR, Snapshot, World, snapshots_of

FULL = TierPlan("full", ("weekly-full",), rpo="8d", rto="4h", retention="90d", every="168h")
PRIMARY, DR = "posture-primary", "posture-dr"
PRIMARY_REGION, DR_REGION = "us-east-2", "ca-central-1"
DR_ROLE = "arn:aws:iam::210987654321:role/velero-exporter-dr-reader"
DR_SETUP = BucketSetup(object_lock_days=400)
PRIMARY_WHERE = {"location": "default", "bucket": PRIMARY, "region": PRIMARY_REGION}
DR_REGION_ROLE = {DR_REGION: {"role_arn": DR_ROLE}}


def _copy(world: World, backup: objects.Obj) -> None:
    """The backup's folder in the DR replica (the replication; the DR account's bucket is the primary's replica
    by the config's `replica_of`)."""
    world.put(DR, {f"backups/{objects.name_of(backup)}/{f}": b for f, b in cloud.backup_folder(backup).items()})


def _dr_account_copies(backup: objects.Obj) -> list[Snapshot]:
    """The DR account's copies of the backup's snapshots in the DR region (shared with that account and copied
    there: moto keeps each account's snapshots to itself, so they are taken there)."""
    return snapshots_of(backup, DR_REGION, encrypted=True, role=DR_ROLE)


def _same_account_copies(backup: objects.Obj) -> list[Snapshot]:
    """Copies made in the primary's own account in the DR region (a copy script without cross-account sharing),
    encrypted (taken there: moto's CopySnapshot does not encrypt a copy of an unencrypted snapshot)."""
    return snapshots_of(backup, DR_REGION, encrypted=True)


def _cluster(now: float) -> World:
    world = base.world(now, (FULL,), bucket=PRIMARY, region=PRIMARY_REGION)
    world.add(objects.snapshot_location("default", region=PRIMARY_REGION))
    world.add_bucket(DR, DR_REGION, setup=DR_SETUP, role=DR_ROLE)
    for backup in world.backups_of("weekly-full"):
        _copy(world, backup)
        world.add_snapshots(snapshots_of(backup, PRIMARY_REGION, encrypted=True))
        world.add_snapshots(_dr_account_copies(backup))
    return world


def _primary(**setup: object) -> Change:
    return lambda world: world.set_up(PRIMARY, **setup)


def _oldest(world: World) -> objects.Obj:
    return world.backups_of("weekly-full")[-1]


def _snapshot_encrypted(encrypted: bool) -> Change:
    """The oldest run's snapshot in the primary region: of a volume never encrypted, or (the repair) replaced by
    an encrypted copy (`aws ec2 copy-snapshot --encrypted`, the unencrypted one deleted)."""

    def change(world: World) -> None:
        oldest = objects.name_of(_oldest(world))
        (snapshot,) = [s for s in world.snapshots if s.backup == oldest and s.region == PRIMARY_REGION]
        world.remove_snapshots([snapshot])
        world.add_snapshots([replace(snapshot, encrypted=encrypted)])

    return change


def _copies_in(account: str) -> Change:
    """Where the DR region's copies are: the DR account's (read through the role the config gives for the
    region), or the primary's own (the config gives the region no role: the exporter reads it as the primary)."""

    def change(world: World) -> None:
        aws = world.config["aws"]
        for backup in world.backups_of("weekly-full", phase="Completed"):
            dr, own = _dr_account_copies(backup), _same_account_copies(backup)
            world.remove_snapshots(own if account == "dr" else dr)
            world.add_snapshots(dr if account == "dr" else own)
        if account == "dr":
            aws["regions"] = dict(DR_REGION_ROLE)
        else:
            aws.pop("regions", None)

    return change


def _last_good_run_expiring(world: World) -> None:
    """The newest weekly run failed five hours ago; the one before it, taken by hand with a one-week TTL by
    mistake, expires in six hours: then the tier has no recovery point left."""
    newest, previous = world.backups_of("weekly-full")[:2]
    world.remove_snapshots(s for s in world.snapshots if s.backup == objects.name_of(newest))
    world.remove_keys(DR, f"backups/{objects.name_of(newest)}/")
    world.delete("Backup", objects.name_of(newest))
    failed = base.run("weekly-full", FULL, world.now - 5 * HOUR, phase="Failed", completed=world.now - 4 * HOUR)
    previous["status"]["expiration"] = objects.rfc3339(world.now + 6 * HOUR)
    # The drill restored the run that failed: it is the previous one's now.
    world.add(failed, previous, base.drill(FULL.name, previous, world.now))
    _copy(world, failed)
    _copy(world, previous)


def _run_succeeds(world: World) -> None:
    """A new weekly run completes, with its folder replicated and its snapshots copied to the DR account."""
    run = base.run_now("weekly-full", FULL, world)
    world.add(run)
    _copy(world, run)
    world.add_snapshots(snapshots_of(run, PRIMARY_REGION, encrypted=True))
    world.add_snapshots(_dr_account_copies(run))


POSTURE = Scenario(
    "posture",
    "The DR posture on AWS: the primary bucket neglected, the DR replica incomplete and not immutable, an"
    " unencrypted snapshot, the DR region's copies in the primary's account, and the last recovery point expiring.",
    base.config(
        FULL,
        aws={
            "require_separate_dr_account": True,
            "require_dr_object_lock": True,
            "extra_buckets": {
                "dr": {"bucket": DR, "region": DR_REGION, "role_arn": DR_ROLE, "replica_of": "default"},
            },
            "extra_regions": [DR_REGION],
            "regions": DR_REGION_ROLE,
        },
    ),
    _cluster,
    (
        Trouble(
            "the primary bucket was never versioned",
            (alert("VeleroBucketNotVersioned", **PRIMARY_WHERE),),
            change=_primary(versioning=""),
            repair=_primary(versioning="Enabled"),
        ),
        Trouble(
            "the primary bucket has no default encryption",
            (alert("VeleroBucketUnencrypted", **PRIMARY_WHERE),),
            change=_primary(encryption=""),
            repair=_primary(encryption="AES256"),
        ),
        Trouble(
            "the primary bucket's public access is not blocked",
            (alert("VeleroBucketPublicAccessNotBlocked", **PRIMARY_WHERE),),
            change=_primary(public_access_blocked=False),
            repair=_primary(public_access_blocked=True),
        ),
        Trouble(
            "the primary's lifecycle rule expires backups/ after 30 days; the full tier keeps them 90",
            (alert("VeleroBucketLifecycleBelowRetention", prefix="backups/", **PRIMARY_WHERE),),
            change=_primary(expire_backups_after_days=30),
            repair=_primary(expire_backups_after_days=None),
        ),
        Trouble(
            "the DR replica misses the oldest backup's folder",
            (alert("VeleroReplicaIncomplete", bucket=PRIMARY, replica_bucket=DR),),
            change=lambda world: world.remove_keys(DR, f"backups/{objects.name_of(_oldest(world))}/"),
            repair=lambda world: _copy(world, _oldest(world)),
        ),
        Trouble(
            "the DR replica carries no Object Lock",
            (alert("VeleroDRBucketNotImmutable", location="dr", bucket=DR, region=DR_REGION),),
            change=lambda world: world.set_up(DR, object_lock_days=None),
            repair=lambda world: world.set_up(DR, object_lock_days=DR_SETUP.object_lock_days),
        ),
        Trouble(
            "the newest run's snapshot in the primary region is of an unencrypted volume",
            (alert("VeleroSnapshotUnencrypted", region=PRIMARY_REGION, tier="full"),),
            change=_snapshot_encrypted(False),
            repair=_snapshot_encrypted(True),
        ),
        Trouble(
            "the DR region's copies are made in the primary's account",
            (alert("VeleroDRCopySameAccount", source="snapshots", target=DR_REGION),),
            change=_copies_in("primary"),
            # The copies are shared with the DR account and copied there, and the exporter is given the role
            # that reads them (a configuration change: it restarts).
            repair=_copies_in("dr"),
        ),
        Trouble(
            "the newest weekly run failed and the last good one, a week old, expires in six hours",
            (
                alert("VeleroLastRecoveryPointExpiring", tier="full"),
                alert("VeleroBackupFailure", schedule="weekly-full", tier="full", phase="Failed"),
                # the cluster's only schedule is weekly: nothing succeeded in it for a week
                alert("VeleroBackupMissing", reason="cluster_stale"),
            ),
            change=_last_good_run_expiring,
            repair=_run_succeeds,
        ),
    ),
)

SCENARIOS = (POSTURE,)
