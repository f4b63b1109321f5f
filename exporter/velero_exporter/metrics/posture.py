"""Families of how each bucket keeps its backups (the posture source, hourly) and of the DR replicas'
completeness (from the buckets source's listings): versioning, Object Lock, encryption, public access,
replication, lifecycle; the backups a replica misses."""

from __future__ import annotations

from collections.abc import Iterator

from velero_exporter.metrics.family import Labels, Sample, Subject, gauge, known
from velero_exporter.model.aws import PostureState, ReplicaState

WHERE = ("location", "bucket", "region")


def _where(state: PostureState) -> Labels:
    target = state.posture.target
    return (target.location, target.bucket, target.region)


def _object_lock(state: PostureState) -> Iterator[Sample]:
    checked = state.posture.object_lock
    if checked is not None and checked.value is not None:
        yield (*_where(state), checked.value.mode), checked.value.retention_seconds


def _encryption(state: PostureState) -> Iterator[Sample]:
    checked = state.posture.encryption
    if checked is not None:
        yield (*_where(state), checked.value), 1.0


def _replication(state: PostureState) -> Iterator[Sample]:
    checked = state.posture.replication
    if checked is None:
        return
    destinations = checked.value.destinations
    if not destinations:
        yield (*_where(state), ""), 0.0  # no replication at all: 0, so that it shows
    for destination, covers in destinations.items():
        yield (*_where(state), destination), 1.0 if covers else 0.0


def _lifecycle(state: PostureState) -> Iterator[Sample]:
    checked = state.posture.lifecycle
    if checked is not None and checked.value is not None:
        yield (*_where(state), checked.value.prefix), checked.value.seconds


def _measured(state: PostureState) -> Iterator[Sample]:
    for check, checked in state.posture.checked().items():
        if checked is not None:
            yield (*_where(state), check), checked.measured


BUCKET_POSTURE: Subject[PostureState] = Subject(
    "Bucket posture (AWS posture source)",
    lambda exported: exported.aws.posture,
    (
        gauge(
            "velero_bucket_versioning_enabled",
            "1 when the bucket's versioning is Enabled, 0 when it is Suspended or was never enabled "
            "(GetBucketVersioning).",
            WHERE,
            known(_where, lambda s: float(s.posture.versioning.value) if s.posture.versioning else None),
        ),
        gauge(
            "velero_bucket_object_lock_retention_seconds",
            "The bucket's Object Lock default retention by mode (GOVERNANCE, COMPLIANCE; 0 with mode none when "
            "Object Lock is on without a default retention); absent when the bucket has no Object Lock "
            "(GetObjectLockConfiguration).",
            (*WHERE, "mode"),
            _object_lock,
        ),
        gauge(
            "velero_bucket_encryption",
            "1 for the bucket's default encryption algorithm (AES256, aws:kms, aws:kms:dsse), `none` when it has "
            "none (GetBucketEncryption).",
            (*WHERE, "algorithm"),
            _encryption,
        ),
        gauge(
            "velero_bucket_public_access_blocked",
            "1 when the bucket's public access block sets all four flags, 0 otherwise (GetPublicAccessBlock; the "
            "account-level block is not read).",
            WHERE,
            known(
                _where,
                lambda s: float(s.posture.public_access_block.value) if s.posture.public_access_block else None,
            ),
        ),
        gauge(
            "velero_bucket_replication_enabled",
            "Per destination bucket, 1 when an enabled replication rule covers the location's backups/, 0 when "
            "none does; one series with an empty destination_bucket and 0 when the bucket replicates nowhere "
            "(GetBucketReplication).",
            (*WHERE, "destination_bucket"),
            _replication,
        ),
        gauge(
            "velero_bucket_lifecycle_expiration_seconds",
            "The shortest expiration of current versions among the enabled lifecycle rules that reach the "
            "location's backups/, with that rule's prefix; absent when no rule expires them "
            "(GetBucketLifecycleConfiguration).",
            (*WHERE, "prefix"),
            _lifecycle,
        ),
        gauge(
            "velero_bucket_posture_measured_timestamp_seconds",
            "When each posture value (check: versioning, object_lock, encryption, public_access_block, "
            "replication, lifecycle) was last read; a failed call keeps the previous value and its time.",
            (*WHERE, "check"),
            _measured,
        ),
        gauge(
            "velero_bucket_object_lock_required",
            "1 for a DR replica the config expects to carry Object Lock (aws.require_dr_object_lock); never a "
            "location Velero writes to.",
            WHERE,
            known(_where, lambda s: 1.0 if s.object_lock_required else None),
        ),
    ),
    notes="Read by the `posture` source on its own interval (default 1h), one call of each kind per bucket and "
    "refresh (see [aws.md](aws.md)). A call that fails (a bucket policy that denies it: error kind `forbidden`) "
    "keeps the previous value with its time in `velero_bucket_posture_measured_timestamp_seconds`; a value never "
    "read is absent.",
)

REPLICAS: Subject[ReplicaState] = Subject(
    "DR replicas",
    lambda exported: exported.aws.replicas,
    (
        gauge(
            "velero_bucket_replica_missing_backups",
            "Completed backup folders present in the source bucket and absent from its replica, of backups that "
            "completed longer than the replica grace before the replica was listed (from the buckets source's "
            "listings).",
            ("bucket", "replica_bucket"),
            known(lambda r: (r.bucket, r.replica_bucket), lambda r: r.missing_backups),
        ),
    ),
    notes="A replica is an extra bucket with `replica_of`, or a measured bucket that another's replication names "
    "as the destination of its backups/ under the same prefix. Both must be measured in list mode.",
)
