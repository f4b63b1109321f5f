"""The model: pure functions from a store snapshot, the configuration and the clock to what the metrics say.

One pass over the backups computes every per-tier and per-schedule aggregate, so the cost of a render grows
with the objects held and the series it yields stay bounded by tiers, schedules and locations.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from velero_exporter.config.settings import Config, Tier
from velero_exporter.state.records import (
    Backup,
    Repository,
    Restore,
    Schedule,
    SnapshotLocation,
    StorageLocation,
    VolumeOperation,
)
from velero_exporter.state.store import StoreView
from velero_exporter.state.vocabulary import (
    ALL_BACKUP_PHASES,
    ALL_RESTORE_PHASES,
    FAILED_RESTORE_PHASES,
    FINISHED_BACKUP_PHASES,
    FINISHED_RESTORE_PHASES,
    QUEUED_BACKUP_PHASES,
    SCHEDULE_BLOCKING_PHASES,
    SCHEDULE_NAME_LABEL,
    UNFINISHED_BACKUP_PHASES,
    DrillResult,
    Problem,
)
from velero_exporter.velero.cron import Cron, CronError, CronNeverMatchesError

UNASSIGNED = "unassigned"

CronLookup = Callable[[str], "Cron | CronError"]

# The times a timestamp can name: years 1 to 9999 in UTC (the range of Go's RFC 3339 and of Python's datetime).
EARLIEST_TIMESTAMP = -62135596800.0  # 0001-01-01T00:00:00Z
LATEST_TIMESTAMP = 253402300799.0  # 9999-12-31T23:59:59Z
# The problem (velero_exporter_invalid_objects) of an object with a timestamp outside those years or later than
# the clock-skew allowance: no Velero wrote it. Backups, Restores and Schedules have no status subresource, so
# whoever may create them may write any status (docs/runbooks.md: who can forge what).
IMPLAUSIBLE_TIMESTAMP: Problem = "implausible_timestamp"


@dataclass(slots=True, frozen=True)
class TierState:
    name: str
    objectives: Tier | None  # None for the unassigned tier
    last_success: float | None
    recovery_point: float | None
    # When Velero deletes that newest recovery point (its status.expiration): it does so at its TTL even while
    # every later backup fails.
    recovery_point_expiration: float | None
    oldest_recovery_point: float | None
    backups_by_phase: Mapping[str, int]
    ttl_below_retention: int
    past_expiration: int
    last_adhoc_phase: str | None
    last_restore_success: float | None
    last_verified_restore: float | None  # completion of the newest drill that Completed and passed validation
    last_drill_result: DrillResult | None  # of the newest finished drill; None: no drill
    # The newest finished backup of the tier, scheduled or ad-hoc (in a DR cluster: the newest synced one).
    last_finished: Backup | None = None


@dataclass(slots=True, frozen=True)
class ScheduleState:
    name: str
    tier: str
    record: Schedule | None  # None: listed in the config but absent from the cluster
    interval: float | None
    next_run: float | None
    # The cron matches no time within five years: Velero starts a backup at every reconcile, back to back.
    back_to_back: bool
    # A backup of the schedule is New or InProgress: Velero defers a due run until none is.
    run_blocked: bool
    backups_by_phase: Mapping[str, int]
    last_finished: Backup | None
    last_success: float | None
    last_failure: float | None
    # The finished backup before the newest one: what the newest is compared with (model/volumes.py).
    previous_finished: Backup | None = None


# Velero's --default-item-operation-timeout, which its backup controller writes into a backup's
# spec.itemOperationTimeout when the backup has none (pkg/controller/backup_controller.go).
DEFAULT_ITEM_OPERATION_TIMEOUT_SECONDS = 4 * 3600.0


@dataclass(slots=True, frozen=True)
class UnfinishedBackup:
    name: str
    schedule: str
    tier: str
    phase: str
    since: float
    # How long each of its asynchronous plugin operations may run before Velero fails it.
    item_operation_timeout: float


@dataclass(slots=True, frozen=True)
class DeletingBackup:
    """A backup in phase Deleting: Velero's deletion of it has begun and not ended (a failed deletion leaves it
    there: pkg/controller/backup_deletion_controller.go)."""

    name: str
    schedule: str
    tier: str
    since: float | None  # when Velero marked it Deleting (its newest managedFields time), if known


@dataclass(slots=True, frozen=True)
class RestoreGroup:
    """The restores of one source tier and schedule (schedule "" for ad-hoc backups)."""

    tier: str
    schedule: str
    last_finished: Restore | None
    last_failure: float | None


@dataclass(slots=True, frozen=True)
class LocationState:
    record: StorageLocation
    # How often Velero validates the location, in seconds; 0: only once, when Velero first sees it.
    validation_frequency: float


@dataclass(slots=True, frozen=True)
class Model:
    tiers: tuple[TierState, ...]
    schedules: tuple[ScheduleState, ...]
    unfinished: tuple[UnfinishedBackup, ...]
    deleting: tuple[DeletingBackup, ...]
    restores_by_tier_phase: Mapping[tuple[str, str], int]
    restore_groups: tuple[RestoreGroup, ...]
    storage_locations: tuple[LocationState, ...]
    snapshot_locations: tuple[SnapshotLocation, ...]
    # Objects with an implausible timestamp, by resource: counted, and never a recovery point.
    implausible: Mapping[str, int] = field(default_factory=dict)
    # The model depends on the clock only through expirations and future timestamps: it holds until the next
    # expiration passes its grace or the next future timestamp comes within the clock-skew allowance.
    valid_until: float = math.inf


@dataclass(slots=True, frozen=True)
class Plausibility:
    """Which timestamps to believe at `now`: inside years 1-9999 and no later than now plus the allowed skew."""

    now: float
    skew: float

    @property
    def latest(self) -> float:
        return min(LATEST_TIMESTAMP, self.now + self.skew)

    def believable(self, *times: float | None) -> bool:
        latest = self.latest
        return all(t is None or EARLIEST_TIMESTAMP <= t <= latest for t in times)

    def believable_at(self, *times: float | None) -> float:
        """When the model must look again: the time the latest of these future timestamps comes within the
        allowance (inf when none will: past ones are believed already, those after 9999 never are)."""
        pending = [t - self.skew for t in times if t is not None and self.latest < t <= LATEST_TIMESTAMP]
        return min(pending, default=math.inf)


def plausibility(config: Config, now: float) -> Plausibility:
    return Plausibility(now, config.clock_skew_seconds)


def run_time(backup: Backup | Restore) -> float:
    """When the run began (for ordering runs): its start, else its creation."""
    return backup.started or backup.created or backup.completed or 0.0


def finish_time(backup: Backup | Restore) -> float:
    """When the run ended, as well as the object tells."""
    return backup.completed or backup.started or backup.created or 0.0


class TierResolver:
    """Tier membership (DESIGN.md): a scheduled backup belongs to its schedule's tier (the config's, else the
    tier label Velero puts on the schedule's backups), else its own label."""

    def __init__(self, config: Config, schedules: Mapping[str, Schedule]) -> None:
        self._tier_names = frozenset(config.tier_names)
        self._label = config.tier_label
        self._configured = {s.name: t.name for t in config.tiers for s in t.schedules}
        self._schedules = schedules

    def _known(self, value: str | None) -> str | None:
        return value if value in self._tier_names else None

    def schedule_tier(self, schedule: str) -> str | None:
        configured = self._configured.get(schedule)
        if configured is not None:
            return configured
        record = self._schedules.get(schedule)
        return self._known(record.backup_label(self._label)) if record is not None else None

    def labels_tier(self, labels: tuple[tuple[str, str], ...]) -> str:
        """The tier that a backup's labels place it in (also the labels Velero copies onto its snapshots)."""
        schedule = tier_label = None
        for key, value in labels:  # one scan: this runs for every backup of every render
            if key == SCHEDULE_NAME_LABEL:
                schedule = value or None
            elif key == self._label:
                tier_label = value
        if schedule is not None:
            tier = self.schedule_tier(schedule)
            if tier is not None:
                return tier
        # Velero copies the schedule's labels onto its backups, so this also covers deleted schedules.
        return self._known(tier_label) or UNASSIGNED

    def backup_tier(self, backup: Backup) -> str:
        return self.labels_tier(backup.labels)


@dataclass(slots=True)
class _TierAccumulator:
    objectives: Tier | None
    by_phase: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ALL_BACKUP_PHASES, 0))
    newest_success: Backup | None = None
    oldest_success: Backup | None = None
    ttl_below_retention: int = 0
    past_expiration: int = 0
    last_adhoc: Backup | None = None
    last_finished: Backup | None = None
    last_restore_success: float | None = None
    last_verified_restore: float | None = None
    last_drill: Restore | None = None

    def is_success(self, backup: Backup) -> bool:
        if backup.phase == "Completed":
            return True
        accept = self.objectives is not None and self.objectives.accept_partially_failed
        return accept and backup.phase == "PartiallyFailed"


@dataclass(slots=True)
class _ScheduleAccumulator:
    by_phase: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ALL_BACKUP_PHASES, 0))
    last_finished: Backup | None = None
    previous_finished: Backup | None = None
    last_success: float | None = None
    last_failure: float | None = None
    blocking: bool = False


Run = TypeVar("Run", Backup, Restore)


def _newer(candidate: Run, current: Run | None, key: Callable[[Run], float]) -> bool:
    return current is None or (key(candidate), candidate.name) > (key(current), current.name)


def _max(a: float | None, b: float) -> float:
    return b if a is None or b > a else a


def build_model(view: StoreView, config: Config, now: float, crons: CronLookup) -> Model:
    resolver = TierResolver(config, view.schedules)
    tiers = {t.name: _TierAccumulator(t) for t in config.tiers}
    tiers[UNASSIGNED] = _TierAccumulator(None)
    schedule_names = sorted({*view.schedules, *(s.name for t in config.tiers for s in t.schedules)})
    schedules = {name: _ScheduleAccumulator() for name in schedule_names}
    unfinished: list[UnfinishedBackup] = []
    times = plausibility(config, now)
    implausible: Counter[str] = Counter()
    deleting: list[DeletingBackup] = []
    valid_until = math.inf

    for backup in view.backups.values():
        tier_name = resolver.backup_tier(backup)
        tier = tiers[tier_name]
        tier.by_phase[backup.phase] += 1
        run_times = (backup.created, backup.started, backup.completed)
        if not times.believable(*run_times) or not _in_range(backup.expiration):
            # Counted by phase (it exists), never a run: not a recovery point, not a schedule's last result.
            implausible["backups"] += 1
            if (schedule_counts := schedules.get(backup.schedule or "")) is not None:
                schedule_counts.by_phase[backup.phase] += 1
            valid_until = min(valid_until, times.believable_at(*run_times))
            continue
        finished = backup.phase in FINISHED_BACKUP_PHASES
        success = tier.is_success(backup)
        if success:
            if _newer(backup, tier.newest_success, finish_time):
                tier.newest_success = backup
            if tier.oldest_success is None or run_time(backup) < run_time(tier.oldest_success):
                tier.oldest_success = backup
        if (
            backup.phase == "Completed"
            and tier.objectives is not None
            and backup.ttl_seconds is not None
            and backup.ttl_seconds < tier.objectives.retention_seconds
        ):
            tier.ttl_below_retention += 1
        if backup.expiration is not None:
            overdue_at = backup.expiration + config.gc_grace_seconds
            if now > overdue_at:
                tier.past_expiration += 1
            else:
                valid_until = min(valid_until, overdue_at)
        if finished and _newer(backup, tier.last_finished, run_time):
            tier.last_finished = backup
        schedule_name = backup.schedule
        if schedule_name is None:
            if finished and _newer(backup, tier.last_adhoc, run_time):
                tier.last_adhoc = backup
        elif (schedule := schedules.get(schedule_name)) is not None:
            schedule.by_phase[backup.phase] += 1
            schedule.blocking = schedule.blocking or backup.phase in SCHEDULE_BLOCKING_PHASES
            if finished:
                if _newer(backup, schedule.last_finished, run_time):
                    schedule.previous_finished = schedule.last_finished
                    schedule.last_finished = backup
                elif _newer(backup, schedule.previous_finished, run_time):
                    schedule.previous_finished = backup
                if backup.phase == "Completed":
                    schedule.last_success = _max(schedule.last_success, finish_time(backup))
                else:
                    schedule.last_failure = _max(schedule.last_failure, finish_time(backup))
        if backup.phase == "Deleting":
            deleting.append(DeletingBackup(backup.name, schedule_name or "", tier_name, backup.last_changed))
        if backup.phase in UNFINISHED_BACKUP_PHASES:
            queued = backup.phase in QUEUED_BACKUP_PHASES or backup.started is None
            since = backup.created if queued else backup.started
            if since is not None:
                timeout = backup.item_operation_timeout or DEFAULT_ITEM_OPERATION_TIMEOUT_SECONDS
                unfinished.append(
                    UnfinishedBackup(backup.name, schedule_name or "", tier_name, backup.phase, since, timeout)
                )

    restores_by_tier_phase, restore_groups, restore_pending = _restores(
        view, resolver, tiers, config.drill_label, times=times, implausible=implausible
    )
    schedule_records, schedules_pending = believed(view.schedules, _SCHEDULE_TIMES, times, implausible, "schedules")
    locations, locations_pending = believed(
        view.storage_locations, _LOCATION_TIMES, times, implausible, "backupstoragelocations"
    )

    return Model(
        tiers=tuple(_tier_state(name, acc) for name, acc in tiers.items()),
        schedules=tuple(
            _schedule_state(name, schedules[name], schedule_records.get(name), resolver, crons)
            for name in schedule_names
        ),
        unfinished=tuple(sorted(unfinished, key=lambda u: u.name)),
        deleting=tuple(sorted(deleting, key=lambda d: d.name)),
        restores_by_tier_phase=restores_by_tier_phase,
        restore_groups=restore_groups,
        storage_locations=tuple(
            LocationState(loc, validation_frequency(loc, config)) for loc in (locations[k] for k in sorted(locations))
        ),
        snapshot_locations=tuple(view.snapshot_locations[k] for k in sorted(view.snapshot_locations)),
        implausible=dict(implausible),
        valid_until=min(valid_until, restore_pending, schedules_pending, locations_pending),
    )


def _in_range(t: float | None) -> bool:
    """An expiration is in the future by design: only the years are checked."""
    return t is None or EARLIEST_TIMESTAMP <= t <= LATEST_TIMESTAMP


# The timestamp fields of the long-lived objects: an implausible one is dropped (unknown), the object stays.
_SCHEDULE_TIMES = ("created", "last_backup", "last_skipped")
_LOCATION_TIMES = ("last_validated", "last_synced")
Record = TypeVar("Record", Schedule, StorageLocation, VolumeOperation, Repository)


def believed(
    records: Mapping[str, Record],
    fields: tuple[str, ...],
    times: Plausibility,
    implausible: Counter[str],
    resource: str,
) -> tuple[Mapping[str, Record], float]:
    """The records with their implausible timestamps set to None, and when the model must look again."""
    believed: dict[str, Record] = {}
    pending = math.inf
    for name, record in records.items():
        values = {f: getattr(record, f) for f in fields}
        wrong: dict[str, Any] = {f: None for f, t in values.items() if not times.believable(t)}
        believed[name] = dataclasses.replace(record, **wrong) if wrong else record
        if wrong:
            implausible[resource] += 1
            pending = min(pending, times.believable_at(*values.values()))
    return believed, pending


def _tier_state(name: str, acc: _TierAccumulator) -> TierState:
    newest = acc.newest_success
    return TierState(
        name=name,
        objectives=acc.objectives,
        last_success=newest.completed if newest is not None else None,
        recovery_point=(newest.started or newest.created) if newest is not None else None,
        recovery_point_expiration=newest.expiration if newest is not None else None,
        oldest_recovery_point=(
            (acc.oldest_success.started or acc.oldest_success.created) if acc.oldest_success is not None else None
        ),
        backups_by_phase=acc.by_phase,
        ttl_below_retention=acc.ttl_below_retention,
        past_expiration=acc.past_expiration,
        last_adhoc_phase=acc.last_adhoc.phase if acc.last_adhoc is not None else None,
        last_restore_success=acc.last_restore_success,
        last_verified_restore=acc.last_verified_restore,
        last_drill_result=drill_result(acc.last_drill) if acc.last_drill is not None else None,
        last_finished=acc.last_finished,
    )


def is_drill(restore: Restore, drill_label: str) -> bool:
    return (restore.label(drill_label) or "").lower() == "true"


def drill_result(restore: Restore) -> DrillResult:
    """The result of a finished drill: a restore that did not complete failed, whatever its validation says."""
    if restore.phase != "Completed":
        return "failed"
    return restore.validation or "unvalidated"


def validation_frequency(location: StorageLocation, config: Config) -> float:
    """The location's own validationFrequency, else the server's default; a negative one is replaced by the
    default, and 0 disables validation after the first (IsReadyToValidate in internal/storage/storagelocation.go)."""
    own = location.validation_frequency
    return own if own is not None and own >= 0 else config.store_validation_frequency_seconds


def next_run_base(schedule: Schedule) -> float | None:
    """Where Velero counts the schedule's next run from: its last backup, else its creation, or its last skip
    when that is later (getNextRunTime in pkg/controller/schedule_controller.go). Velero sets status.lastSkipped
    only when spec.skipImmediately (or the server's --schedule-skip-immediately) skips the run that would be due
    at once when the schedule is created or unpaused; it never records a run deferred by a running backup."""
    base = schedule.last_backup or schedule.created
    if schedule.last_skipped is not None and (base is None or schedule.last_skipped > base):
        return schedule.last_skipped
    return base


def _schedule_state(
    name: str,
    acc: _ScheduleAccumulator,
    record: Schedule | None,
    resolver: TierResolver,
    crons: CronLookup,
) -> ScheduleState:
    interval: float | None = None
    next_run: float | None = None
    back_to_back = False
    if record is not None:
        cron = crons(record.cron)
        after = next_run_base(record)
        if isinstance(cron, Cron) and after is not None:
            try:
                next_run = cron.next_after(after)
                interval = cron.max_interval(after)
            except CronNeverMatchesError:
                # robfig's Next returns the zero time, which getNextRunTime finds past at every reconcile
                # (pkg/controller/schedule_controller.go): Velero backs up one run after another.
                next_run = interval = None
                back_to_back = True
            except CronError:
                next_run = interval = None
    return ScheduleState(
        name=name,
        tier=resolver.schedule_tier(name) or UNASSIGNED,
        record=record,
        interval=interval,
        next_run=next_run,
        back_to_back=back_to_back,
        run_blocked=acc.blocking,
        backups_by_phase=acc.by_phase,
        last_finished=acc.last_finished,
        last_success=acc.last_success,
        last_failure=acc.last_failure,
        previous_finished=acc.previous_finished,
    )


def _restores(
    view: StoreView,
    resolver: TierResolver,
    tiers: dict[str, _TierAccumulator],
    drill_label: str,
    *,
    times: Plausibility,
    implausible: Counter[str],
) -> tuple[dict[tuple[str, str], int], tuple[RestoreGroup, ...], float]:
    counts = {(tier, phase): 0 for tier in tiers for phase in ALL_RESTORE_PHASES}
    newest: dict[tuple[str, str], Restore] = {}
    failures: dict[tuple[str, str], float] = {}
    pending = math.inf
    for restore in view.restores.values():
        source = view.backups.get(restore.backup_name)
        schedule = restore.schedule_name or (source.schedule if source is not None else None) or ""
        if source is not None:
            tier = resolver.backup_tier(source)
        else:
            tier = (resolver.schedule_tier(schedule) if schedule else None) or UNASSIGNED
        counts[tier, restore.phase] += 1
        run_times = (restore.created, restore.started, restore.completed)
        if not times.believable(*run_times):
            implausible["restores"] += 1  # counted by phase, never RTO evidence
            pending = min(pending, times.believable_at(*run_times))
            continue
        if restore.phase not in FINISHED_RESTORE_PHASES:
            continue
        key = (tier, schedule)
        if _newer(restore, newest.get(key), run_time):
            newest[key] = restore
        if restore.phase in FAILED_RESTORE_PHASES:
            failures[key] = max(failures.get(key, 0.0), finish_time(restore))
        if restore.phase == "Completed" and restore.completed is not None:
            tiers[tier].last_restore_success = _max(tiers[tier].last_restore_success, restore.completed)
        if is_drill(restore, drill_label):
            _count_drill(tiers[tier], restore)
    groups = tuple(
        RestoreGroup(tier, schedule, newest.get((tier, schedule)), failures.get((tier, schedule)))
        for tier, schedule in sorted({*newest, *failures})
    )
    return counts, groups, pending


def _count_drill(tier: _TierAccumulator, restore: Restore) -> None:
    if _newer(restore, tier.last_drill, run_time):
        tier.last_drill = restore
    if drill_result(restore) == "passed" and restore.completed is not None:
        tier.last_verified_restore = _max(tier.last_verified_restore, restore.completed)
