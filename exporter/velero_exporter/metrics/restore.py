"""Families of the restores, by the tier (and schedule) of the backup they restore: results and RTO evidence.

`schedule` is "" for restores of ad-hoc backups.
"""

from __future__ import annotations

from velero_exporter.metrics.family import Labels, Subject, gauge, known, state_set
from velero_exporter.model.velero import RestoreGroup
from velero_exporter.state.vocabulary import FINISHED_PHASES

RESTORE_COUNTS: Subject[tuple[tuple[str, str], int]] = Subject(
    "Restores",
    lambda exported: sorted(exported.model.restores_by_tier_phase.items()),
    (
        gauge(
            "velero_restores",
            "Restore objects by phase, by the tier of the backup they restore.",
            ("tier", "phase"),
            known(lambda item: item[0], lambda item: item[1]),
        ),
    ),
)


def _group(group: RestoreGroup) -> Labels:
    return (group.tier, group.schedule)


def _duration(group: RestoreGroup) -> float | None:
    restore = group.last_finished
    if restore is None or restore.started is None or restore.completed is None:
        return None
    return max(0.0, restore.completed - restore.started)


TIER_SCHEDULE = ("tier", "schedule")

RESTORE_GROUPS: Subject[RestoreGroup] = Subject(
    "The newest finished restore of each source tier and schedule",
    lambda exported: exported.model.restore_groups,
    (
        gauge(
            "velero_restore_last_phase",
            "1 for the phase of the newest finished restore from the tier's and schedule's backups.",
            ("tier", "schedule", "phase"),
            state_set(_group, FINISHED_PHASES, lambda g: g.last_finished.phase if g.last_finished else None),
        ),
        gauge(
            "velero_restore_last_completion_timestamp_seconds",
            "Completion time of the newest finished restore.",
            TIER_SCHEDULE,
            known(_group, lambda g: g.last_finished.completed if g.last_finished else None),
        ),
        gauge(
            "velero_restore_last_duration_seconds",
            "Duration of the newest finished restore: RTO evidence.",
            TIER_SCHEDULE,
            known(_group, _duration),
        ),
        gauge(
            "velero_restore_last_failure_timestamp_seconds",
            "Completion of the newest Failed or PartiallyFailed restore.",
            TIER_SCHEDULE,
            known(_group, lambda g: g.last_failure),
        ),
    ),
)
