"""Families of the BackupStorageLocations (where backups live) and VolumeSnapshotLocations."""

from __future__ import annotations

from velero_exporter.metrics.family import Labels, Subject, flag, gauge, known
from velero_exporter.model.velero import LocationState
from velero_exporter.state.records import SnapshotLocation

LOCATION = ("location",)


def _location(location: LocationState) -> Labels:
    return (location.record.name,)


STORAGE_LOCATIONS: Subject[LocationState] = Subject(
    "Storage locations",
    lambda exported: exported.model.storage_locations,
    (
        gauge(
            "velero_storage_location_info",
            "1 for each BackupStorageLocation.",
            ("location", "provider", "bucket", "prefix", "region", "default", "access_mode"),
            known(
                lambda loc: (
                    loc.record.name,
                    loc.record.provider,
                    loc.record.bucket,
                    loc.record.prefix,
                    loc.record.region,
                    str(loc.record.default).lower(),
                    loc.record.access_mode,
                ),
                lambda _: 1.0,
            ),
        ),
        gauge(
            "velero_storage_location_available",
            "1 when the location's phase is Available.",
            LOCATION,
            flag(_location, lambda loc: loc.record.phase == "Available"),
        ),
        gauge(
            "velero_storage_location_last_validation_timestamp_seconds",
            "Velero's last validation of the location: stale means Velero is not running.",
            LOCATION,
            known(_location, lambda loc: loc.record.last_validated),
        ),
        gauge(
            "velero_storage_location_validation_frequency_seconds",
            "How often Velero validates the location: its spec.validationFrequency, else the server's "
            "--store-validation-frequency (the config's velero_store_validation_frequency); 0: validation "
            "disabled (Velero validates it once only).",
            LOCATION,
            known(_location, lambda loc: loc.validation_frequency),
        ),
        gauge(
            "velero_storage_location_last_sync_timestamp_seconds",
            "Velero's last sync of backups from the location's bucket.",
            LOCATION,
            known(_location, lambda loc: loc.record.last_synced),
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
