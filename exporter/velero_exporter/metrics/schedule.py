"""Families of a schedule: its spec and state, its backups by phase, and the newest finished backup's result
and details (a new run starting clears nothing; only a newer finished backup does).

`schedule` is a Velero Schedule's name; a schedule the config lists but the cluster does not hold is exported
with velero_schedule_exists 0.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from velero_exporter.metrics.family import Labels, Sample, Subject, counts, flag, gauge, known, state_set
from velero_exporter.model.velero import ScheduleState
from velero_exporter.state.records import Backup
from velero_exporter.state.vocabulary import ALL_BACKUP_PHASES, FINISHED_PHASES, SCHEDULE_PHASES

SCHEDULE = ("schedule",)


def _schedule(schedule: ScheduleState) -> Labels:
    return (schedule.name,)


def _record_state_set(schedule: ScheduleState) -> Iterator[Sample]:
    if schedule.record is not None:
        yield from state_set(_schedule, SCHEDULE_PHASES, lambda s: s.record.phase if s.record else None)(schedule)


SCHEDULES: Subject[ScheduleState] = Subject(
    "Schedules",
    lambda exported: exported.model.schedules,
    (
        gauge(
            "velero_schedule_info",
            "1 for each Schedule, with its tier and its cron as written.",
            ("schedule", "tier", "cron"),
            known(lambda s: (s.name, s.tier, s.record.cron if s.record else ""), lambda s: 1.0 if s.record else None),
        ),
        gauge(
            "velero_schedule_exists",
            "1 for a Schedule that exists, 0 for one the config lists that does not.",
            ("schedule", "tier"),
            flag(lambda s: (s.name, s.tier), lambda s: s.record is not None),
        ),
        gauge(
            "velero_schedule_phase",
            "1 for the Schedule's phase (New, Enabled, FailedValidation), 0 for the others.",
            ("schedule", "phase"),
            _record_state_set,
        ),
        gauge(
            "velero_schedule_paused",
            "1 when the Schedule is paused.",
            SCHEDULE,
            known(_schedule, lambda s: float(s.record.paused) if s.record else None),
        ),
        gauge(
            "velero_schedule_created_timestamp_seconds",
            "The Schedule's creation time.",
            SCHEDULE,
            known(_schedule, lambda s: s.record.created if s.record else None),
        ),
        gauge(
            "velero_schedule_interval_seconds",
            "The longest gap between two consecutive runs of the schedule's cron (absent when it is invalid).",
            SCHEDULE,
            known(_schedule, lambda s: s.interval),
        ),
        gauge(
            "velero_schedule_next_run_timestamp_seconds",
            "The cron's next time after the later of the schedule's last backup (else its creation) and its last "
            "skip, as Velero computes it; absent when the cron is invalid.",
            SCHEDULE,
            known(_schedule, lambda s: s.next_run),
        ),
        gauge(
            "velero_schedule_runs_back_to_back",
            "1 when the schedule's cron matches no time within five years: robfig/cron's Next returns the zero "
            "time and Velero then takes a backup at every reconcile, one after another (0 otherwise; absent "
            "when the cron is invalid).",
            SCHEDULE,
            known(_schedule, lambda s: float(s.back_to_back) if s.record and (s.next_run or s.back_to_back) else None),
        ),
        gauge(
            "velero_schedule_run_blocked",
            "1 while a backup of the schedule is New or InProgress: Velero defers a due run until none is (it "
            "does not drop it), 0 otherwise.",
            SCHEDULE,
            known(_schedule, lambda s: float(s.run_blocked) if s.record else None),
        ),
        gauge(
            "velero_schedule_last_skipped_timestamp_seconds",
            "When Velero last skipped the run that was due at once as the schedule was created or unpaused "
            "(spec.skipImmediately or the server's --schedule-skip-immediately; status.lastSkipped, Velero 1.13+).",
            SCHEDULE,
            known(_schedule, lambda s: s.record.last_skipped if s.record else None),
            ad_hoc="why the next run is counted from a skip rather than the last backup",
        ),
        gauge(
            "velero_schedule_backups",
            "The schedule's Backup objects by phase.",
            ("schedule", "phase"),
            counts(_schedule, lambda s: s.backups_by_phase, ALL_BACKUP_PHASES),
            ad_hoc="counts per schedule; dashboards and alerts read the per-tier velero_tier_backups",
        ),
        gauge(
            "velero_schedule_last_backup_phase",
            "1 for the phase of the schedule's newest finished backup, 0 for the other finished phases: a new "
            "run starting does not clear a failure, only a newer finished backup does.",
            ("schedule", "tier", "phase"),
            state_set(
                lambda s: (s.name, s.tier),
                FINISHED_PHASES,
                lambda s: s.last_finished.phase if s.last_finished else None,
            ),
        ),
        gauge(
            "velero_schedule_last_success_timestamp_seconds",
            "Completion of the newest Completed backup of the schedule.",
            SCHEDULE,
            known(_schedule, lambda s: s.last_success),
        ),
        gauge(
            "velero_schedule_last_failure_timestamp_seconds",
            "Completion of the newest finished backup of the schedule that is not Completed.",
            SCHEDULE,
            known(_schedule, lambda s: s.last_failure),
        ),
    ),
)


def _newest(value: Callable[[Backup], float | None]) -> Callable[[ScheduleState], float | None]:
    return lambda s: value(s.last_finished) if s.last_finished is not None else None


def _duration(backup: Backup) -> float | None:
    if backup.started is None or backup.completed is None:
        return None
    return max(0.0, backup.completed - backup.started)


def _snapshots(attempted: bool) -> Callable[[ScheduleState], Iterator[Sample]]:
    def samples(schedule: ScheduleState) -> Iterator[Sample]:
        backup = schedule.last_finished
        if backup is None:
            return
        native = backup.volume_snapshots_attempted if attempted else backup.volume_snapshots_completed
        csi = backup.csi_snapshots_attempted if attempted else backup.csi_snapshots_completed
        yield (schedule.name, "native"), float(native)
        yield (schedule.name, "csi"), float(csi)

    return samples


LAST_BACKUPS: Subject[ScheduleState] = Subject(
    "The newest finished backup of each schedule",
    lambda exported: exported.model.schedules,
    (
        gauge(
            "velero_schedule_last_backup_start_timestamp_seconds",
            "Start of the schedule's newest finished backup.",
            SCHEDULE,
            known(_schedule, _newest(lambda b: b.started)),
        ),
        gauge(
            "velero_schedule_last_backup_duration_seconds",
            "Duration of the schedule's newest finished backup (completion - start).",
            SCHEDULE,
            known(_schedule, _newest(_duration)),
        ),
        gauge(
            "velero_schedule_last_backup_items_backed_up",
            "Items the schedule's newest finished backup backed up.",
            SCHEDULE,
            known(_schedule, _newest(lambda b: b.items_backed_up)),
        ),
        gauge(
            "velero_schedule_last_backup_items_expected",
            "Items the schedule's newest finished backup expected to back up (status.progress.totalItems).",
            SCHEDULE,
            known(_schedule, _newest(lambda b: b.items_total)),
        ),
        gauge(
            "velero_schedule_last_backup_errors",
            "Errors of the schedule's newest finished backup.",
            SCHEDULE,
            known(_schedule, _newest(lambda b: b.errors)),
        ),
        gauge(
            "velero_schedule_last_backup_warnings",
            "Warnings of the schedule's newest finished backup.",
            SCHEDULE,
            known(_schedule, _newest(lambda b: b.warnings)),
        ),
        gauge(
            "velero_schedule_last_backup_hooks_attempted",
            "Hooks the schedule's newest finished backup ran.",
            SCHEDULE,
            known(_schedule, _newest(lambda b: b.hooks_attempted)),
        ),
        gauge(
            "velero_schedule_last_backup_hooks_failed",
            "Hooks of the schedule's newest finished backup that failed.",
            SCHEDULE,
            known(_schedule, _newest(lambda b: b.hooks_failed)),
        ),
        gauge(
            "velero_schedule_last_backup_item_operations_attempted",
            "Asynchronous plugin operations the schedule's newest finished backup started (a data mover's "
            "uploads among them: with snapshotMoveData its CSI snapshot counts stay 0).",
            SCHEDULE,
            known(_schedule, _newest(lambda b: b.item_operations_attempted)),
        ),
        gauge(
            "velero_schedule_last_backup_item_operations_completed",
            "Asynchronous plugin operations of the schedule's newest finished backup that completed.",
            SCHEDULE,
            known(_schedule, _newest(lambda b: b.item_operations_completed)),
        ),
        gauge(
            "velero_schedule_last_backup_item_operations_failed",
            "Asynchronous plugin operations of the schedule's newest finished backup that failed (timed out included).",
            SCHEDULE,
            known(_schedule, _newest(lambda b: b.item_operations_failed)),
            ad_hoc="which part of the incomplete operations failed rather than never finished",
        ),
        gauge(
            "velero_schedule_last_backup_volume_snapshots_attempted",
            "Volume snapshots the schedule's newest finished backup attempted (method native or csi).",
            ("schedule", "method"),
            _snapshots(attempted=True),
        ),
        gauge(
            "velero_schedule_last_backup_volume_snapshots_completed",
            "Volume snapshots the schedule's newest finished backup completed (method native or csi).",
            ("schedule", "method"),
            _snapshots(attempted=False),
        ),
    ),
)
