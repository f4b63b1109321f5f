"""Families of the BackupStorageLocations (where backups live) and VolumeSnapshotLocations."""

from __future__ import annotations

from velero_exporter.metrics.family import Labels, Subject, flag, gauge, known
from velero_exporter.state.records import SnapshotLocation, StorageLocation

LOCATION = ("location",)


def _location(location: StorageLocation) -> Labels:
    return (location.name,)


STORAGE_LOCATIONS: Subject[StorageLocation] = Subject(
    "Storage locations",
    lambda exported: exported.model.storage_locations,
    (
        gauge(
            "velero_storage_location_info",
            "1 for each BackupStorageLocation.",
            ("location", "provider", "bucket", "prefix", "region", "default", "access_mode"),
            known(
                lambda loc: (
                    loc.name,
                    loc.provider,
                    loc.bucket,
                    loc.prefix,
                    loc.region,
                    str(loc.default).lower(),
                    loc.access_mode,
                ),
                lambda _: 1.0,
            ),
        ),
        gauge(
            "velero_storage_location_available",
            "1 when the location's phase is Available.",
            LOCATION,
            flag(_location, lambda loc: loc.phase == "Available"),
        ),
        gauge(
            "velero_storage_location_last_validation_timestamp_seconds",
            "Velero's last validation of the location: stale means Velero is not running.",
            LOCATION,
            known(_location, lambda loc: loc.last_validated),
        ),
        gauge(
            "velero_storage_location_last_sync_timestamp_seconds",
            "Velero's last sync of backups from the location's bucket.",
            LOCATION,
            known(_location, lambda loc: loc.last_synced),
        ),
    ),
)

SNAPSHOT_LOCATIONS: Subject[SnapshotLocation] = Subject(
    "Volume snapshot locations",
    lambda exported: exported.model.snapshot_locations,
    (
        gauge(
            "velero_snapshot_location_info",
            "1 for each VolumeSnapshotLocation.",
            ("location", "provider", "region"),
            known(lambda vsl: (vsl.name, vsl.provider, vsl.region), lambda _: 1.0),
            ad_hoc="which VolumeSnapshotLocations exist, with their provider and region",
        ),
    ),
)
