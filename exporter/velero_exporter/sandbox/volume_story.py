"""The volume data of the DR plan's cluster (plan.py): how its schedules save their volumes, what its restores move
back, and its kopia repositories, all healthy. The trouble is sandbox/scenarios/volumes.py's.

- hourly-hot backs up kailash-app's volumes with file-system backup (the seed's "uses Restic"; kopia today): one
  PodVolumeBackup per pod volume.
- daily-critical moves its CSI snapshots to the bucket with the data mover: one DataUpload per PVC.
- weekly-full backs up the hostPath and NFS volumes that no snapshot can take with file-system backup.
- The restores move data back: file-system restores (PodVolumeRestores) or data mover downloads (DataDownloads).
- One kopia repository per namespace whose volumes are backed up, maintained every hour.
"""

from __future__ import annotations

from dataclasses import dataclass

from velero_exporter.sandbox import objects
from velero_exporter.sources.parsing import parse_timestamp
from velero_exporter.state.vocabulary import SCHEDULE_NAME_LABEL

MIB = 1024 * 1024
GIB = 1024 * MIB
MINUTE = 60.0
HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class Volume:
    namespace: str
    pod: str
    volume: str  # the pod's volume name (file-system backup) or its PVC (data mover)
    bytes: int


FS_BACKUP = "fs-backup"
DATA_MOVER = "data-mover"
# How each schedule saves its volumes: the method and the volumes.
VOLUMES: dict[str, tuple[str, tuple[Volume, ...]]] = {
    "hourly-hot": (
        FS_BACKUP,
        (
            Volume("kailash-app", "postgres-0", "pgdata", 6 * GIB),
            Volume("kailash-app", "uploads-7c9f4", "uploads", 1536 * MIB),
            Volume("kailash-app", "redis-0", "redis-data", 256 * MIB),
        ),
    ),
    "daily-critical": (
        DATA_MOVER,
        (
            Volume("kailash-app", "postgres-0", "pgdata-postgres-0", 6 * GIB),
            Volume("vault", "vault-0", "data-vault-0", 512 * MIB),
            Volume("monitoring", "prometheus-0", "prometheus-db-prometheus-0", 12 * GIB),
        ),
    ),
    "weekly-full": (
        FS_BACKUP,
        (
            Volume("logging", "fluentd-2xk8p", "buffer", 768 * MIB),
            Volume("kailash-app", "reports-0", "nfs-reports", 2 * GIB),
        ),
    ),
}


def operation_name(backup: str, volume: Volume) -> str:
    """Velero names an operation <backup or restore>-<5 random characters> (GenerateName); stable here."""
    return f"{backup}-{objects.snapshot_id(volume.namespace, volume.pod, volume.volume)[:5]}"


def operations(
    backup: str,
    schedule: str,
    started: float,
    completed: float | None,
    *,
    volumes: tuple[Volume, ...] | None = None,
    failed: Volume | None = None,
    method: str | None = None,
) -> list[objects.Obj]:
    """The operations of one run of the schedule (its volumes and method in VOLUMES, or those given): Completed
    once the run has completed, else InProgress halfway; `failed` failed a third of the way."""
    planned_method, planned = VOLUMES.get(schedule, ("", ()))
    method = method or planned_method
    out = []
    for index, volume in enumerate(planned if volumes is None else volumes):
        if volume == failed:
            phase, done, end, message = "Failed", volume.bytes // 3, completed, "data path failed: upload refused"
        elif completed is None:
            phase, done, end, message = "InProgress", volume.bytes // 2, None, None
        else:
            phase, done, end, message = "Completed", volume.bytes, completed - 5, None
        progress = objects.Progress(
            phase,
            created=started + index,
            accepted=started + 2 + index,
            started=started + 10 + 5 * index,
            completed=end,
            bytes_done=done,
            total_bytes=volume.bytes,
            message=message,
        )
        name = operation_name(backup, volume)
        if method == FS_BACKUP:
            out.append(
                objects.pod_volume_backup(
                    name,
                    backup=backup,
                    pod=volume.pod,
                    pod_namespace=volume.namespace,
                    volume=volume.volume,
                    progress=progress,
                )
            )
        else:
            out.append(
                objects.data_upload(
                    name, backup=backup, pvc=volume.volume, pvc_namespace=volume.namespace, progress=progress
                )
            )
    return out


def _time(obj: objects.Obj, field: str) -> float | None:
    return parse_timestamp(obj.get("status", {}).get(field))


def schedule_of(backup: objects.Obj) -> str:
    return str(backup["metadata"].get("labels", {}).get(SCHEDULE_NAME_LABEL, ""))


def backup_operations(backup: objects.Obj, *, failed: Volume | None = None) -> list[objects.Obj]:
    """The operations of a finished run of a schedule that saves volumes (none for another backup): Completed,
    except `failed`."""
    started, completed = _time(backup, "startTimestamp"), _time(backup, "completionTimestamp")
    if started is None or completed is None:
        return []  # a run still going has not reached its volumes yet
    return operations(objects.name_of(backup), schedule_of(backup), started, completed, failed=failed)


def restore_operations(restore: objects.Obj, source: objects.Obj) -> list[objects.Obj]:
    """The data a restore of `source` moved back: file-system restores, or data mover downloads; the last volume
    failed a quarter of the way if the restore Failed."""
    name = objects.name_of(restore)
    started, completed = _time(restore, "startTimestamp"), _time(restore, "completionTimestamp")
    if started is None:
        return []
    method, volumes = VOLUMES.get(schedule_of(source), ("", ()))
    failed = restore["status"].get("phase") == "Failed"
    out: list[objects.Obj] = []
    for index, volume in enumerate(volumes):
        last_failed = failed and index == len(volumes) - 1
        progress = objects.Progress(
            "Failed" if last_failed else "Completed",
            started=started + 20,
            completed=completed,
            bytes_done=volume.bytes // 4 if last_failed else volume.bytes,
            total_bytes=volume.bytes,
        )
        snapshot = objects.snapshot_id(objects.name_of(source), volume.namespace, volume.volume)
        op_name = operation_name(name, volume)
        if method == FS_BACKUP:
            out.append(
                objects.pod_volume_restore(
                    op_name,
                    restore=name,
                    pod=volume.pod,
                    pod_namespace=volume.namespace,
                    volume=volume.volume,
                    snapshot=snapshot,
                    progress=progress,
                )
            )
        else:
            out.append(
                objects.data_download(
                    op_name,
                    restore=name,
                    pvc=volume.volume,
                    pvc_namespace=volume.namespace,
                    snapshot=snapshot,
                    progress=progress,
                )
            )
    return out


REPOSITORY_NAMESPACES = tuple(sorted({v.namespace for _, volumes in VOLUMES.values() for v in volumes}))


def maintained(namespace: str, now: float, *, last: float | None = None) -> objects.Obj:
    """The namespace's kopia repository in the default location, created 400 days ago, its hourly maintenance
    succeeded the last three times, the last at `last` (by default 15 to 55 minutes ago, by namespace)."""
    if last is None:
        last = now - (15 + 10 * REPOSITORY_NAMESPACES.index(namespace)) * MINUTE
    history = [objects.maintenance("Succeeded", last - (2 - i) * HOUR - 60, last - (2 - i) * HOUR) for i in range(3)]
    return objects.backup_repository(
        namespace, last_maintenance=last, recent_maintenance=history, created=now - 400 * 86400.0
    )


def repositories(now: float) -> list[objects.Obj]:
    """One kopia repository per namespace whose volumes are backed up."""
    return [maintained(namespace, now) for namespace in REPOSITORY_NAMESPACES]
