"""The status page at /: what an on-call engineer needs without Grafana, as plain server-rendered HTML.

Rendered with the metrics (same model, same moment) in the render thread; no JavaScript, no external assets.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from velero_exporter.config.durations import format_duration
from velero_exporter.mixin.config import DEFAULT as MIXIN
from velero_exporter.mixin.config import seconds as duration_seconds
from velero_exporter.model.aws import BUCKET_TARGETS, AwsModel, PostureState
from velero_exporter.model.coverage import NOT_SYNCED, CoverageModel
from velero_exporter.model.velero import Model, ScheduleState, TierState
from velero_exporter.model.volumes import NO_VOLUMES, BackupVolumes, ScheduleVolumes, VolumeModel
from velero_exporter.state.aws_records import NO_ENCRYPTION, BucketKey, Checked, LifecycleExpiration, ObjectLock
from velero_exporter.state.records import Repository, Restore
from velero_exporter.state.store import Health
from velero_exporter.state.vocabulary import (
    FAILED_VOLUME_OPERATION_PHASES,
    MOVED_METHODS,
    UNSUCCESSFUL_PHASES,
    VOLUME_METHODS,
)

# The families each section presents (the same values, from the same model): the contract test checks that they
# are declared, and docs/metrics.md lists the sections as their users.
SECTION_FAMILIES: dict[str, tuple[str, ...]] = {
    "Tiers": (
        "velero_tier_rpo_seconds",
        "velero_tier_rto_seconds",
        "velero_tier_recovery_point_timestamp_seconds",
        "velero_schedule_last_backup_phase",
    ),
    "Schedules": (
        "velero_schedule_info",
        "velero_schedule_exists",
        "velero_schedule_phase",
        "velero_schedule_paused",
        "velero_schedule_last_backup_phase",
        "velero_schedule_last_success_timestamp_seconds",
        "velero_schedule_next_run_timestamp_seconds",
        "velero_schedule_runs_back_to_back",
    ),
    "Backups in progress": ("velero_backup_unfinished_since_timestamp_seconds",),
    "Volume data (newest finished backup vs the one before)": (
        "velero_schedule_last_backup_volumes",
        "velero_schedule_previous_backup_volumes",
        "velero_schedule_last_backup_volume_bytes",
        "velero_schedule_previous_backup_volume_bytes",
        "velero_schedule_last_backup_size_bytes",
        "velero_schedule_previous_backup_size_bytes",
    ),
    "Volume operations in flight": ("velero_volume_operation_progress_timestamp_seconds",),
    "Backup repositories": (
        "velero_repository_ready",
        "velero_repository_maintenance_frequency_seconds",
        "velero_repository_last_maintenance_timestamp_seconds",
        "velero_repository_last_maintenance_result",
    ),
    "Restore drills": (
        "velero_tier_last_drill_result",
        "velero_tier_last_verified_restore_timestamp_seconds",
        "velero_tier_drill_validation_required",
    ),
    "Restores": (
        "velero_restore_last_phase",
        "velero_restore_last_completion_timestamp_seconds",
        "velero_restore_last_duration_seconds",
    ),
    "Storage locations": (
        "velero_storage_location_info",
        "velero_storage_location_available",
        "velero_storage_location_last_validation_timestamp_seconds",
    ),
    "Buckets": (
        "velero_bucket_info",
        "velero_bucket_size_bytes",
        "velero_bucket_objects",
        "velero_bucket_measured_timestamp_seconds",
        "velero_bucket_recovery_point_timestamp_seconds",
    ),
    "Bucket posture": (
        "velero_bucket_versioning_enabled",
        "velero_bucket_encryption",
        "velero_bucket_public_access_blocked",
        "velero_bucket_object_lock_retention_seconds",
        "velero_bucket_object_lock_required",
        "velero_bucket_lifecycle_expiration_seconds",
        "velero_bucket_replication_enabled",
        "velero_bucket_posture_measured_timestamp_seconds",
        "velero_aws_target_info",
    ),
    "DR replicas": ("velero_bucket_replica_missing_backups",),
    "Snapshot freshness per region": ("velero_snapshot_last_completed_timestamp_seconds",),
    "Exporter sources": (
        "velero_exporter_source_up",
        "velero_exporter_source_last_success_timestamp_seconds",
        "velero_exporter_source_errors",
    ),
    "AWS targets": (
        "velero_exporter_target_up",
        "velero_exporter_target_last_success_timestamp_seconds",
        "velero_exporter_target_errors",
    ),
    "Coverage": (
        "velero_namespace_covered",
        "velero_namespace_unprotected",
        "velero_pvc_protected",
        "velero_pvc_unprotected",
        "velero_coverage_namespaces",
        "velero_coverage_pvcs",
    ),
}
# The unprotected namespaces and claims listed on the page; the rest is counted (a large cluster's list belongs
# in Grafana's table, not on one page).
COVERAGE_ROWS = 50

OK = "ok"
VIOLATED = "RPO violated"
NO_RECOVERY_POINT = "no recovery point"


@dataclass(slots=True, frozen=True)
class TierRow:
    tier: str
    rpo: float | None
    rto: float | None
    recovery_point_age: float | None
    state: str
    last_result: str | None


def tier_rows(model: Model, now: float) -> list[TierRow]:
    """Each configured tier's objective, recovery point age and state (the unassigned tier has no objective)."""
    last_result: dict[str, tuple[float, str]] = {}
    for schedule in model.schedules:
        backup = schedule.last_finished
        if backup is not None:
            when = backup.started or backup.created or 0.0
            if schedule.tier not in last_result or when > last_result[schedule.tier][0]:
                last_result[schedule.tier] = (when, backup.phase)
    return [_tier_row(tier, now, last_result.get(tier.name, (0.0, None))[1]) for tier in model.tiers]


def _tier_row(tier: TierState, now: float, last_result: str | None) -> TierRow:
    objectives = tier.objectives
    age = None if tier.recovery_point is None else max(0.0, now - tier.recovery_point)
    if objectives is None:
        state = OK if age is not None else NO_RECOVERY_POINT
    elif age is None:
        state = NO_RECOVERY_POINT
    else:
        state = VIOLATED if age > objectives.rpo_seconds else OK
    return TierRow(
        tier=tier.name,
        rpo=objectives.rpo_seconds if objectives else None,
        rto=objectives.rto_seconds if objectives else None,
        recovery_point_age=age,
        state=state,
        last_result=last_result,
    )


# A tier's newest drill, as its row is shown: passed is good, failed is bad, a Completed drill whose validation
# has not reported yet is a warning, and a tier without drills is neither (VeleroRestoreTestOverdue judges that).
DRILL_ROW_CLASS = {"passed": "good", "failed": "bad", "unvalidated": "warn"}


def drill_table(model: Model, now: float) -> str:
    """Each configured tier's newest restore drill and its last verified one (a drill that Completed and passed
    its validation), and whether only verified drills count as its restore test."""
    return _table(
        "Restore drills",
        ("tier", "newest drill", "last verified restore", "validation required"),
        (
            (
                (
                    _e(tier.name),
                    _e(tier.last_drill_result or "none"),
                    _e(_when(tier.last_verified_restore, now) if tier.last_verified_restore is not None else "never"),
                    "yes" if tier.objectives is not None and tier.objectives.require_validation else "no",
                ),
                DRILL_ROW_CLASS.get(tier.last_drill_result or "", ""),
            )
            for tier in model.tiers
            if tier.objectives is not None or tier.last_drill_result is not None
        ),
    )


def accepting_tiers(model: Model) -> frozenset[str]:
    """The tiers that count a PartiallyFailed backup as a success (VeleroBackupFailure ignores it there)."""
    return frozenset(t.name for t in model.tiers if t.objectives is not None and t.objectives.accept_partially_failed)


def schedule_failing(schedule: ScheduleState, accepting: frozenset[str] = frozenset()) -> bool:
    backup = schedule.last_finished
    record = schedule.record
    failed = backup is not None and backup.phase in UNSUCCESSFUL_PHASES
    if failed and backup is not None and backup.phase == "PartiallyFailed" and schedule.tier in accepting:
        failed = False
    return record is None or record.phase == "FailedValidation" or failed or schedule.next_run is None


def _e(value: object) -> str:
    return html.escape(str(value))


def coarse(seconds: float) -> str:
    """A duration to the precision a reader needs: hours past a day, minutes past an hour."""
    step = 3600 if seconds >= 86400 else 60 if seconds >= 3600 else 1
    return format_duration(round(seconds / step) * step)


def _ago(seconds: float | None) -> str:
    return "—" if seconds is None else f"{coarse(seconds)} ago"


def _when(t: float | None, now: float) -> str:
    if t is None:
        return "—"
    stamp = datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M UTC")
    delta = now - t
    rel = f"{coarse(delta)} ago" if delta >= 0 else f"in {coarse(-delta)}"
    return f"{stamp} ({rel})"


def _table(caption: str, headers: Sequence[str], rows: Iterable[tuple[Sequence[str], str]]) -> str:
    """Rows are (already-escaped cells, css class)."""
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join(
        f"<tr class='{css}'>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>" for cells, css in rows
    )
    if not body:
        body = f"<tr><td colspan='{len(headers)}'>none</td></tr>"
    return f"<table><caption>{_e(caption)}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#1b1f24;background:#fff}
h1{font-size:1.4rem;margin:0 0 .2rem} p.meta{color:#57606a;margin:0 0 1rem}
table{border-collapse:collapse;margin:0 0 1.5rem;min-width:40rem}
caption{text-align:left;font-weight:600;font-size:1.1rem;padding:.3rem 0}
th,td{border:1px solid #d0d7de;padding:.3rem .6rem;text-align:left;font-size:.9rem;white-space:nowrap}
th{background:#f6f8fa} tr.bad td{background:#ffebe9} tr.warn td{background:#fff8c5} tr.good td{background:#dafbe1}
a{color:#0969da}
"""


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{value:.0f} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def bucket_table(aws: AwsModel, now: float) -> str:
    return _table(
        "Buckets",
        ("location", "bucket", "region", "size", "objects", "newest backup in the bucket", "measured"),
        (
            (
                (
                    _e(b.target.location),
                    _e(f"{b.target.bucket}/{b.target.prefix}" if b.target.prefix else b.target.bucket),
                    _e(b.target.region),
                    _e(_size(b.total.bytes)) if b.total else "—",
                    _e(b.total.objects) if b.total else "—",
                    _e(_when(b.recovery_point, now)),
                    _e(_when(b.total.measured if b.total else None, now)),
                ),
                "" if b.recovery_point is not None else "bad",
            )
            for b in aws.buckets
        ),
    )


def posture_problems(state: PostureState, longest_retention: float | None) -> list[str]:
    """What the posture alerts say of the bucket, in their words (VeleroBucketNotVersioned ...)."""
    p = state.posture
    problems = []
    if p.versioning is not None and not p.versioning.value:
        problems.append("not versioned")
    if p.encryption is not None and p.encryption.value == NO_ENCRYPTION:
        problems.append("unencrypted")
    if p.public_access_block is not None and not p.public_access_block.value:
        problems.append("public access not blocked")
    expiration = p.lifecycle.value if p.lifecycle is not None else None
    if expiration is not None and longest_retention is not None and expiration.seconds < longest_retention:
        problems.append("lifecycle below retention")
    lock = p.object_lock.value if p.object_lock is not None else None
    if state.object_lock_required and p.object_lock is not None and (lock is None or lock.retention_seconds <= 0):
        problems.append("not immutable")
    return problems


def longest_retention(model: Model, aws: AwsModel) -> dict[BucketKey, float]:
    """Per bucket, the longest retention of a tier whose backups are stored there (as the lifecycle alert reads)."""
    retention = {t.name: t.objectives.retention_seconds for t in model.tiers if t.objectives is not None}
    return {
        b.target.key: max(stored)
        for b in aws.buckets
        if (stored := [retention[tier] for tier, size in b.tier_bytes.items() if size > 0 and tier in retention])
    }


def posture_table(model: Model, aws: AwsModel, now: float) -> str:
    accounts = {t.name: t.account for t in aws.targets if t.source == BUCKET_TARGETS}
    retention = longest_retention(model, aws)

    def cell(checked: Checked[Any] | None, shown: Callable[[Any], str]) -> str:
        return _e(shown(checked.value)) if checked is not None else "—"

    def measured(state: PostureState) -> float | None:
        times = [c.measured for c in state.posture.checked().values() if c is not None]
        return min(times) if times else None

    rows = []
    for state in aws.posture:
        p, target = state.posture, state.posture.target
        problems = posture_problems(state, retention.get(target.key))
        rows.append(
            (
                (
                    _e(target.location),
                    _e(target.bucket),
                    cell(p.versioning, _yes),
                    cell(p.encryption, str),
                    cell(p.public_access_block, _yes),
                    cell(p.object_lock, _lock) + (" (required)" if state.object_lock_required else ""),
                    cell(p.lifecycle, _expiration),
                    cell(p.replication, lambda v: ", ".join(d for d, on in v.destinations.items() if on) or "—"),
                    _e(accounts.get(target.location) or "—"),
                    _e(", ".join(problems) or "ok"),
                    _e(_when(measured(state), now)),
                ),
                "bad" if problems else "good",
            )
        )
    return _table(
        "Bucket posture",
        (
            "location",
            "bucket",
            "versioned",
            "encryption",
            "public access blocked",
            "Object Lock",
            "lifecycle expires backups after",
            "replicates to",
            "account",
            "problems",
            "read",
        ),
        rows,
    )


def _yes(value: bool) -> str:
    return "yes" if value else "NO"


def _lock(lock: ObjectLock | None) -> str:
    return f"{lock.mode} {format_duration(lock.retention_seconds)}" if lock is not None else "none"


def _expiration(expiration: LifecycleExpiration | None) -> str:
    if expiration is None:
        return "never"
    return f"{format_duration(expiration.seconds)} ({expiration.prefix or 'whole bucket'})"


def replica_table(aws: AwsModel) -> str:
    return _table(
        "DR replicas",
        ("bucket", "replica", "Completed backups missing from the replica"),
        (
            ((_e(r.bucket), _e(r.replica_bucket), _e(r.missing_backups)), "bad" if r.missing_backups else "good")
            for r in aws.replicas
        ),
    )


def snapshot_table(aws: AwsModel, tiers: Sequence[str], now: float) -> str:
    """One row per tier, one column per region: primary beside DR."""
    regions = [r.region for r in aws.regions]
    names = [t for t in tiers if any(t in r.last_completed for r in aws.regions)]
    return _table(
        "Snapshot freshness per region",
        ("tier", *regions),
        (
            (
                (_e(tier), *(_e(_ago(_age(r.last_completed.get(tier), now))) for r in aws.regions)),
                "bad" if _copies_lag(tier, aws) else "",
            )
            for tier in names
        ),
    )


def _copies_lag(tier: str, aws: AwsModel) -> bool:
    """A region further behind the freshest one than VeleroSnapshotCopyStale allows, or without a copy."""
    points = [r.last_completed.get(tier) for r in aws.regions]
    known = [p for p in points if p is not None]
    return len(known) < len(points) or max(known) - min(known) > duration_seconds(MIXIN.snapshot_region_lag)


def _age(t: float | None, now: float) -> float | None:
    return None if t is None else max(0.0, now - t)


def target_table(health: Health, now: float) -> str:
    return _table(
        "AWS targets",
        ("source", "target", "up", "last success", "errors"),
        (
            (
                (
                    _e(source),
                    _e(target),
                    "yes" if t.up else "<strong>no</strong>",
                    _e(_when(t.last_success, now)),
                    _e(", ".join(f"{k}: {v}" for k, v in sorted(t.errors.items()) if v) or "none"),
                ),
                "good" if t.up else "bad",
            )
            for (source, target), t in sorted(health.targets.items())
        ),
    )


def _method_cells(backup: BackupVolumes | None) -> str:
    """Volumes (and bytes, for the methods that move data) by method, the methods the backup used."""
    if backup is None:
        return "—"
    parts = []
    for method in VOLUME_METHODS:
        count = backup.count(method)
        if not count and not backup.bytes.get(method):
            continue
        failed = sum(backup.volumes[method].get(p, 0) for p in FAILED_VOLUME_OPERATION_PHASES)
        text = f"{method}: {count}" + (f" ({failed} failed)" if failed else "")
        if method in MOVED_METHODS:
            text += f", {_size(backup.bytes[method])}"
        parts.append(text)
    return _e("; ".join(parts) or "no volumes")


def volume_problems(schedule: ScheduleVolumes) -> list[str]:
    """What VeleroBackupVolumeDataMissing, VeleroBackupShrank and VeleroVolumeOperationFailed would say of the
    schedule's newest finished backup (they only look at one that finished well)."""
    last, previous = schedule.last, schedule.previous
    if last is None or last.backup.phase not in ("Completed", "PartiallyFailed"):
        return []
    problems = []
    fraction = MIXIN.backup_shrink_fraction
    for method in VOLUME_METHODS:
        if sum(last.volumes[method].get(p, 0) for p in FAILED_VOLUME_OPERATION_PHASES) and method in MOVED_METHODS:
            problems.append(f"{method} volumes failed")
        if previous is None:
            continue
        if last.count(method) < previous.count(method):
            problems.append(f"fewer {method} volumes")
        if method in MOVED_METHODS and previous.bytes[method] > 0:
            if last.bytes[method] == 0 and last.count(method) > 0:
                problems.append(f"{method} volumes hold 0 bytes")
            elif 0 < last.bytes[method] < fraction * previous.bytes[method]:
                problems.append(f"{method} bytes shrank")
    if (
        last.size is not None
        and previous is not None
        and previous.size is not None
        and last.size < fraction * previous.size
    ):
        problems.append("folder shrank")
    return problems


def volume_table(volumes: VolumeModel) -> str:
    return _table(
        "Volume data (newest finished backup vs the one before)",
        ("schedule", "tier", "newest backup", "volumes", "folder", "previous backup", "volumes", "folder", "problems"),
        (
            (
                (
                    _e(s.schedule),
                    _e(s.tier),
                    _e(s.last.backup.name) if s.last else "—",
                    _method_cells(s.last),
                    _e(_size(s.last.size)) if s.last and s.last.size is not None else "—",
                    _e(s.previous.backup.name) if s.previous else "—",
                    _method_cells(s.previous),
                    _e(_size(s.previous.size)) if s.previous and s.previous.size is not None else "—",
                    _e(", ".join(problems) or "none"),
                ),
                "bad" if problems else "",
            )
            for s in volumes.schedules
            for problems in (volume_problems(s),)
        ),
    )


def operations_table(volumes: VolumeModel, now: float) -> str:
    stall = duration_seconds(MIXIN.volume_operation_stall_threshold)
    return _table(
        "Volume operations in flight",
        ("kind", "operation", "backup", "phase", "bytes done", "last progress"),
        (
            (
                (
                    _e(o.kind),
                    _e(o.name),
                    _e(o.backup or "—"),
                    _e(o.phase),
                    _e(f"{_size(o.bytes_done or 0)} of {_size(o.total_bytes)}" if o.total_bytes else "—"),
                    _e(_when(o.last_progress, now)),
                ),
                "bad" if now - o.last_progress > stall else "",
            )
            for o in volumes.in_flight
        ),
    )


def maintenance_overdue(repository: Repository, read_only: bool, now: float) -> bool:
    """As VeleroRepositoryMaintenanceOverdue: Velero skips the maintenance of a ReadOnly location's repositories."""
    if read_only or repository.maintenance_frequency is None:
        return False
    since = repository.last_maintenance or repository.created
    limit = MIXIN.repository_maintenance_overdue_factor * repository.maintenance_frequency
    return since is not None and now - since > limit


def repository_table(volumes: VolumeModel, model: Model, now: float) -> str:
    read_only = {loc.record.name for loc in model.storage_locations if loc.record.access_mode == "ReadOnly"}
    return _table(
        "Backup repositories",
        ("repository", "type", "location", "namespace", "phase", "last maintenance", "frequency", "last result"),
        (
            (
                (
                    _e(r.name),
                    _e(r.repository_type or "—"),
                    _e(r.location),
                    _e(r.volume_namespace),
                    _e(r.phase),
                    _e(_when(r.last_maintenance, now)),
                    _e(format_duration(r.maintenance_frequency)) if r.maintenance_frequency is not None else "—",
                    _e(r.last_maintenance_result or "—"),
                ),
                "bad"
                if r.phase != "Ready"
                or r.last_maintenance_result == "Failed"
                or maintenance_overdue(r, r.location in read_only, now)
                else "good",
            )
            for r in volumes.repositories
        ),
    )


def coverage_tables(coverage: CoverageModel) -> str:
    """Coverage per tier, the Schedules whose selection is not what it seems, and what no tier protects."""
    if not coverage.synced:
        return _table("Coverage", ("state",), [(("reading the cluster (or the coverage source is off)",), "warn")])
    total = len(coverage.namespaces)
    tiers = _table(
        "Coverage per tier",
        ("tier", "namespaces covered", "volumes protected"),
        (
            (
                (
                    _e(t.tier),
                    _e(f"{t.namespaces} of {total}"),
                    _e(", ".join(f"{m} {n}" for m, n in t.pvcs_by_method.items() if n) or "none"),
                ),
                "",
            )
            for t in coverage.per_tier
        ),
    )
    odd = _table(
        "Schedules whose selection is invalid or unknown",
        ("schedule", "tier", "state", "why"),
        (
            ((_e(s.schedule), _e(s.tier), _e(s.state), _e(s.detail)), "bad" if s.state == "invalid" else "warn")
            for s in coverage.selections
            if s.state != "valid"
        ),
    )
    namespaces = sorted(n.name for n in coverage.namespaces if n.state == "unprotected")
    volumes = sorted(
        (p.namespace, p.name, p.storage_class, p.reason or "") for p in coverage.pvcs if p.state == "unprotected"
    )
    unprotected_namespaces = _table(
        _capped("Unprotected namespaces", len(namespaces)),
        ("namespace",),
        (((_e(n),), "bad") for n in namespaces[:COVERAGE_ROWS]),
    )
    unprotected_volumes = _table(
        _capped("Unprotected volumes", len(volumes)),
        ("namespace", "claim", "storage class", "reason"),
        ((tuple(_e(v) for v in row), "bad") for row in volumes[:COVERAGE_ROWS]),
    )
    return f"{tiers}{odd}{unprotected_namespaces}{unprotected_volumes}"


def _capped(caption: str, count: int) -> str:
    shown = f", the first {COVERAGE_ROWS}" if count > COVERAGE_ROWS else ""
    return f"{caption} ({count}{shown})"


def render_status_page(
    model: Model,
    aws: AwsModel,
    health: Health,
    now: float,
    *,
    volumes: VolumeModel = NO_VOLUMES,
    version: str,
    telemetry_path: str,
    coverage: CoverageModel = NOT_SYNCED,
    coverage_enabled: bool = False,
) -> str:
    tiers = _table(
        "Tiers",
        ("tier", "RPO", "recovery point", "state", "last result", "RTO"),
        (
            (
                (
                    _e(row.tier),
                    _e(format_duration(row.rpo)) if row.rpo is not None else "—",
                    _e(_ago(row.recovery_point_age)),
                    f"<strong>{_e(row.state)}</strong>",
                    _e(row.last_result or "—"),
                    _e(format_duration(row.rto)) if row.rto is not None else "—",
                ),
                "good" if row.state == OK else "bad",
            )
            for row in tier_rows(model, now)
            if row.rpo is not None or row.recovery_point_age is not None
        ),
    )
    accepting = accepting_tiers(model)
    schedules = _table(
        "Schedules",
        ("schedule", "tier", "cron", "last result", "last success", "next run", "state"),
        (
            (
                (
                    _e(s.name),
                    _e(s.tier),
                    _e(s.record.cron) if s.record else "—",
                    _e(s.last_finished.phase) if s.last_finished else "—",
                    _e(_when(s.last_success, now)),
                    _e("every reconcile" if s.back_to_back else _when(s.next_run, now)),
                    _e(_schedule_state(s)),
                ),
                "bad"
                if schedule_failing(s, accepting) or s.back_to_back
                else ("warn" if s.record and s.record.paused else "good"),
            )
            for s in model.schedules
        ),
    )
    unfinished = _table(
        "Backups in progress",
        ("backup", "schedule", "tier", "phase", "since"),
        (
            ((_e(u.name), _e(u.schedule or "—"), _e(u.tier), _e(u.phase), _e(_when(u.since, now))), "")
            for u in model.unfinished
        ),
    )
    restores = _table(
        "Restores (newest per source tier and schedule)",
        ("tier", "schedule", "phase", "finished", "duration"),
        (
            (
                (
                    _e(g.tier),
                    _e(g.schedule or "ad-hoc"),
                    _e(g.last_finished.phase if g.last_finished else "—"),
                    _e(_when(g.last_finished.completed if g.last_finished else None, now)),
                    _e(_restore_duration(g.last_finished)),
                ),
                "bad" if g.last_finished is not None and g.last_finished.phase in UNSUCCESSFUL_PHASES else "",
            )
            for g in model.restore_groups
        ),
    )
    locations = _table(
        "Storage locations",
        ("location", "bucket", "region", "phase", "last validated"),
        (
            (
                (
                    _e(loc.name),
                    _e(f"{loc.bucket}/{loc.prefix}" if loc.prefix else loc.bucket),
                    _e(loc.region or "—"),
                    _e(loc.phase or "unknown"),
                    _e(_when(loc.last_validated, now)),
                ),
                "good" if loc.phase == "Available" else "bad",
            )
            for loc in (state.record for state in model.storage_locations)
        ),
    )
    sources = _table(
        "Exporter sources",
        ("source", "up", "last success", "errors"),
        (
            (
                (
                    _e(name),
                    "yes" if src.up else "<strong>no</strong>",
                    _e(_when(src.last_success, now)),
                    _e(", ".join(f"{k}: {v}" for k, v in sorted(src.errors.items()) if v) or "none"),
                ),
                "good" if src.up else "bad",
            )
            for name, src in sorted(health.sources.items())
        ),
    )
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    path = _e(telemetry_path)
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta http-equiv='refresh' content='30'><title>velero-exporter status</title>"
        f"<style>{STYLE}</style></head><body>"
        f"<h1>Velero backup status</h1><p class='meta'>velero-exporter {_e(version)} · as of {stamp} · "
        f"<a href='{path}'>metrics</a> · <a href='/healthz'>healthz</a> · <a href='/readyz'>readyz</a></p>"
        f"{tiers}{schedules}{unfinished}{volume_table(volumes)}{operations_table(volumes, now)}{restores}"
        f"{drill_table(model, now)}{locations}"
        f"{repository_table(volumes, model, now)}"
        f"{coverage_tables(coverage) if coverage_enabled else ''}"
        f"{bucket_table(aws, now)}{posture_table(model, aws, now)}{replica_table(aws)}"
        f"{snapshot_table(aws, [t.name for t in model.tiers], now)}"
        f"{sources}{target_table(health, now)}</body></html>"
    )


def _schedule_state(schedule: ScheduleState) -> str:
    record = schedule.record
    if record is None:
        return "missing from the cluster"
    if schedule.back_to_back:
        return "back to back: its cron matches no time, so Velero backs up at every reconcile"
    if record.phase == "FailedValidation" or schedule.next_run is None:
        return "invalid"
    if record.paused:
        return "paused"
    return "enabled"


def _restore_duration(restore: Restore | None) -> str:
    if restore is None or restore.started is None or restore.completed is None:
        return "—"
    return format_duration(round(max(0.0, restore.completed - restore.started)))
