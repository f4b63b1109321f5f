"""Velero's footprint in AWS: a backup's folder in its location's bucket, and its EBS snapshots.

Velero's layout under a location's prefix (pkg/persistence/object_store_layout.go):
  backups/<backup>/velero-backup.json, <backup>.tar.gz, <backup>-logs.gz, <backup>-resource-list.json.gz, ...
  restores/<restore>/restore-<restore>-logs.gz, restore-<restore>-results.gz, ...
  kopia/<namespace>/ (a file-system backup repository), metadata/revision
File sizes follow from the backup (items, volume snapshots), so a test can say exactly what a bucket holds.
A bucket's setup (versioning, encryption, public access, lifecycle, replication, Object Lock) is what an operator
sets with the s3api.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from velero_exporter.sandbox import objects
from velero_exporter.sources.aws.posture import PUBLIC_ACCESS_FLAGS

TARBALL_BYTES_PER_ITEM = 100
LOG_BYTES = 1000
# What Velero copies onto a native snapshot besides the backup's labels (pkg/backup/item_backupper.go).
BACKUP_TAG = "velero.io/backup"
PV_TAG = "velero.io/pv"
UPLOAD_THREADS = 8


def backup_folder(backup: objects.Obj) -> dict[str, bytes]:
    """The files Velero writes for a finished backup, relative to its folder."""
    name = objects.name_of(backup)
    status = backup.get("status", {})
    items = int(status.get("progress", {}).get("itemsBackedUp", 0))
    snapshots = int(status.get("volumeSnapshotsCompleted", 0))
    return {
        "velero-backup.json": json.dumps(backup, sort_keys=True).encode(),
        f"{name}.tar.gz": bytes(TARBALL_BYTES_PER_ITEM * items),
        f"{name}-logs.gz": bytes(LOG_BYTES),
        f"{name}-resource-list.json.gz": bytes(10 * items),
        f"{name}-results.gz": gzip.compress(b'{"errors":{},"warnings":{}}', mtime=0),
        f"{name}-volumesnapshots.json.gz": bytes(20 + 200 * snapshots),
        f"{name}-itemoperations.json.gz": gzip.compress(b"[]", mtime=0),
    }


def restore_folder(restore: objects.Obj) -> dict[str, bytes]:
    name = objects.name_of(restore)
    return {
        f"restore-{name}-logs.gz": bytes(LOG_BYTES // 2),
        f"restore-{name}-results.gz": gzip.compress(b'{"errors":{},"warnings":{}}', mtime=0),
        f"restore-{name}-resource-list.json.gz": bytes(300),
    }


def kopia_repository(blobs: int, blob_bytes: int) -> dict[str, bytes]:
    """A kopia repository's files: its format blob, its config, and pack blobs."""
    files = {"kopia.repository": bytes(1000), ".storageconfig": bytes(30)}
    files.update({f"p{i:032x}": bytes(blob_bytes) for i in range(blobs)})
    return files


def layout(
    backups: Iterable[objects.Obj],
    restores: Iterable[objects.Obj] = (),
    repositories: Mapping[str, Mapping[str, bytes]] = {},
    prefix: str = "",
) -> dict[str, bytes]:
    """Every object of a location, by key."""
    root = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
    keys = {f"{root}metadata/revision": b"a1b2c3d4-velero-revision"}
    for backup in backups:
        keys.update({f"{root}backups/{objects.name_of(backup)}/{f}": b for f, b in backup_folder(backup).items()})
    for restore in restores:
        keys.update({f"{root}restores/{objects.name_of(restore)}/{f}": b for f, b in restore_folder(restore).items()})
    for repository, files in repositories.items():
        keys.update({f"{root}{repository}/{f}": b for f, b in files.items()})
    return keys


@dataclass(slots=True, frozen=True)
class BucketSetup:
    """How a bucket is set up, as an operator sets it up with the s3api. What it leaves out is removed when it is
    applied, so that applying a better setup fixes a bucket (but versioning, once enabled, can only be suspended,
    and Object Lock, once on, stays on)."""

    versioning: str = "Enabled"  # "Enabled", "Suspended", or "" for never enabled
    encryption: str = "AES256"  # the default SSE algorithm, or "" for none
    public_access_blocked: bool = True  # all four flags
    expire_backups_after_days: int | None = None  # a lifecycle rule on backups/
    replicate_to: str = ""  # the destination bucket of a replication rule on everything
    object_lock_days: int | None = None  # COMPLIANCE default retention


SEED_SETUP = BucketSetup()  # versioned and encrypted, as the seed DR plan says, and private


def set_up_bucket(s3: Any, bucket: str, setup: BucketSetup) -> None:
    if setup.versioning:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": setup.versioning})
    if setup.encryption:
        default = {"SSEAlgorithm": setup.encryption}
        s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": default}]},
        )
    else:
        s3.delete_bucket_encryption(Bucket=bucket)
    if setup.public_access_blocked:
        flags = dict.fromkeys(PUBLIC_ACCESS_FLAGS, True)
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=flags)
    else:
        s3.delete_public_access_block(Bucket=bucket)
    if setup.expire_backups_after_days is not None:
        rule: dict[str, Any] = {
            "ID": "expire-backups",
            "Filter": {"Prefix": "backups/"},
            "Status": "Enabled",
            "Expiration": {"Days": setup.expire_backups_after_days},
        }
        s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [rule]})
    else:
        s3.delete_bucket_lifecycle(Bucket=bucket)
    if setup.replicate_to:
        replication: dict[str, Any] = {
            "ID": "to-dr",
            "Priority": 1,
            "Filter": {"Prefix": ""},
            "Status": "Enabled",
            "DeleteMarkerReplication": {"Status": "Disabled"},
            "Destination": {"Bucket": f"arn:aws:s3:::{setup.replicate_to}"},
        }
        role = "arn:aws:iam::123456789012:role/s3-replication"
        s3.put_bucket_replication(Bucket=bucket, ReplicationConfiguration={"Role": role, "Rules": [replication]})
    else:
        s3.delete_bucket_replication(Bucket=bucket)
    if setup.object_lock_days is not None:
        retention = {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": setup.object_lock_days}}
        s3.put_object_lock_configuration(
            Bucket=bucket, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled", "Rule": retention}
        )


def create_bucket(s3: Any, bucket: str, region: str) -> None:
    if region == "us-east-1":
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})


def upload(s3: Any, bucket: str, keys: Mapping[str, bytes], *, region: str, versioned: bool = False) -> None:
    create_bucket(s3, bucket, region)
    if versioned:  # the seed DR plan enables versioning on both buckets
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    put_objects(s3, bucket, keys)


def put_objects(s3: Any, bucket: str, keys: Mapping[str, bytes]) -> dict[str, str]:
    """Uploads the keys; returns the version each got (in a versioned bucket)."""
    with ThreadPoolExecutor(UPLOAD_THREADS) as pool:
        answers = list(pool.map(lambda kv: s3.put_object(Bucket=bucket, Key=kv[0], Body=kv[1]), keys.items()))
    return {key: answer["VersionId"] for key, answer in zip(keys, answers, strict=True) if "VersionId" in answer}


def snapshot_tags(backup: objects.Obj, pv: str) -> list[dict[str, str]]:
    """The tags Velero's AWS volume snapshotter puts on a snapshot: the backup's labels, its name, the PV."""
    labels = dict(backup["metadata"].get("labels", {}))
    labels.update({BACKUP_TAG: objects.name_of(backup), PV_TAG: pv})
    return [{"Key": k, "Value": v} for k, v in sorted(labels.items())]


def take_snapshots(
    ec2: Any, backups: Iterable[objects.Obj], *, per_backup: int = 1, encrypted: bool = False
) -> dict[str, list[str]]:
    """Snapshots of each backup's volumes, tagged as Velero tags them; snapshot ids by backup name. A snapshot
    of an encrypted volume is encrypted, and so are its copies."""
    volume = ec2.create_volume(AvailabilityZone=f"{ec2.meta.region_name}a", Size=10, Encrypted=encrypted)["VolumeId"]
    taken: dict[str, list[str]] = {}
    for backup in backups:
        for i in range(per_backup):
            tags = snapshot_tags(backup, f"pvc-{i}")
            snapshot = ec2.create_snapshot(
                VolumeId=volume, TagSpecifications=[{"ResourceType": "snapshot", "Tags": tags}]
            )
            taken.setdefault(objects.name_of(backup), []).append(snapshot["SnapshotId"])
    return taken


def copy_snapshots(source: Any, destination: Any, snapshot_ids: Iterable[str]) -> list[str]:
    """Cross-region copies as a script makes them: CopySnapshot with the source's tags in TagSpecifications
    (CopySnapshot itself copies no tags)."""
    copies = []
    for snapshot_id in snapshot_ids:
        tags = source.describe_snapshots(SnapshotIds=[snapshot_id])["Snapshots"][0].get("Tags", [])
        copy = destination.copy_snapshot(
            SourceSnapshotId=snapshot_id,
            SourceRegion=source.meta.region_name,
            TagSpecifications=[{"ResourceType": "snapshot", "Tags": tags}],
        )
        copies.append(copy["SnapshotId"])
    return copies
