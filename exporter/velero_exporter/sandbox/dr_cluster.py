"""A DR cluster's World: what its Velero holds when it restores from a bucket that its primary's backups reach.

It runs no schedules. Its BackupStorageLocation points at the DR bucket, read-only as Velero's disaster-recovery
guide advises, and Velero's sync controller creates a Backup there for each backup it finds in the bucket, as the
primary made it (pkg/controller/backup_sync_controller.go). Its restore drills restore those copies. Its exporter's
configuration has `cluster: {role: dr, dr_of: <the primary's name>}`, which pairs it with its primary in the fleet
rules.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping

from velero_exporter.sandbox import objects
from velero_exporter.sandbox.world import HOUR, UPLOADED_PHASES, World
from velero_exporter.sources.parsing import parse_timestamp

LOCATION = "dr"
STORAGE_LOCATION_LABEL = "velero.io/storage-location"


def synced(backup: objects.Obj, location: str = LOCATION) -> objects.Obj:
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


def in_bucket(primary: World, bucket: str) -> list[objects.Obj]:
    """The primary's finished backups whose folder the bucket holds (Velero's sync controller reads each folder's
    velero-backup.json); the newest completion last."""
    folders = {key.split("/")[-2] for key in primary.buckets[bucket].keys if key.endswith("/velero-backup.json")}
    return finished(b for b in primary.of_kind("Backup") if objects.name_of(b) in folders)


def finished(backups: Iterable[objects.Obj]) -> list[objects.Obj]:
    """The backups that Velero uploaded (it ran them), the newest completion last."""
    return sorted((b for b in backups if b.get("status", {}).get("phase") in UPLOADED_PHASES), key=completed_at)


def sync(world: World, backups: Iterable[objects.Obj], *, until: float | None = None) -> None:
    """Velero's sync controller: a Backup for each of `backups` (the bucket's) the World lacks, of those finished
    by `until` (None: all). The location's last sync time moves to `until` (or the World's now)."""
    for backup in backups:
        if (until is None or completed_at(backup) <= until) and (
            "Backup",
            objects.name_of(backup),
        ) not in world.objects:
            world.add(synced(backup))
    location = world.get("BackupStorageLocation", LOCATION)
    location["status"]["lastSyncedTime"] = objects.rfc3339(world.now if until is None else until)
    world.add(location)


def set_location_phase(world: World, phase: str) -> None:
    """The DR cluster's Velero finds its location (un)reachable at its validation."""
    location = world.get("BackupStorageLocation", LOCATION)
    location["status"]["phase"] = phase
    world.add(location)


def world(
    now: float,
    backups: Iterable[objects.Obj],
    *,
    bucket: str,
    region: str,
    tier_label: str,
    last_sync: float,
    drills: Mapping[str, float],
    drills_after: float = HOUR,
) -> World:
    """The DR cluster at `now`: its read-only location on `bucket` (Available, validated 30s ago), the `backups`
    its Velero synced from there up to `last_sync`, and a restore drill per tier of `drills` (tier: how long it
    took), `drills_after` the last sync, from the newest Completed copy of the tier."""
    out = World(now)
    out.add(
        objects.storage_location(
            LOCATION,
            bucket=bucket,
            region=region,
            default=True,
            access_mode="ReadOnly",
            last_validated=now - 30,
            last_synced=last_sync,
        ),
        objects.snapshot_location(LOCATION, region=region),
    )
    sync(out, backups, until=last_sync)
    held = sorted(out.of_kind("Backup"), key=lambda b: str(b["status"]["startTimestamp"]))
    started = last_sync + drills_after
    for tier, took in drills.items():
        (newest, *_) = [
            b for b in reversed(held) if tier_of(b, tier_label) == tier and b["status"]["phase"] == "Completed"
        ]
        out.add(
            objects.restore(
                f"dr-drill-{tier}", backup_name=objects.name_of(newest), started=started, completed=started + took
            )
        )
    return out
