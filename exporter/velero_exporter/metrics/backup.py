"""Families of the backups in flight: the only series per Backup object, and only while it has not finished."""

from __future__ import annotations

from velero_exporter.metrics.family import Subject, gauge, known
from velero_exporter.model.velero import UnfinishedBackup

UNFINISHED: Subject[UnfinishedBackup] = Subject(
    "Backups in flight",
    lambda exported: exported.model.unfinished,
    (
        gauge(
            "velero_backup_unfinished_since_timestamp_seconds",
            "For each backup that has not finished: its start, or its creation while it has not started (New, "
            "Queued, ReadyToStart).",
            ("backup", "schedule", "tier", "phase"),
            known(lambda b: (b.name, b.schedule, b.tier, b.phase), lambda b: b.since),
        ),
        gauge(
            "velero_backup_item_operation_timeout_seconds",
            "For each backup that has not finished: how long each of its asynchronous plugin operations may run "
            "before Velero fails it (spec.itemOperationTimeout, 4h when unset), counted from the operation's start.",
            ("backup",),
            known(lambda b: (b.name,), lambda b: b.item_operation_timeout),
        ),
    ),
)
