"""The AWS part of the model: pure functions joining what the AWS sources measured with the cluster's backups.

- a bucket's size in list mode is the sum of its kinds, the repositories included, measured when the older of
  the two sources measured it; in cloudwatch mode it is S3's own daily figure;
- a backup folder's tier is its Backup's tier (the store's record), else the tier its velero-backup.json names
  (a DR copy of a backup this cluster does not hold), else unassigned;
- a snapshot's point in time is its backup's start (joined by the velero.io/backup tag) where the cluster holds
  the backup, else its own StartTime; its tier is the backup's, else the one its copied tags name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from velero_exporter.config.settings import Config
from velero_exporter.model.velero import UNASSIGNED, Plausibility, TierResolver, plausibility
from velero_exporter.state.aws_records import BucketTarget, BucketUsage, RepositoryUsage, SnapshotGroup, Usage
from velero_exporter.state.store import StoreView


@dataclass(slots=True, frozen=True)
class BucketState:
    target: BucketTarget
    total: Usage | None  # absent until every part of it has been measured
    kinds: Mapping[str, Usage]  # list mode: by Velero's layout
    repositories: Mapping[tuple[str, str], Usage]  # list mode: (kind, repository)
    tier_bytes: Mapping[str, int]  # list mode: bytes of the backup folders by tier
    recovery_point: float | None  # start of the newest Completed backup found in the bucket
    missing_backups: int | None  # Completed backups of the location without their folder (list mode, BSLs)


@dataclass(slots=True, frozen=True)
class RegionState:
    region: str
    measured: float
    by_state: Mapping[str, int]
    oldest_pending: float | None
    last_completed: Mapping[str, float]  # by tier: the newest point in time a completed snapshot holds


@dataclass(slots=True, frozen=True)
class AwsModel:
    buckets: tuple[BucketState, ...]
    regions: tuple[RegionState, ...]


def build_aws_model(view: StoreView, config: Config, now: float) -> AwsModel:
    resolver = TierResolver(config, view.schedules)
    times = plausibility(config, now)
    keys = sorted({*view.buckets, *view.repositories})
    return AwsModel(
        buckets=tuple(
            _bucket(view.buckets.get(key), view.repositories.get(key), view, config, resolver, times=times)
            for key in keys
        ),
        regions=tuple(_region(region, view, resolver, times) for region in sorted(view.snapshots)),
    )


def _bucket(
    measured: BucketUsage | None,
    repos: RepositoryUsage | None,
    view: StoreView,
    config: Config,
    resolver: TierResolver,
    *,
    times: Plausibility,
) -> BucketState:
    target = measured.target if measured is not None else repos.target if repos is not None else None
    assert target is not None  # a key is in one of the two
    if measured is not None and measured.total is not None:  # cloudwatch mode
        return BucketState(target, measured.total, {}, {}, {}, None, None)
    kinds = {**(measured.kinds if measured is not None else {}), **(repos.kinds if repos is not None else {})}
    total = None
    if measured is not None and repos is not None:
        total = Usage(
            bytes=sum(u.bytes for u in kinds.values()),
            objects=sum(u.objects for u in kinds.values()),
            measured=min(u.measured for u in kinds.values()),
        )
    tier_bytes: dict[str, int] = {}
    recovery_point = missing = None
    if measured is not None and measured.folders_listed is not None:
        tier_bytes = dict.fromkeys((*config.tier_names, UNASSIGNED), 0)
        for name, folder in measured.folders.items():
            record = view.backups.get(name) or folder.manifest
            tier_bytes[resolver.backup_tier(record) if record is not None else UNASSIGNED] += folder.bytes
        newest = measured.newest_completed
        # Whoever may write the bucket may write its velero-backup.json: a time no Velero wrote is not a point.
        if newest is not None and times.believable(newest.created, newest.started, newest.completed):
            recovery_point = newest.started or newest.created
        if target.discovered:
            missing = _missing(view, target, measured)
    return BucketState(
        target,
        total,
        kinds,
        repos.repositories if repos is not None else {},
        tier_bytes,
        recovery_point,
        missing,
    )


def _missing(view: StoreView, target: BucketTarget, measured: BucketUsage) -> int:
    """Completed backups of the location, finished before the folders were listed, whose folder is not there
    (a lifecycle rule shorter than the backups' TTL deletes them under Velero's feet)."""
    listed = measured.folders_listed or 0.0
    count = 0
    for backup in view.backups.values():
        if backup.phase != "Completed" or backup.storage_location != target.location:
            continue
        if (backup.completed or backup.started or 0.0) > listed:
            continue  # finished after the listing: the next refresh will see it
        folder = measured.folders.get(backup.name)
        if folder is None or not folder.present:
            count += 1
    return count


def _region(region: str, view: StoreView, resolver: TierResolver, times: Plausibility) -> RegionState:
    summary = view.snapshots[region]
    last: dict[str, float] = {}
    for group in summary.completed:
        tier, point = _snapshot_point(group, view, resolver, times)
        last[tier] = max(last.get(tier, point), point)
    return RegionState(region, summary.measured, summary.by_state, summary.oldest_pending, dict(sorted(last.items())))


def _snapshot_point(
    group: SnapshotGroup, view: StoreView, resolver: TierResolver, times: Plausibility
) -> tuple[str, float]:
    record = view.backups.get(group.backup) if group.backup is not None else None
    if record is not None and times.believable(record.created, record.started, record.completed):
        # A DR copy's StartTime is when it was copied; the data is as old as the backup's start.
        return resolver.backup_tier(record), record.started or record.created or group.newest_start
    return resolver.labels_tier(group.labels), group.newest_start
