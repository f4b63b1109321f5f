"""What the AWS sources measure, as slim immutable records: the store keeps them, the AWS model reads them.

Timestamps are POSIX seconds. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from velero_exporter.config.settings import BucketSettings
from velero_exporter.state.records import Backup

# (location, bucket, region): the labels of a bucket's series. Two locations sharing a bucket under different
# prefixes stay apart.
BucketKey = tuple[str, str, str]

# Velero's layout under a location's prefix (pkg/persistence/object_store_layout.go); anything else is "other".
BACKUPS = "backups"
RESTORES = "restores"
KOPIA = "kopia"
RESTIC = "restic"
OTHER = "other"
PREFIX_KINDS: tuple[str, ...] = (BACKUPS, RESTORES, KOPIA, RESTIC, OTHER)
REPOSITORY_KINDS: tuple[str, ...] = (KOPIA, RESTIC)

# EBS snapshot states (DescribeSnapshots State).
SNAPSHOT_STATES: tuple[str, ...] = ("pending", "completed", "error", "recoverable", "recovering")

# What the posture source asks of each bucket, one call each (the `check` label of when each was measured).
POSTURE_CHECKS: tuple[str, ...] = (
    "versioning",
    "object_lock",
    "encryption",
    "public_access_block",
    "replication",
    "lifecycle",
)
# The name of the exporter's own identity (no role) among the roles the accounts source reads with.
DEFAULT_IDENTITY = "default"
# The encryption a bucket without a default encryption configuration reports.
NO_ENCRYPTION = "none"

V = TypeVar("V")


@dataclass(slots=True, frozen=True)
class BucketTarget:
    """One bucket (and prefix) to measure: from a BackupStorageLocation or from the config."""

    location: str
    bucket: str
    prefix: str  # without leading or trailing "/"; "" for the bucket's root
    region: str
    s3_url: str  # a BSL's s3Url (an S3-compatible endpoint); "" for AWS's own
    settings: BucketSettings
    # From a BackupStorageLocation: the cluster's Backups of the location should have their folders here.
    discovered: bool
    # A location Velero writes to (ReadWrite); False for a ReadOnly location and for an extra bucket.
    written_by_velero: bool = False
    # The location this bucket is declared a replica of (an extra bucket's `replica_of`), else "".
    replica_of: str = ""

    @property
    def key(self) -> BucketKey:
        return (self.location, self.bucket, self.region)

    def path(self, *parts: str) -> str:
        """The key prefix of parts under the location's prefix, ending in "/" (the root: "" or "prefix/")."""
        return "".join(f"{part}/" for part in (self.prefix, *parts) if part)


@dataclass(slots=True, frozen=True)
class Usage:
    bytes: int
    objects: int
    measured: float  # when it was measured (CloudWatch: the datapoint's time)


@dataclass(slots=True, frozen=True)
class BackupFolder:
    """One backups/<name>/ folder."""

    bytes: int
    objects: int
    last_modified: float  # of its newest object
    manifest: Backup | None  # its velero-backup.json, when it was read
    present: bool  # holds a current object (in a versioned bucket, a deleted folder keeps noncurrent versions)


@dataclass(slots=True, frozen=True)
class BucketUsage:
    """What the buckets source last measured of one target."""

    target: BucketTarget
    # cloudwatch mode: the bucket's size and object count; list mode: None (the sum of the kinds and repositories)
    total: Usage | None
    kinds: Mapping[str, Usage]  # list mode: backups, restores, other (the repositories are measured apart)
    folders: Mapping[str, BackupFolder]  # list mode: by backup name
    folders_listed: float | None  # when the folder names were listed (list mode)
    newest_completed: Backup | None  # the newest Completed backup whose velero-backup.json was read


@dataclass(slots=True, frozen=True)
class RepositoryUsage:
    """What the repositories source last measured of one target: kopia/<repo>/ and restic/<repo>/."""

    target: BucketTarget
    measured: float
    repositories: Mapping[tuple[str, str], Usage]  # (kind, repository) -> usage
    kinds: Mapping[str, Usage]  # kopia, restic


@dataclass(slots=True, frozen=True)
class SnapshotGroup:
    """Completed snapshots of one backup (by the tag filter's backup tag), or of no known backup."""

    backup: str | None
    labels: tuple[tuple[str, str], ...]  # the snapshot's tags: Velero copies the backup's labels onto them
    newest_start: float
    count: int
    unencrypted: int = 0
    locked: int | None = None  # under an EBS snapshot lock; None where the region's locks are unknown


@dataclass(slots=True, frozen=True)
class RegionSnapshots:
    region: str
    measured: float
    by_state: Mapping[str, int]
    oldest_pending: float | None  # StartTime of the oldest pending snapshot
    completed: tuple[SnapshotGroup, ...]
    unencrypted_by_state: Mapping[str, int]  # of by_state, those not encrypted


@dataclass(slots=True, frozen=True)
class Checked(Generic[V]):
    """One posture value and when it was read."""

    value: V
    measured: float


@dataclass(slots=True, frozen=True)
class ObjectLock:
    """A bucket's Object Lock default retention (GetObjectLockConfiguration)."""

    mode: str  # GOVERNANCE or COMPLIANCE; "none" when Object Lock is enabled without a default retention
    retention_seconds: float


@dataclass(slots=True, frozen=True)
class Replication:
    """Where a bucket replicates to: per destination bucket, whether an enabled rule covers the location's
    backups/ (a rule on another prefix, or on tagged objects only, replicates none of Velero's folders)."""

    destinations: Mapping[str, bool]


@dataclass(slots=True, frozen=True)
class LifecycleExpiration:
    """The shortest current-version expiration of the lifecycle rules that reach the location's backups/."""

    prefix: str  # the rule's prefix filter ("" for the whole bucket)
    seconds: float


@dataclass(slots=True, frozen=True)
class BucketPosture:
    """What the posture source last read of one target; each value with its time, None until first answered.
    A call that failed keeps the previous value (and its time)."""

    target: BucketTarget
    versioning: Checked[bool] | None = None  # Enabled (Suspended and never-enabled are False)
    object_lock: Checked[ObjectLock | None] | None = None  # value None: no Object Lock configuration
    encryption: Checked[str] | None = None  # the default SSE algorithm, or NO_ENCRYPTION
    public_access_block: Checked[bool] | None = None  # all four flags set
    replication: Checked[Replication] | None = None
    lifecycle: Checked[LifecycleExpiration | None] | None = None  # value None: no rule expires backups/

    def checked(self) -> dict[str, Checked[object] | None]:
        """Each check by its name in POSTURE_CHECKS."""
        return {check: getattr(self, check) for check in POSTURE_CHECKS}
