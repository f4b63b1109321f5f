"""Every subject's table, in exposition order: what the exporter serves is exactly what these declare."""

from __future__ import annotations

from typing import Any

from velero_exporter.metrics.account import AWS_TARGETS
from velero_exporter.metrics.backup import DELETING, UNFINISHED
from velero_exporter.metrics.bucket import BUCKETS
from velero_exporter.metrics.cluster import CLUSTER, DR_TIERS
from velero_exporter.metrics.coverage import NAMESPACES, PVCS, TOTALS
from velero_exporter.metrics.family import Family, Subject
from velero_exporter.metrics.health import BUILD, RENDERS, RESOURCES, SOURCES, TARGETS
from velero_exporter.metrics.location import SNAPSHOT_LOCATIONS, STORAGE_LOCATIONS
from velero_exporter.metrics.posture import BUCKET_POSTURE, REPLICAS
from velero_exporter.metrics.repository import REPOSITORIES
from velero_exporter.metrics.restore import RESTORE_COUNTS, RESTORE_GROUPS
from velero_exporter.metrics.schedule import LAST_BACKUPS, SCHEDULES
from velero_exporter.metrics.snapshot import REGIONS
from velero_exporter.metrics.tier import TIERS
from velero_exporter.metrics.volume import OPERATIONS_IN_FLIGHT, SCHEDULE_VOLUMES, VOLUME_OPERATIONS

SUBJECTS: tuple[Subject[Any], ...] = (
    TIERS,
    SCHEDULES,
    LAST_BACKUPS,
    SCHEDULE_VOLUMES,
    UNFINISHED,
    DELETING,
    VOLUME_OPERATIONS,
    OPERATIONS_IN_FLIGHT,
    RESTORE_COUNTS,
    RESTORE_GROUPS,
    STORAGE_LOCATIONS,
    SNAPSHOT_LOCATIONS,
    REPOSITORIES,
    BUCKETS,
    BUCKET_POSTURE,
    REPLICAS,
    REGIONS,
    AWS_TARGETS,
    TOTALS,
    NAMESPACES,
    PVCS,
    CLUSTER,
    DR_TIERS,
    BUILD,
    SOURCES,
    TARGETS,
    RESOURCES,
    RENDERS,
)


def families() -> dict[str, Family[Any]]:
    """Every declared family by name."""
    return {family.name: family for subject in SUBJECTS for family in subject.families}
