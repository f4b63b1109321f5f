"""A DR cluster: what its Velero holds when it restores from buckets that its primary's backups reach.

It runs no schedules. Its BackupStorageLocations point at the DR buckets (replicas of the primary's), read-only as
Velero's disaster-recovery guide advises, and Velero's sync controller creates a Backup for each backup folder it
finds there, as the primary made it (pkg/controller/backup_sync_controller.go); it deletes a Completed or
PartiallyFailed Backup whose folder is gone (deleteOrphanedBackups). Its restore drills restore those copies. Its
exporter's configuration says `cluster: {role: dr, dr_of: <the primary's name>}`, which pairs it with its primary
in the fleet rules.

A World holds the DR buckets where the DR cluster's story needs them to change (the fleet scenarios); the demo's
DR cluster reads the DR bucket of the demo's World.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping

from velero_exporter.sandbox import cloud, objects
from velero_exporter.sandbox.world import UPLOADED_PHASES, World
from velero_exporter.sources.parsing import parse_timestamp

STORAGE_LOCATION_LABEL = "velero.io/storage-location"
MANIFEST = "velero-backup.json"


def synced(backup: objects.Obj, location: str) -> objects.Obj:
    """The Backup that Velero's sync controller creates in another cluster from a bucket's velero-backup.json:
    the same spec and status, with the location it was found in as its storage location and label
    (pkg/controller/backup_sync_controller.go); a new object of this cluster (no uid, owners or creation time)."""
    out = copy.deepcopy(backup)
    metadata = out["metadata"]
    for key in ("uid", "resourceVersion", "generation", "creationTimestamp", "ownerReferences", "managedFields"):
        metadata.pop(key, None)
    metadata["labels"] = {**metadata.get("labels", {}), STORAGE_LOCATION_LABEL: location}
    out["spec"]["storageLocation"] = location
    return out


def tier_of(backup: objects.Obj, tier_label: str) -> str | None:
    labels: dict[str, str] = backup["metadata"].get("labels", {})
    return labels.get(tier_label)


def completed_at(backup: objects.Obj) -> float:
    return parse_timestamp(backup.get("status", {}).get("completionTimestamp")) or 0.0


def replicate(world: World, bucket: str, backups: Iterable[objects.Obj]) -> None:
    """The finished backups' folders in the World's bucket (a replica), as S3 replication wrote them there."""
    for backup in backups:
        if backup.get("status", {}).get("phase") in UPLOADED_PHASES:
            world.put(bucket, cloud.backup_folder(backup), f"backups/{objects.name_of(backup)}")


def backups_in(world: World, bucket: str) -> list[objects.Obj]:
    """The backups whose folders the World's bucket holds, read from their velero-backup.json as Velero's sync
    controller reads them; the newest completion last."""
    keys = world.buckets[bucket].keys
    found = [json.loads(data) for key, data in keys.items() if key.endswith(f"/{MANIFEST}")]
    return sorted(found, key=completed_at)


def location(
    name: str, *, bucket: str, region: str, now: float, last_sync: float, default: bool = False
) -> objects.Obj:
    """A read-only location on a DR bucket, Available (validated 30s ago), synced last at `last_sync`."""
    return objects.storage_location(
        name,
        bucket=bucket,
        region=region,
        default=default,
        access_mode="ReadOnly",
        last_validated=now - 30,
        last_synced=last_sync,
    )


def sync(world: World, location_name: str, backups: Iterable[objects.Obj], *, until: float | None = None) -> None:
    """Velero's sync controller on one location: a Backup for each of the location bucket's `backups` that the
    cluster lacks, of those finished by `until` (None: all); the location's last sync moves to `until` (or now)."""
    for backup in backups:
        held = ("Backup", objects.name_of(backup)) in world.objects
        if not held and (until is None or completed_at(backup) <= until):
            world.add(synced(backup, location_name))
    bsl = world.get("BackupStorageLocation", location_name)
    bsl["status"]["lastSyncedTime"] = objects.rfc3339(world.now if until is None else until)
    world.add(bsl)


def unsync(world: World, location_name: str, since: float) -> None:
    """Velero's sync of the location stopped at `since`: the Backups it synced of what finished after are not
    there (their folders are), and its last sync time is `since`."""
    for backup in world.of_kind("Backup"):
        if backup["spec"].get("storageLocation") == location_name and completed_at(backup) > since:
            world.drop("Backup", objects.name_of(backup))
    bsl = world.get("BackupStorageLocation", location_name)
    bsl["status"]["lastSyncedTime"] = objects.rfc3339(since)
    world.add(bsl)


def set_location_phase(world: World, location_name: str, phase: str) -> None:
    """The DR cluster's Velero finds its location (un)reachable at its validation."""
    bsl = world.get("BackupStorageLocation", location_name)
    bsl["status"]["phase"] = phase
    world.add(bsl)


def drills(world: World, durations: Mapping[str, float], *, at: float, tier_label: str) -> None:
    """A restore drill per tier of `durations` (tier: how long it took), started at `at`, of the newest Completed
    copy of the tier that had finished by then."""
    for tier, took in durations.items():
        done = [
            b
            for b in world.of_kind("Backup")
            if tier_of(b, tier_label) == tier and b["status"]["phase"] == "Completed" and completed_at(b) <= at
        ]
        newest = max(done, key=completed_at)
        world.add(
            objects.restore(f"dr-drill-{tier}", backup_name=objects.name_of(newest), started=at, completed=at + took)
        )
