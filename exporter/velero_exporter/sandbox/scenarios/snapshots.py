"""EBS snapshots that failed, or whose copies in the DR region are stale, lagging or missing.

In the demo's story: the critical tier's snapshot copies to the DR region stopped two and a half days ago (the
other tiers' copies are current), so whatever the time of day the DR region's newest critical snapshot is more
than two daily intervals old and more than a day behind the primary's.
"""

from __future__ import annotations

from dataclasses import replace

from velero_exporter.sandbox import objects, plan
from velero_exporter.sandbox.scenario import Change, Scenario, Trouble, alert
from velero_exporter.sandbox.scenarios import base
from velero_exporter.sandbox.scenarios.base import TierPlan
from velero_exporter.sandbox.world import DAY, Snapshot, World, snapshots_of
from velero_exporter.sources.parsing import parse_timestamp

# --- in the demo's story ---------------------------------------------------------------------------------------

DR_COPY_LAG = 2.5 * DAY


def _recent_critical(world: World) -> list[objects.Obj]:
    return [
        b
        for b in world.backups_of("daily-critical")
        if (parse_timestamp(b["status"].get("startTimestamp")) or 0.0) > world.now - DR_COPY_LAG
        and b["status"].get("volumeSnapshotsCompleted", 0) > 0
    ]


def _dr_copies_stopped(world: World) -> None:
    for backup in _recent_critical(world):
        world.remove_snapshots(plan.dr_copies(backup))


def _dr_copies_resumed(world: World) -> None:
    for backup in _recent_critical(world):
        plan.copy_to_dr(world, backup)


DR_COPY_STALE = Trouble(
    "the critical tier's snapshot copies to the DR region stopped two and a half days ago",
    (
        alert("VeleroSnapshotCopyStale", tier="critical", region=plan.DR_REGION, reason="stale"),
        alert("VeleroSnapshotCopyStale", tier="critical", region=plan.DR_REGION, reason="lagging"),
    ),
    change=_dr_copies_stopped,
    repair=_dr_copies_resumed,
)


# --- a tier never copied to the DR region ------------------------------------------------------------------------

APPS = TierPlan("apps", ("apps-nightly",))
DB = TierPlan("db", ("db-nightly",))
PRIMARY_REGION = "eu-west-1"
DR_REGION = "eu-central-1"
BUCKET = "snapshots-primary"


def _cluster(now: float) -> World:
    """Every backup snapshots one (encrypted) volume in the primary region; a script copies the snapshots to the DR
    region."""
    world = base.world(now, (APPS, DB), bucket=BUCKET, region=PRIMARY_REGION)
    world.add(objects.snapshot_location("default", region=PRIMARY_REGION))
    for backup in world.of_kind("Backup"):
        taken = snapshots_of(backup, PRIMARY_REGION, encrypted=True)
        world.add_snapshots(taken)
        world.add_snapshots(s.copied_to(DR_REGION) for s in taken)
    return world


def _db_copies(world: World) -> list[Snapshot]:
    return [
        s.copied_to(DR_REGION)
        for backup in world.backups_of("db-nightly")
        for s in snapshots_of(backup, PRIMARY_REGION, encrypted=True)
    ]


def _failed_snapshot(world: World) -> list[Snapshot]:
    """The snapshot of a second volume of apps' newest run, which AWS failed after velero-plugin-for-aws had
    reported it completed (the backup is Completed with every snapshot counted)."""
    newest = world.backups_of("apps-nightly")[0]
    (snapshot,) = snapshots_of(newest, PRIMARY_REGION, volumes=2, encrypted=True)[1:]
    return [replace(snapshot, state="error")]


def _copies_of_db(present: bool) -> Change:
    def change(world: World) -> None:
        if present:
            world.add_snapshots(_db_copies(world))
        else:
            world.remove_snapshots(_db_copies(world))

    return change


SNAPSHOTS = Scenario(
    "snapshots",
    "Two tiers snapshotted in eu-west-1; the copy script copies only one of them to eu-central-1.",
    base.config(APPS, DB, aws={"extra_regions": [DR_REGION]}),
    _cluster,
    (
        Trouble(
            "AWS failed a snapshot of apps' newest run after the backup completed",
            (alert("VeleroSnapshotsFailed", region=PRIMARY_REGION),),
            change=lambda world: world.add_snapshots(_failed_snapshot(world)),
            # The failed snapshot is deleted (the next backup takes a good one).
            repair=lambda world: world.remove_snapshots(_failed_snapshot(world)),
        ),
        Trouble(
            "the copy script's filter misses the db tier: the DR region holds none of its snapshots",
            (alert("VeleroSnapshotCopyStale", tier="db", reason="missing_region"),),
            change=_copies_of_db(present=False),
            repair=_copies_of_db(present=True),
        ),
    ),
)

SCENARIOS = (SNAPSHOTS,)
