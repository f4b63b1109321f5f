"""Restores that fail, are slower than the tier's RTO, or were never or not lately tried; a drill that failed.

In the demo's story: a restore from a critical backup failed two hours ago, and only the hot tier has a restore
drill on record.
"""

from __future__ import annotations

from typing import Any

from velero_exporter.sandbox import objects, plan
from velero_exporter.sandbox.scenario import Change, Scenario, Trouble, alert
from velero_exporter.sandbox.scenarios import base
from velero_exporter.sandbox.scenarios.base import TierPlan
from velero_exporter.sandbox.world import DAY, HOUR, World

# --- in the demo's story ---------------------------------------------------------------------------------------

FAILED_RESTORE = "restore-critical-app"


def _restore_failed(world: World) -> None:
    source = plan.runs(world.now)["daily-critical"][1]
    plan.restored(
        world,
        objects.restore(
            FAILED_RESTORE,
            backup_name=objects.name_of(source),
            phase="Failed",
            started=world.now - 2 * HOUR,
            completed=world.now - 2 * HOUR + 300,
            errors=4,
        ),
    )


RESTORE_FAILED = Trouble(
    "a restore from a critical backup failed two hours ago",
    (alert("VeleroRestoreFailure", tier="critical", schedule="daily-critical"),),
    change=_restore_failed,
    # Once understood, the failed restore is deleted (`velero restore delete`); left alone, the alert ends 24h
    # after the failure.
    repair=lambda world: world.delete("Restore", FAILED_RESTORE),
)

UNDRILLED_TIERS = ("critical", "full", "config", "dr")


def _drills_deleted(world: World) -> None:
    for tier in UNDRILLED_TIERS:
        world.delete("Restore", f"drill-{tier}-restore")


def _drills_done(world: World) -> None:
    """Each tier is restored from its newest Completed run into a scratch namespace, and the drill's validation
    job passes it."""
    for name, tier, *_ in plan.SCHEDULES:
        if tier in UNDRILLED_TIERS:
            newest = world.backups_of(name, phase="Completed")[0]
            plan.restored(
                world, _restore(f"drill-{tier}-restore", newest, world, took=300, drill=True, validation="passed")
            )


def _restore(name: str, backup: objects.Obj, world: World, *, took: float, **fields: Any) -> objects.Obj:
    """A restore from the backup that has just completed."""
    return objects.restore(
        name, backup_name=objects.name_of(backup), started=world.now - took - 5, completed=world.now - 5, **fields
    )


DRILLS_MISSING = Trouble(
    "only the hot tier has a restore drill on record",
    tuple(alert("VeleroRestoreTestOverdue", tier=tier, reason="never_restored") for tier in UNDRILLED_TIERS),
    change=_drills_deleted,
    repair=_drills_done,
)


# --- restores slower than the RTO, drills overdue -----------------------------------------------------------------

WEB = TierPlan("web", ("web-nightly",), rto="15m")
DB = TierPlan("db", ("db-nightly",), retention="90d")
PAYMENTS = TierPlan("payments", ("payments-nightly",))
SLOW_RESTORE_TAKES = 40 * 60.0
DRILL_AGE = 40 * DAY


def _old_drill(world: World) -> None:
    """db's last drill was 40 days ago, from a backup kept for 90 days."""
    started = world.now - DRILL_AGE - DAY
    old = base.run("db-nightly", DB, started)
    world.add(old, base.drill(DB.name, old, world.now, ago=DRILL_AGE))


def _verified_drill(name: str, result: str) -> Change:
    """A restore drill of payments (labelled as a drill) from its newest run, which its validation job
    annotated with the result."""

    def change(world: World) -> None:
        newest = world.backups_of("payments-nightly")[0]
        world.add(_restore(name, newest, world, took=600, drill=True, validation=result))

    return change


RESTORES = Scenario(
    "restores",
    "A restore slower than its tier's RTO, a tier whose last drill was 40 days ago, and a drill whose"
    " validation failed.",
    base.config(WEB, DB, PAYMENTS),
    base.cluster(WEB, DB, PAYMENTS),
    (
        Trouble(
            "web's newest restore took 40 minutes; its RTO is 15",
            (alert("VeleroRestoreSlowerThanRTO", tier="web", schedule="web-nightly"),),
            change=lambda world: world.add(
                base.drill(WEB.name, world.backups_of("web-nightly")[0], world.now, took=SLOW_RESTORE_TAKES)
            ),
            # The restore is tuned (parallel pod volume restores) and tried again: 10 minutes.
            repair=lambda world: world.add(
                _restore("drill-web-again", world.backups_of("web-nightly")[0], world, took=600)
            ),
        ),
        Trouble(
            "db's last restore drill was 40 days ago",
            (alert("VeleroRestoreTestOverdue", tier="db", reason="overdue"),),
            change=_old_drill,
            repair=lambda world: world.add(
                _restore("drill-db-again", world.backups_of("db-nightly")[0], world, took=600)
            ),
        ),
        Trouble(
            "payments' newest restore drill completed, and its validation job found the application broken",
            (alert("VeleroRestoreTestOverdue", tier="payments", reason="drill_failed"),),
            change=_verified_drill("drill-payments-verify", "failed"),
            repair=_verified_drill("drill-payments-verify-again", "passed"),
        ),
    ),
)

SCENARIOS = (RESTORES,)
