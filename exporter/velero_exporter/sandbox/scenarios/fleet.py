"""A DR cluster against its primary: behind it, holding nothing of a tier, holding a copy it cannot restore, its
location unavailable, naming a primary no exporter reports.

The fleet rules pair clusters through what their exporters say (velero_cluster_info's cluster_name and dr_of), not
through the `cluster` label: `fleet-primary`, a healthy cluster, is the primary that three DR clusters name. Each DR
cluster holds the DR buckets (replicas of the primary's, S3 replication having copied every folder) and the
Backups its Velero synced from them (sandbox/dr_cluster.py); its own troubles change only what it holds, so that
each repair is its own. The primary's db tier backs up to a location of its own, whose bucket has a replica of
its own.

A DR cluster behind its primary is also past the tier's RPO (the primary's point is not in the future): its
RPOViolation's condition starts no later than VeleroDRClusterBehind's, and its `for` (15m) is shorter than
Behind's (30m), so in production the RPOViolation notifies first; once Behind fires, Alertmanager inhibits it
(rules/alertmanager-inhibit.yml): no repeat, and the cause is what stays. The scenarios declare exactly that
(`notified_then_inhibited`), and the end-to-end run keeps the production order of the `for`s.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from velero_exporter.sandbox import dr_cluster, objects
from velero_exporter.sandbox.scenario import (
    Alert,
    Change,
    Scenario,
    Trouble,
    alert,
    inhibited,
    notified_then_inhibited,
)
from velero_exporter.sandbox.scenarios import base
from velero_exporter.sandbox.scenarios.base import DRILL_TAKES, TIER_LABEL, TierPlan
from velero_exporter.sandbox.world import DAY, World

APP = TierPlan("app", ("app-nightly",), rpo="30h", runs=5)
DB = TierPlan("db", ("db-nightly",), rpo="30h", runs=5)
FULL = TierPlan("full", ("full-weekly",), rpo="8d", retention="90d", every="168h", runs=2)
PRIMARY_NAME = "fleet-primary"
PRIMARY_REGION = "us-east-1"
DR_REGION = "us-west-2"
DB_LOCATION = "db"  # the primary's location of the db tier
LOCATION = "dr"  # a DR cluster's location on the replica of the primary's default bucket
DB_REPLICA_LOCATION = "dr-db"  # and on the replica of the db location's bucket
# When a DR cluster's Velero stopped syncing: the daily tiers' newest copies (2 and 26 hours old) are not there.
SYNC_STOPPED_AGO = 2 * DAY
# The DR clusters' restore drills: before their sync stopped, each from the newest copy it then held.
DR_DRILL_AGO = 60 * 3600.0


def _primary_world(now: float) -> World:
    """The healthy primary; db's runs go to their own location."""
    world = base.world(now, (APP, DB, FULL))
    world.add(
        objects.storage_location(DB_LOCATION, bucket="fleet-db-backups", last_validated=now - 30, last_synced=now - 45)
    )
    for backup in world.backups_of("db-nightly"):
        backup["spec"]["storageLocation"] = DB_LOCATION
        backup["metadata"]["labels"][dr_cluster.STORAGE_LOCATION_LABEL] = DB_LOCATION
        world.add(backup)
    schedule = world.get("Schedule", "db-nightly")
    schedule["spec"]["template"]["storageLocation"] = DB_LOCATION
    world.add(schedule)
    return world


FLEET_PRIMARY = Scenario(
    PRIMARY_NAME,
    "A healthy primary, whose backups reach the DR clusters named fleet-dr*.",
    {**base.config(APP, DB, FULL), "cluster": {"name": PRIMARY_NAME}},
    _primary_world,
    (),
)


def _dr_config(name: str, tiers: tuple[TierPlan, ...], dr_of: str = PRIMARY_NAME) -> dict[str, Any]:
    """A DR cluster's configuration: its primary's tiers and objectives, no schedules of its own."""
    no_schedules = (dataclasses.replace(tier, schedules=()) for tier in tiers)
    return {**base.config(*no_schedules), "cluster": {"name": name, "role": "dr", "dr_of": dr_of}}


def _replica(cluster: str, location: str) -> str:
    """The DR cluster's bucket for a location (buckets are per scenario: every scenario shares one moto)."""
    return f"{cluster}-{location}-replica"


def _dr_cluster(name: str, tiers: tuple[TierPlan, ...]) -> Callable[[float], World]:
    """The DR cluster of fleet-primary, in sync: the replicas of the primary's buckets (of these tiers), a read-only
    location on each (the default one on the default bucket's replica), every backup there synced, a drill per
    tier."""
    names = {tier.name for tier in tiers}

    def build(now: float) -> World:
        primary = FLEET_PRIMARY.build(now)
        out = World(now)
        out.add(objects.snapshot_location(LOCATION, region=DR_REGION))
        for theirs, ours in (("default", LOCATION), (DB_LOCATION, DB_REPLICA_LOCATION)):
            backups = [
                b
                for b in primary.of_kind("Backup")
                if b["spec"]["storageLocation"] == theirs and dr_cluster.tier_of(b, TIER_LABEL) in names
            ]
            if not backups:
                continue
            bucket = _replica(name, ours)
            out.add_bucket(bucket, DR_REGION)
            dr_cluster.replicate(out, bucket, backups)
            out.add(
                dr_cluster.location(
                    ours, bucket=bucket, region=DR_REGION, now=now, last_sync=now - 30, default=ours == LOCATION
                )
            )
            dr_cluster.sync(out, ours, dr_cluster.backups_in(out, bucket))
        dr_cluster.drills(out, dict.fromkeys(sorted(names), DRILL_TAKES), at=now - DR_DRILL_AGO, tier_label=TIER_LABEL)
        return out

    return build


def _sync(location: str) -> Change:
    """Velero syncs the location: every backup folder in its bucket becomes a Backup here."""

    def change(world: World) -> None:
        bucket = world.get("BackupStorageLocation", location)["spec"]["objectStorage"]["bucket"]
        dr_cluster.sync(world, location, dr_cluster.backups_in(world, bucket))

    return change


def _sync_stopped(world: World) -> None:
    dr_cluster.unsync(world, LOCATION, world.now - SYNC_STOPPED_AGO)


def _behind(tier: TierPlan) -> tuple[Alert, ...]:
    """The DR cluster behind fleet-primary on the tier, and its own RPO violation of it, which notifies first."""
    return (
        alert("VeleroDRClusterBehind", tier=tier.name, dr_of=PRIMARY_NAME, reason="behind"),
        notified_then_inhibited(alert("RPOViolation", tier=tier.name, reason="too_old")),
    )


# --- fleet-dr: behind on a tier, none of another, a copy it cannot restore -----------------------------------

FLEET_DR = "fleet-dr"
# The primary deleted a PartiallyFailed run of full-weekly (started by hand three days ago); S3 replication does not
# replicate deletions, so the replica keeps its folder and the DR cluster holds it as its newest copy of the tier.
PARTIAL_STARTED_AGO = 3 * DAY


def _partial_kept(world: World) -> None:
    run = base.run("full-weekly", FULL, world.now - PARTIAL_STARTED_AGO, phase="PartiallyFailed", errors=2)
    world.add(dr_cluster.synced(run, LOCATION))


def _partial_removed(world: World) -> None:
    """The folder is removed from the replica, and Velero's sync controller deletes the orphaned Backup."""
    (partial,) = [b for b in world.of_kind("Backup") if b["status"]["phase"] == "PartiallyFailed"]
    world.delete("Backup", objects.name_of(partial))


NEWEST_COPY_PARTIAL = Trouble(
    "the newest copy of the full tier is a PartiallyFailed run that the primary deleted and the replica kept",
    (
        alert(
            "VeleroDRClusterCannotRestore",
            tier=FULL.name,
            location=LOCATION,
            phase="PartiallyFailed",
            dr_of=PRIMARY_NAME,
            reason="not_completed",
        ),
    ),
    change=_partial_kept,
    repair=_partial_removed,
)

SYNC_STOPPED = Trouble(
    "the DR cluster's Velero stopped syncing two days ago: the app tier's copies lag the primary by more than its RPO",
    _behind(APP),
    change=_sync_stopped,
    repair=_sync(LOCATION),
)


def _no_db_location(world: World) -> None:
    """The DR cluster was rebuilt without its location on the db replica: it holds nothing of db, never drilled."""
    world.delete("Restore", "dr-drill-db")
    for backup in world.of_kind("Backup"):
        if backup["spec"]["storageLocation"] == DB_REPLICA_LOCATION:
            world.drop("Backup", objects.name_of(backup))
    world.delete("BackupStorageLocation", DB_REPLICA_LOCATION)


def _db_location_back(world: World) -> None:
    """The location is created again; Velero syncs the db tier's backups from it, and a drill restores one."""
    bucket = _replica(FLEET_DR, DB_REPLICA_LOCATION)
    world.add(
        dr_cluster.location(DB_REPLICA_LOCATION, bucket=bucket, region=DR_REGION, now=world.now, last_sync=world.now)
    )
    _sync(DB_REPLICA_LOCATION)(world)
    dr_cluster.drills(world, {DB.name: DRILL_TAKES}, at=world.now - DRILL_TAKES - 5, tier_label=TIER_LABEL)


NO_DB_COPIES = Trouble(
    "the DR cluster has no location on the db tier's replica: it holds no copy of db, which the primary backs up",
    (
        alert("VeleroDRClusterBehind", tier=DB.name, dr_of=PRIMARY_NAME, reason="none"),
        notified_then_inhibited(alert("RPOViolation", tier=DB.name, reason="no_recovery_point")),
        alert("VeleroRestoreTestOverdue", tier=DB.name, reason="never_restored"),
    ),
    change=_no_db_location,
    repair=_db_location_back,
)

FLEET_DR_SCENARIO = Scenario(
    FLEET_DR,
    "A DR cluster of fleet-primary behind on one tier, without copies of another, its newest copy of a third not "
    "restorable.",
    _dr_config(FLEET_DR, (APP, DB, FULL)),
    _dr_cluster(FLEET_DR, (APP, DB, FULL)),
    # The partial copy is repaired before the sync that would bring a newer Completed one.
    (NEWEST_COPY_PARTIAL, SYNC_STOPPED, NO_DB_COPIES),
)


# --- fleet-dr-unavailable: its location unreachable, and nothing synced since -------------------------------


def _unreachable(world: World) -> None:
    _sync_stopped(world)
    dr_cluster.set_location_phase(world, LOCATION, "Unavailable")


def _reachable(world: World) -> None:
    dr_cluster.set_location_phase(world, LOCATION, "Available")
    _sync(LOCATION)(world)


FLEET_DR_UNAVAILABLE = Scenario(
    "fleet-dr-unavailable",
    "A DR cluster of fleet-primary whose location on the replica has been unreachable for two days.",
    _dr_config("fleet-dr-unavailable", (APP, FULL)),
    _dr_cluster("fleet-dr-unavailable", (APP, FULL)),
    (
        Trouble(
            "the DR cluster's location is unavailable (two days): it can restore nothing, and synced nothing since",
            (
                alert("VeleroStorageLocationUnavailable", location=LOCATION, default="true", reason="unavailable"),
                *(
                    alert(
                        "VeleroDRClusterCannotRestore",
                        tier=tier.name,
                        location=LOCATION,
                        dr_of=PRIMARY_NAME,
                        reason="location_unavailable",
                    )
                    for tier in (APP, FULL)
                ),
                # What the unavailable location causes says nothing more: its `for` (10m) ends first.
                inhibited(alert("VeleroDRClusterBehind", tier=APP.name, dr_of=PRIMARY_NAME, reason="behind")),
                inhibited(alert("RPOViolation", tier=APP.name, reason="too_old")),
            ),
            change=_unreachable,
            repair=_reachable,
        ),
    ),
)


# --- fleet-dr-unpaired: it names a primary that no exporter reports ------------------------------------------

TYPO = "fleet-primry"


def _dr_of(primary: str) -> Change:
    def change(world: World) -> None:
        world.config["cluster"]["dr_of"] = primary

    return change


FLEET_DR_UNPAIRED = Scenario(
    "fleet-dr-unpaired",
    "A DR cluster whose configuration names its primary with a typo: nothing can compare the pair.",
    _dr_config("fleet-dr-unpaired", (APP,)),
    _dr_cluster("fleet-dr-unpaired", (APP,)),
    (
        Trouble(
            "cluster.dr_of names a cluster no exporter reports (a typo)",
            (alert("VeleroDRClusterBehind", dr_of=TYPO, reason="primary_unknown"),),
            change=_dr_of(TYPO),
            repair=_dr_of(PRIMARY_NAME),
        ),
    ),
)

SCENARIOS = (FLEET_PRIMARY, FLEET_DR_SCENARIO, FLEET_DR_UNAVAILABLE, FLEET_DR_UNPAIRED)
