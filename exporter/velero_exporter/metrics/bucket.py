"""Families of the buckets the AWS sources measure: sizes by Velero's layout, and the freshness of the newest
Completed backup each holds (the DR copy's)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from velero_exporter.metrics.family import Labels, Sample, Samples, Subject, gauge, known
from velero_exporter.model.aws import BucketState
from velero_exporter.state.aws_records import PREFIX_KINDS, Usage

WHERE = ("location", "bucket", "region")


def _where(bucket: BucketState) -> Labels:
    return (bucket.target.location, bucket.target.bucket, bucket.target.region)


def _total(value: Callable[[Usage], float]) -> Samples[BucketState]:
    return known(_where, lambda b: value(b.total) if b.total is not None else None)


def _by_kind(value: Callable[[Usage], float]) -> Samples[BucketState]:
    def samples(bucket: BucketState) -> Iterator[Sample]:
        for kind in PREFIX_KINDS:
            usage = bucket.kinds.get(kind)
            if usage is not None:
                yield (*_where(bucket), kind), value(usage)

    return samples


def _by_repository(value: Callable[[Usage], float]) -> Samples[BucketState]:
    def samples(bucket: BucketState) -> Iterator[Sample]:
        for (kind, repository), usage in bucket.repositories.items():
            yield (*_where(bucket), kind, repository), value(usage)

    return samples


def _by_tier(bucket: BucketState) -> Iterator[Sample]:
    for tier, size in bucket.tier_bytes.items():
        yield (*_where(bucket), tier), float(size)


BUCKETS: Subject[BucketState] = Subject(
    "Buckets (AWS sources)",
    lambda exported: exported.aws.buckets,
    (
        gauge(
            "velero_bucket_info",
            "1 for each bucket the exporter measures, with its prefix and mode (list or cloudwatch).",
            (*WHERE, "prefix", "mode"),
            known(lambda b: (*_where(b), b.target.prefix, b.target.settings.mode), lambda _: 1.0),
        ),
        gauge(
            "velero_bucket_size_bytes",
            "Bytes stored under the location's prefix in its bucket (cloudwatch mode: the whole bucket, every "
            "storage type); absent until every part has been measured.",
            WHERE,
            _total(lambda u: u.bytes),
        ),
        gauge(
            "velero_bucket_objects",
            "Objects stored under the location's prefix in its bucket (versions too where noncurrent versions "
            "are counted).",
            WHERE,
            _total(lambda u: u.objects),
        ),
        gauge(
            "velero_bucket_measured_timestamp_seconds",
            "When the bucket's size and object count were measured: the older of the buckets and repositories "
            "sources' measurements (cloudwatch mode: the datapoint's time).",
            WHERE,
            _total(lambda u: u.measured),
        ),
        gauge(
            "velero_bucket_prefix_size_bytes",
            "Bytes by Velero's layout (backups, restores, kopia, restic, other; list mode).",
            (*WHERE, "kind"),
            _by_kind(lambda u: u.bytes),
        ),
        gauge(
            "velero_bucket_prefix_objects",
            "Objects by Velero's layout (list mode).",
            (*WHERE, "kind"),
            _by_kind(lambda u: u.objects),
            ad_hoc="object counts by layout, beside the sizes the dashboards plot",
        ),
        gauge(
            "velero_bucket_prefix_measured_timestamp_seconds",
            "When the kind's size was measured (kopia and restic on the repositories interval).",
            (*WHERE, "kind"),
            _by_kind(lambda u: u.measured),
            ad_hoc="how old each layout figure is (kopia and restic are measured less often)",
        ),
        gauge(
            "velero_bucket_repository_size_bytes",
            "Bytes of each kopia or restic repository (one per namespace).",
            (*WHERE, "kind", "repository"),
            _by_repository(lambda u: u.bytes),
            ad_hoc="which namespace's repository holds the bytes",
        ),
        gauge(
            "velero_bucket_repository_objects",
            "Objects of each kopia or restic repository.",
            (*WHERE, "kind", "repository"),
            _by_repository(lambda u: u.objects),
            ad_hoc="objects per repository, for ad-hoc queries",
        ),
        gauge(
            "velero_bucket_tier_size_bytes",
            "Bytes of the backup folders of each tier (the Backup's tier; for a backup the cluster does not hold, "
            "the tier its velero-backup.json names once read, else unassigned).",
            (*WHERE, "tier"),
            _by_tier,
        ),
        gauge(
            "velero_bucket_recovery_point_timestamp_seconds",
            "Start of the newest Completed backup found in the bucket (its velero-backup.json): the copy's freshness.",
            WHERE,
            known(_where, lambda b: b.recovery_point),
        ),
        gauge(
            "velero_bucket_missing_backups",
            "Completed backups of the location, finished before the listing, whose folder is missing from the "
            "bucket (BackupStorageLocations in list mode).",
            WHERE,
            known(_where, lambda b: b.missing_backups),
        ),
    ),
    notes="Measured in the background on their own intervals (see [aws.md](aws.md)); each value has a "
    "companion `_measured_timestamp_seconds` of when it was measured, never a sample timestamp. `location` is a "
    "BackupStorageLocation's name or an extra bucket's name from the config; two locations sharing a bucket under "
    "different prefixes are two series. `kind` is Velero's layout: `backups`, `restores`, `kopia`, `restic`, "
    "`other`.",
)
