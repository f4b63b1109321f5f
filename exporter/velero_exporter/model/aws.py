"""The AWS part of the model: pure functions joining what the AWS sources measured with the cluster's backups.

- a bucket's size in list mode is the sum of its kinds, the repositories included, measured when the older of
  the two sources measured it; in cloudwatch mode it is S3's own daily figure;
- a backup folder's tier is its Backup's tier (the store's record), else the tier its velero-backup.json names
  (a DR copy of a backup this cluster does not hold), else unassigned;
- a snapshot tagged with its backup (velero.io/backup) is a recovery point only through a backup the exporter
  knows: the cluster's Backup, else the velero-backup.json read from a bucket; its point in time is that
  backup's start and its tier the backup's. velero-plugin-for-aws copies a volume's tags onto its snapshot and a
  snapshot's onto the volume restored from it, so a snapshot of a restored volume (DLM, AWS Backup) carries the
  name of a backup it does not belong to: one whose backup is unknown proves nothing and is no recovery point
  (its tier is then the one its copied tags name, for the encryption and lock counts);
- a snapshot without that tag (made by the EBS CSI driver, matched by another tag filter) cannot be joined: its
  point in time is its own StartTime and its tier the one its tags name;
- a bucket is a DR replica when the config declares it one (`replica_of`) or when a measured bucket's replication
  names it as the destination of its backups/ (same prefix); a replica misses the source's Completed backup
  folders, present in the source, of backups that completed longer than the grace before the replica was listed;
- the DR targets are the replicas Velero does not write to, and the regions that hold DR replicas or that the
  config adds (extra regions), unless a primary bucket is there; everything else is primary. The primary's
  accounts are those the primary targets are read with.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from velero_exporter.config.settings import Config
from velero_exporter.model.velero import UNASSIGNED, Plausibility, TierResolver, plausibility
from velero_exporter.state.aws_records import (
    DEFAULT_IDENTITY,
    BucketPosture,
    BucketTarget,
    BucketUsage,
    RepositoryUsage,
    SnapshotGroup,
    Usage,
)
from velero_exporter.state.aws_targets import bucket_targets, snapshot_regions
from velero_exporter.state.records import Backup
from velero_exporter.state.store import StoreView

# The `source` of a target's account: the sources that read buckets do so with the bucket's identity, the
# snapshots source with the region's.
BUCKET_TARGETS = "buckets"
REGION_TARGETS = "snapshots"


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
    unencrypted: Mapping[str, int]  # by tier: completed snapshots that are not encrypted
    locked: Mapping[str, int]  # by tier: completed snapshots under a lock, for the tiers whose locks are known
    unencrypted_by_state: Mapping[str, int]  # of by_state


@dataclass(slots=True, frozen=True)
class PostureState:
    posture: BucketPosture
    object_lock_required: bool  # a DR replica, and the config expects DR replicas to carry Object Lock


@dataclass(slots=True, frozen=True)
class ReplicaState:
    bucket: str
    replica_bucket: str
    missing_backups: int


@dataclass(slots=True, frozen=True)
class AwsTarget:
    """A bucket or region the exporter reads, the account it reads it with, and whether it holds DR copies."""

    source: str  # BUCKET_TARGETS or REGION_TARGETS
    name: str  # the location of a bucket, a region's name
    account: str | None  # unknown until the accounts source has asked
    dr: bool
    # Only for a DR target whose account is known, when the config requires a separate DR account.
    in_primary_account: bool | None


@dataclass(slots=True, frozen=True)
class AwsModel:
    buckets: tuple[BucketState, ...]
    regions: tuple[RegionState, ...]
    posture: tuple[PostureState, ...] = ()
    replicas: tuple[ReplicaState, ...] = ()
    targets: tuple[AwsTarget, ...] = ()


def build_aws_model(view: StoreView, config: Config, now: float) -> AwsModel:
    resolver = TierResolver(config, view.schedules)
    times = plausibility(config, now)
    keys = sorted({*view.buckets, *view.repositories})
    backups = _known_backups(view) if view.snapshots else {}
    targets = bucket_targets(view.storage_locations, config.aws)
    pairs = list(_replica_pairs(targets, view))
    dr_buckets = {replica.location for _, replica in pairs if not replica.written_by_velero}
    lock_expected = dr_buckets if config.aws.require_dr_object_lock else set()
    return AwsModel(
        buckets=tuple(
            _bucket(view.buckets.get(key), view.repositories.get(key), view, config, resolver, times=times)
            for key in keys
        ),
        regions=tuple(_region(region, view, backups, resolver, times) for region in sorted(view.snapshots)),
        posture=tuple(
            PostureState(view.posture[key], view.posture[key].target.location in lock_expected)
            for key in sorted(view.posture)
        ),
        replicas=_replicas(pairs, view, config.aws.replica_grace),
        targets=_targets(targets, dr_buckets, view, config),
    )


def _replica_pairs(targets: Mapping[str, BucketTarget], view: StoreView) -> Iterator[tuple[BucketTarget, BucketTarget]]:
    """(source, replica): declared by the config, or found in a source's replication (first declared, then found;
    each pair once)."""
    seen: set[tuple[str, str]] = set()
    for replica in targets.values():
        source = targets.get(replica.replica_of)
        if source is not None and source != replica:
            seen.add((source.location, replica.location))
            yield source, replica
    for source in targets.values():
        posture = view.posture.get(source.key)
        if posture is None or posture.replication is None:
            continue
        for destination, covers in posture.replication.value.destinations.items():
            for replica in targets.values():
                same = (replica.bucket, replica.prefix) == (destination, source.prefix)
                if covers and same and replica != source and (source.location, replica.location) not in seen:
                    seen.add((source.location, replica.location))
                    yield source, replica


def _replicas(
    pairs: list[tuple[BucketTarget, BucketTarget]], view: StoreView, grace: float
) -> tuple[ReplicaState, ...]:
    """Per (bucket, replica bucket): the source's Completed backup folders missing from the replica, from the two
    listings the buckets source keeps (two locations sharing a bucket under their prefixes add up)."""
    missing: dict[tuple[str, str], int] = {}
    for source, replica in pairs:
        held, copy = view.buckets.get(source.key), view.buckets.get(replica.key)
        if held is None or copy is None or copy.folders_listed is None or held.folders_listed is None:
            continue  # not listed yet (or cloudwatch mode): unknown
        due = copy.folders_listed - grace
        count = 0
        for name, folder in held.folders.items():
            record = view.backups.get(name) or folder.manifest
            if not folder.present or record is None or record.phase != "Completed":
                continue
            if (record.completed or folder.last_modified) > due:
                continue  # replication may still be copying it
            copied = copy.folders.get(name)
            count += copied is None or not copied.present
        key = (source.bucket, replica.bucket)
        missing[key] = missing.get(key, 0) + count
    return tuple(ReplicaState(bucket, replica, count) for (bucket, replica), count in sorted(missing.items()))


def _targets(
    targets: Mapping[str, BucketTarget], dr_buckets: set[str], view: StoreView, config: Config
) -> tuple[AwsTarget, ...]:
    aws = config.aws
    primary_buckets = {name for name, t in targets.items() if t.written_by_velero and name not in dr_buckets}
    primary_regions = {targets[name].region for name in primary_buckets}
    dr_regions = ({targets[name].region for name in dr_buckets} | set(aws.extra_regions)) - primary_regions
    # (source, name, role, DR, primary)
    found = [
        (BUCKET_TARGETS, name, t.settings.role_arn, name in dr_buckets, name in primary_buckets)
        for name, t in targets.items()
    ] + [
        (REGION_TARGETS, region, aws.region_settings(region).role_arn, region in dr_regions, region not in dr_regions)
        for region in snapshot_regions(view.snapshot_locations, aws)
    ]
    accounts = [view.accounts.get(role or DEFAULT_IDENTITY) for _, _, role, _, _ in found]
    primary_accounts = {a for a, (*_, primary) in zip(accounts, found, strict=True) if primary and a is not None}

    def in_primary_account(account: str | None, dr: bool) -> bool | None:
        if not (dr and aws.require_separate_dr_account and account is not None and primary_accounts):
            return None
        return account in primary_accounts

    return tuple(
        AwsTarget(source, name, account, dr, in_primary_account(account, dr))
        for (source, name, _, dr, _), account in zip(found, accounts, strict=True)
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


def _known_backups(view: StoreView) -> dict[str, Backup]:
    """Every backup the exporter knows by name: the velero-backup.json files read from the buckets, overridden by
    the cluster's own Backups."""
    known = {
        name: folder.manifest
        for usage in view.buckets.values()
        for name, folder in usage.folders.items()
        if folder.manifest is not None
    }
    known.update(view.backups)
    return known


def _region(
    region: str, view: StoreView, backups: Mapping[str, Backup], resolver: TierResolver, times: Plausibility
) -> RegionState:
    summary = view.snapshots[region]
    last: dict[str, float] = {}
    unencrypted: dict[str, int] = {}
    locked: dict[str, int | None] = {}
    for group in summary.completed:
        tier, point = _snapshot_point(group, backups, resolver, times)
        if point is not None:
            last[tier] = max(last.get(tier, point), point)
        unencrypted[tier] = unencrypted.get(tier, 0) + group.unencrypted
        known = locked.get(tier, 0)
        locked[tier] = None if known is None or group.locked is None else known + group.locked
    return RegionState(
        region,
        summary.measured,
        summary.by_state,
        summary.oldest_pending,
        dict(sorted(last.items())),
        dict(sorted(unencrypted.items())),
        {tier: count for tier, count in sorted(locked.items()) if count is not None},
        summary.unencrypted_by_state,
    )


def _snapshot_point(
    group: SnapshotGroup, backups: Mapping[str, Backup], resolver: TierResolver, times: Plausibility
) -> tuple[str, float | None]:
    """The tier of a group of completed snapshots, and the point in time they hold as a recovery point (None:
    they are none)."""
    if group.backup is None:
        return resolver.labels_tier(group.labels), group.newest_start
    record = backups.get(group.backup)
    if record is None or not times.believable(record.created, record.started, record.completed):
        return resolver.labels_tier(group.labels), None
    # A DR copy's StartTime is when it was copied; the data is as old as the backup's start.
    return resolver.backup_tier(record), record.started or record.created
