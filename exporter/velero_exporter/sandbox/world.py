"""A sandbox cluster's whole state at one moment, as data: Velero's objects (its volume data operations and
repositories too), the cluster's own (namespaces, pods, claims, volumes, storage classes, ConfigMaps), the buckets
(with their setup) and EBS snapshots in AWS, the exporter's configuration and whether it runs, whether the API
server answers and what RBAC lets the exporter read.

Scenarios (sandbox/scenario.py) build a World and change it: a trouble, later its repair. sandbox/cluster.py makes
a World live and applies the difference between two Worlds, as Velero, an operator or an outage would.

As in a real cluster, a finished backup's folder is in its location's bucket: adding the backup writes it (Velero
uploads it when the backup ends, pkg/controller/backup_controller.go) and deleting the backup removes it
(pkg/controller/backup_deletion_controller.go); a restore's logs and results go to its backup's location. A bucket
whose setup replicates to another bucket of the World has what is written to it copied there (S3 replication,
deletions not replicated).
Objects are values: `get` returns a copy, and a change is an `add` of the changed copy, so that two Worlds can be
compared.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from velero_exporter.sandbox import cloud, objects
from velero_exporter.sandbox.cloud import SEED_SETUP, BucketSetup
from velero_exporter.sandbox.objects import Obj
from velero_exporter.state.vocabulary import BACKUP_NAME_LABEL, RESTORE_NAME_LABEL
from velero_exporter.velero.labels import label_value

HOUR = 3600.0
DAY = 86400.0
# Velero writes a backup's folder once the backup has run (a backup that failed validation never ran).
UPLOADED_PHASES = frozenset({"Completed", "PartiallyFailed", "Failed"})
VELERO_NAMESPACE = "velero"
# (kind, name); an object of another namespace than Velero's is named <namespace>/<name>, as kubectl names it.
Key = tuple[str, str]
SCHEDULE_LABEL = "velero.io/schedule-name"
OWNER_LABELS = {"Backup": BACKUP_NAME_LABEL, "Restore": RESTORE_NAME_LABEL}
OPERATION_KINDS = frozenset({"PodVolumeBackup", "PodVolumeRestore", "DataUpload", "DataDownload"})


def key_of(obj: Obj) -> Key:
    namespace = obj["metadata"].get("namespace", VELERO_NAMESPACE)
    name = objects.name_of(obj)
    return obj["kind"], name if namespace == VELERO_NAMESPACE else f"{namespace}/{name}"


@dataclass(slots=True)
class Bucket:
    region: str
    keys: dict[str, bytes] = field(default_factory=dict)
    setup: BucketSetup = SEED_SETUP
    # The role through which its account is reached (the DR account's); "" for the exporter's own account.
    role: str = ""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """An EBS snapshot of one volume of a backup, tagged as Velero tags it (cloud.snapshot_tags), in the account
    reached through `role` ("" for the exporter's own). A cross-region copy names the region it was copied from
    (CopySnapshot with the source's tags, as the DR plan's script does)."""

    region: str
    backup: str
    pv: str
    tags: tuple[tuple[str, str], ...]
    encrypted: bool = False
    role: str = ""
    source_region: str | None = None
    # What DescribeSnapshots reports: AWS may fail a snapshot after it was taken (moto never does; the end-to-end
    # run's proxy reports this state instead).
    state: str = "completed"

    def copied_to(self, region: str) -> Snapshot:
        """The copy in another region of the same account (a copy of an encrypted snapshot is encrypted)."""
        return replace(self, region=region, source_region=self.region)


def snapshots_of(
    backup: Obj, region: str, *, volumes: int = 1, encrypted: bool = False, role: str = ""
) -> list[Snapshot]:
    """The snapshots Velero's AWS plugin takes of a backup's volumes in the region."""
    name = objects.name_of(backup)
    return [
        Snapshot(
            region,
            name,
            f"pvc-{i}",
            tuple((t["Key"], t["Value"]) for t in cloud.snapshot_tags(backup, f"pvc-{i}")),
            encrypted,
            role,
        )
        for i in range(volumes)
    ]


@dataclass(slots=True)
class World:
    now: float
    objects: dict[Key, Obj] = field(default_factory=dict)
    buckets: dict[str, Bucket] = field(default_factory=dict)
    snapshots: list[Snapshot] = field(default_factory=list)
    # Resources (plural) the exporter's Role does not grant: the API answers 403 for them.
    forbidden: set[str] = field(default_factory=set)
    api_up: bool = True
    exporter_up: bool = True
    # The exporter's configuration file, as data (config/file.py parses it); a change restarts the exporter.
    config: dict[str, Any] = field(default_factory=dict)
    # Render stages (model, status_page) that the exporter's code fails at, as a bug would. No object makes them
    # fail: the end-to-end run breaks the running exporter in-process (tests/scenario_run.py).
    broken_render_stages: frozenset[str] = frozenset()

    # -- objects

    def add(self, *objs: Obj) -> None:
        """Store each object (replacing one of the same kind and name), with its folder in its bucket."""
        for obj in objs:
            key = key_of(obj)
            old = self.objects.get(key)
            before = self._folder(old) if old is not None else None
            after = self._folder(obj)
            self.objects[key] = obj
            if before is not None:
                bucket, folder, files = before
                kept = after[2] if after is not None and after[:2] == before[:2] else {}
                for name in files.keys() - kept.keys():
                    del self.buckets[bucket].keys[folder + name]
            if after is not None:
                bucket, folder, files = after
                self._write(bucket, {folder + name: data for name, data in files.items()})

    def delete(self, kind: str, name: str) -> None:
        """Delete the object, and with a Backup or Restore its volume data operations (they name it in a label;
        Velero deletes a backup's with it, pkg/controller/backup_deletion_controller.go, and Kubernetes garbage
        collects a restore's, which it owns)."""
        self._remove_folder((kind, name))
        del self.objects[kind, name]
        label = OWNER_LABELS.get(kind)
        if label is not None:
            for key, obj in list(self.objects.items()):
                if key[0] in OPERATION_KINDS and obj["metadata"].get("labels", {}).get(label) == label_value(name):
                    del self.objects[key]

    def drop(self, kind: str, name: str) -> None:
        """The object gone from the cluster and nothing else: its folder stays in its bucket (a Backup that a DR
        cluster's Velero has not synced from the bucket yet)."""
        del self.objects[kind, name]

    def get(self, kind: str, name: str) -> Obj:
        """A copy of the object (named as in its key), to change and `add` back."""
        return copy.deepcopy(self.objects[kind, name])

    def of_kind(self, kind: str) -> list[Obj]:
        return [copy.deepcopy(obj) for (k, _), obj in sorted(self.objects.items()) if k == kind]

    def backups_of(self, schedule: str, *, phase: str | None = None) -> list[Obj]:
        """Copies of the schedule's backups (Velero's schedule-name label), in this phase if given, the newest
        start first."""
        found = [
            b
            for b in self.of_kind("Backup")
            if b["metadata"].get("labels", {}).get(SCHEDULE_LABEL) == schedule
            and (phase is None or b.get("status", {}).get("phase") == phase)
        ]
        return sorted(found, key=lambda b: str(b.get("status", {}).get("startTimestamp", "")), reverse=True)

    def copy(self) -> World:
        """An independent World: objects are replaced, never changed in place, and bytes are immutable."""
        return World(
            self.now,
            dict(self.objects),
            {name: replace(bucket, keys=dict(bucket.keys)) for name, bucket in self.buckets.items()},
            list(self.snapshots),
            set(self.forbidden),
            self.api_up,
            self.exporter_up,
            copy.deepcopy(self.config),
            self.broken_render_stages,
        )

    # -- AWS

    def add_bucket(self, name: str, region: str, *, setup: BucketSetup = SEED_SETUP, role: str = "") -> Bucket:
        """A bucket Velero has written its revision to; set up as the seed DR plan says unless told otherwise."""
        bucket = self.buckets[name] = Bucket(region, {"metadata/revision": b"a1b2c3d4-velero-revision"}, setup, role)
        return bucket

    def set_up(self, bucket: str, **setup: Any) -> None:
        """Change the bucket's setup (the fields of cloud.BucketSetup)."""
        self.buckets[bucket].setup = replace(self.buckets[bucket].setup, **setup)

    def put(self, bucket: str, keys: dict[str, bytes], prefix: str = "") -> None:
        root = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        self._write(bucket, {root + key: data for key, data in keys.items()})

    def _write(self, bucket: str, keys: dict[str, bytes]) -> None:
        """Into the bucket and, where its replication names a bucket of the World, into that one. A replaced key
        keeps its place: keys are uploaded in insertion order, which gives the bucket's LastModified order (the
        order in which Velero wrote the folders)."""
        self.buckets[bucket].keys.update(keys)
        replica = self.buckets[bucket].setup.replicate_to
        if replica in self.buckets:
            self.buckets[replica].keys.update(keys)

    def remove_keys(self, bucket: str, under: str) -> None:
        keys = self.buckets[bucket].keys
        for key in [k for k in keys if k.startswith(under)]:
            del keys[key]

    def add_snapshots(self, snapshots: Iterable[Snapshot]) -> None:
        self.snapshots += [s for s in snapshots if s not in self.snapshots]

    def remove_snapshots(self, snapshots: Iterable[Snapshot]) -> None:
        gone = set(snapshots)
        self.snapshots = [s for s in self.snapshots if s not in gone]

    # -- folders

    def _bucket_of_location(self, location: str) -> tuple[str, str] | None:
        """(bucket, prefix) of a BackupStorageLocation whose bucket this World holds."""
        bsl = self.objects.get(("BackupStorageLocation", location))
        if bsl is None:
            return None
        storage = bsl["spec"]["objectStorage"]
        if storage["bucket"] not in self.buckets:
            return None
        return storage["bucket"], storage.get("prefix", "")

    def _folder(self, obj: Obj) -> tuple[str, str, dict[str, bytes]] | None:
        """(bucket, folder, files) that Velero writes for the object, if it writes any here."""
        phase = obj.get("status", {}).get("phase")
        if obj["kind"] == "Backup" and phase in UPLOADED_PHASES:
            where = self._bucket_of_location(obj["spec"].get("storageLocation", "default"))
            folder, files = f"backups/{objects.name_of(obj)}/", cloud.backup_folder(obj)
        elif obj["kind"] == "Restore" and phase is not None:
            backup = self.objects.get(("Backup", obj["spec"]["backupName"]))
            location = backup["spec"].get("storageLocation", "default") if backup else "default"
            where = self._bucket_of_location(location)
            folder, files = f"restores/{objects.name_of(obj)}/", cloud.restore_folder(obj)
        else:
            return None
        if where is None:
            return None
        bucket, prefix = where
        root = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        return bucket, root + folder, files

    def _remove_folder(self, key: Key) -> None:
        old = self.objects.get(key)
        found = self._folder(old) if old is not None else None
        if found is not None:
            bucket, folder, _ = found
            self.remove_keys(bucket, folder)
