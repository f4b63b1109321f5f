"""Families of the EBS snapshots the snapshots source finds in each region: cross-region freshness per tier."""

from __future__ import annotations

from collections.abc import Iterator

from velero_exporter.metrics.family import Labels, Sample, Subject, gauge, known
from velero_exporter.model.aws import RegionState
from velero_exporter.state.aws_records import SNAPSHOT_STATES

REGION = ("region",)


def _region(region: RegionState) -> Labels:
    return (region.region,)


def _by_tier(region: RegionState) -> list[Sample]:
    return [((region.region, tier), point) for tier, point in region.last_completed.items()]


def _by_state(region: RegionState) -> Iterator[Sample]:
    """Every known state, encrypted or not, so that a count that is 0 is there (and a state this exporter does not
    know still counts)."""
    extra = sorted(region.by_state.keys() - set(SNAPSHOT_STATES))
    for state in (*SNAPSHOT_STATES, *extra):
        clear = region.unencrypted_by_state.get(state, 0)
        yield (region.region, state, "true"), float(region.by_state.get(state, 0) - clear)
        yield (region.region, state, "false"), float(clear)


REGIONS: Subject[RegionState] = Subject(
    "Snapshots (AWS sources)",
    lambda exported: exported.aws.regions,
    (
        gauge(
            "velero_snapshot_last_completed_timestamp_seconds",
            "The newest point in time a completed Velero EBS snapshot in the region holds: the start of the "
            "backup its velero.io/backup tag names, which the exporter must know (the cluster's Backup or a "
            "bucket's velero-backup.json; a cross-region copy's own StartTime is the copy time, not the data's); "
            "a snapshot without that tag (EBS CSI driver) by its own StartTime.",
            ("region", "tier"),
            _by_tier,
        ),
        gauge(
            "velero_snapshots",
            "EBS snapshots matching the tag filter, by state (pending, completed, error, recoverable, recovering) "
            "and whether they are encrypted (true, false).",
            ("region", "state", "encrypted"),
            _by_state,
        ),
        gauge(
            "velero_snapshot_unencrypted",
            "Completed Velero EBS snapshots of the tier in the region that are not encrypted.",
            ("region", "tier"),
            lambda r: [((r.region, tier), float(count)) for tier, count in r.unencrypted.items()],
        ),
        gauge(
            "velero_snapshot_locked",
            "Completed Velero EBS snapshots of the tier in the region under an EBS snapshot lock (governance, "
            "compliance or its cooling-off period); absent where DescribeLockedSnapshots does not answer.",
            ("region", "tier"),
            lambda r: [((r.region, tier), float(count)) for tier, count in r.locked.items()],
        ),
        gauge(
            "velero_snapshot_oldest_pending_timestamp_seconds",
            "Start of the oldest snapshot still pending.",
            REGION,
            known(_region, lambda r: r.oldest_pending),
            ad_hoc="a snapshot stuck pending, for ad-hoc queries",
        ),
        gauge(
            "velero_snapshot_measured_timestamp_seconds",
            "When the region's snapshots were last described.",
            REGION,
            known(_region, lambda r: r.measured),
            ad_hoc="how old the region's snapshot figures are",
        ),
    ),
)
