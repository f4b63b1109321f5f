"""Backups that fail, are empty, incomplete, stuck, kept too briefly or not deleted, and clusters with no recent
success: the troubles of the velero-backups rules.

In the demo's story: the newest daily-critical run Failed (an ad-hoc backup labelled for the tier keeps it within
its RPO), and weekly-full's two newest runs were PartiallyFailed (each lost a volume), which the full tier does
not accept.
"""

from __future__ import annotations

from typing import Any

from velero_exporter.sandbox import objects, plan, volume_story
from velero_exporter.sandbox.scenario import Alert, Change, Scenario, Trouble, alert
from velero_exporter.sandbox.scenarios import base
from velero_exporter.sandbox.scenarios.base import TierPlan
from velero_exporter.sandbox.world import DAY, HOUR, World
from velero_exporter.sources.parsing import parse_timestamp

# --- in the demo's story ---------------------------------------------------------------------------------------


def _daily_failed(world: World) -> None:
    started = plan.newest_finished(world.now)["daily-critical"]
    failed = world.get("Backup", objects.run_name("daily-critical", started))
    failed["status"].update(
        {
            "phase": "Failed",
            "failureReason": "rpc error: upload to object storage failed",
            "completionTimestamp": objects.rfc3339(started + 600),
            "progress": {"itemsBackedUp": 1404, "totalItems": 3120},
            "volumeSnapshotsCompleted": 2,
        }
    )
    # The data mover's upload of its last volume was refused too.
    world.add(failed, *volume_story.backup_operations(failed, failed=volume_story.VOLUMES["daily-critical"][1][-1]))
    # On-call took an ad-hoc backup labelled for the tier: it is the tier's recovery point.
    world.add(
        objects.backup(
            "emergency-after-failed-daily",
            labels={plan.TIER_LABEL: "critical"},
            started=world.now - 3 * HOUR,
            completed=world.now - 3 * HOUR + 1500,
            expiration=world.now + 30 * DAY - 3 * HOUR,
            items_backed_up=3050,
            items_total=3050,
        )
    )


def _run_daily_again(world: World) -> None:
    """`velero backup create --from-schedule daily-critical`, and it completes. Its copy to the DR region waits
    for the copies' own repair (snapshots.DR_COPY_STALE)."""
    plan.take(world, plan.run_by_hand("daily-critical", world.now - 120, world.now - 5), copied=False)


DAILY_FAILED = Trouble(
    "the newest daily-critical run failed; an ad-hoc backup keeps the critical tier within its RPO",
    (alert("VeleroBackupFailure", schedule="daily-critical", tier="critical", phase="Failed"),),
    change=_daily_failed,
    repair=_run_daily_again,
)


def _weekly_partially_failed(world: World) -> None:
    """Each lost the file-system backup of its last volume (Velero: "lost some volumes")."""
    lost = volume_story.VOLUMES["weekly-full"][1][-1]
    for started in (plan.newest_finished(world.now)["weekly-full"] - i * 7 * DAY for i in range(2)):
        partial = world.get("Backup", objects.run_name("weekly-full", started))
        partial["status"].update({"phase": "PartiallyFailed", "errors": 3, "warnings": 12})
        world.add(partial, *volume_story.backup_operations(partial, failed=lost))


WEEKLY_PARTIALLY_FAILED = Trouble(
    "weekly-full's two newest runs PartiallyFailed (3 errors, 12 warnings each; a file-system backup failed), which"
    " the full tier does not accept: its recovery point is two to three weeks old, past the 8d RPO and two weekly"
    " intervals",
    (
        alert("VeleroBackupFailure", schedule="weekly-full", tier="full", phase="PartiallyFailed"),
        alert("RPOViolation", tier="full", reason="too_old"),
        alert("VeleroBackupMissing", schedule="weekly-full", tier="full", reason="schedule_stale"),
        alert("VeleroBackupWarnings", schedule="weekly-full", tier="full"),
        alert("VeleroVolumeOperationFailed", schedule="weekly-full", tier="full", method="fs-backup", phase="Failed"),
    ),
    change=_weekly_partially_failed,
    repair=lambda world: plan.take(
        world, plan.run_by_hand("weekly-full", world.now - 2 * HOUR, world.now - 60), copied=True
    ),
)


# --- backups: empty, incomplete, hooks, stuck, retention, garbage collection -----------------------------------

# The apps tier accepts PartiallyFailed backups: a run that lost a volume snapshot is no VeleroBackupFailure there.
APPS = TierPlan(
    "apps",
    ("hooks-nightly", "empty-nightly", "snapshots-nightly", "files-nightly", "volumes-nightly"),
    accept_partially_failed=True,
)
LOGS = TierPlan("logs", ("logs-nightly",))
AUDIT = TierPlan("audit", ("audit-nightly",))
# A weekly tier created 400 days ago that keeps 90 days: thirteen runs.
HISTORY = TierPlan("weekly", ("weekly-archive",), rpo="8d", retention="90d", every="168h", runs=13, created_ago="400d")


def _newest_run_with(schedule: str, tier: TierPlan, **status: Any) -> Change:
    def change(world: World) -> None:
        world.add(base.run(schedule, tier, world.now - tier.last_run_ago, **status))

    return change


def _run_again(schedule: str, tier: TierPlan = APPS, **status: Any) -> Change:
    """The repair of a bad run: the schedule's next run completes well (with these fields of base.run)."""
    return lambda world: world.add(base.run_now(schedule, tier, world, **status))


EMPTY = Trouble(
    "empty-nightly's namespace was renamed: its newest run Completed with no item",
    (alert("VeleroBackupEmpty", schedule="empty-nightly", tier="apps"),),
    change=_newest_run_with("empty-nightly", APPS, items_backed_up=0, items_total=0),
    repair=_run_again("empty-nightly"),
)
SNAPSHOTS_INCOMPLETE = Trouble(
    "snapshots-nightly's newest run lost one of its four volume snapshots (PartiallyFailed, which apps accepts)",
    (alert("VeleroBackupVolumeSnapshotsIncomplete", schedule="snapshots-nightly", tier="apps", method="native"),),
    change=_newest_run_with(
        "snapshots-nightly",
        APPS,
        phase="PartiallyFailed",
        errors=1,
        volume_snapshots_attempted=4,
        volume_snapshots_completed=3,
    ),
    # The next run snapshots all four (one volume fewer would be VeleroBackupVolumeDataMissing).
    repair=_run_again("snapshots-nightly", volume_snapshots_attempted=4, volume_snapshots_completed=4),
)
HOOKS_FAILED = Trouble(
    "hooks-nightly's pre-backup hook (a database freeze) failed in its newest run",
    (alert("VeleroBackupHooksFailed", schedule="hooks-nightly", tier="apps"),),
    change=_newest_run_with("hooks-nightly", APPS, hooks_attempted=2, hooks_failed=1),
    repair=_run_again("hooks-nightly"),
)

# Before a risky upgrade, backups were taken by hand: two from schedules (`velero backup create NAME
# --from-schedule SCHEDULE`: the schedule's labels), one ad hoc labelled for the tier. They are stuck.
STUCK = (
    ("pre-upgrade-etcd", None, "New", 2 * HOUR, "queued"),
    ("pre-upgrade-files", "files-nightly", "InProgress", 5 * HOUR, "in_progress"),
    ("pre-upgrade-volumes", "volumes-nightly", "WaitingForPluginOperations", 6 * HOUR, "plugin_operations"),
)


def _stuck(name: str, schedule: str | None, phase: str, ago: float) -> Change:
    def change(world: World) -> None:
        started = None if phase == "New" else world.now - ago
        world.add(
            objects.backup(
                name,
                phase=phase,
                schedule=schedule,
                labels={base.TIER_LABEL: APPS.name},
                created=world.now - ago,
                started=started,
                items_backed_up=0,
            )
        )

    return change


def _finishes(name: str) -> Change:
    """The repair of a stuck backup: it completes (the hung pod volume backup is killed, the data mover
    finishes, the queue moves on)."""

    def repair(world: World) -> None:
        backup = world.get("Backup", name)
        status = backup["status"]
        status.setdefault("startTimestamp", objects.rfc3339(world.now - 60))
        status.update(
            {
                "phase": "Completed",
                "completionTimestamp": objects.rfc3339(world.now - 5),
                "expiration": objects.rfc3339(world.now + 30 * DAY),
                "progress": {"itemsBackedUp": base.ITEMS, "totalItems": base.ITEMS},
            }
        )
        world.add(backup)

    return repair


def _stuck_trouble(name: str, schedule: str | None, phase: str, ago: float, reason: str) -> Trouble:
    labels = {"backup": name, "tier": APPS.name, "phase": phase, "reason": reason}
    if schedule is not None:
        labels["schedule"] = schedule
    return Trouble(
        f"{name} is {phase} since {ago / HOUR:.0f}h",
        (Alert("VeleroBackupStuck", tuple(sorted(labels.items()))),),
        change=_stuck(name, schedule, phase, ago),
        repair=_finishes(name),
    )


def _short_ttl(world: World) -> None:
    """logs-nightly's TTL is a week, the tier promises a month: every run expires three weeks early."""
    for backup in world.of_kind("Backup"):
        if backup["metadata"]["labels"].get("velero.io/schedule-name") == "logs-nightly":
            started = parse_timestamp(backup["status"]["startTimestamp"]) or 0.0
            world.add(base.run("logs-nightly", LOGS, started, ttl="168h0m0s"))
    world.add(base.schedule("logs-nightly", LOGS, world.now, ttl="168h0m0s"))


def _retake_with_the_retention(world: World) -> None:
    """The TTL is fixed on the schedule; its runs with the short TTL are replaced by one taken now."""
    for backup in world.of_kind("Backup"):
        if backup["metadata"]["labels"].get("velero.io/schedule-name") == "logs-nightly":
            world.delete("Backup", objects.name_of(backup))
    world.add(base.schedule("logs-nightly", LOGS, world.now, last_backup=world.now - base.RUN_TAKES - 5))
    world.add(base.run_now("logs-nightly", LOGS, world))


# A month-old run of audit-nightly expired a day ago and is still there: Velero's garbage collection fails (its
# bucket's delete permission was revoked).
UNDELETED = "audit-nightly-expired"


def _undeleted(world: World) -> None:
    started = world.now - 31 * DAY
    world.add(
        objects.backup(
            UNDELETED,
            schedule="audit-nightly",
            labels={base.TIER_LABEL: AUDIT.name},
            started=started,
            completed=started + base.RUN_TAKES,
            expiration=started + 30 * DAY,
            ttl=AUDIT.ttl,
        )
    )


# A backup of audit-nightly taken by hand (`--from-schedule`) before a migration, deleted three hours ago: Velero
# set it Deleting (the API server dates that write in managedFields) and its deletion hangs.
DELETING = "audit-before-migration"


def _deleting(world: World) -> None:
    started = world.now - 2 * DAY
    world.add(
        objects.backup(
            DELETING,
            phase="Deleting",
            schedule="audit-nightly",
            labels={base.TIER_LABEL: AUDIT.name},
            started=started,
            completed=started + base.RUN_TAKES,
            expiration=started + 30 * DAY,
            changed=world.now - 3 * HOUR,
        )
    )


def _history_lost(world: World) -> None:
    """A lifecycle rule deleted the weekly tier's folders older than two weeks, and Velero's backup sync deleted
    their Backups (pkg/controller/backup_sync_controller.go): 400 days old, the tier keeps two weeks of 90."""
    for backup in world.backups_of("weekly-archive")[2:]:
        world.delete("Backup", objects.name_of(backup))


def _history_back(world: World) -> None:
    """The folders are copied back from the DR replica and Velero's sync creates their Backups again."""
    newest = parse_timestamp(world.backups_of("weekly-archive")[0]["status"]["startTimestamp"]) or world.now
    world.add(*(base.run("weekly-archive", HISTORY, newest - i * HISTORY.interval) for i in range(2, HISTORY.runs)))


BACKUPS = Scenario(
    "backups",
    "Backups that are empty, incomplete, whose hooks failed, that are stuck, kept too briefly or not deleted;"
    " a deletion that hangs; a tier that lost most of its history.",
    base.config(APPS, LOGS, AUDIT, HISTORY),
    base.cluster(APPS, LOGS, AUDIT, HISTORY),
    (
        EMPTY,
        SNAPSHOTS_INCOMPLETE,
        HOOKS_FAILED,
        *(_stuck_trouble(*stuck) for stuck in STUCK),
        Trouble(
            "logs-nightly keeps its backups a week; the logs tier promises a month",
            (alert("VeleroRetentionBelowObjective", tier="logs"),),
            change=_short_ttl,
            repair=_retake_with_the_retention,
        ),
        Trouble(
            "a backup of audit-nightly has been Deleting for three hours",
            (alert("VeleroBackupDeletionStuck", backup=DELETING, schedule="audit-nightly", tier="audit"),),
            change=_deleting,
            repair=lambda world: world.delete("Backup", DELETING),
        ),
        Trouble(
            "the weekly tier, 400 days old and promising 90 days, keeps two weeks of backups",
            (alert("VeleroRecoveryPointHistoryLost", tier="weekly"),),
            change=_history_lost,
            repair=_history_back,
        ),
        Trouble(
            "a run of audit-nightly expired a day ago and Velero has not deleted it",
            (alert("VeleroBackupGarbageCollectionFailed", tier="audit"),),
            change=_undeleted,
            repair=lambda world: world.delete("Backup", UNDELETED),
        ),
    ),
)


# --- no successful backup in the whole cluster ------------------------------------------------------------------

NEW = TierPlan("apps", ("apps-nightly",))


def _nothing_succeeded(world: World) -> None:
    """Every run of the cluster's only schedule failed (its bucket credentials never worked), so there is nothing
    to restore from and no drill either."""
    for backup in world.of_kind("Backup"):
        backup["status"].update({"phase": "Failed", "failureReason": "AccessDenied: credentials rejected"})
        world.add(backup)
    world.delete("Restore", "drill-apps")


def _first_success(world: World) -> None:
    world.add(base.run_now("apps-nightly", NEW, world))


def _first_drill(world: World) -> None:
    newest = max(
        (b for b in world.of_kind("Backup") if b["status"]["phase"] == "Completed"),
        key=lambda b: str(b["status"]["startTimestamp"]),
    )
    world.add(base.drill(NEW.name, newest, world.now, ago=base.DRILL_TAKES + 5))


NOTHING_SUCCEEDED = Scenario(
    "nothing-succeeded",
    "A cluster whose only schedule has never had a successful run: no recovery point, nothing to drill.",
    base.config(NEW),
    base.cluster(NEW),
    (
        Trouble(
            "every run of apps-nightly failed",
            (
                alert("VeleroBackupFailure", schedule="apps-nightly", tier="apps", phase="Failed"),
                alert("VeleroBackupMissing", reason="cluster_none"),
                alert("VeleroBackupMissing", schedule="apps-nightly", tier="apps", reason="schedule_none"),
                alert("RPOViolation", tier="apps", reason="no_recovery_point"),
            ),
            change=_nothing_succeeded,
            repair=_first_success,
        ),
        Trouble(
            "no restore of the apps tier was ever tried (there was nothing to restore)",
            (alert("VeleroRestoreTestOverdue", tier="apps", reason="never_restored"),),
            repair=_first_drill,
        ),
    ),
)


# --- nothing succeeded in the last day --------------------------------------------------------------------------

WEEKLY = TierPlan("archive", ("archive-weekly",), rpo="8d", every="168h")


def _quiet_days(world: World) -> None:
    """The cluster's only schedule is weekly, and its newest run was two days ago: within the tier's RPO, but
    nothing in the whole cluster succeeded within a day."""
    for backup in world.of_kind("Backup"):
        world.delete("Backup", objects.name_of(backup))
    started = world.now - 2 * DAY
    runs = [base.run("archive-weekly", WEEKLY, started - i * WEEKLY.interval) for i in range(base.RUNS)]
    world.add(*runs, base.schedule("archive-weekly", WEEKLY, world.now, last_backup=started))
    world.add(base.drill(WEEKLY.name, runs[0], world.now))


QUIET_DAYS = Scenario(
    "quiet-days",
    "A cluster with one weekly schedule, two days after its run: no successful backup in the last day.",
    base.config(WEEKLY),
    base.cluster(WEEKLY),
    (
        Trouble(
            "nothing succeeded in the cluster for two days",
            (alert("VeleroBackupMissing", reason="cluster_stale"),),
            change=_quiet_days,
            repair=lambda world: world.add(
                objects.backup(
                    "archive-by-hand",
                    labels={base.TIER_LABEL: WEEKLY.name},
                    started=world.now - 600,
                    completed=world.now - 5,
                    expiration=world.now + 30 * DAY,
                )
            ),
        ),
    ),
)

SCENARIOS = (BACKUPS, NOTHING_SUCCEEDED, QUIET_DAYS)
