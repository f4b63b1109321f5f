"""A small healthy cluster, the start of every scenario of its own: one storage location and a few tiers whose
schedules run once a day, each tier restored in a drill an hour ago. A scenario declares its tiers, then lets its
troubles change the cluster.

Schedules use Velero's `@every` (a day unless the tier says otherwise): the next run is the last one plus the
interval, so nothing depends on the time of day the test runs at. Every run is Completed and kept for the tier's
retention; the newest started 2 hours ago, the ones before it an interval apart each.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from velero_exporter.config.durations import parse_duration
from velero_exporter.sandbox import objects
from velero_exporter.sandbox.objects import Obj
from velero_exporter.sandbox.world import HOUR, World
from velero_exporter.velero.duration import go_duration_seconds

TIER_LABEL = "backup-tier"
RUN_TAKES = 600.0
ITEMS = 100
LAST_RUN_AGO = 2 * HOUR
RUNS = 3
DRILL_AGO = HOUR
DRILL_TAKES = 600.0


@dataclass(frozen=True, slots=True)
class TierPlan:
    """A tier of a scenario's cluster and the schedules that back it up, each every `every`."""

    name: str
    schedules: tuple[str, ...]
    rpo: str = "2d"
    rto: str = "1h"
    retention: str = "30d"
    accept_partially_failed: bool = False
    every: str = "24h"
    # How many runs each schedule has kept, and how long ago it was created: a young cluster, younger than any
    # tier's retention, so that keeping only a few runs is no VeleroRecoveryPointHistoryLost.
    runs: int = RUNS
    created_ago: str = "14d"

    @property
    def cron(self) -> str:
        return f"@every {self.every}"

    @property
    def interval(self) -> float:
        return parse_duration(self.every)

    @property
    def last_run_ago(self) -> float:
        """How long ago the newest run of each schedule started: well within an interval."""
        return min(LAST_RUN_AGO, self.interval / 4)

    @property
    def ttl(self) -> str:
        """Velero's TTL (a Go duration) equal to the retention."""
        return f"{int(parse_duration(self.retention) // HOUR)}h0m0s"


def config(*tiers: TierPlan, aws: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The exporter's configuration for the tiers (as the YAML file would hold it); AWS off unless given."""
    return {
        "tier_label": TIER_LABEL,
        "tiers": {
            tier.name: {
                "rpo": tier.rpo,
                "rto": tier.rto,
                "retention": tier.retention,
                "accept_partially_failed": tier.accept_partially_failed,
                "schedules": dict.fromkeys(tier.schedules),
            }
            for tier in tiers
        },
        # moto answers DescribeLockedSnapshots with a 500: not asked (the demo's config says the same).
        "aws": {"snapshot_lock": False, **aws} if aws is not None else {"enabled": False},
    }


def run(schedule: str, tier: TierPlan, started: float, *, ttl: str | None = None, **status: Any) -> Obj:
    """A Completed run of one of the tier's schedules, kept for the tier's retention unless `ttl` says otherwise
    (`status` overrides the builder's fields: phase, items, snapshots, hooks ...)."""
    ttl = ttl or tier.ttl
    fields: dict[str, Any] = {
        "completed": started + RUN_TAKES,
        "expiration": started + (go_duration_seconds(ttl) or 0.0),
        "items_backed_up": ITEMS,
        "items_total": ITEMS,
        **status,
    }
    return objects.backup(
        objects.run_name(schedule, started),
        schedule=schedule,
        labels={TIER_LABEL: tier.name},
        started=started,
        ttl=ttl,
        **fields,
    )


def schedule(name: str, tier: TierPlan, now: float, *, last_backup: float | None = None, **fields: Any) -> Obj:
    """One of the tier's Schedules, created `created_ago`, whose newest run started at `last_backup`."""
    return objects.schedule(
        name,
        cron=fields.pop("cron", tier.cron),
        tier_label=(TIER_LABEL, tier.name),
        created=now - parse_duration(tier.created_ago),
        last_backup=now - tier.last_run_ago if last_backup is None else last_backup,
        ttl=fields.pop("ttl", tier.ttl),
        **fields,
    )


def drill(tier: str, backup: Obj, now: float, *, ago: float = DRILL_AGO, took: float = DRILL_TAKES) -> Obj:
    """A Completed restore drill of the tier from the backup."""
    return objects.restore(
        f"drill-{tier}", backup_name=objects.name_of(backup), started=now - ago, completed=now - ago + took
    )


def world(now: float, tiers: tuple[TierPlan, ...], *, bucket: str = "", region: str = "us-east-1") -> World:
    """The healthy cluster: the default location (its bucket in the World when named), each tier's schedules with
    their runs, and a drill per tier from its first schedule's newest run."""
    out = World(now)
    if bucket:
        out.add_bucket(bucket, region)
    out.add(
        objects.storage_location(
            "default",
            bucket=bucket or "velero-backups",
            region=region,
            default=True,
            last_validated=now - 30,
            last_synced=now - 45,
        )
    )
    for tier in tiers:
        for name in tier.schedules:
            out.add(*(run(name, tier, now - tier.last_run_ago - i * tier.interval) for i in range(tier.runs)))
            out.add(schedule(name, tier, now))
        out.add(drill(tier.name, run(tier.schedules[0], tier, now - tier.last_run_ago), now))
    return out


def cluster(*tiers: TierPlan, bucket: str = "", region: str = "us-east-1") -> Callable[[float], World]:
    """The scenario's healthy cluster, as a function of the time."""
    return partial(world, tiers=tiers, bucket=bucket, region=region)


def created_now(name: str, tier: TierPlan, now: float) -> Obj:
    """One of the tier's Schedules, just created: it has not run yet."""
    return objects.schedule(name, cron=tier.cron, tier_label=(TIER_LABEL, tier.name), created=now, ttl=tier.ttl)


def run_now(schedule: str, tier: TierPlan, world: World, **status: Any) -> Obj:
    """A run of the schedule that has just completed: Velero ran it (or it was started by hand from the
    schedule)."""
    return run(schedule, tier, world.now - RUN_TAKES - 5, **status)
