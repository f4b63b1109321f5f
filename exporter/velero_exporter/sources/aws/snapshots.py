"""The snapshots source: per region, the EBS snapshots that the tag filter names as Velero's.

DescribeSnapshots with OwnerIds=self (never the public snapshots) and the tag filter, 1,000 per page. What is
kept is bounded by backups, not snapshots: the completed ones grouped by backup and tier tags (with how many are
not encrypted, and how many are locked), counts by state and encryption, and the oldest pending one.

Snapshot locks come from DescribeLockedSnapshots (one call per region and refresh, for every lock of the account
in the region). Where the API does not answer, the locks are unknown (absent), and the rest of the refresh
stands: a region that answers that it does not know the operation is not asked again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

from velero_exporter.config.settings import Config
from velero_exporter.sources.aws.api import AwsApi, AwsError, Where
from velero_exporter.state.aws_records import SNAPSHOT_STATES, RegionSnapshots, SnapshotGroup
from velero_exporter.state.store import Store, TargetHealth
from velero_exporter.state.vocabulary import SCHEDULE_NAME_LABEL

SOURCE = "snapshots"
# Velero's AWS volume snapshotter tags each snapshot with its backup's name (and copies the backup's labels).
BACKUP_TAG = "velero.io/backup"
PAGE_SIZE = 1000
# The lock states under which a snapshot cannot be deleted (DescribeLockedSnapshots LockState; not `expired`).
LOCKED_STATES = ("compliance-cooloff", "governance", "compliance")

log = logging.getLogger("velero_exporter.aws")


def describe_filters(tag_key: str, tag_value: str | None) -> list[dict[str, Any]]:
    if tag_value is None:
        return [{"Name": "tag-key", "Values": [tag_key]}]
    return [{"Name": f"tag:{tag_key}", "Values": [tag_value]}]


def summarize(
    region: str,
    snapshots: Iterable[Mapping[str, Any]],
    tier_label: str,
    measured: float,
    locked: Collection[str] | None = None,
) -> RegionSnapshots:
    """Counts by state (and of those, the unencrypted), the oldest pending StartTime and the completed snapshots
    grouped by backup and tier tags; `locked`: the ids of the region's locked snapshots, None where unknown."""
    by_state = dict.fromkeys(SNAPSHOT_STATES, 0)
    unencrypted_by_state = dict.fromkeys(SNAPSHOT_STATES, 0)
    oldest_pending: float | None = None
    groups: dict[tuple[str | None, tuple[tuple[str, str], ...]], tuple[float, int, int, int]] = {}
    kept = (tier_label, SCHEDULE_NAME_LABEL)
    for snapshot in snapshots:
        state = str(snapshot.get("State", ""))
        encrypted = snapshot.get("Encrypted") is True
        by_state[state] = by_state.get(state, 0) + 1
        unencrypted_by_state[state] = unencrypted_by_state.get(state, 0) + (not encrypted)
        started: float = snapshot["StartTime"].timestamp()
        if state == "pending":
            oldest_pending = started if oldest_pending is None else min(oldest_pending, started)
        if state != "completed":
            continue
        tags = {t["Key"]: t["Value"] for t in snapshot.get("Tags", ())}
        key = (tags.get(BACKUP_TAG), tuple((k, tags[k]) for k in kept if k in tags))
        newest, count, clear, under_lock = groups.get(key, (started, 0, 0, 0))
        is_locked = locked is not None and snapshot.get("SnapshotId") in locked
        groups[key] = (max(newest, started), count + 1, clear + (not encrypted), under_lock + is_locked)
    return RegionSnapshots(
        region=region,
        measured=measured,
        by_state=by_state,
        oldest_pending=oldest_pending,
        completed=tuple(
            SnapshotGroup(backup, labels, newest, count, clear, under_lock if locked is not None else None)
            for (backup, labels), (newest, count, clear, under_lock) in sorted(
                groups.items(), key=lambda g: (g[0][0] or "", g[0][1])
            )
        ),
        unencrypted_by_state=unencrypted_by_state,
    )


class SnapshotRefresher:
    def __init__(self, store: Store, api: AwsApi, config: Config, *, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._api = api
        self._filters = describe_filters(config.aws.snapshot_tag_key, config.aws.snapshot_tag_value)
        self._tier_label = config.tier_label
        self._aws = config.aws
        self._clock = clock
        self._without_locks: set[str] = set()  # regions that do not know DescribeLockedSnapshots

    def forget(self, targets: Mapping[str, str]) -> None:
        self._store.snapshots.retain(targets)

    async def refresh(self, name: str, target: str, health: TargetHealth) -> None:
        ec2 = Where("ec2", target, role_arn=self._aws.region_settings(target).role_arn)
        snapshots = await self._pages(
            ec2, "DescribeSnapshots", "Snapshots", health, OwnerIds=["self"], Filters=self._filters
        )
        locked = await self._locked(ec2, health)
        self._store.snapshots.put(target, summarize(target, snapshots, self._tier_label, self._clock(), locked))

    async def _pages(
        self, ec2: Where, operation: str, key: str, health: TargetHealth, **params: Any
    ) -> list[Mapping[str, Any]]:
        found: list[Mapping[str, Any]] = []
        params["MaxResults"] = PAGE_SIZE
        while True:
            page = await self._api.call(ec2, operation, health, **params)
            found.extend(page.get(key, ()))
            if not page.get("NextToken"):
                return found
            params["NextToken"] = page["NextToken"]

    async def _locked(self, ec2: Where, health: TargetHealth) -> set[str] | None:
        """The ids of the region's locked snapshots; None where the API did not answer (counted in the errors)."""
        if not self._aws.snapshot_lock or ec2.region in self._without_locks:
            return None
        try:
            locks = await self._pages(
                ec2,
                "DescribeLockedSnapshots",
                "Snapshots",
                health,
                Filters=[{"Name": "lock-state", "Values": list(LOCKED_STATES)}],
            )
        except AwsError as err:
            if err.kind == "client_error":  # InvalidAction, UnsupportedOperation: the region does not offer it
                self._without_locks.add(ec2.region)
                log.warning("snapshot locks unknown region=%s error=%s: not asked again", ec2.region, err)
            return None
        return {str(lock["SnapshotId"]) for lock in locks}
