"""Families of the backups in flight and of those being deleted: the only series per Backup object, and only while
it has not finished, or while Velero deletes it."""

from __future__ import annotations

from velero_exporter.metrics.family import Subject, gauge, known
from velero_exporter.model.velero import DeletingBackup, UnfinishedBackup

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

DELETING: Subject[DeletingBackup] = Subject(
    "Backups being deleted",
    lambda exported: exported.model.deleting,
    (
        gauge(
            "velero_backup_deleting_since_timestamp_seconds",
            "For each backup in phase Deleting: when Velero marked it so (the newest time of its "
            "metadata.managedFields; absent without them). A failed deletion leaves the backup Deleting.",
            ("backup", "schedule", "tier"),
            known(lambda b: (b.name, b.schedule, b.tier), lambda b: b.since),
        ),
    ),
)
