"""Which buckets and regions the AWS sources measure and the AWS model reports: pure functions of the stored
locations and the config, shared by both (so the model does not reach into a source)."""

from __future__ import annotations

from collections.abc import Mapping

from velero_exporter.config.settings import AwsConfig
from velero_exporter.state.aws_records import BucketTarget
from velero_exporter.state.records import SnapshotLocation, StorageLocation

# Velero accepts the AWS plugin under both names.
AWS_PROVIDERS = frozenset({"aws", "velero.io/aws"})


def bucket_targets(locations: Mapping[str, StorageLocation], config: AwsConfig) -> dict[str, BucketTarget]:
    """Targets by location name: the AWS BackupStorageLocations, then the extra buckets of the config (a name
    that a location already has is the location's)."""
    targets: dict[str, BucketTarget] = {}
    for name in sorted(locations):
        loc = locations[name]
        if loc.provider in AWS_PROVIDERS and loc.bucket:
            targets[name] = BucketTarget(
                location=name,
                bucket=loc.bucket,
                prefix=loc.prefix.strip("/"),
                region=loc.region,
                s3_url=loc.s3_url,
                settings=config.location_settings(name),
                discovered=True,
                written_by_velero=loc.access_mode != "ReadOnly",
            )
    for extra in config.extra_buckets:
        targets.setdefault(
            extra.name,
            BucketTarget(
                location=extra.name,
                bucket=extra.bucket,
                prefix=extra.prefix,
                region=extra.region,
                s3_url=extra.s3_url,
                settings=extra.settings,
                discovered=False,
                replica_of=extra.replica_of,
            ),
        )
    return targets


def snapshot_regions(locations: Mapping[str, SnapshotLocation], config: AwsConfig) -> list[str]:
    """The regions of the AWS VolumeSnapshotLocations and the config's extra regions (the DR region)."""
    regions = {loc.region for loc in locations.values() if loc.provider in AWS_PROVIDERS and loc.region}
    return sorted(regions | set(config.extra_regions))
