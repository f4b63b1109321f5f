"""Slim, immutable records of Velero's objects: only the fields the model reads.

Timestamps are POSIX seconds (float) or None when Velero has not set them; phases are Velero's own strings.
"""

from __future__ import annotations

from dataclasses import dataclass

from velero_exporter.state.vocabulary import SCHEDULE_NAME_LABEL, Validation


def label_value(labels: tuple[tuple[str, str], ...], key: str) -> str | None:
    for k, v in labels:
        if k == key:
            return v
    return None


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
    # None where status.hookStatus is absent (Velero before 1.13, or a backup that never ran)
    hooks_attempted: int | None
    hooks_failed: int | None
    volume_snapshots_attempted: int
    volume_snapshots_completed: int
    csi_snapshots_attempted: int
    csi_snapshots_completed: int
    # Asynchronous plugin operations (a data mover's DataUploads among them: with snapshotMoveData the CSI
    # snapshot counts stay 0 and the progress is here).
    item_operations_attempted: int
    item_operations_completed: int
    item_operations_failed: int
    # spec.itemOperationTimeout: how long each operation may run, from its own start; None when unset
    item_operation_timeout: float | None
    # The newest time in metadata.managedFields: when a writer last changed the object (for a backup in
    # Deleting, when Velero marked it so); None without managedFields.
    last_changed: float | None

    def label(self, key: str) -> str | None:
        return label_value(self.labels, key)

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
    labels: tuple[tuple[str, str], ...] = ()
    validation: Validation | None = None  # from VALIDATION_ANNOTATION; None: not validated (yet)

    def label(self, key: str) -> str | None:
        return label_value(self.labels, key)


@dataclass(slots=True, frozen=True)
class Schedule:
    name: str
    phase: str
    cron: str
    paused: bool
    created: float | None
    last_backup: float | None
    last_skipped: float | None
    # The labels Velero puts on the backups it creates from the schedule: the template's when it has labels,
    # else the Schedule's own (FromSchedule in pkg/builder/backup_builder.go).
    backup_labels: tuple[tuple[str, str], ...]
    ttl_seconds: float | None
    storage_location: str
    # The template's fields that decide what its backups carry (namespaces, resources, selectors, volume
    # settings, resource policy, snapshot locations) as canonical JSON: the coverage model reads them with
    # Velero's grammar (velero/selection.py), which also judges what is malformed.
    selection: str = "{}"

    def backup_label(self, key: str) -> str | None:
        return label_value(self.backup_labels, key)


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
    # spec.validationFrequency; None when unset (Velero then uses its server's --store-validation-frequency)
    validation_frequency: float | None = None


@dataclass(slots=True, frozen=True)
class SnapshotLocation:
    """A VolumeSnapshotLocation (where volume snapshots are taken)."""

    name: str
    provider: str
    region: str


@dataclass(slots=True, frozen=True)
class VolumeOperation:
    """A PodVolumeBackup, PodVolumeRestore, DataUpload or DataDownload: one volume's data on its way.

    `owner` is the value of the label that joins it to its run (velero.io/backup-name for the backups' kinds,
    velero.io/restore-name for the restores'). `moved` is not Velero's: it is when this exporter first saw the
    current phase and bytesDone (None when nothing had moved at first sight); see state/progress.py.
    """

    kind: str
    name: str
    phase: str
    owner: str
    created: float | None
    accepted: float | None
    started: float | None
    completed: float | None
    bytes_done: int | None
    total_bytes: int | None
    moved: float | None = None


@dataclass(slots=True, frozen=True)
class Repository:
    """A BackupRepository: the kopia (or restic) repository of one namespace's volumes in one location."""

    name: str
    phase: str
    repository_type: str
    location: str
    volume_namespace: str
    created: float | None
    maintenance_frequency: float | None
    last_maintenance: float | None
    # The result of the newest entry of status.recentMaintenance (Velero 1.16+); None before.
    last_maintenance_result: str | None
