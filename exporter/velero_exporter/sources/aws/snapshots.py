"""The snapshots source: per region, the EBS snapshots that the tag filter names as Velero's.

DescribeSnapshots with OwnerIds=self (never the public snapshots) and the tag filter, 1,000 per page. What is
kept is bounded by backups, not snapshots: the completed ones grouped by backup and tier tags, counts by state,
and the oldest pending one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from velero_exporter.config.settings import Config
from velero_exporter.sources.aws.api import AwsApi, Where
from velero_exporter.state.aws_records import SNAPSHOT_STATES, RegionSnapshots, SnapshotGroup
from velero_exporter.state.store import Store, TargetHealth
from velero_exporter.state.vocabulary import SCHEDULE_NAME_LABEL

SOURCE = "snapshots"
# Velero's AWS volume snapshotter tags each snapshot with its backup's name (and copies the backup's labels).
BACKUP_TAG = "velero.io/backup"
PAGE_SIZE = 1000


def describe_filters(tag_key: str, tag_value: str | None) -> list[dict[str, Any]]:
    if tag_value is None:
        return [{"Name": "tag-key", "Values": [tag_key]}]
    return [{"Name": f"tag:{tag_key}", "Values": [tag_value]}]


def summarize(region: str, snapshots: Iterable[Mapping[str, Any]], tier_label: str, measured: float) -> RegionSnapshots:
    """Counts by state, the oldest pending StartTime and the completed snapshots grouped by backup and tier tags."""
    by_state = dict.fromkeys(SNAPSHOT_STATES, 0)
    oldest_pending: float | None = None
    groups: dict[tuple[str | None, tuple[tuple[str, str], ...]], tuple[float, int]] = {}
    kept = (tier_label, SCHEDULE_NAME_LABEL)
    for snapshot in snapshots:
        state = str(snapshot.get("State", ""))
        by_state[state] = by_state.get(state, 0) + 1
        started: float = snapshot["StartTime"].timestamp()
        if state == "pending":
            oldest_pending = started if oldest_pending is None else min(oldest_pending, started)
        if state != "completed":
            continue
        tags = {t["Key"]: t["Value"] for t in snapshot.get("Tags", ())}
        key = (tags.get(BACKUP_TAG), tuple((k, tags[k]) for k in kept if k in tags))
        newest, count = groups.get(key, (started, 0))
        groups[key] = (max(newest, started), count + 1)
    return RegionSnapshots(
        region=region,
        measured=measured,
        by_state=by_state,
        oldest_pending=oldest_pending,
        completed=tuple(
            SnapshotGroup(backup, labels, newest, count)
            for (backup, labels), (newest, count) in sorted(groups.items(), key=lambda g: (g[0][0] or "", g[0][1]))
        ),
    )


class SnapshotRefresher:
    def __init__(self, store: Store, api: AwsApi, config: Config, *, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._api = api
        self._filters = describe_filters(config.aws.snapshot_tag_key, config.aws.snapshot_tag_value)
        self._tier_label = config.tier_label
        self._clock = clock

    def forget(self, targets: Mapping[str, str]) -> None:
        self._store.snapshots.retain(targets)

    async def refresh(self, name: str, target: str, health: TargetHealth) -> None:
        params: dict[str, Any] = {"OwnerIds": ["self"], "Filters": self._filters, "MaxResults": PAGE_SIZE}
        snapshots: list[Mapping[str, Any]] = []
        while True:
            page = await self._api.call(Where("ec2", target), "DescribeSnapshots", health, **params)
            snapshots.extend(page.get("Snapshots", ()))
            if not page.get("NextToken"):
                break
            params["NextToken"] = page["NextToken"]
        self._store.snapshots.put(target, summarize(target, snapshots, self._tier_label, self._clock()))
