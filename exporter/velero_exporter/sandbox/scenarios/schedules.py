"""Schedules that do not run as they should: failed validation, a missed run, paused, configured but gone. None
of it is in the demo's story: its simulator plays Velero, which runs every due schedule.
"""

from __future__ import annotations

from velero_exporter.sandbox import objects
from velero_exporter.sandbox.scenario import Change, Scenario, Trouble, alert
from velero_exporter.sandbox.scenarios import base
from velero_exporter.sandbox.scenarios.base import TierPlan
from velero_exporter.sandbox.world import HOUR, World

# ops-nightly keeps the ops tier within its RPO whatever happens to the others; hourly-late runs every hour.
OPS = TierPlan("ops", ("ops-nightly", "invalid-nightly", "paused-nightly", "reports-nightly"))
HOURLY = TierPlan("hourly", ("hourly-late",), rpo="4h", every="1h")


def _ran_now(schedule: str, tier: TierPlan = OPS, **fields: object) -> Change:
    """Velero runs the schedule now (it is due): the run completes and the schedule's lastBackup moves."""

    def repair(world: World) -> None:
        run = base.run_now(schedule, tier, world)
        started = float(world.now - base.RUN_TAKES - 5)
        world.add(run, base.schedule(schedule, tier, world.now, last_backup=started, **fields))

    return repair


def _invalid(world: World) -> None:
    """Someone edited the cron an hour ago to a minute Velero rejects; Velero marked the schedule
    FailedValidation and runs it no more (pkg/controller/schedule_controller.go)."""
    world.add(base.schedule("invalid-nightly", OPS, world.now, cron="0 25 * * *", phase="FailedValidation"))


def _overdue(world: World) -> None:
    """hourly-late's last run started 90 minutes ago: its next was due half an hour ago and Velero did not start
    it (its schedule controller is wedged)."""
    started = world.now - 1.5 * HOUR
    for backup in world.of_kind("Backup"):
        if backup["metadata"]["labels"].get("velero.io/schedule-name") == "hourly-late":
            world.delete("Backup", objects.name_of(backup))
    world.add(*(base.run("hourly-late", HOURLY, started - i * HOURLY.interval) for i in range(base.RUNS)))
    world.add(base.schedule("hourly-late", HOURLY, world.now, last_backup=started))
    world.add(base.drill(HOURLY.name, base.run("hourly-late", HOURLY, started), world.now))


def _created_again(name: str) -> Change:
    """The schedule is created (again): it has not run yet."""
    return lambda world: world.add(base.created_now(name, OPS, world.now))


def _paused(world: World) -> None:
    """paused-nightly was paused 30 hours ago, after its last run: its next run is six hours overdue, which is no
    missed run since Velero was told not to run it."""
    started = world.now - 30 * HOUR
    for backup in world.of_kind("Backup"):
        if backup["metadata"]["labels"].get("velero.io/schedule-name") == "paused-nightly":
            world.delete("Backup", objects.name_of(backup))
    world.add(*(base.run("paused-nightly", OPS, started - i * OPS.interval) for i in range(base.RUNS)))
    world.add(base.schedule("paused-nightly", OPS, world.now, last_backup=started, paused=True))


SCHEDULES = Scenario(
    "schedules",
    "Schedules that fail validation, miss a run, are paused, or are configured and gone from Velero.",
    base.config(OPS, HOURLY),
    base.cluster(OPS, HOURLY),
    (
        Trouble(
            "invalid-nightly's cron was edited to an invalid one",
            (alert("VeleroScheduleFailedValidation", schedule="invalid-nightly", tier="ops"),),
            change=_invalid,
            repair=lambda world: world.add(base.schedule("invalid-nightly", OPS, world.now)),
        ),
        Trouble(
            "hourly-late's run is half an hour overdue",
            (alert("VeleroScheduleMissedRun", schedule="hourly-late", tier="hourly", reason="overdue"),),
            change=_overdue,
            repair=_ran_now("hourly-late", HOURLY),
        ),
        Trouble(
            "paused-nightly has been paused for 30 hours",
            (alert("VeleroSchedulePaused", schedule="paused-nightly", tier="ops"),),
            change=_paused,
            repair=_ran_now("paused-nightly"),
        ),
        Trouble(
            "reports-nightly is in the exporter's config but was deleted from Velero",
            (alert("VeleroBackupMissing", schedule="reports-nightly", tier="ops", reason="schedule_gone"),),
            change=lambda world: _delete_schedule(world, "reports-nightly"),
            repair=_created_again("reports-nightly"),
        ),
    ),
)


def _delete_schedule(world: World, name: str) -> None:
    """The schedule is deleted with its backups (`velero schedule delete`, then its backups expire)."""
    world.delete("Schedule", name)
    for backup in world.of_kind("Backup"):
        if backup["metadata"]["labels"].get("velero.io/schedule-name") == name:
            world.delete("Backup", objects.name_of(backup))


SCENARIOS = (SCHEDULES,)
