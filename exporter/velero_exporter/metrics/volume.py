"""Families of the volume data: what each schedule's newest finished backup holds of its volumes beside the
finished backup before it, and the volume data operations (PodVolumeBackups/Restores, DataUploads/Downloads).

Bounded: per schedule and method, per kind and phase, and one series per operation only while it is unfinished.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from velero_exporter.metrics.family import Exported, Labels, Sample, Samples, Subject, gauge, known
from velero_exporter.model.volumes import (
    METHOD_PHASES,
    BackupVolumes,
    OperationCounts,
    OperationInFlight,
    ScheduleVolumes,
)
from velero_exporter.state.vocabulary import ALL_VOLUME_OPERATION_PHASES, MOVED_METHODS, VOLUME_METHODS

SCHEDULE_TIER = ("schedule", "tier")
METHOD = (*SCHEDULE_TIER, "method")

Which = Callable[[ScheduleVolumes], BackupVolumes | None]


def _last(schedule: ScheduleVolumes) -> BackupVolumes | None:
    return schedule.last


def _previous(schedule: ScheduleVolumes) -> BackupVolumes | None:
    return schedule.previous


def _head(schedule: ScheduleVolumes) -> Labels:
    return (schedule.schedule, schedule.tier)


def _volumes_by_phase(schedule: ScheduleVolumes) -> Iterator[Sample]:
    backup = schedule.last
    if backup is None:
        return
    for method in VOLUME_METHODS:
        for phase in METHOD_PHASES[method]:
            yield (*_head(schedule), method, phase), float(backup.volumes[method].get(phase, 0))


def _volumes(which: Which) -> Samples[ScheduleVolumes]:
    def samples(schedule: ScheduleVolumes) -> Iterator[Sample]:
        backup = which(schedule)
        if backup is not None:
            for method in VOLUME_METHODS:
                yield (*_head(schedule), method), float(backup.count(method))

    return samples


def _bytes(which: Which) -> Samples[ScheduleVolumes]:
    def samples(schedule: ScheduleVolumes) -> Iterator[Sample]:
        backup = which(schedule)
        if backup is not None:
            for method in MOVED_METHODS:
                yield (*_head(schedule), method), float(backup.bytes[method])

    return samples


def _size(which: Which) -> Samples[ScheduleVolumes]:
    return known(_head, lambda s: backup.size if (backup := which(s)) is not None else None)


SCHEDULE_VOLUMES: Subject[ScheduleVolumes] = Subject(
    "Volume data of each schedule's newest and previous finished backups",
    lambda exported: exported.volumes.schedules,
    (
        gauge(
            "velero_schedule_last_backup_volumes",
            "Volumes of the schedule's newest finished backup by method and phase: fs-backup (its "
            "PodVolumeBackups) and data-mover (its DataUploads) by the operations' phases, snapshot and "
            "csi-snapshot (the Backup's volume snapshot counts) Completed or Failed.",
            (*METHOD, "phase"),
            _volumes_by_phase,
        ),
        gauge(
            "velero_schedule_previous_backup_volumes",
            "Volumes of the finished backup before the schedule's newest, by method (all phases).",
            METHOD,
            _volumes(_previous),
        ),
        gauge(
            "velero_schedule_last_backup_volume_bytes",
            "Bytes of the schedule's newest finished backup's volume data by method (fs-backup, data-mover): the "
            "sum of its operations' status.progress.bytesDone.",
            METHOD,
            _bytes(_last),
        ),
        gauge(
            "velero_schedule_previous_backup_volume_bytes",
            "Bytes of the volume data of the finished backup before the schedule's newest, by method.",
            METHOD,
            _bytes(_previous),
        ),
        gauge(
            "velero_schedule_last_backup_size_bytes",
            "Bytes of the schedule's newest finished backup's folder in its location's bucket (the buckets "
            "source's list mode); absent until a listing after the backup finished.",
            SCHEDULE_TIER,
            _size(_last),
        ),
        gauge(
            "velero_schedule_previous_backup_size_bytes",
            "Bytes of the folder of the finished backup before the schedule's newest.",
            SCHEDULE_TIER,
            _size(_previous),
        ),
    ),
    notes="A schedule without a finished backup has none of these series. `method` is how a volume was saved: "
    "`fs-backup` (file-system backup: PodVolumeBackups, kopia or restic), `data-mover` (CSI snapshot data "
    "movement: DataUploads), `snapshot` (native volume snapshots), `csi-snapshot` (CSI snapshots kept as such). "
    "Operations join their backup by the `velero.io/backup-name` label. The bytes need PodVolumeBackups and "
    "DataUploads to be readable (the Role) and served (Velero 1.12+ for DataUploads); the sizes need the "
    "buckets source in list mode.",
)


def _served_kinds(exported: Exported) -> list[OperationCounts]:
    """The kinds the exporter has listed: a kind not served (older Velero) or forbidden counts nothing."""
    health = exported.health.resources
    return [c for c in exported.volumes.operations if c.resource in health and health[c.resource].synced]


def _by_phase(counts: OperationCounts) -> Iterator[Sample]:
    extra = sorted(counts.by_phase.keys() - set(ALL_VOLUME_OPERATION_PHASES))
    for phase in (*ALL_VOLUME_OPERATION_PHASES, *extra):
        yield (counts.kind, phase), float(counts.by_phase.get(phase, 0))


VOLUME_OPERATIONS: Subject[OperationCounts] = Subject(
    "Volume data operations",
    _served_kinds,
    (
        gauge(
            "velero_volume_operations",
            "PodVolumeBackups, PodVolumeRestores, DataUploads and DataDownloads held, by kind and phase (every "
            "phase initialised for each kind the exporter could list).",
            ("kind", "phase"),
            _by_phase,
        ),
    ),
    notes="`kind` is the Kubernetes kind. A kind the API does not serve (DataUploads before Velero 1.12) or "
    "forbids has no series here; velero_exporter_resource_served and velero_exporter_resource_forbidden say so.",
)


def _operation(operation: OperationInFlight) -> Labels:
    return (operation.kind, operation.name, operation.backup)


OPERATIONS_IN_FLIGHT: Subject[OperationInFlight] = Subject(
    "Volume data operations in flight",
    lambda exported: exported.volumes.in_flight,
    (
        gauge(
            "velero_volume_operation_progress_timestamp_seconds",
            "For each unfinished volume data operation: when it last moved, the newest of its creation, "
            "acceptance, start and the exporter's first sight of its current phase and bytesDone (reset to the "
            "first sight when the exporter restarts, for an operation that has moved bytes).",
            ("kind", "operation", "backup"),
            known(_operation, lambda o: o.last_progress),
        ),
    ),
    notes="The only series per operation, and only while it is unfinished. `backup` is the velero.io/backup-name "
    "label's value (the backup's name, hashed past 63 characters as Velero does); for a PodVolumeRestore or "
    'DataDownload it is the restored backup (from its Restore), "" when the Restore is gone.',
)
