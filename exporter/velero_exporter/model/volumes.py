"""The volume data model: pure functions joining the volume data operations and the backup repositories with the
schedules' newest and previous finished backups and the bucket sizes already measured.

- A PodVolumeBackup or DataUpload belongs to the backup its velero.io/backup-name label names, as Velero writes
  it (velero/labels.py: a name past 63 characters is hashed), so the join holds for long names too.
- A finished backup's volumes by method: fs-backup (its PodVolumeBackups by phase), data-mover (its DataUploads
  by phase), snapshot and csi-snapshot (the Backup's own volumeSnapshots / csiVolumeSnapshots counts: the
  completed ones Completed, the rest Failed). With snapshotMoveData Velero leaves the CSI counts at 0
  (pkg/backup/snapshots.go), so no volume counts under two methods.
- Bytes: the sum of status.progress.bytesDone of a method's operations.
- Size: the backup's folder in its location's bucket, from the buckets source's last listing (list mode), when
  that listing came after the backup finished (an earlier one may have caught the upload half done).

Series stay bounded: per schedule (its newest and previous finished backups), per unfinished operation, per
repository, and per kind and phase.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from velero_exporter.model.velero import Model, Plausibility, ScheduleState, believed, finish_time
from velero_exporter.state.aws_records import BucketUsage
from velero_exporter.state.progress import last_progress
from velero_exporter.state.records import Backup, Repository, VolumeOperation
from velero_exporter.state.store import StoreView
from velero_exporter.state.vocabulary import (
    ALL_VOLUME_OPERATION_PHASES,
    FINISHED_VOLUME_OPERATION_PHASES,
    MOVED_METHODS,
)
from velero_exporter.velero.labels import label_value

# The phases each method's volumes are counted by: an operation's eight (and Unknown), or a snapshot's outcome.
METHOD_PHASES: Mapping[str, tuple[str, ...]] = {
    **dict.fromkeys(MOVED_METHODS, ALL_VOLUME_OPERATION_PHASES),
    "snapshot": ("Completed", "Failed"),
    "csi-snapshot": ("Completed", "Failed"),
}
# The operation kinds, the resource each is listed from and, for a backup's, the method it serves.
KIND_RESOURCES: Mapping[str, str] = {
    "PodVolumeBackup": "podvolumebackups",
    "PodVolumeRestore": "podvolumerestores",
    "DataUpload": "datauploads",
    "DataDownload": "datadownloads",
}
KIND_METHODS: Mapping[str, str] = {"PodVolumeBackup": "fs-backup", "DataUpload": "data-mover"}


@dataclass(slots=True, frozen=True)
class BackupVolumes:
    """What one finished backup holds of its volumes."""

    backup: Backup
    volumes: Mapping[str, Mapping[str, int]]  # method -> phase -> volumes (every phase of METHOD_PHASES)
    bytes: Mapping[str, int]  # moved method -> bytes done
    size: int | None  # its folder in the bucket; None until measured after it finished

    def count(self, method: str) -> int:
        return sum(self.volumes[method].values())


@dataclass(slots=True, frozen=True)
class ScheduleVolumes:
    schedule: str
    tier: str
    last: BackupVolumes | None
    previous: BackupVolumes | None


@dataclass(slots=True, frozen=True)
class OperationCounts:
    kind: str
    resource: str  # the Kubernetes resource it is listed from (its health says whether it is served)
    by_phase: Mapping[str, int]


@dataclass(slots=True, frozen=True)
class OperationInFlight:
    kind: str
    name: str
    backup: str  # the backup whose data it moves: its label's value; for a restore's, the restored backup
    phase: str
    last_progress: float
    bytes_done: int | None
    total_bytes: int | None


@dataclass(slots=True, frozen=True)
class VolumeModel:
    schedules: tuple[ScheduleVolumes, ...] = ()
    operations: tuple[OperationCounts, ...] = ()
    in_flight: tuple[OperationInFlight, ...] = ()
    repositories: tuple[Repository, ...] = ()
    # Objects with an implausible timestamp (dropped as unknown, the object kept), by resource.
    implausible: Mapping[str, int] = field(default_factory=dict)
    # As the Velero model's: it holds until the next future timestamp comes within the clock-skew allowance.
    valid_until: float = math.inf


# A render without volume data (tests and tools that build the other models only).
NO_VOLUMES = VolumeModel()


@dataclass(slots=True)
class _Tally:
    """One backup's operations, as they are found."""

    volumes: dict[str, dict[str, int]] = field(
        default_factory=lambda: {method: dict.fromkeys(METHOD_PHASES[method], 0) for method in MOVED_METHODS}
    )
    bytes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(MOVED_METHODS, 0))

    def add(self, method: str, operation: VolumeOperation) -> None:
        by_phase = self.volumes[method]
        by_phase[operation.phase] = by_phase.get(operation.phase, 0) + 1
        self.bytes[method] += operation.bytes_done or 0


# The timestamps of each kind that the exporter shows (an implausible one is dropped, the object stays). An
# operation's `moved` is the exporter's own clock's.
_OPERATION_TIMES = ("created", "accepted", "started", "completed")
_REPOSITORY_TIMES = ("created", "last_maintenance")


def build_volume_model(view: StoreView, model: Model, times: Plausibility) -> VolumeModel:
    wanted = {
        label_value(backup.name): backup.name
        for schedule in model.schedules
        for backup in (schedule.last_finished, schedule.previous_finished)
        if backup is not None
    }
    tallies = {name: _Tally() for name in wanted.values()}
    in_flight: list[OperationInFlight] = []
    operations: list[OperationCounts] = []
    implausible: Counter[str] = Counter()
    pending = [math.inf]
    for kind, records in _by_kind(view):
        collection, later = believed(records, _OPERATION_TIMES, times, implausible, KIND_RESOURCES[kind])
        pending.append(later)
        by_phase = dict.fromkeys(ALL_VOLUME_OPERATION_PHASES, 0)
        method = KIND_METHODS.get(kind)
        for operation in collection.values():
            by_phase[operation.phase] = by_phase.get(operation.phase, 0) + 1
            if method is not None and (owner := wanted.get(operation.owner)) is not None:
                tallies[owner].add(method, operation)
            if operation.phase not in FINISHED_VOLUME_OPERATION_PHASES:
                flight = _in_flight(operation, view)
                if flight is not None:
                    in_flight.append(flight)
        operations.append(OperationCounts(kind, KIND_RESOURCES[kind], by_phase))
    repositories, later = believed(
        view.backup_repositories, _REPOSITORY_TIMES, times, implausible, "backuprepositories"
    )
    listed = _listed_locations(view.buckets.values())
    return VolumeModel(
        schedules=tuple(_schedule(s, tallies, listed) for s in model.schedules if s.last_finished is not None),
        operations=tuple(operations),
        in_flight=tuple(sorted(in_flight, key=lambda o: (o.kind, o.name))),
        repositories=tuple(repositories[name] for name in sorted(repositories)),
        implausible=dict(implausible),
        valid_until=min(*pending, later),
    )


def _by_kind(view: StoreView) -> tuple[tuple[str, Mapping[str, VolumeOperation]], ...]:
    return (
        ("PodVolumeBackup", view.pod_volume_backups),
        ("PodVolumeRestore", view.pod_volume_restores),
        ("DataUpload", view.data_uploads),
        ("DataDownload", view.data_downloads),
    )


def _in_flight(operation: VolumeOperation, view: StoreView) -> OperationInFlight | None:
    since = last_progress(operation)
    if since is None:
        return None
    backup = operation.owner
    if operation.kind not in KIND_METHODS:  # a restore's: the owner label names the restore
        restore = view.restores.get(operation.owner)
        backup = restore.backup_name if restore is not None else ""
    return OperationInFlight(
        operation.kind, operation.name, backup, operation.phase, since, operation.bytes_done, operation.total_bytes
    )


def _listed_locations(buckets: Iterable[BucketUsage]) -> Mapping[str, BucketUsage]:
    """The locations' own buckets whose folders were listed, by location (extra buckets are no location's)."""
    return {u.target.location: u for u in buckets if u.target.discovered and u.folders_listed is not None}


def _folder_size(backup: Backup, listed: Mapping[str, BucketUsage]) -> int | None:
    """The backup's folder in its location's bucket, when listed after the backup finished."""
    usage = listed.get(backup.storage_location)
    folder = usage.folders.get(backup.name) if usage is not None else None
    if usage is None or folder is None or not folder.present:
        return None
    return folder.bytes if (usage.folders_listed or 0.0) >= finish_time(backup) else None


def _schedule(
    schedule: ScheduleState, tallies: Mapping[str, _Tally], listed: Mapping[str, BucketUsage]
) -> ScheduleVolumes:
    def volumes(backup: Backup | None) -> BackupVolumes | None:
        if backup is None:
            return None
        tally = tallies[backup.name]
        snapshots = {
            "snapshot": _snapshot_outcome(backup.volume_snapshots_attempted, backup.volume_snapshots_completed),
            "csi-snapshot": _snapshot_outcome(backup.csi_snapshots_attempted, backup.csi_snapshots_completed),
        }
        return BackupVolumes(backup, {**tally.volumes, **snapshots}, dict(tally.bytes), _folder_size(backup, listed))

    return ScheduleVolumes(
        schedule.name, schedule.tier, volumes(schedule.last_finished), volumes(schedule.previous_finished)
    )


def _snapshot_outcome(attempted: int, completed: int) -> dict[str, int]:
    return {"Completed": completed, "Failed": max(0, attempted - completed)}
