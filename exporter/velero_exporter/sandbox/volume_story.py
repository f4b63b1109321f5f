"""The sandbox's volume data: how the story's schedules save their volumes, and the trouble on purpose.

- hourly-hot backs up kailash-app's volumes with file-system backup (the seed's "uses Restic"; kopia today): one
  PodVolumeBackup per pod volume. In its newest finished run the database pod had opted out (an exclude
  annotation left from a debugging session): one volume fewer, and most of the bytes gone
  (VeleroBackupVolumeDataMissing, VeleroBackupShrank).
- daily-critical moves its CSI snapshots to the bucket with the data mover: one DataUpload per PVC. Its failed
  newest run has one failed DataUpload (the upload was refused, like the backup's own).
- weekly-full backs up the hostPath and NFS volumes that no snapshot can take with file-system backup; in its two
  newest (PartiallyFailed) runs one of them failed: "lost some volumes" (VeleroVolumeOperationFailed).
- An ad-hoc backup of the critical tier, taken before an upgrade, waits for its data mover: one DataUpload has moved
  no byte since it started 50 minutes ago (VeleroVolumeOperationStalled).
- The restores move data back: the hot drill's PodVolumeRestores, the failed critical restore's DataDownloads.
- The kopia repositories of the namespaces; vault's last two maintenance runs failed
  (VeleroRepositoryMaintenanceFailed).
"""

from __future__ import annotations

from dataclasses import dataclass

from velero_exporter.sandbox import objects
from velero_exporter.sources.parsing import parse_timestamp

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
OPTED_OUT = "postgres-0"  # the hourly-hot pod left out of the newest finished run
STALLED_BACKUP = "critical-before-upgrade"
STALLED_PVC = "prometheus-db-prometheus-0"
STALLED_FOR = 50 * MINUTE
MAINTENANCE_FAILED = "vault"  # the namespace whose repository's maintenance fails


def operation_name(backup: str, volume: Volume) -> str:
    """Velero names an operation <backup or restore>-<5 random characters> (GenerateName); stable here."""
    return f"{backup}-{objects.snapshot_id(volume.namespace, volume.pod, volume.volume)[:5]}"


def _stalled_volume() -> Volume:
    return next(v for v in VOLUMES["daily-critical"][1] if v.volume == STALLED_PVC)


STALLED_OPERATION = operation_name(STALLED_BACKUP, _stalled_volume())


def operations(
    backup: str,
    schedule: str,
    started: float,
    completed: float | None,
    *,
    volumes: tuple[Volume, ...] | None = None,
    failed: Volume | None = None,
) -> list[objects.Obj]:
    """The operations of one run of the schedule (its volumes, or those given): Completed once the run has
    completed, else InProgress halfway; `failed` failed a third of the way."""
    method, planned = VOLUMES.get(schedule, ("", ()))
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


def _time(backup: objects.Obj, field: str) -> float | None:
    return parse_timestamp(backup.get("status", {}).get(field))


def _schedule(backup: objects.Obj) -> str:
    return str(backup["metadata"].get("labels", {}).get("velero.io/schedule-name", ""))


def volume_data(everything: list[objects.Obj], now: float, tier_label: str) -> list[objects.Obj]:
    """The volume data operations of the story's backups and restores, the repositories, and the ad-hoc backup
    whose DataUpload stalls."""
    backups = {b["metadata"]["name"]: b for b in everything if b["kind"] == "Backup"}
    newest_hot = max(
        (b for b in backups.values() if _schedule(b) == "hourly-hot" and _time(b, "completionTimestamp")),
        key=lambda b: _time(b, "startTimestamp") or 0.0,
    )
    out: list[objects.Obj] = []
    for name, backup in backups.items():
        schedule, phase = _schedule(backup), backup["status"].get("phase")
        started, completed = _time(backup, "startTimestamp"), _time(backup, "completionTimestamp")
        if schedule not in VOLUMES or started is None or completed is None:
            continue  # a run still going has not reached its volumes yet
        _, volumes = VOLUMES[schedule]
        if backup is newest_hot:
            volumes = tuple(v for v in volumes if v.pod != OPTED_OUT)
        failed = volumes[-1] if phase in ("Failed", "PartiallyFailed") else None
        out += operations(name, schedule, started, completed, volumes=volumes, failed=failed)
    out += _stalled_backup(now, tier_label)
    out += _restores(everything, backups)
    out += _repositories(now)
    return out


def _stalled_backup(now: float, tier_label: str) -> list[objects.Obj]:
    started = now - STALLED_FOR - 5 * MINUTE
    backup = objects.backup(
        STALLED_BACKUP,
        phase="WaitingForPluginOperations",
        labels={tier_label: "critical"},
        started=started,
        items_backed_up=3050,
        items_total=3050,
    )
    uploads = [
        upload
        for upload in operations(STALLED_BACKUP, "daily-critical", started, started + 20 * MINUTE)
        if upload["spec"]["sourcePVC"] != STALLED_PVC
    ]
    # InProgress since STALLED_FOR, not a byte moved: its data mover pod cannot reach the repository.
    stalled = objects.Progress(
        "InProgress",
        created=started + 2,
        accepted=now - STALLED_FOR - 60,
        started=now - STALLED_FOR,
        total_bytes=_stalled_volume().bytes,
    )
    uploads.append(
        objects.data_upload(
            STALLED_OPERATION,
            backup=STALLED_BACKUP,
            pvc=STALLED_PVC,
            pvc_namespace=_stalled_volume().namespace,
            progress=stalled,
            node="node-2",
        )
    )
    return [backup, *uploads]


def _restores(everything: list[objects.Obj], backups: dict[str, objects.Obj]) -> list[objects.Obj]:
    """The data the story's restores moved back: file-system restores, or data mover downloads."""
    out: list[objects.Obj] = []
    for restore in (o for o in everything if o["kind"] == "Restore"):
        name, source = restore["metadata"]["name"], backups.get(restore["spec"]["backupName"])
        started, completed = _time(restore, "startTimestamp"), _time(restore, "completionTimestamp")
        if source is None or started is None:
            continue
        method, volumes = VOLUMES.get(_schedule(source), ("", ()))
        failed = restore["status"].get("phase") == "Failed"
        for index, volume in enumerate(volumes):
            last_failed = failed and index == len(volumes) - 1
            progress = objects.Progress(
                "Failed" if last_failed else "Completed",
                started=started + 20,
                completed=completed,
                bytes_done=volume.bytes // 4 if last_failed else volume.bytes,
                total_bytes=volume.bytes,
            )
            snapshot = objects.snapshot_id(source["metadata"]["name"], volume.namespace, volume.volume)
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


def _repositories(now: float) -> list[objects.Obj]:
    """One kopia repository per namespace whose volumes are backed up, in the default location."""
    namespaces = sorted({v.namespace for _, volumes in VOLUMES.values() for v in volumes})
    out = []
    for index, namespace in enumerate(namespaces):
        if namespace == MAINTENANCE_FAILED:
            # The last success 90 minutes ago; the runs due since then failed (kopia: repository is read-only).
            last = now - 90 * MINUTE
            history = [
                objects.maintenance("Succeeded", last - 120, last),
                objects.maintenance("Failed", now - 30 * MINUTE, now - 29 * MINUTE, "maintenance job failed"),
                objects.maintenance("Failed", now - 10 * MINUTE, now - 9 * MINUTE, "maintenance job failed"),
            ]
        else:
            last = now - (15 + 10 * index) * MINUTE
            history = [
                objects.maintenance("Succeeded", last - (2 - i) * HOUR - 60, last - (2 - i) * HOUR) for i in range(3)
            ]
        out.append(
            objects.backup_repository(
                namespace, last_maintenance=last, recent_maintenance=history, created=now - 400 * 86400.0
            )
        )
    return out
