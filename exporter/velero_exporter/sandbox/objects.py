"""Builders of Velero objects in Velero's own shape (velero.io/v1 and v2alpha1), for the sandbox, the demo and
tests. Every object validates against Velero's CRDs (the CRD files' openAPIV3Schema)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from velero_exporter.config.settings import DEFAULT_DRILL_LABEL
from velero_exporter.state.vocabulary import (
    BACKUP_NAME_LABEL,
    BACKUP_PHASES,
    QUEUED_BACKUP_PHASES,
    RESTORE_NAME_LABEL,
    VALIDATION_ANNOTATION,
)
from velero_exporter.velero.labels import label_value

API_VERSION = "velero.io/v1"
# The data movers' kinds (DataUpload, DataDownload) since Velero 1.12.
API_V2ALPHA1 = "velero.io/v2alpha1"
Obj = dict[str, Any]


def rfc3339(t: float | None) -> str | None:
    """Kubernetes' timestamp format (RFC 3339, UTC, second precision)."""
    if t is None:
        return None
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def name_of(obj: Obj) -> str:
    name: str = obj["metadata"]["name"]
    return name


def run_name(schedule: str, t: float) -> str:
    """Velero names a scheduled backup <schedule>-<UTC start as YYYYMMDDhhmmss>."""
    stamp = rfc3339(t) or ""
    return f"{schedule}-{stamp.replace('-', '').replace(':', '').replace('T', '').rstrip('Z')}"


def _metadata(name: str, namespace: str, created: float | None, labels: dict[str, str] | None) -> Obj:
    meta: Obj = {"name": name, "namespace": namespace}
    if created is not None:
        meta["creationTimestamp"] = rfc3339(created)
    if labels:
        meta["labels"] = dict(labels)
    return meta


def _drop_none(d: Obj) -> Obj:
    return {k: v for k, v in d.items() if v is not None}


def managed_fields(changed: float, *fields: str) -> list[Obj]:
    """metadata.managedFields as the API server keeps them for Velero's writes (manager: its binary's name):
    `time` is when it last changed a value it owns."""
    return [
        {
            "manager": "velero",
            "operation": "Update",
            "apiVersion": API_VERSION,
            "time": rfc3339(changed),
            "fieldsType": "FieldsV1",
            "fieldsV1": {f"f:{field}": {} for field in fields},
        }
    ]


# The phases of a backup that Velero has run (pkg/backup/backup.go sets status.hookStatus at the end of a run).
_RAN_PHASES = frozenset(BACKUP_PHASES) - QUEUED_BACKUP_PHASES - {"FailedValidation", "InProgress"}


def backup(
    name: str,
    *,
    phase: str | None = "Completed",
    schedule: str | None = None,
    labels: dict[str, str] | None = None,
    started: float | None = None,
    completed: float | None = None,
    created: float | None = None,
    expiration: float | None = None,
    ttl: str = "720h0m0s",
    storage_location: str = "default",
    items_backed_up: int | None = 100,
    items_total: int | None = 100,
    errors: int | None = None,
    warnings: int | None = None,
    hooks_attempted: int | None = None,
    hooks_failed: int | None = None,
    volume_snapshots_attempted: int | None = None,
    volume_snapshots_completed: int | None = None,
    csi_snapshots_attempted: int | None = None,
    csi_snapshots_completed: int | None = None,
    hook_status: bool = True,
    changed: float | None = None,
    namespace: str = "velero",
) -> Obj:
    """A Backup. Once it has run, status.hookStatus is there as Velero 1.13+ writes it ({} without hooks);
    `hook_status=False` leaves it out, as Velero 1.12 does. `changed`: metadata.managedFields' time."""
    all_labels = dict(labels or {})
    if schedule is not None:
        all_labels["velero.io/schedule-name"] = schedule
        all_labels.setdefault("velero.io/storage-location", storage_location)
    status: Obj = {}
    if phase is not None:
        status = _drop_none(
            {
                "phase": phase,
                "startTimestamp": rfc3339(started),
                "completionTimestamp": rfc3339(completed),
                "expiration": rfc3339(expiration),
                "errors": errors,
                "warnings": warnings,
                "volumeSnapshotsAttempted": volume_snapshots_attempted,
                "volumeSnapshotsCompleted": volume_snapshots_completed,
                "csiVolumeSnapshotsAttempted": csi_snapshots_attempted,
                "csiVolumeSnapshotsCompleted": csi_snapshots_completed,
                "version": 1,
                "formatVersion": "1.1.0",
            }
        )
        if items_total is not None or items_backed_up is not None:
            status["progress"] = _drop_none({"itemsBackedUp": items_backed_up, "totalItems": items_total})
        if hook_status and (phase in _RAN_PHASES or hooks_attempted is not None or hooks_failed is not None):
            status["hookStatus"] = _drop_none({"hooksAttempted": hooks_attempted, "hooksFailed": hooks_failed})
    obj: Obj = {
        "apiVersion": API_VERSION,
        "kind": "Backup",
        "metadata": _metadata(name, namespace, created if created is not None else started, all_labels),
        "spec": {"ttl": ttl, "storageLocation": storage_location, "snapshotVolumes": True},
    }
    if changed is not None:
        obj["metadata"]["managedFields"] = managed_fields(changed, "status")
    if status:
        obj["status"] = status
    return obj


def restore(
    name: str,
    *,
    backup_name: str,
    phase: str | None = "Completed",
    schedule_name: str | None = None,
    started: float | None = None,
    completed: float | None = None,
    created: float | None = None,
    errors: int | None = None,
    warnings: int | None = None,
    namespace: str = "velero",
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    drill: bool = False,
    validation: str | None = None,
) -> Obj:
    """A Restore; `drill` labels it a restore drill (the default drill label) and `validation` records the
    result as the drill's validation job does (docs/runbooks.md)."""
    spec: Obj = {"backupName": backup_name}
    if schedule_name:
        spec["scheduleName"] = schedule_name
    labels = {**(labels or {}), **({DEFAULT_DRILL_LABEL: "true"} if drill else {})}
    annotations = {**(annotations or {}), **({VALIDATION_ANNOTATION: validation} if validation is not None else {})}
    metadata = _metadata(name, namespace, created if created is not None else started, labels)
    if annotations:
        metadata["annotations"] = annotations
    obj: Obj = {"apiVersion": API_VERSION, "kind": "Restore", "metadata": metadata, "spec": spec}
    if phase is not None:
        obj["status"] = _drop_none(
            {
                "phase": phase,
                "startTimestamp": rfc3339(started),
                "completionTimestamp": rfc3339(completed),
                "errors": errors,
                "warnings": warnings,
            }
        )
    return obj


def schedule(
    name: str,
    *,
    cron: str,
    tier_label: tuple[str, str] | None = None,
    phase: str | None = "Enabled",
    paused: bool = False,
    created: float | None = None,
    last_backup: float | None = None,
    last_skipped: float | None = None,
    ttl: str = "720h0m0s",
    included_namespaces: list[str] | None = None,
    storage_location: str = "default",
    labels: dict[str, str] | None = None,
    skip_immediately: bool | None = None,
    namespace: str = "velero",
    selection: Obj | None = None,
) -> Obj:
    """A Schedule; `tier_label` goes on its template, `labels` on its own metadata (as Velero's Helm chart
    puts `schedules.<name>.labels`); `selection`: further fields of the template's BackupSpec
    (excludedNamespaces, labelSelector, snapshotVolumes, defaultVolumesToFsBackup, resourcePolicy ...)."""
    template: Obj = {"ttl": ttl, "storageLocation": storage_location}
    if included_namespaces:
        template["includedNamespaces"] = list(included_namespaces)
    template.update(selection or {})
    if tier_label is not None:
        template["metadata"] = {"labels": {tier_label[0]: tier_label[1]}}
    spec: Obj = {"schedule": cron, "template": template}
    if paused:
        spec["paused"] = True
    if skip_immediately is not None:
        spec["skipImmediately"] = skip_immediately
    obj: Obj = {
        "apiVersion": API_VERSION,
        "kind": "Schedule",
        "metadata": _metadata(name, namespace, created, labels),
        "spec": spec,
    }
    if phase is not None:
        obj["status"] = _drop_none(
            {"phase": phase, "lastBackup": rfc3339(last_backup), "lastSkipped": rfc3339(last_skipped)}
        )
    return obj


def storage_location(
    name: str,
    *,
    bucket: str,
    prefix: str = "",
    region: str = "us-east-1",
    s3_url: str | None = None,
    phase: str | None = "Available",
    last_validated: float | None = None,
    last_synced: float | None = None,
    default: bool = False,
    access_mode: str = "ReadWrite",
    provider: str = "aws",
    created: float | None = None,
    namespace: str = "velero",
) -> Obj:
    config: Obj = {"region": region}
    if s3_url:
        config["s3Url"] = s3_url
        config["s3ForcePathStyle"] = "true"
    object_storage: Obj = {"bucket": bucket}
    if prefix:
        object_storage["prefix"] = prefix
    obj: Obj = {
        "apiVersion": API_VERSION,
        "kind": "BackupStorageLocation",
        "metadata": _metadata(name, namespace, created, None),
        "spec": {
            "provider": provider,
            "objectStorage": object_storage,
            "config": config,
            "default": default,
            "accessMode": access_mode,
        },
    }
    if phase is not None:
        obj["status"] = _drop_none(
            {
                "phase": phase,
                "lastValidationTime": rfc3339(last_validated),
                "lastSyncedTime": rfc3339(last_synced),
                "accessMode": access_mode,
            }
        )
    return obj


def snapshot_location(
    name: str,
    *,
    region: str,
    provider: str = "aws",
    created: float | None = None,
    namespace: str = "velero",
) -> Obj:
    return {
        "apiVersion": API_VERSION,
        "kind": "VolumeSnapshotLocation",
        "metadata": _metadata(name, namespace, created, None),
        "spec": {"provider": provider, "config": {"region": region}},
        "status": {"phase": "Available"},
    }


def snapshot_id(*parts: str) -> str:
    """A kopia snapshot ID (32 hex digits), the same for the same volume of the same backup."""
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a volume data operation got: its phase, its timestamps and its status.progress (the four kinds
    share them: pkg/apis/velero/shared.DataMoveOperationProgress). Without a phase the object has no status."""

    phase: str | None = "Completed"
    created: float | None = None  # default: the start
    accepted: float | None = None
    started: float | None = None
    completed: float | None = None
    bytes_done: int | None = None
    total_bytes: int | None = None
    message: str | None = None

    def status(self, extra: Obj) -> Obj | None:
        if self.phase is None:
            return None
        status = _drop_none(
            {
                "phase": self.phase,
                "acceptedTimestamp": rfc3339(self.accepted),
                "startTimestamp": rfc3339(self.started),
                "completionTimestamp": rfc3339(self.completed),
                "message": self.message,
                **extra,
            }
        )
        if self.bytes_done is not None or self.total_bytes is not None:
            status["progress"] = _drop_none({"bytesDone": self.bytes_done, "totalBytes": self.total_bytes})
        return status


DONE = Progress()


def _operation(
    kind: str, name: str, *, labels: dict[str, str], spec: Obj, progress: Progress, extra: Obj, namespace: str
) -> Obj:
    obj: Obj = {
        "apiVersion": API_V2ALPHA1 if kind in ("DataUpload", "DataDownload") else API_VERSION,
        "kind": kind,
        "metadata": _metadata(name, namespace, progress.created or progress.started, labels),
        "spec": spec,
    }
    status = progress.status(extra)
    if status is not None:
        obj["status"] = status
    return obj


def pod_volume_backup(
    name: str,
    *,
    backup: str,
    pod: str,
    pod_namespace: str,
    volume: str,
    progress: Progress = DONE,
    node: str = "node-1",
    storage_location: str = "default",
    uploader: str = "kopia",
    namespace: str = "velero",
) -> Obj:
    """A file-system backup of one pod volume, as pkg/podvolume/backupper.go creates it."""
    extra: Obj = {"path": f"/host_pods/{pod}/volumes/{volume}"}
    if progress.phase == "Completed":
        extra["snapshotID"] = snapshot_id(backup, pod_namespace, pod, volume)
    spec = {
        "node": node,
        "pod": {"kind": "Pod", "namespace": pod_namespace, "name": pod},
        "volume": volume,
        "backupStorageLocation": storage_location,
        "repoIdentifier": "",  # kopia's; restic's is the repository's URL
        "uploaderType": uploader,
        "tags": {"backup": backup, "ns": pod_namespace, "pod": pod, "volume": volume},
    }
    labels = {BACKUP_NAME_LABEL: label_value(backup)}
    return _operation(
        "PodVolumeBackup", name, labels=labels, spec=spec, progress=progress, extra=extra, namespace=namespace
    )


def pod_volume_restore(
    name: str,
    *,
    restore: str,
    pod: str,
    pod_namespace: str,
    volume: str,
    snapshot: str,
    progress: Progress = DONE,
    storage_location: str = "default",
    namespace: str = "velero",
) -> Obj:
    """A file-system restore of one pod volume, as pkg/podvolume/restorer.go creates it."""
    spec = {
        "pod": {"kind": "Pod", "namespace": pod_namespace, "name": pod},
        "volume": volume,
        "backupStorageLocation": storage_location,
        "repoIdentifier": "",
        "uploaderType": "kopia",
        "snapshotID": snapshot,
        "sourceNamespace": pod_namespace,
    }
    labels = {RESTORE_NAME_LABEL: label_value(restore)}
    return _operation(
        "PodVolumeRestore", name, labels=labels, spec=spec, progress=progress, extra={}, namespace=namespace
    )


def data_upload(
    name: str,
    *,
    backup: str,
    pvc: str,
    pvc_namespace: str,
    progress: Progress = DONE,
    node: str = "node-1",
    storage_location: str = "default",
    storage_class: str = "gp3",
    namespace: str = "velero",
) -> Obj:
    """The CSI data mover's upload of one PVC's snapshot (pkg/backup/actions/csi/pvc_action.go newDataUpload)."""
    extra: Obj = {"node": node, "acceptedByNode": node} if progress.accepted is not None else {}
    if progress.phase == "Completed":
        extra.update(snapshotID=snapshot_id(backup, pvc_namespace, pvc), path=f"/{pvc_namespace}/{pvc}")
    spec = {
        "snapshotType": "CSI",
        "csiSnapshot": {
            "volumeSnapshot": f"velero-{pvc}-{name[-5:]}",
            "storageClass": storage_class,
            "snapshotClass": "ebs-csi",
            "driver": "ebs.csi.aws.com",
        },
        "sourcePVC": pvc,
        "datamover": "velero",
        "backupStorageLocation": storage_location,
        "sourceNamespace": pvc_namespace,
        "operationTimeout": "10m0s",
    }
    labels = {BACKUP_NAME_LABEL: label_value(backup)}
    return _operation("DataUpload", name, labels=labels, spec=spec, progress=progress, extra=extra, namespace=namespace)


def data_download(
    name: str,
    *,
    restore: str,
    pvc: str,
    pvc_namespace: str,
    snapshot: str,
    progress: Progress = DONE,
    storage_location: str = "default",
    namespace: str = "velero",
) -> Obj:
    """The CSI data mover's download of one PVC (pkg/restore/actions/csi/pvc_action.go)."""
    spec = {
        "targetVolume": {"pvc": pvc, "pv": "", "namespace": pvc_namespace},
        "backupStorageLocation": storage_location,
        "datamover": "velero",
        "snapshotID": snapshot,
        "sourceNamespace": pvc_namespace,
        "operationTimeout": "10m0s",
    }
    labels = {RESTORE_NAME_LABEL: label_value(restore)}
    return _operation("DataDownload", name, labels=labels, spec=spec, progress=progress, extra={}, namespace=namespace)


def maintenance(result: str, started: float, completed: float, message: str = "") -> Obj:
    """One entry of a BackupRepository's status.recentMaintenance (Velero 1.16+)."""
    return _drop_none(
        {
            "result": result,
            "startTimestamp": rfc3339(started),
            "completeTimestamp": rfc3339(completed),
            "message": message or None,
        }
    )


def backup_repository(
    volume_namespace: str,
    *,
    storage_location: str = "default",
    repository_type: str = "kopia",
    phase: str | None = "Ready",
    frequency: str = "1h0m0s",
    last_maintenance: float | None = None,
    recent_maintenance: list[Obj] | None = None,
    message: str | None = None,
    created: float | None = None,
    namespace: str = "velero",
) -> Obj:
    """A BackupRepository as Velero 1.16+ names it: <volume namespace>-<location>-<type> (pkg/repository)."""
    labels = {
        "velero.io/volume-namespace": volume_namespace,
        "velero.io/storage-location": storage_location,
        "velero.io/repository-type": repository_type,
    }
    obj: Obj = {
        "apiVersion": API_VERSION,
        "kind": "BackupRepository",
        "metadata": _metadata(f"{volume_namespace}-{storage_location}-{repository_type}", namespace, created, labels),
        "spec": {
            "volumeNamespace": volume_namespace,
            "backupStorageLocation": storage_location,
            "repositoryType": repository_type,
            "maintenanceFrequency": frequency,
        },
    }
    if phase is not None:
        obj["status"] = _drop_none(
            {
                "phase": phase,
                "message": message,
                "lastMaintenanceTime": rfc3339(last_maintenance),
                "recentMaintenance": recent_maintenance or None,
            }
        )
    return obj
