"""The sandbox's DR cluster (the seed's us-west-2 region): what its Velero holds when it restores from the DR bucket.

It runs no schedules. Its one BackupStorageLocation points at the DR bucket (the primary bucket's replica,
sandbox/aws_story.py), read-only as Velero's disaster-recovery guide advises, and Velero's sync controller creates a
Backup there for each backup it finds in the bucket, as the primary made it. Trouble on purpose: the DR cluster's
Velero stopped syncing 30 hours ago (its server runs with `--backup-sync-period 0`, which turns syncing off), so
- what it can restore of the hot, config and critical tiers lags the primary by more than their RPOs
  (VeleroDRClusterBehind);
- the newest full backup it holds is one of the primary's PartiallyFailed weekly runs
  (VeleroDRClusterCannotRestore), and the full tier is past its RPO here as in the primary;
- the dr tier, a monthly one, is within its RPO of the primary's; every tier had a restore drill after the last
  sync.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

from velero_exporter.sandbox import objects
from velero_exporter.sandbox.aws_story import DR_REGION, dr_bucket_backups, name_of
from velero_exporter.sandbox.story import DR_BUCKET, TIER_LABEL, story
from velero_exporter.sources.parsing import parse_timestamp

HOUR = 3600.0
DR_LOCATION = "dr"
STORAGE_LOCATION_LABEL = "velero.io/storage-location"
# When the DR cluster's Velero last synced the DR bucket.
SYNC_STOPPED = 30 * HOUR
# Restore drills in the DR cluster, an hour after the last sync: how long each tier's took (within its RTO).
DRILL_DURATIONS = {"hot": 600.0, "critical": 40 * 60.0, "full": 3 * HOUR, "config": 300.0, "dr": 90 * 60.0}


def synced(backup: objects.Obj, location: str = DR_LOCATION) -> objects.Obj:
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


def tier_of(backup: objects.Obj) -> str | None:
    labels: dict[str, str] = backup["metadata"].get("labels", {})
    return labels.get(TIER_LABEL)


def _completed(backup: objects.Obj) -> float:
    return parse_timestamp(backup["status"].get("completionTimestamp")) or 0.0


def _newest_completed(backups: Iterable[objects.Obj], tier: str) -> objects.Obj:
    done = [b for b in backups if tier_of(b) == tier and b["status"]["phase"] == "Completed"]
    return max(done, key=lambda b: str(b["status"]["startTimestamp"]))


def dr_story(now: float, s3_url: str = "") -> list[objects.Obj]:
    """Every object of the DR cluster at time `now` (the primary's story at the same `now`)."""
    last_sync = now - SYNC_STOPPED
    in_bucket = dr_bucket_backups(story(now))
    backups = [synced(b) for b in in_bucket if _completed(b) <= last_sync]
    out = list(backups)
    drill_start = last_sync + HOUR
    for tier, took in DRILL_DURATIONS.items():
        out.append(
            objects.restore(
                f"dr-drill-{tier}",
                backup_name=name_of(_newest_completed(backups, tier)),
                started=drill_start,
                completed=drill_start + took,
            )
        )
    out.append(
        objects.storage_location(
            DR_LOCATION,
            bucket=DR_BUCKET,
            region=DR_REGION,
            s3_url=s3_url or None,
            default=True,
            access_mode="ReadOnly",
            last_validated=now - 30,
            last_synced=last_sync,
        )
    )
    out.append(objects.snapshot_location(DR_LOCATION, region=DR_REGION))
    return out
