"""Families of a tier: its objectives, its recovery points, its backups by phase and its retention evidence.

`tier` is a configured tier name, or `unassigned` for the backups that neither a tier's schedule nor their own
tier label places (they are counted; they have no objectives).
"""

from __future__ import annotations

from velero_exporter.metrics.family import Labels, Subject, counts, gauge, known, state_set
from velero_exporter.model.velero import TierState
from velero_exporter.state.vocabulary import ALL_BACKUP_PHASES, DRILL_RESULTS, FINISHED_PHASES, VALIDATION_ANNOTATION


def _tier(tier: TierState) -> Labels:
    return (tier.name,)


TIER = ("tier",)

TIERS: Subject[TierState] = Subject(
    "Tiers",
    lambda exported: exported.model.tiers,
    (
        gauge(
            "velero_tier_rpo_seconds",
            "The tier's recovery point objective, from config.",
            TIER,
            known(_tier, lambda t: t.objectives.rpo_seconds if t.objectives else None),
        ),
        gauge(
            "velero_tier_rto_seconds",
            "The tier's recovery time objective, from config.",
            TIER,
            known(_tier, lambda t: t.objectives.rto_seconds if t.objectives else None),
        ),
        gauge(
            "velero_tier_retention_seconds",
            "The tier's promised retention, from config.",
            TIER,
            known(_tier, lambda t: t.objectives.retention_seconds if t.objectives else None),
        ),
        gauge(
            "velero_tier_partially_failed_accepted",
            "1 when the tier counts PartiallyFailed backups as recovery points.",
            TIER,
            known(_tier, lambda t: float(t.objectives.accept_partially_failed) if t.objectives else None),
        ),
        gauge(
            "velero_tier_last_success_timestamp_seconds",
            "Completion time of the newest successful backup of the tier (Completed, and PartiallyFailed where "
            "the tier accepts it).",
            TIER,
            known(_tier, lambda t: t.last_success),
        ),
        gauge(
            "velero_tier_recovery_point_timestamp_seconds",
            "Start time of the newest successful backup of the tier: the newest point one can restore to; the "
            "RPO is measured from it.",
            TIER,
            known(_tier, lambda t: t.recovery_point),
        ),
        gauge(
            "velero_tier_recovery_point_expiration_timestamp_seconds",
            "When Velero deletes the tier's newest recovery point (its status.expiration): while every later "
            "backup fails, Velero still deletes it at its TTL.",
            TIER,
            known(_tier, lambda t: t.recovery_point_expiration),
        ),
        gauge(
            "velero_tier_oldest_recovery_point_timestamp_seconds",
            "Start time of the oldest successful backup of the tier still held: retention evidence.",
            TIER,
            known(_tier, lambda t: t.oldest_recovery_point),
        ),
        gauge(
            "velero_tier_backups",
            "Backup objects of the tier by phase (every Velero phase, and Unknown).",
            ("tier", "phase"),
            counts(_tier, lambda t: t.backups_by_phase, ALL_BACKUP_PHASES),
        ),
        gauge(
            "velero_tier_backups_ttl_below_retention",
            "Completed backups of the tier whose TTL is shorter than the tier's retention.",
            TIER,
            known(_tier, lambda t: t.ttl_below_retention if t.objectives else None),
        ),
        gauge(
            "velero_tier_backups_past_expiration",
            "Backups still present longer than the GC grace after their expiration: Velero failed to delete them.",
            TIER,
            known(_tier, lambda t: t.past_expiration),
        ),
        gauge(
            "velero_tier_last_adhoc_backup_phase",
            "1 for the phase of the tier's newest finished ad-hoc (not scheduled) backup, 0 for the other "
            "finished phases.",
            ("tier", "phase"),
            state_set(_tier, FINISHED_PHASES, lambda t: t.last_adhoc_phase),
        ),
        gauge(
            "velero_tier_last_restore_success_timestamp_seconds",
            "Completion time of the newest Completed restore from a backup of the tier.",
            TIER,
            known(_tier, lambda t: t.last_restore_success),
        ),
        gauge(
            "velero_tier_last_verified_restore_timestamp_seconds",
            "Completion time of the tier's newest restore drill that Completed and passed validation (a Restore "
            f'labelled as a drill by the config\'s drill_label, annotated {VALIDATION_ANNOTATION}: "passed").',
            TIER,
            known(_tier, lambda t: t.last_verified_restore),
        ),
        gauge(
            "velero_tier_last_drill_result",
            "1 for the result of the tier's newest finished restore drill: passed, failed (its validation failed "
            "or the restore did not complete) or unvalidated (Completed, not annotated yet); all 0 without one.",
            ("tier", "result"),
            state_set(_tier, DRILL_RESULTS, lambda t: t.last_drill_result),
        ),
        gauge(
            "velero_tier_drill_validation_required",
            "1 when only restore drills that passed validation count as the tier's restore test "
            "(require_validation, from config).",
            TIER,
            known(_tier, lambda t: float(t.objectives.require_validation) if t.objectives else None),
        ),
    ),
)
