"""Metric families from the model and the sources' health: declared here, next to nothing else.

Families are built fresh on every render (client_python's custom-collector pattern), so an object that is gone
leaves no series behind. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from velero_exporter.model.aws import AwsModel
from velero_exporter.model.velero import ALL_BACKUP_PHASES, FINISHED_PHASES_ORDER, Model, ScheduleState
from velero_exporter.sources.parsing import (
    BAD_DURATION,
    BAD_FIELD_TYPE,
    BAD_TIMESTAMP,
    MISSING_NAME,
    MISSING_STATUS,
    NOT_AN_OBJECT,
    UNKNOWN_PHASE_REASON,
)
from velero_exporter.state.aws_records import PREFIX_KINDS, SNAPSHOT_STATES
from velero_exporter.state.records import SCHEDULE_PHASES
from velero_exporter.state.store import ERROR_KINDS, Health

PROBLEM_REASONS: tuple[str, ...] = (
    NOT_AN_OBJECT,
    MISSING_NAME,
    MISSING_STATUS,
    UNKNOWN_PHASE_REASON,
    BAD_TIMESTAMP,
    BAD_DURATION,
    BAD_FIELD_TYPE,
)


@dataclass(slots=True, frozen=True)
class ResourceStats:
    """What the exporter holds of one Kubernetes resource."""

    objects: int
    problems: Mapping[str, int]


def _gauge(name: str, doc: str, labels: Sequence[str] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=list(labels))


def _state_set(family: GaugeMetricFamily, labels: list[str], states: Iterable[str], current: str | None) -> None:
    for state in states:
        family.add_metric([*labels, state], 1.0 if state == current else 0.0)


def _add_known(family: GaugeMetricFamily, labels: list[str], value: float | None) -> None:
    """Timestamps and durations that are unknown are absent, never 0."""
    if value is not None:
        family.add_metric(labels, value)


def tier_families(model: Model) -> Iterator[Metric]:
    rpo = _gauge("velero_tier_rpo_seconds", "The tier's recovery point objective.", ["tier"])
    rto = _gauge("velero_tier_rto_seconds", "The tier's recovery time objective.", ["tier"])
    retention = _gauge("velero_tier_retention_seconds", "The tier's promised retention.", ["tier"])
    accepted = _gauge(
        "velero_tier_partially_failed_accepted",
        "1 when the tier counts PartiallyFailed backups as recovery points.",
        ["tier"],
    )
    last_success = _gauge(
        "velero_tier_last_success_timestamp_seconds",
        "Completion time of the newest successful backup of the tier.",
        ["tier"],
    )
    recovery_point = _gauge(
        "velero_tier_recovery_point_timestamp_seconds",
        "Start time of the newest successful backup of the tier: the newest point one can restore to.",
        ["tier"],
    )
    oldest = _gauge(
        "velero_tier_oldest_recovery_point_timestamp_seconds",
        "Start time of the oldest successful backup of the tier still held.",
        ["tier"],
    )
    backups = _gauge("velero_tier_backups", "Backup objects of the tier by phase.", ["tier", "phase"])
    short_ttl = _gauge(
        "velero_tier_backups_ttl_below_retention",
        "Completed backups of the tier whose TTL is shorter than the tier's retention.",
        ["tier"],
    )
    expired = _gauge(
        "velero_tier_backups_past_expiration",
        "Backups still present past their expiration plus the GC grace: Velero failed to delete them.",
        ["tier"],
    )
    adhoc = _gauge(
        "velero_tier_last_adhoc_backup_phase",
        "1 for the phase of the tier's newest finished ad-hoc backup.",
        ["tier", "phase"],
    )
    restore_success = _gauge(
        "velero_tier_last_restore_success_timestamp_seconds",
        "Completion time of the newest Completed restore from a backup of the tier.",
        ["tier"],
    )
    for tier in model.tiers:
        labels = [tier.name]
        if tier.objectives is not None:
            rpo.add_metric(labels, tier.objectives.rpo_seconds)
            rto.add_metric(labels, tier.objectives.rto_seconds)
            retention.add_metric(labels, tier.objectives.retention_seconds)
            accepted.add_metric(labels, 1.0 if tier.objectives.accept_partially_failed else 0.0)
            short_ttl.add_metric(labels, tier.ttl_below_retention)
        _add_known(last_success, labels, tier.last_success)
        _add_known(recovery_point, labels, tier.recovery_point)
        _add_known(oldest, labels, tier.oldest_recovery_point)
        for phase in ALL_BACKUP_PHASES:
            backups.add_metric([tier.name, phase], tier.backups_by_phase[phase])
        expired.add_metric(labels, tier.past_expiration)
        _state_set(adhoc, labels, FINISHED_PHASES_ORDER, tier.last_adhoc_phase)
        _add_known(restore_success, labels, tier.last_restore_success)
    yield from (
        rpo,
        rto,
        retention,
        accepted,
        last_success,
        recovery_point,
        oldest,
        backups,
        short_ttl,
        expired,
    )
    yield from (adhoc, restore_success)


def _last_backup_details(schedules: Sequence[ScheduleState]) -> Iterator[Metric]:
    specs: list[tuple[str, str, str]] = [
        ("start_timestamp_seconds", "Start of the schedule's newest finished backup.", "started"),
        ("items_backed_up", "Items the schedule's newest finished backup backed up.", "items_backed_up"),
        ("items_expected", "Items the schedule's newest finished backup expected to back up.", "items_total"),
        ("errors", "Errors of the schedule's newest finished backup.", "errors"),
        ("warnings", "Warnings of the schedule's newest finished backup.", "warnings"),
        ("hooks_attempted", "Hooks the schedule's newest finished backup ran.", "hooks_attempted"),
        ("hooks_failed", "Hooks of the schedule's newest finished backup that failed.", "hooks_failed"),
    ]
    families = [
        (_gauge(f"velero_schedule_last_backup_{suffix}", doc, ["schedule"]), attr) for suffix, doc, attr in specs
    ]
    duration = _gauge(
        "velero_schedule_last_backup_duration_seconds",
        "Duration of the schedule's newest finished backup.",
        ["schedule"],
    )
    attempted = _gauge(
        "velero_schedule_last_backup_volume_snapshots_attempted",
        "Volume snapshots the schedule's newest finished backup attempted.",
        ["schedule", "method"],
    )
    completed = _gauge(
        "velero_schedule_last_backup_volume_snapshots_completed",
        "Volume snapshots the schedule's newest finished backup completed.",
        ["schedule", "method"],
    )
    for schedule in schedules:
        backup = schedule.last_finished
        if backup is None:
            continue
        for family, attr in families:
            value = getattr(backup, attr)
            _add_known(family, [schedule.name], None if value is None else float(value))
        if backup.started is not None and backup.completed is not None:
            duration.add_metric([schedule.name], max(0.0, backup.completed - backup.started))
        attempted.add_metric([schedule.name, "native"], backup.volume_snapshots_attempted)
        attempted.add_metric([schedule.name, "csi"], backup.csi_snapshots_attempted)
        completed.add_metric([schedule.name, "native"], backup.volume_snapshots_completed)
        completed.add_metric([schedule.name, "csi"], backup.csi_snapshots_completed)
    yield from (family for family, _ in families)
    yield from (duration, attempted, completed)


def schedule_families(model: Model) -> Iterator[Metric]:
    info = _gauge("velero_schedule_info", "1 for each Schedule, with its cron.", ["schedule", "tier", "cron"])
    exists = _gauge(
        "velero_schedule_exists",
        "1 for a Schedule that exists, 0 for one the config lists that does not.",
        ["schedule", "tier"],
    )
    phase = _gauge("velero_schedule_phase", "1 for the Schedule's phase.", ["schedule", "phase"])
    paused = _gauge("velero_schedule_paused", "1 when the Schedule is paused.", ["schedule"])
    created = _gauge("velero_schedule_created_timestamp_seconds", "The Schedule's creation time.", ["schedule"])
    interval = _gauge(
        "velero_schedule_interval_seconds",
        "The longest gap between two consecutive runs of the schedule's cron.",
        ["schedule"],
    )
    next_run = _gauge(
        "velero_schedule_next_run_timestamp_seconds",
        "The cron's next time after the schedule's last backup, as Velero computes it.",
        ["schedule"],
    )
    skipped = _gauge(
        "velero_schedule_last_skipped_timestamp_seconds",
        "When Velero last skipped a due run because the previous backup was still running.",
        ["schedule"],
    )
    backups = _gauge("velero_schedule_backups", "Backup objects of the schedule by phase.", ["schedule", "phase"])
    last_phase = _gauge(
        "velero_schedule_last_backup_phase",
        "1 for the phase of the schedule's newest finished backup; a new run starting does not clear it.",
        ["schedule", "tier", "phase"],
    )
    last_success = _gauge(
        "velero_schedule_last_success_timestamp_seconds",
        "Completion of the newest Completed backup of the schedule.",
        ["schedule"],
    )
    last_failure = _gauge(
        "velero_schedule_last_failure_timestamp_seconds",
        "Completion of the newest finished backup of the schedule that is not Completed.",
        ["schedule"],
    )
    for schedule in model.schedules:
        name = [schedule.name]
        record = schedule.record
        exists.add_metric([schedule.name, schedule.tier], 0.0 if record is None else 1.0)
        if record is not None:
            info.add_metric([schedule.name, schedule.tier, record.cron], 1.0)
            _state_set(phase, name, SCHEDULE_PHASES, record.phase)
            paused.add_metric(name, 1.0 if record.paused else 0.0)
            _add_known(created, name, record.created)
            _add_known(skipped, name, record.last_skipped)
        _add_known(interval, name, schedule.interval)
        _add_known(next_run, name, schedule.next_run)
        for backup_phase in ALL_BACKUP_PHASES:
            backups.add_metric([schedule.name, backup_phase], schedule.backups_by_phase[backup_phase])
        current = schedule.last_finished.phase if schedule.last_finished is not None else None
        _state_set(last_phase, [schedule.name, schedule.tier], FINISHED_PHASES_ORDER, current)
        _add_known(last_success, name, schedule.last_success)
        _add_known(last_failure, name, schedule.last_failure)
    yield from (info, exists, phase, paused, created, interval, next_run, skipped, backups, last_phase)
    yield from (last_success, last_failure)
    yield from _last_backup_details(model.schedules)


def unfinished_families(model: Model) -> Iterator[Metric]:
    since = _gauge(
        "velero_backup_unfinished_since_timestamp_seconds",
        "For each backup that has not finished: its start, or its creation while it has not started.",
        ["backup", "schedule", "tier", "phase"],
    )
    for backup in model.unfinished:
        since.add_metric([backup.name, backup.schedule, backup.tier, backup.phase], backup.since)
    yield since


def restore_families(model: Model) -> Iterator[Metric]:
    counts = _gauge("velero_restores", "Restore objects by the source backup's tier and phase.", ["tier", "phase"])
    for (tier, restore_phase), count in sorted(model.restores_by_tier_phase.items()):
        counts.add_metric([tier, restore_phase], count)
    last_phase = _gauge(
        "velero_restore_last_phase",
        "1 for the phase of the newest finished restore from the tier's and schedule's backups.",
        ["tier", "schedule", "phase"],
    )
    completion = _gauge(
        "velero_restore_last_completion_timestamp_seconds",
        "Completion time of the newest finished restore.",
        ["tier", "schedule"],
    )
    duration = _gauge(
        "velero_restore_last_duration_seconds",
        "Duration of the newest finished restore: RTO evidence.",
        ["tier", "schedule"],
    )
    failure = _gauge(
        "velero_restore_last_failure_timestamp_seconds",
        "Completion of the newest Failed or PartiallyFailed restore.",
        ["tier", "schedule"],
    )
    for group in model.restore_groups:
        labels = [group.tier, group.schedule]
        restore = group.last_finished
        if restore is not None:
            _state_set(last_phase, labels, FINISHED_PHASES_ORDER, restore.phase)
            _add_known(completion, labels, restore.completed)
            if restore.started is not None and restore.completed is not None:
                duration.add_metric(labels, max(0.0, restore.completed - restore.started))
        _add_known(failure, labels, group.last_failure)
    yield from (counts, last_phase, completion, duration, failure)


def location_families(model: Model) -> Iterator[Metric]:
    info = _gauge(
        "velero_storage_location_info",
        "1 for each BackupStorageLocation.",
        ["location", "provider", "bucket", "prefix", "region", "default", "access_mode"],
    )
    available = _gauge("velero_storage_location_available", "1 when the location's phase is Available.", ["location"])
    validated = _gauge(
        "velero_storage_location_last_validation_timestamp_seconds",
        "Velero's last validation of the location: stale means Velero is not running.",
        ["location"],
    )
    synced = _gauge(
        "velero_storage_location_last_sync_timestamp_seconds",
        "Velero's last sync of backups from the location's bucket.",
        ["location"],
    )
    for loc in model.storage_locations:
        info.add_metric(
            [
                loc.name,
                loc.provider,
                loc.bucket,
                loc.prefix,
                loc.region,
                str(loc.default).lower(),
                loc.access_mode,
            ],
            1.0,
        )
        available.add_metric([loc.name], 1.0 if loc.phase == "Available" else 0.0)
        _add_known(validated, [loc.name], loc.last_validated)
        _add_known(synced, [loc.name], loc.last_synced)
    snapshot_info = _gauge(
        "velero_snapshot_location_info",
        "1 for each VolumeSnapshotLocation.",
        ["location", "provider", "region"],
    )
    for vsl in model.snapshot_locations:
        snapshot_info.add_metric([vsl.name, vsl.provider, vsl.region], 1.0)
    yield from (info, available, validated, synced, snapshot_info)


def bucket_families(aws: AwsModel) -> Iterator[Metric]:
    where = ["location", "bucket", "region"]
    info = _gauge(
        "velero_bucket_info",
        "1 for each bucket the exporter measures, with its prefix and mode.",
        [*where, "prefix", "mode"],
    )
    size = _gauge("velero_bucket_size_bytes", "Bytes stored under the location's prefix in its bucket.", where)
    objects = _gauge("velero_bucket_objects", "Objects stored under the location's prefix in its bucket.", where)
    measured = _gauge(
        "velero_bucket_measured_timestamp_seconds",
        "When the bucket's size and object count were measured (cloudwatch mode: the datapoint's time).",
        where,
    )
    kind_size = _gauge(
        "velero_bucket_prefix_size_bytes",
        "Bytes by Velero's layout (backups, restores, kopia, restic, other).",
        [*where, "kind"],
    )
    kind_objects = _gauge("velero_bucket_prefix_objects", "Objects by Velero's layout.", [*where, "kind"])
    kind_measured = _gauge(
        "velero_bucket_prefix_measured_timestamp_seconds", "When the kind's size was measured.", [*where, "kind"]
    )
    repo_size = _gauge(
        "velero_bucket_repository_size_bytes",
        "Bytes of each kopia or restic repository (one per namespace).",
        [*where, "kind", "repository"],
    )
    repo_objects = _gauge(
        "velero_bucket_repository_objects",
        "Objects of each kopia or restic repository.",
        [*where, "kind", "repository"],
    )
    tier_size = _gauge("velero_bucket_tier_size_bytes", "Bytes of the backup folders of each tier.", [*where, "tier"])
    recovery_point = _gauge(
        "velero_bucket_recovery_point_timestamp_seconds",
        "Start of the newest Completed backup found in the bucket (its velero-backup.json): the copy's freshness.",
        where,
    )
    missing = _gauge(
        "velero_bucket_missing_backups",
        "Completed backups of the location whose folder is missing from the bucket.",
        where,
    )
    for bucket in aws.buckets:
        target = bucket.target
        labels = [target.location, target.bucket, target.region]
        info.add_metric([*labels, target.prefix, target.settings.mode], 1.0)
        if bucket.total is not None:
            size.add_metric(labels, bucket.total.bytes)
            objects.add_metric(labels, bucket.total.objects)
            measured.add_metric(labels, bucket.total.measured)
        for kind in PREFIX_KINDS:
            usage = bucket.kinds.get(kind)
            if usage is not None:
                kind_size.add_metric([*labels, kind], usage.bytes)
                kind_objects.add_metric([*labels, kind], usage.objects)
                kind_measured.add_metric([*labels, kind], usage.measured)
        for (kind, repository), usage in bucket.repositories.items():
            repo_size.add_metric([*labels, kind, repository], usage.bytes)
            repo_objects.add_metric([*labels, kind, repository], usage.objects)
        for tier, tier_bytes in bucket.tier_bytes.items():
            tier_size.add_metric([*labels, tier], tier_bytes)
        _add_known(recovery_point, labels, bucket.recovery_point)
        _add_known(missing, labels, None if bucket.missing_backups is None else float(bucket.missing_backups))
    yield from (info, size, objects, measured, kind_size, kind_objects, kind_measured, repo_size, repo_objects)
    yield from (tier_size, recovery_point, missing)


def snapshot_families(aws: AwsModel) -> Iterator[Metric]:
    last = _gauge(
        "velero_snapshot_last_completed_timestamp_seconds",
        "The newest point in time a completed Velero EBS snapshot in the region holds: its backup's start where "
        "known, else the snapshot's StartTime.",
        ["region", "tier"],
    )
    counts = _gauge("velero_snapshots", "EBS snapshots matching the tag filter, by state.", ["region", "state"])
    pending = _gauge(
        "velero_snapshot_oldest_pending_timestamp_seconds", "Start of the oldest snapshot still pending.", ["region"]
    )
    measured = _gauge(
        "velero_snapshot_measured_timestamp_seconds", "When the region's snapshots were last described.", ["region"]
    )
    for region in aws.regions:
        for tier, point in region.last_completed.items():
            last.add_metric([region.region, tier], point)
        for state in sorted({*SNAPSHOT_STATES, *region.by_state}):
            counts.add_metric([region.region, state], region.by_state.get(state, 0))
        _add_known(pending, [region.region], region.oldest_pending)
        measured.add_metric([region.region], region.measured)
    yield from (last, counts, pending, measured)


def target_families(health: Health) -> Iterator[Metric]:
    up = _gauge(
        "velero_exporter_target_up",
        "1 when the last refresh of the source's target (a bucket's location, a region) succeeded.",
        ["source", "target"],
    )
    last = _gauge(
        "velero_exporter_target_last_success_timestamp_seconds",
        "Last successful refresh of the target.",
        ["source", "target"],
    )
    errors = CounterMetricFamily(
        "velero_exporter_target_errors", "Failed calls for the target by kind.", labels=["source", "target", "kind"]
    )
    for (source, name), target in sorted(health.targets.items()):
        up.add_metric([source, name], 1.0 if target.up else 0.0)
        _add_known(last, [source, name], target.last_success)
        for kind in sorted({*ERROR_KINDS, *target.errors}):
            errors.add_metric([source, name, kind], target.errors[kind])
    calls = CounterMetricFamily(
        "velero_exporter_api_calls", "Calls the source made to its API, by operation.", labels=["source", "operation"]
    )
    duration = _gauge(
        "velero_exporter_source_refresh_duration_seconds",
        "How long the source's last refresh took.",
        ["source"],
    )
    for name in sorted(health.sources):
        source_health = health.sources[name]
        for operation in sorted(source_health.api_calls):
            calls.add_metric([name, operation], source_health.api_calls[operation])
        _add_known(duration, [name], source_health.last_refresh_duration)
    yield from (up, last, errors, calls, duration)


def health_families(health: Health, resources: Mapping[str, ResourceStats], version: str) -> Iterator[Metric]:
    build = _gauge("velero_exporter_build_info", "The exporter's version.", ["version"])
    build.add_metric([version], 1.0)
    up = _gauge("velero_exporter_source_up", "1 when the source's last refresh or watch is healthy.", ["source"])
    last = _gauge(
        "velero_exporter_source_last_success_timestamp_seconds",
        "Last time the source was healthy.",
        ["source"],
    )
    errors = CounterMetricFamily(
        "velero_exporter_source_errors", "Errors of the source by kind.", labels=["source", "kind"]
    )
    for name in sorted(health.sources):
        source = health.sources[name]
        up.add_metric([name], 1.0 if source.up else 0.0)
        _add_known(last, [name], source.last_success)
        for kind in sorted({*ERROR_KINDS, *source.errors}):
            errors.add_metric([name, kind], source.errors[kind])
    yield from (build, up, last, errors)

    resource_up = _gauge(
        "velero_exporter_resource_up", "1 when the list and watch of the resource are healthy.", ["resource"]
    )
    synced = _gauge("velero_exporter_resource_synced", "1 once the resource has completed a list.", ["resource"])
    forbidden = _gauge(
        "velero_exporter_resource_forbidden", "1 when the API answers 403 for the resource.", ["resource"]
    )
    objects = _gauge("velero_exporter_resource_objects", "Objects held of the resource.", ["resource"])
    relists = CounterMetricFamily(
        "velero_exporter_relists", "Full lists after the first (410 Expired, errors).", labels=["resource"]
    )
    restarts = CounterMetricFamily(
        "velero_exporter_watch_restarts", "Watches started after the first.", labels=["resource"]
    )
    invalid = _gauge(
        "velero_exporter_invalid_objects",
        "Objects currently held with a problem (skipped or degraded), by reason.",
        ["resource", "reason"],
    )
    for name in sorted(resources):
        state = health.resource(name) if name in health.resources else None
        stats = resources[name]
        resource_up.add_metric([name], 1.0 if state is not None and state.up else 0.0)
        synced.add_metric([name], 1.0 if state is not None and state.synced else 0.0)
        forbidden.add_metric([name], 1.0 if state is not None and state.forbidden else 0.0)
        objects.add_metric([name], stats.objects)
        relists.add_metric([name], state.relists if state is not None else 0)
        restarts.add_metric([name], state.watch_restarts if state is not None else 0)
        for reason in sorted({*PROBLEM_REASONS, *stats.problems}):
            invalid.add_metric([name, reason], stats.problems.get(reason, 0))
    yield from (resource_up, synced, forbidden, objects, relists, restarts, invalid)


class Families(Collector):
    """A fixed list of families, in the shape prometheus_client's encoders take."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterable[Metric]:
        return self._families


def collect_all(
    model: Model, aws: AwsModel, health: Health, resources: Mapping[str, ResourceStats], version: str
) -> Families:
    return Families(
        [
            *tier_families(model),
            *schedule_families(model),
            *unfinished_families(model),
            *restore_families(model),
            *location_families(model),
            *bucket_families(aws),
            *snapshot_families(aws),
            *health_families(health, resources, version),
            *target_families(health),
        ]
    )
