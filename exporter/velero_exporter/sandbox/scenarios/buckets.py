"""Buckets whose newest backup is stale or missing, that grow fast, whose lifecycle rule is shorter than the
retention they keep, whose DR replica is incomplete or not immutable.

In the demo's story: the primary's lifecycle rule expires backups/ after 30 days, shorter than the full (90d) and
dr (1y) tiers kept there (moto runs no lifecycle rule: the oldest Completed weekly-full folder, gone from the
primary, stands for what the rule deletes; the DR replica, which has no such rule, still holds it); the DR replica
misses one backup folder (the newest Completed daily-critical run's) and carries no Object Lock, which the demo's
config expects of DR replicas.
"""

from __future__ import annotations

from velero_exporter.sandbox import cloud, objects, plan
from velero_exporter.sandbox.cloud import BucketSetup
from velero_exporter.sandbox.scenario import Change, Scenario, Trouble, alert
from velero_exporter.sandbox.scenarios import base
from velero_exporter.sandbox.scenarios.base import TierPlan
from velero_exporter.sandbox.world import DAY, World

# --- in the demo's story ---------------------------------------------------------------------------------------

PRIMARY_WHERE = {"location": "default", "bucket": plan.PRIMARY_BUCKET, "region": plan.PRIMARY_REGION}
EXPIRE_BACKUPS_AFTER_DAYS = 30


def _folder(backup: objects.Obj) -> str:
    return f"backups/{objects.name_of(backup)}/"


def _lifecycle_expires_backups(world: World) -> None:
    world.set_up(plan.PRIMARY_BUCKET, expire_backups_after_days=EXPIRE_BACKUPS_AFTER_DAYS)
    oldest = world.backups_of("weekly-full", phase="Completed")[-1]
    world.remove_keys(plan.PRIMARY_BUCKET, _folder(oldest))


LIFECYCLE_BELOW_RETENTION = Trouble(
    "the primary's lifecycle rule expires backups/ after 30 days; the full and dr tiers keep theirs longer",
    (alert("VeleroBucketLifecycleBelowRetention", prefix="backups/", **PRIMARY_WHERE),),
    change=_lifecycle_expires_backups,
    # The rule is removed. What it deleted stays gone from the primary (the DR replica keeps it): copied back,
    # the old folder would be the bucket's newest by LastModified, which the buckets source takes for its
    # recovery point (sources/aws/buckets.py).
    repair=lambda world: world.set_up(plan.PRIMARY_BUCKET, expire_backups_after_days=None),
)


def _batch_replication(world: World) -> None:
    """S3 Batch Replication: what the primary holds and the replica misses is copied."""
    primary, replica = world.buckets[plan.PRIMARY_BUCKET].keys, world.buckets[plan.DR_BUCKET].keys
    world.put(plan.DR_BUCKET, {key: data for key, data in primary.items() if key not in replica})


REPLICA_INCOMPLETE = Trouble(
    "the DR replica misses the newest Completed daily-critical backup's folder",
    (alert("VeleroReplicaIncomplete", bucket=plan.PRIMARY_BUCKET, replica_bucket=plan.DR_BUCKET),),
    change=lambda world: world.remove_keys(
        plan.DR_BUCKET, _folder(world.backups_of("daily-critical", phase="Completed")[0])
    ),
    repair=_batch_replication,
)


def _object_lock(days: int | None) -> Change:
    return lambda world: world.set_up(plan.DR_BUCKET, object_lock_days=days)


DR_NOT_IMMUTABLE = Trouble(
    "the DR replica carries no Object Lock",
    (alert("VeleroDRBucketNotImmutable", location="dr", bucket=plan.DR_BUCKET, region=plan.DR_REGION),),
    change=_object_lock(None),
    repair=_object_lock(plan.DR_SETUP.object_lock_days),
)


# --- an archive copy that stopped, a new site's empty bucket, a bucket that tripled in a day -------------------

APPS = TierPlan("apps", ("apps-nightly",))
REGION = "us-east-1"
PRIMARY = "buckets-primary"
ARCHIVE = "buckets-archive"
NEW_SITE = "buckets-new-site"
# The archive's copies stopped 40 days ago; it holds ten older backups, so that one new copy grows it little.
ARCHIVE_STOPPED = 40 * DAY
ARCHIVED = 10
BIG_BACKUP = "apps-with-logs"


def _copy(world: World, bucket: str, backup: objects.Obj) -> None:
    world.put(bucket, {_folder(backup) + f: b for f, b in cloud.backup_folder(backup).items()})


def _cluster(now: float) -> World:
    """The apps tier's backups in the primary bucket, copied to the archive and to the new site's bucket (a
    replication rule)."""
    world = base.world(now, (APPS,), bucket=PRIMARY)
    world.add_bucket(ARCHIVE, REGION, setup=BucketSetup(object_lock_days=365))  # an archive keeps what it holds
    # A bucket made for a new site, which Velero never wrote to: not even metadata/revision.
    world.add_bucket(NEW_SITE, REGION).keys.clear()
    for backup in world.backups_of("apps-nightly"):
        _copy(world, ARCHIVE, backup)
        _copy(world, NEW_SITE, backup)
    return world


def _archive_stopped(world: World) -> None:
    world.remove_keys(ARCHIVE, "backups/")
    for i in range(ARCHIVED):
        _copy(world, ARCHIVE, base.run("apps-nightly", APPS, world.now - ARCHIVE_STOPPED - i * DAY))


def _copy_newest(bucket: str) -> Change:
    """The replication copies the newest backup."""
    return lambda world: _copy(world, bucket, world.backups_of("apps-nightly")[0])


def _big_backup(world: World) -> None:
    """Today someone backed up the apps tier by hand with a namespace full of logs: ten times a run's items."""
    world.add(
        objects.backup(
            BIG_BACKUP,
            labels={base.TIER_LABEL: APPS.name},
            started=world.now - 3600,
            completed=world.now - 3000,
            expiration=world.now + 30 * DAY,
            items_backed_up=10 * base.ITEMS,
            items_total=10 * base.ITEMS,
        )
    )


BUCKETS = Scenario(
    "buckets",
    "An archive bucket whose copies stopped 40 days ago, a new site's bucket with no backup, and a primary"
    " bucket that tripled in a day.",
    base.config(
        APPS,
        aws={
            "extra_buckets": {
                "archive": {"bucket": ARCHIVE, "region": REGION},
                "new-site": {"bucket": NEW_SITE, "region": REGION},
            }
        },
    ),
    _cluster,
    (
        Trouble(
            "the archive's copies stopped 40 days ago",
            (
                alert(
                    "VeleroBucketRecoveryPointStale", location="archive", bucket=ARCHIVE, region=REGION, reason="stale"
                ),
            ),
            change=_archive_stopped,
            repair=_copy_newest(ARCHIVE),
        ),
        Trouble(
            "the new site's bucket holds no backup: its replication was never set up",
            (
                alert(
                    "VeleroBucketRecoveryPointStale", location="new-site", bucket=NEW_SITE, region=REGION, reason="none"
                ),
            ),
            change=lambda world: world.remove_keys(NEW_SITE, ""),
            repair=_copy_newest(NEW_SITE),
        ),
        Trouble(
            "a backup taken by hand today tripled the primary bucket",
            (alert("VeleroBucketGrowth", location="default", bucket=PRIMARY, region=REGION),),
            change=_big_backup,
            repair=lambda world: world.delete("Backup", BIG_BACKUP),
            recent=True,
        ),
    ),
)

SCENARIOS = (BUCKETS,)
