"""Velero objects (JSON as the API serves them) into slim records.

Nothing here trusts its input: a field of the wrong type, a malformed timestamp or an unknown phase degrades
the record (the field is ignored) and is reported as a problem; an object that cannot be identified at all is
skipped. Problems are short reason codes, counted by the exporter per resource and reason.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar, cast

from velero_exporter.config.settings import DEFAULT_LIMITS
from velero_exporter.state.records import (
    Backup,
    Repository,
    Restore,
    Schedule,
    SnapshotLocation,
    StorageLocation,
    VolumeOperation,
)
from velero_exporter.state.vocabulary import (
    BACKUP_NAME_LABEL,
    BACKUP_PHASES,
    LOCATION_PHASES,
    MAINTENANCE_RESULTS,
    REPOSITORY_PHASES,
    RESTORE_NAME_LABEL,
    RESTORE_PHASES,
    SCHEDULE_PHASES,
    UNKNOWN_PHASE,
    VALIDATION_ANNOTATION,
    VALIDATIONS,
    VOLUME_OPERATION_PHASES,
    Problem,
    Validation,
)
from velero_exporter.velero.duration import go_duration_seconds

R = TypeVar("R")
V = TypeVar("V")

# Reason codes (label values of velero_exporter_invalid_objects).
NOT_AN_OBJECT: Problem = "not_an_object"
MISSING_NAME: Problem = "missing_name"
MISSING_STATUS: Problem = "missing_status"
UNKNOWN_PHASE_REASON: Problem = "unknown_phase"
BAD_TIMESTAMP: Problem = "bad_timestamp"
BAD_DURATION: Problem = "bad_duration"
BAD_FIELD_TYPE: Problem = "bad_field_type"
BAD_VALIDATION: Problem = "bad_validation"
VALUE_TRUNCATED: Problem = "value_truncated"


@dataclass(slots=True, frozen=True)
class Parsed(Generic[R]):
    name: str | None
    record: R | None
    problems: tuple[str, ...]


@dataclass(slots=True)
class _Reader:
    """Typed access to one object's fields that notes, instead of raising, what is malformed."""

    shared: SharedValues
    problems: list[str] = field(default_factory=list)

    def note(self, reason: str) -> None:
        if reason not in self.problems:
            self.problems.append(reason)

    def mapping(self, parent: Mapping[str, Any], key: str) -> Mapping[str, Any]:
        value = parent.get(key)
        if type(value) is dict:  # what JSON decodes to: no ABC check for the common case (it adds up by the 100k)
            return value
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.note(BAD_FIELD_TYPE)
            return {}
        return value

    def string(self, parent: Mapping[str, Any], key: str, default: str = "") -> str:
        value = parent.get(key)
        if value is None:
            return default
        if not isinstance(value, str):
            self.note(BAD_FIELD_TYPE)
            return default
        return _intern(self.capped(value))

    def capped(self, value: str) -> str:
        """A free-form value (it may become a label value) cut to the configured bytes, noted when cut."""
        limit = self.shared.max_value_bytes
        if len(value) * 4 <= limit:  # UTF-8 takes at most 4 bytes a character: the common case needs no encoding
            return value
        encoded = value.encode()
        if len(encoded) <= limit:
            return value
        self.note(VALUE_TRUNCATED)
        return encoded[:limit].decode(errors="ignore")

    def boolean(self, parent: Mapping[str, Any], key: str) -> bool:
        value = parent.get(key)
        if value is None:
            return False
        if isinstance(value, bool):
            return value
        # BSL config values are strings in Velero ("true"); accept those, nothing else.
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        self.note(BAD_FIELD_TYPE)
        return False

    def count(self, parent: Mapping[str, Any], key: str) -> int | None:
        value = parent.get(key)
        if type(value) is int and value >= 0:  # the common case first: thirteen of these a Backup
            return value
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self.note(BAD_FIELD_TYPE)
            return None
        return value

    def timestamp(self, parent: Mapping[str, Any], key: str) -> float | None:
        return self._seconds(parent.get(key), self.shared.timestamps, parse_timestamp, BAD_TIMESTAMP)

    def go_duration(self, parent: Mapping[str, Any], key: str) -> float | None:
        return self._seconds(parent.get(key), self.shared.durations, go_duration_seconds, BAD_DURATION)

    def _seconds(
        self, value: object, known: dict[str, float | None], parse: Callable[[str], float | None], problem: str
    ) -> float | None:
        """A string field read as seconds, through the shared table of texts already read (looked up here rather
        than through a method: four of these a Backup, by the 100k); absent is unknown, anything unreadable is
        unknown and noted."""
        if value is None:
            return None
        parsed: float | None = None
        if type(value) is str:
            found = known.get(value, _ABSENT)
            parsed = self.shared.remember(known, value, parse(value)) if found is _ABSENT else cast(float | None, found)
        if parsed is None:
            self.note(problem)
        return parsed

    def last_changed(self, meta: Mapping[str, Any]) -> float | None:
        """The newest metadata.managedFields[].time: the API server moves a writer's entry's time whenever that
        writer changes a value it owns."""
        times = [self.timestamp(entry, "time") for entry in self.mappings(meta, "managedFields")]
        return max((t for t in times if t is not None), default=None)

    def mappings(self, parent: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
        """A list of objects; an entry that is not one is ignored (and noted)."""
        value = parent.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.note(BAD_FIELD_TYPE)
            return []
        out = [entry for entry in value if isinstance(entry, Mapping)]
        if len(out) != len(value):
            self.note(BAD_FIELD_TYPE)
        return out

    def label(self, metadata: Mapping[str, Any], key: str) -> str:
        """One label's value ("" without it): records that need a single label keep no label set."""
        return self.string(self.mapping(metadata, "labels"), key)

    def labels(self, parent: Mapping[str, Any], field: str = "labels") -> tuple[tuple[str, str], ...]:
        """A string-to-string map (labels by default) as sorted pairs, shared between equal sets."""
        raw = self.mapping(parent, field)
        # Every backup of a schedule carries the same labels, in the same order: a map read before, found by its
        # pairs as they came (all strings, or it would not have been kept), needs no checking, capping or sorting.
        pairs = tuple(raw.items())
        try:
            found = self.shared.read_label_sets.get(pairs)
        except TypeError:  # a value that cannot be hashed (a list, an object): the checks below note it
            found, pairs = None, ()
        if found is not None:
            return found
        out = []
        for key, value in raw.items():
            if isinstance(key, str) and isinstance(value, str):
                out.append((self.capped(key), self.capped(value)))
            else:
                self.note(BAD_FIELD_TYPE)
        shared = self.shared.label_set(tuple(sorted(out)))
        if pairs and tuple(out) == pairs:  # all strings and none cut: nothing to note the next time either
            self.shared.remember(self.shared.read_label_sets, pairs, shared)
        return shared

    def phase(self, status: Mapping[str, Any], known: tuple[str, ...], empty: str | None) -> str | None:
        value = status.get("phase")
        if value is None or value == "":
            return empty
        if not isinstance(value, str):
            self.note(BAD_FIELD_TYPE)
            return UNKNOWN_PHASE
        if value not in known:
            self.note(UNKNOWN_PHASE_REASON)
            return UNKNOWN_PHASE
        return sys.intern(value)  # the phase constants' own object, not one copy per record


_ABSENT = object()
_INTERN_MAX_LEN = 253  # a label value is at most 63 characters, a name at most 253


def _intern(value: str) -> str:
    return sys.intern(value) if len(value) <= _INTERN_MAX_LEN else value


@dataclass(slots=True)
class SharedValues:
    """Values that thousands of records share, kept once (docs/performance.md: a Backup record at half the size).

    Every record would otherwise hold its own equal labels tuple (all backups of a schedule carry the same
    labels) and its own float for equal timestamps and TTLs. Values are equal either way: only object identity
    changes. One table per sink, bounded: past `limit` entries a table starts again.
    """

    limit: int = 4096
    # Free-form strings longer than this (UTF-8 bytes) are truncated (config: limits.label_value_bytes).
    max_value_bytes: int = DEFAULT_LIMITS.label_value_bytes
    _label_sets: dict[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]] = field(default_factory=dict)
    # Maps as they came (pairs in the object's order) that were all strings, to their shared set.
    read_label_sets: dict[tuple[tuple[Any, Any], ...], tuple[tuple[str, str], ...]] = field(default_factory=dict)
    # What texts read as (None: unreadable), by the text.
    timestamps: dict[str, float | None] = field(default_factory=dict)
    durations: dict[str, float | None] = field(default_factory=dict)

    def label_set(self, labels: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
        found = self._label_sets.get(labels)
        if found is not None:
            return found
        shared = tuple((_intern(k), _intern(v)) for k, v in labels)
        self.remember(self._label_sets, labels, shared)
        return shared

    def remember(self, table: dict[Any, Any], key: Any, value: V) -> V:
        if len(table) >= self.limit:
            table.clear()
        table[key] = value
        return value


def parse_timestamp(value: object) -> float | None:
    """RFC 3339 as Kubernetes writes it ("2024-01-20T02:00:00Z"), with optional fraction or offset."""
    if not isinstance(value, str) or len(value) < 20 or value[10] not in "Tt":
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return parsed.timestamp()


def _identify(obj: object) -> tuple[Mapping[str, Any] | None, str | None, tuple[str, ...]]:
    if not isinstance(obj, Mapping):
        return None, None, (NOT_AN_OBJECT,)
    metadata = obj.get("metadata")
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    if not isinstance(name, str) or not name:
        return None, None, (MISSING_NAME,)
    return obj, name, ()


def _parse(
    obj: object, build: Callable[[Mapping[str, Any], str, _Reader], R], shared: SharedValues | None
) -> Parsed[R]:
    checked, name, problems = _identify(obj)
    if checked is None or name is None:
        return Parsed(None, None, problems)
    reader = _Reader(shared if shared is not None else SharedValues())
    record = build(checked, name, reader)
    return Parsed(name, record, tuple(reader.problems))


def _build_backup(obj: Mapping[str, Any], name: str, r: _Reader) -> Backup:
    meta = r.mapping(obj, "metadata")
    spec = r.mapping(obj, "spec")
    if "status" not in obj:
        r.note(MISSING_STATUS)
    status = r.mapping(obj, "status")
    progress = r.mapping(status, "progress")
    hooks = r.mapping(status, "hookStatus")
    # Velero 1.13+ sets hookStatus on every backup it ran, its counts `omitempty` (pkg/backup/backup.go): {} is
    # no hook; no hookStatus at all is unknown.
    has_hooks = isinstance(status.get("hookStatus"), Mapping)
    return Backup(
        name=name,
        phase=r.phase(status, BACKUP_PHASES, empty="New") or "New",
        labels=r.labels(meta),
        created=r.timestamp(meta, "creationTimestamp"),
        started=r.timestamp(status, "startTimestamp"),
        completed=r.timestamp(status, "completionTimestamp"),
        expiration=r.timestamp(status, "expiration"),
        ttl_seconds=r.go_duration(spec, "ttl"),
        storage_location=r.string(spec, "storageLocation"),
        items_backed_up=r.count(progress, "itemsBackedUp"),
        items_total=r.count(progress, "totalItems"),
        errors=r.count(status, "errors") or 0,
        warnings=r.count(status, "warnings") or 0,
        hooks_attempted=(r.count(hooks, "hooksAttempted") or 0) if has_hooks else None,
        hooks_failed=(r.count(hooks, "hooksFailed") or 0) if has_hooks else None,
        volume_snapshots_attempted=r.count(status, "volumeSnapshotsAttempted") or 0,
        volume_snapshots_completed=r.count(status, "volumeSnapshotsCompleted") or 0,
        csi_snapshots_attempted=r.count(status, "csiVolumeSnapshotsAttempted") or 0,
        csi_snapshots_completed=r.count(status, "csiVolumeSnapshotsCompleted") or 0,
        item_operations_attempted=r.count(status, "backupItemOperationsAttempted") or 0,
        item_operations_completed=r.count(status, "backupItemOperationsCompleted") or 0,
        item_operations_failed=r.count(status, "backupItemOperationsFailed") or 0,
        item_operation_timeout=r.go_duration(spec, "itemOperationTimeout"),
        last_changed=r.last_changed(meta),
    )


def _build_restore(obj: Mapping[str, Any], name: str, r: _Reader) -> Restore:
    meta = r.mapping(obj, "metadata")
    spec = r.mapping(obj, "spec")
    if "status" not in obj:
        r.note(MISSING_STATUS)
    status = r.mapping(obj, "status")
    return Restore(
        name=name,
        phase=r.phase(status, RESTORE_PHASES, empty="New") or "New",
        backup_name=r.string(spec, "backupName"),
        schedule_name=r.string(spec, "scheduleName"),
        created=r.timestamp(meta, "creationTimestamp"),
        started=r.timestamp(status, "startTimestamp"),
        completed=r.timestamp(status, "completionTimestamp"),
        errors=r.count(status, "errors") or 0,
        warnings=r.count(status, "warnings") or 0,
        labels=r.labels(meta),
        validation=_validation(meta, r),
    )


def _validation(meta: Mapping[str, Any], r: _Reader) -> Validation | None:
    """The drill's validation result; any other value is a problem, and the drill counts as not validated."""
    value = r.string(r.mapping(meta, "annotations"), VALIDATION_ANNOTATION).strip().lower()
    for result in VALIDATIONS:
        if value == result:
            return result
    if value:
        r.note(BAD_VALIDATION)
    return None


# What a Schedule's template says about the selection of its backups (pkg/apis/velero/v1/backup_types.go).
SELECTION_FIELDS = (
    "includedNamespaces",
    "excludedNamespaces",
    "includedResources",
    "excludedResources",
    "includeClusterResources",
    "includedClusterScopedResources",
    "excludedClusterScopedResources",
    "includedNamespaceScopedResources",
    "excludedNamespaceScopedResources",
    "labelSelector",
    "orLabelSelectors",
    "snapshotVolumes",
    "defaultVolumesToFsBackup",
    "defaultVolumesToRestic",
    "snapshotMoveData",
    "resourcePolicy",
    "volumeSnapshotLocations",
)


def _selection(template: Mapping[str, Any]) -> str:
    chosen = {key: template[key] for key in SELECTION_FIELDS if template.get(key) is not None}
    return json.dumps(chosen, sort_keys=True, separators=(",", ":"))


def _build_schedule(obj: Mapping[str, Any], name: str, r: _Reader) -> Schedule:
    meta = r.mapping(obj, "metadata")
    spec = r.mapping(obj, "spec")
    status = r.mapping(obj, "status")
    template = r.mapping(spec, "template")
    template_meta = r.mapping(template, "metadata")
    # Velero takes the template's labels when the field is set, even to {} (a non-nil map in Go), and the
    # Schedule's own labels otherwise (FromSchedule in pkg/builder/backup_builder.go; Velero's Helm chart puts
    # `schedules.<name>.labels` on the Schedule's metadata).
    labels_from = template_meta if isinstance(template_meta.get("labels"), Mapping) else meta
    return Schedule(
        name=name,
        phase=r.phase(status, SCHEDULE_PHASES, empty="New") or "New",
        cron=r.string(spec, "schedule"),
        paused=r.boolean(spec, "paused"),
        created=r.timestamp(meta, "creationTimestamp"),
        last_backup=r.timestamp(status, "lastBackup"),
        last_skipped=r.timestamp(status, "lastSkipped"),
        backup_labels=r.labels(labels_from),
        ttl_seconds=r.go_duration(template, "ttl"),
        storage_location=r.string(template, "storageLocation"),
        selection=_selection(template),
    )


def _build_storage_location(obj: Mapping[str, Any], name: str, r: _Reader) -> StorageLocation:
    spec = r.mapping(obj, "spec")
    status = r.mapping(obj, "status")
    object_storage = r.mapping(spec, "objectStorage")
    config = r.mapping(spec, "config")
    return StorageLocation(
        name=name,
        phase=r.phase(status, LOCATION_PHASES, empty=None),
        provider=r.string(spec, "provider"),
        bucket=r.string(object_storage, "bucket"),
        prefix=r.string(object_storage, "prefix"),
        region=r.string(config, "region"),
        s3_url=r.string(config, "s3Url"),
        default=r.boolean(spec, "default"),
        access_mode=r.string(spec, "accessMode", "ReadWrite"),
        last_validated=r.timestamp(status, "lastValidationTime"),
        last_synced=r.timestamp(status, "lastSyncedTime"),
        validation_frequency=r.go_duration(spec, "validationFrequency"),
    )


def _build_snapshot_location(obj: Mapping[str, Any], name: str, r: _Reader) -> SnapshotLocation:
    spec = r.mapping(obj, "spec")
    config = r.mapping(spec, "config")
    return SnapshotLocation(name=name, provider=r.string(spec, "provider"), region=r.string(config, "region"))


def _volume_operation_builder(
    kind: str, owner_label: str
) -> Callable[[Mapping[str, Any], str, _Reader], VolumeOperation]:
    """The four kinds share one shape (status.progress is pkg/apis/velero/shared's DataMoveOperationProgress);
    acceptedTimestamp exists from 1.16 on DataUploads and DataDownloads, from 1.17 on the pod volume kinds."""

    def build(obj: Mapping[str, Any], name: str, r: _Reader) -> VolumeOperation:
        meta = r.mapping(obj, "metadata")
        status = r.mapping(obj, "status")
        progress = r.mapping(status, "progress")
        return VolumeOperation(
            kind=kind,
            name=name,
            phase=r.phase(status, VOLUME_OPERATION_PHASES, empty="New") or "New",
            owner=r.label(meta, owner_label),
            created=r.timestamp(meta, "creationTimestamp"),
            accepted=r.timestamp(status, "acceptedTimestamp"),
            started=r.timestamp(status, "startTimestamp"),
            completed=r.timestamp(status, "completionTimestamp"),
            bytes_done=r.count(progress, "bytesDone"),
            total_bytes=r.count(progress, "totalBytes"),
        )

    return build


_build_pod_volume_backup = _volume_operation_builder("PodVolumeBackup", BACKUP_NAME_LABEL)
_build_pod_volume_restore = _volume_operation_builder("PodVolumeRestore", RESTORE_NAME_LABEL)
_build_data_upload = _volume_operation_builder("DataUpload", BACKUP_NAME_LABEL)
_build_data_download = _volume_operation_builder("DataDownload", RESTORE_NAME_LABEL)


def _build_repository(obj: Mapping[str, Any], name: str, r: _Reader) -> Repository:
    meta = r.mapping(obj, "metadata")
    spec = r.mapping(obj, "spec")
    status = r.mapping(obj, "status")
    # Velero appends to recentMaintenance and keeps it ordered by start (backup_repository_controller.go):
    # the newest entry is the one that started last, the list's order breaking ties.
    history = [(r.timestamp(entry, "startTimestamp"), entry) for entry in r.mappings(status, "recentMaintenance")]
    result = None
    if history:
        _, entry = history[max(range(len(history)), key=lambda i: (history[i][0] or 0.0, i))]
        result = r.string(entry, "result")
        if result not in MAINTENANCE_RESULTS:
            r.note(UNKNOWN_PHASE_REASON)
            result = UNKNOWN_PHASE
    return Repository(
        name=name,
        phase=r.phase(status, REPOSITORY_PHASES, empty="New") or "New",
        repository_type=r.string(spec, "repositoryType"),
        location=r.string(spec, "backupStorageLocation"),
        volume_namespace=r.string(spec, "volumeNamespace"),
        created=r.timestamp(meta, "creationTimestamp"),
        maintenance_frequency=r.go_duration(spec, "maintenanceFrequency"),
        last_maintenance=r.timestamp(status, "lastMaintenanceTime"),
        last_maintenance_result=result,
    )


def parse_backup(obj: object, shared: SharedValues | None = None) -> Parsed[Backup]:
    return _parse(obj, _build_backup, shared)


def parse_restore(obj: object, shared: SharedValues | None = None) -> Parsed[Restore]:
    return _parse(obj, _build_restore, shared)


def parse_schedule(obj: object, shared: SharedValues | None = None) -> Parsed[Schedule]:
    return _parse(obj, _build_schedule, shared)


def parse_storage_location(obj: object, shared: SharedValues | None = None) -> Parsed[StorageLocation]:
    return _parse(obj, _build_storage_location, shared)


def parse_snapshot_location(obj: object, shared: SharedValues | None = None) -> Parsed[SnapshotLocation]:
    return _parse(obj, _build_snapshot_location, shared)


def parse_pod_volume_backup(obj: object, shared: SharedValues | None = None) -> Parsed[VolumeOperation]:
    return _parse(obj, _build_pod_volume_backup, shared)


def parse_pod_volume_restore(obj: object, shared: SharedValues | None = None) -> Parsed[VolumeOperation]:
    return _parse(obj, _build_pod_volume_restore, shared)


def parse_data_upload(obj: object, shared: SharedValues | None = None) -> Parsed[VolumeOperation]:
    return _parse(obj, _build_data_upload, shared)


def parse_data_download(obj: object, shared: SharedValues | None = None) -> Parsed[VolumeOperation]:
    return _parse(obj, _build_data_download, shared)


def parse_repository(obj: object, shared: SharedValues | None = None) -> Parsed[Repository]:
    return _parse(obj, _build_repository, shared)
