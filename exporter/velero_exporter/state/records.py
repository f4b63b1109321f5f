"""Slim, immutable records of Velero's objects: only the fields the model reads.

Timestamps are POSIX seconds (float) or None when Velero has not set them; phases are Velero's own strings.
"""

from __future__ import annotations

from dataclasses import dataclass

# Velero's Backup phases (pkg/apis/velero/v1/backup_types.go); an object without a phase is New.
BACKUP_PHASES: tuple[str, ...] = (
    "New",
    "Queued",
    "ReadyToStart",
    "FailedValidation",
    "InProgress",
    "WaitingForPluginOperations",
    "WaitingForPluginOperationsPartiallyFailed",
    "Finalizing",
    "FinalizingPartiallyFailed",
    "Completed",
    "PartiallyFailed",
    "Failed",
    "Deleting",
)
# A phase this exporter does not know (a newer Velero): the object is kept and counted under this phase.
UNKNOWN_PHASE = "Unknown"

FINISHED_BACKUP_PHASES: frozenset[str] = frozenset({"Completed", "PartiallyFailed", "Failed", "FailedValidation"})
QUEUED_BACKUP_PHASES: frozenset[str] = frozenset({"New", "Queued", "ReadyToStart"})
UNFINISHED_BACKUP_PHASES: frozenset[str] = frozenset(
    {
        *QUEUED_BACKUP_PHASES,
        "InProgress",
        "WaitingForPluginOperations",
        "WaitingForPluginOperationsPartiallyFailed",
        "Finalizing",
        "FinalizingPartiallyFailed",
    }
)

RESTORE_PHASES: tuple[str, ...] = (
    "New",
    "FailedValidation",
    "InProgress",
    "WaitingForPluginOperations",
    "WaitingForPluginOperationsPartiallyFailed",
    "Finalizing",
    "FinalizingPartiallyFailed",
    "Completed",
    "PartiallyFailed",
    "Failed",
)
FINISHED_RESTORE_PHASES: frozenset[str] = frozenset({"Completed", "PartiallyFailed", "Failed", "FailedValidation"})

SCHEDULE_PHASES: tuple[str, ...] = ("New", "Enabled", "FailedValidation")
LOCATION_PHASES: tuple[str, ...] = ("Available", "Unavailable")

# Labels Velero puts on the Backups a Schedule creates, and on Restores.
SCHEDULE_NAME_LABEL = "velero.io/schedule-name"


@dataclass(slots=True, frozen=True)
class Backup:
    name: str
    phase: str
    labels: tuple[tuple[str, str], ...]
    created: float | None
    started: float | None
    completed: float | None
    expiration: float | None
    ttl_seconds: float | None
    storage_location: str
    items_backed_up: int | None
    items_total: int | None
    errors: int
    warnings: int
    hooks_attempted: int
    hooks_failed: int
    volume_snapshots_attempted: int
    volume_snapshots_completed: int
    csi_snapshots_attempted: int
    csi_snapshots_completed: int

    def label(self, key: str) -> str | None:
        for k, v in self.labels:
            if k == key:
                return v
        return None

    @property
    def schedule(self) -> str | None:
        return self.label(SCHEDULE_NAME_LABEL) or None


@dataclass(slots=True, frozen=True)
class Restore:
    name: str
    phase: str
    backup_name: str
    schedule_name: str
    created: float | None
    started: float | None
    completed: float | None
    errors: int
    warnings: int


@dataclass(slots=True, frozen=True)
class Schedule:
    name: str
    phase: str
    cron: str
    paused: bool
    created: float | None
    last_backup: float | None
    last_skipped: float | None
    template_labels: tuple[tuple[str, str], ...]
    ttl_seconds: float | None
    storage_location: str

    def template_label(self, key: str) -> str | None:
        for k, v in self.template_labels:
            if k == key:
                return v
        return None


@dataclass(slots=True, frozen=True)
class StorageLocation:
    """A BackupStorageLocation (where backups live)."""

    name: str
    phase: str | None
    provider: str
    bucket: str
    prefix: str
    region: str
    s3_url: str
    default: bool
    access_mode: str
    last_validated: float | None
    last_synced: float | None


@dataclass(slots=True, frozen=True)
class SnapshotLocation:
    """A VolumeSnapshotLocation (where volume snapshots are taken)."""

    name: str
    provider: str
    region: str
