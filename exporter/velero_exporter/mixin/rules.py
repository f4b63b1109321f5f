"""The mixin's Prometheus rules and Alertmanager inhibitions, built from a MixinConfig.

Every selector, threshold, window, `for` and severity comes from the configuration (mixin/config.py); the
functions below build the rule groups from it. `python -m velero_exporter.mixin` writes the files.

Rules must run on Prometheus 2.42 and later, 3.x included: no holt_winters, no duration arithmetic, no
features newer than 2.42.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from velero_exporter.mixin.config import MixinConfig, seconds

Rule = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Builder:
    """Renders selectors, aggregations and annotations from one configuration."""

    cfg: MixinConfig

    @property
    def c(self) -> str:
        return self.cfg.cluster_label

    def s(self, metric: str, *matchers: str) -> str:
        """The metric restricted to the exporter's series, plus further matchers."""
        return f"{metric}{{{', '.join([self.cfg.exporter_selector, *matchers])}}}"

    def by(self, *labels: str) -> str:
        return f"({', '.join([self.c, *labels])})"

    def agg(self, op: str, metric: str, *labels: str, matchers: tuple[str, ...] = ()) -> str:
        """`op by (cluster, labels) (metric{selector, matchers})`: one series per object, whatever the replicas."""
        return f"{op} by {self.by(*labels)} ({self.s(metric, *matchers)})"

    def in_cluster(self) -> str:
        return f"{{{{ with $labels.{self.c} }}}} in cluster {{{{ . }}}}{{{{ end }}}}"

    def alert(
        self,
        name: str,
        expr: str,
        summary: str,
        description: str,
        *,
        severity_key: str | None = None,
        anchor: str | None = None,
        reason: str | None = None,
    ) -> Rule:
        severity = self.cfg.severity[severity_key or name]
        rule: Rule = {"alert": name, "expr": _tidy(expr)}
        wait = self.cfg.alert_for[name]
        if seconds(wait) > 0:
            rule["for"] = wait
        rule["labels"] = {"severity": severity}
        if reason:
            # Tells apart the rules of one alert (promtool rejects duplicates) and the receivers' cases.
            rule["labels"]["reason"] = reason
        rule["annotations"] = {
            "summary": summary,
            "description": description,
            "runbook_url": f"{self.cfg.runbook_base_url}#{anchor or name.lower()}",
        }
        return rule

    def dr_clusters(self) -> str:
        """The DR clusters' identity (velero_cluster_info of role dr): `on (cluster)` it selects them."""
        return self.s("velero_cluster_info", 'role="dr"')

    def record(self, name: str, expr: str) -> Rule:
        return {"record": name, "expr": _tidy(expr)}

    def newest_finished_well(self, expr: str) -> str:
        """Keeps the schedules whose newest finished backup is Completed or PartiallyFailed (a failed one already
        fires VeleroBackupFailure), with their tier."""
        phase = 'phase=~"Completed|PartiallyFailed"'
        finished_well = f"max by {self.by('schedule')} ({self.s('velero_schedule_last_backup_phase', phase)}) == 1"
        return self.with_schedule_tier(f"{expr}\nand on {self.by('schedule')}\n{finished_well}")

    def with_schedule_tier(self, expr: str) -> str:
        """Adds the schedule's tier label (from velero_schedule_exists); keeps the series if it has none."""
        return (
            f"(\n{expr}\n) * on {self.by('schedule')} group_left (tier)\n"
            f"  group by {self.by('schedule', 'tier')} ({self.s('velero_schedule_exists')})\n"
            f"or on {self.by('schedule')}\n(\n{expr}\n)"
        )


def _tidy(expr: str) -> str:
    lines = [line.rstrip() for line in expr.strip("\n").splitlines()]
    text = "\n".join(line for line in lines if line.strip())
    return text + "\n" if "\n" in text else text


# ---------------------------------------------------------------------------------------------------------
# Recording rules
# ---------------------------------------------------------------------------------------------------------


def recording_rules(b: Builder) -> list[Rule]:
    c = b.c
    on_tier = f"on {b.by('tier')}"
    return [
        b.record("velero:tier_rpo_seconds", b.agg("max", "velero_tier_rpo_seconds", "tier")),
        b.record("velero:tier_rto_seconds", b.agg("max", "velero_tier_rto_seconds", "tier")),
        b.record(
            "velero:tier_recovery_point_age_seconds",
            f"time() - {b.agg('max', 'velero_tier_recovery_point_timestamp_seconds', 'tier')}",
        ),
        # 1 while the tier's recovery point is within its RPO, 0 while it is not or there is none: the audit
        # trail of RPO compliance that outlives the backups Velero deletes.
        b.record(
            "velero:tier_rpo_compliant",
            f"""
velero:tier_recovery_point_age_seconds <= bool {on_tier} velero:tier_rpo_seconds
or {on_tier}
velero:tier_rpo_seconds * 0
""",
        ),
        b.record(
            "velero:cluster_last_success_timestamp_seconds",
            f"max by ({c}) ({b.s('velero_tier_last_success_timestamp_seconds')})",
        ),
        b.record(
            "velero:tier_schedule_interval_seconds:max",
            f"""
max by {b.by("tier")} (
  {b.agg("max", "velero_schedule_interval_seconds", "schedule")}
  * on {b.by("schedule")} group_left (tier)
  group by {b.by("schedule", "tier")} ({b.s("velero_schedule_info")})
)
""",
        ),
        b.record("velero:tier_retention_seconds", b.agg("max", "velero_tier_retention_seconds", "tier")),
        # When the tier began: the creation of its oldest schedule.
        b.record(
            "velero:tier_schedule_created_timestamp_seconds:min",
            f"""
min by {b.by("tier")} (
  {b.agg("max", "velero_schedule_created_timestamp_seconds", "schedule")}
  * on {b.by("schedule")} group_left (tier)
  group by {b.by("schedule", "tier")} ({b.s("velero_schedule_info")})
)
""",
        ),
        # Velero deletes a Restore with its backup, so the newest successful restore of a short-retention tier
        # vanishes long before the next monthly drill. This latch keeps it while the tier stays configured.
        latch(b, "velero:tier_last_restore_success_timestamp_seconds"),
        # The same for the newest drill that Completed and passed its validation.
        latch(b, "velero:tier_last_verified_restore_timestamp_seconds"),
        # What VeleroRestoreTestOverdue measures: the newest verified drill once the tier has one; until then
        # any successful restore, unless the tier requires validation (its first verified drill is awaited).
        b.record(
            "velero:tier_restore_test_timestamp_seconds",
            f"""
velero:tier_last_verified_restore_timestamp_seconds
or {on_tier}
(
  velero:tier_last_restore_success_timestamp_seconds
  unless {on_tier}
  ({b.agg("max", "velero_tier_drill_validation_required", "tier")} == 1)
)
""",
        ),
        b.record(
            "velero:tier_restore_duration_seconds:max",
            b.agg("max", "velero_restore_last_duration_seconds", "tier"),
        ),
        # 1 when the newest restore of the tier finished within its RTO, 0 when not; absent without a restore.
        b.record(
            "velero:tier_rto_compliant",
            f"velero:tier_restore_duration_seconds:max <= bool {on_tier} velero:tier_rto_seconds",
        ),
    ]


def latch(b: Builder, record: str) -> Rule:
    """`record` (velero:<name>) keeps the exporter's velero_<name> after it vanished, while the tier stays
    configured: its own value within the latch window counts as well as the series."""
    window = b.cfg.restore_evidence_latch
    return b.record(
        record,
        f"""
max by {b.by("tier")} (
  {b.s(record.replace("velero:", "velero_", 1))}
  or
  max_over_time({record}[{window}])
)
and on {b.by("tier")}
max by {b.by("tier")} (max_over_time({b.s("velero_tier_rpo_seconds")}[{window}]))
""",
    )


# ---------------------------------------------------------------------------------------------------------
# Alerts
# ---------------------------------------------------------------------------------------------------------


def backup_alerts(b: Builder) -> list[Rule]:
    c = b.c
    ic = b.in_cluster()
    failed = "Failed|FailedValidation"
    sched_phase = "velero_schedule_last_backup_phase"
    adhoc_phase = "velero_tier_last_adhoc_backup_phase"
    accepted = f"max by {b.by('tier')} ({b.s('velero_tier_partially_failed_accepted')}) == 1"
    missing_cluster = seconds(b.cfg.backup_missing_cluster_window)
    # A DR cluster makes no backups of its own tiers: what it holds is synced from its primary's, and the fleet
    # rules compare that with the primary's. Its own schedules, if any, are checked per schedule below.
    not_dr = f"unless on ({c})\n{b.dr_clusters()}"
    n = b.cfg.backup_missing_intervals
    last_success = b.agg("max", "velero_schedule_last_success_timestamp_seconds", "schedule")
    interval = b.agg("max", "velero_schedule_interval_seconds", "schedule")
    created = b.agg("max", "velero_schedule_created_timestamp_seconds", "schedule")
    exists = b.agg("max", "velero_schedule_exists", "schedule", "tier")
    unfinished = "velero_backup_unfinished_since_timestamp_seconds"
    plugin_phases = b.cfg.backup_plugin_operations_phases
    plugin_grace = seconds(b.cfg.backup_plugin_operations_grace)
    failure_desc = (
        "The newest finished {{ with $labels.schedule }}backup of schedule {{ . }}{{ else }}ad-hoc backup"
        "{{ end }} of tier {{ $labels.tier }}" + ic + " ended {{ $labels.phase }}. It stays so until a newer "
        "backup finishes well."
    )

    def stuck(phases: str, threshold: str, what: str, reason: str) -> Rule:
        return b.alert(
            "VeleroBackupStuck",
            f"""
time() - max by {b.by("backup", "schedule", "tier", "phase")} ({b.s(unfinished, f'phase=~"{phases}"')})
> {seconds(threshold)}
""",
            f"A Velero backup is stuck {what}.",
            "Backup {{ $labels.backup }} (schedule {{ $labels.schedule }}, tier {{ $labels.tier }})" + ic + " has "
            "been {{ $labels.phase }} for {{ $value | humanizeDuration }} (threshold "
            f"{threshold}).",
            reason=reason,
        )

    def last_backup(name: str, expr: str, summary: str, description: str) -> Rule:
        return b.alert(name, b.newest_finished_well(expr), summary, description)

    return [
        b.alert(
            "VeleroBackupFailure",
            f"""
max by {b.by("schedule", "tier", "phase")} ({b.s(sched_phase, f'phase=~"{failed}"')}) == 1
or
(
  max by {b.by("schedule", "tier", "phase")} ({b.s(sched_phase, 'phase="PartiallyFailed"')}) == 1
  unless on {b.by("tier")} ({accepted})
)
or
max by {b.by("tier", "phase")} ({b.s(adhoc_phase, f'phase=~"{failed}"')}) == 1
or
(
  max by {b.by("tier", "phase")} ({b.s(adhoc_phase, 'phase="PartiallyFailed"')}) == 1
  unless on {b.by("tier")} ({accepted})
)
""",
            "The newest finished Velero backup failed.",
            failure_desc,
        ),
        b.alert(
            "VeleroBackupMissing",
            f"time() - velero:cluster_last_success_timestamp_seconds > {missing_cluster}\n{not_dr}",
            "No successful Velero backup in the cluster lately.",
            "The newest successful backup of any tier" + ic + " completed {{ $value | humanizeDuration }} ago "
            f"(threshold {b.cfg.backup_missing_cluster_window}).",
            reason="cluster_stale",
        ),
        b.alert(
            "VeleroBackupMissing",
            f"""
group by ({c}) ({b.s("velero_exporter_build_info")})
unless on ({c})
{b.s("velero_tier_last_success_timestamp_seconds")}
{not_dr}
""",
            "No successful Velero backup in the cluster lately.",
            "The cluster" + ic.replace(" in cluster", "") + " holds no successful backup of any tier at all.",
            reason="cluster_none",
        ),
        b.alert(
            "VeleroBackupMissing",
            b.with_schedule_tier(f"time() - {last_success}\n> {n} * {interval}"),
            "No successful Velero backup in the cluster lately.",
            "The newest successful backup of schedule {{ $labels.schedule }}" + ic + " completed "
            f"{{{{ $value | humanizeDuration }}}} ago, more than {n} of its intervals.",
            reason="schedule_stale",
        ),
        b.alert(
            "VeleroBackupMissing",
            f"""
(
(
  time() - {created}
  > {n} * {interval}
)
unless on {b.by("schedule")}
{b.s("velero_schedule_last_success_timestamp_seconds")}
) * on {b.by("schedule")} group_left (tier)
({exists} == 1)
""",
            "No successful Velero backup in the cluster lately.",
            "Schedule {{ $labels.schedule }}" + ic + " was created {{ $value | humanizeDuration }} ago, more "
            f"than {n} of its intervals, and none of its backups is a successful one (none left, or none "
            "ever).",
            reason="schedule_none",
        ),
        b.alert(
            "VeleroBackupMissing",
            f"{exists} == 0",
            "No successful Velero backup in the cluster lately.",
            "Schedule {{ $labels.schedule }} of tier {{ $labels.tier }} is configured for the exporter but does "
            "not exist in Velero" + ic + ".",
            reason="schedule_gone",
        ),
        stuck(b.cfg.backup_queued_phases, b.cfg.backup_queued_threshold, "before it starts", "queued"),
        stuck(b.cfg.backup_in_progress_phases, b.cfg.backup_in_progress_threshold, "in progress", "in_progress"),
        b.alert(
            "VeleroBackupStuck",
            # Each operation may run for the backup's own spec.itemOperationTimeout from its start; the operations
            # start after some InProgress time, hence the grace (pkg/controller/backup_operations_controller.go).
            f"""
time() - max by {b.by("backup", "schedule", "tier", "phase")} ({b.s(unfinished, f'phase=~"{plugin_phases}"')})
> on {b.by("backup")} group_left ()
{b.agg("max", "velero_backup_item_operation_timeout_seconds", "backup")} + {plugin_grace}
""",
            "A Velero backup is stuck waiting for plugin operations.",
            "Backup {{ $labels.backup }} (schedule {{ $labels.schedule }}, tier {{ $labels.tier }})" + ic + " has "
            "been {{ $labels.phase }} for {{ $value | humanizeDuration }} since its start, longer than its item "
            f"operation timeout plus {b.cfg.backup_plugin_operations_grace}.",
            reason="plugin_operations",
        ),
        b.alert(
            "VeleroBackupDeletionStuck",
            f"""
time() - {b.agg("max", "velero_backup_deleting_since_timestamp_seconds", "backup", "schedule", "tier")}
> {seconds(b.cfg.backup_deleting_threshold)}
""",
            "A Velero backup is stuck being deleted.",
            "Backup {{ $labels.backup }} (schedule {{ $labels.schedule }}, tier {{ $labels.tier }})" + ic + " has "
            "been Deleting for {{ $value | humanizeDuration }} (threshold "
            f"{b.cfg.backup_deleting_threshold}): Velero's deletion of it failed or hangs, and its data may be "
            "half deleted.",
        ),
        last_backup(
            "VeleroBackupEmpty",
            f"{b.agg('max', 'velero_schedule_last_backup_items_backed_up', 'schedule')} == 0",
            "A Velero backup finished without backing up anything.",
            "The newest finished backup of schedule {{ $labels.schedule }}" + ic + " backed up no items: it "
            "cannot restore anything.",
        ),
        last_backup(
            "VeleroBackupVolumeSnapshotsIncomplete",
            # With snapshotMoveData the CSI counts stay 0 and a data mover's uploads are item operations: they
            # count as method="item_operations".
            f"""
(
  {b.agg("max", "velero_schedule_last_backup_volume_snapshots_attempted", "schedule", "method")}
  - {b.agg("max", "velero_schedule_last_backup_volume_snapshots_completed", "schedule", "method")}
  > 0
or
  label_replace(
    {b.agg("max", "velero_schedule_last_backup_item_operations_attempted", "schedule")}
    - {b.agg("max", "velero_schedule_last_backup_item_operations_completed", "schedule")}
    > 0,
    "method", "item_operations", "", ""
  )
)
""",
            "A Velero backup did not complete all its volume snapshots.",
            "The newest finished backup of schedule {{ $labels.schedule }}" + ic + " left {{ $value }} "
            '{{ if eq $labels.method "item_operations" }}asynchronous item operation(s) (data mover uploads '
            "among them){{ else }}{{ $labels.method }} volume snapshot(s){{ end }} incomplete.",
        ),
        last_backup(
            "VeleroBackupHooksFailed",
            f"{b.agg('max', 'velero_schedule_last_backup_hooks_failed', 'schedule')} > 0",
            "Backup hooks failed in a Velero backup.",
            "{{ $value }} hook(s) failed in the newest finished backup of schedule {{ $labels.schedule }}"
            + ic
            + ": the backed-up application may not be consistent.",
        ),
        last_backup(
            "VeleroBackupWarnings",
            f"{b.agg('max', 'velero_schedule_last_backup_warnings', 'schedule')} > {b.cfg.backup_warnings_max}",
            "A Velero backup finished with warnings.",
            "The newest finished backup of schedule {{ $labels.schedule }}" + ic + " has {{ $value }} warning(s).",
        ),
        b.alert(
            "VeleroRetentionBelowObjective",
            f"{b.agg('max', 'velero_tier_backups_ttl_below_retention', 'tier')} > 0",
            "Velero backups expire before the tier's promised retention.",
            "{{ $value }} Completed backup(s) of tier {{ $labels.tier }}" + ic + " have a TTL shorter than "
            "the tier's retention.",
        ),
        b.alert(
            "VeleroRecoveryPointHistoryLost",
            # Velero's backup sync deletes the Backups whose folder left the bucket
            # (deleteOrphanedBackups in pkg/controller/backup_sync_controller.go): a lifecycle rule shortens the
            # history without a trace in the objects, only in how old the oldest recovery point is.
            f"""
time() - {b.agg("max", "velero_tier_oldest_recovery_point_timestamp_seconds", "tier")}
< on {b.by("tier")}
velero:tier_retention_seconds - on {b.by("tier")} velero:tier_schedule_interval_seconds:max
- {seconds(b.cfg.recovery_history_margin)}
and on {b.by("tier")}
time() - velero:tier_schedule_created_timestamp_seconds:min > on {b.by("tier")} velero:tier_retention_seconds
""",
            "A backup tier holds less history than its promised retention.",
            "The oldest recovery point of tier {{ $labels.tier }}" + ic + " is {{ $value | humanizeDuration }} "
            "old, younger than the tier's retention less one schedule interval and "
            f"{b.cfg.recovery_history_margin}, although the tier's schedules are older than the retention: older "
            "recovery points were lost.",
        ),
        b.alert(
            "VeleroBackupGarbageCollectionFailed",
            f"{b.agg('max', 'velero_tier_backups_past_expiration', 'tier')} > 0",
            "Velero failed to delete expired backups.",
            "{{ $value }} backup(s) of tier {{ $labels.tier }}" + ic + " are still present well after their "
            "expiration.",
        ),
    ]


def schedule_alerts(b: Builder) -> list[Rule]:
    ic = b.in_cluster()
    paused = f"{b.agg('max', 'velero_schedule_paused', 'schedule')} == 1"
    failed_validation = 'phase="FailedValidation"'
    invalid = f"{b.agg('max', 'velero_schedule_phase', 'schedule', matchers=(failed_validation,))} == 1"
    # A backup still New or InProgress defers the due run (VeleroBackupStuck covers one that never ends).
    blocked = f"{b.agg('max', 'velero_schedule_run_blocked', 'schedule')} == 1"
    return [
        b.alert(
            "VeleroScheduleFailedValidation",
            b.with_schedule_tier(invalid),
            "A Velero schedule failed validation and will not run.",
            "Schedule {{ $labels.schedule }}" + ic + " is in phase FailedValidation: Velero creates no "
            "backups from it.",
        ),
        b.alert(
            "VeleroScheduleMissedRun",
            b.with_schedule_tier(
                f"""
time() - {b.agg("max", "velero_schedule_next_run_timestamp_seconds", "schedule")}
> {seconds(b.cfg.schedule_missed_after)}
unless on {b.by("schedule")} ({paused})
unless on {b.by("schedule")} ({invalid})
unless on {b.by("schedule")} ({blocked})
"""
            ),
            "A Velero schedule missed a run.",
            "Schedule {{ $labels.schedule }}" + ic + " was due {{ $value | humanizeDuration }} ago and Velero "
            "has not started it, although no backup of it is New or InProgress.",
            reason="overdue",
        ),
        b.alert(
            "VeleroSchedulePaused",
            b.with_schedule_tier(paused),
            "A Velero schedule has been paused for long.",
            "Schedule {{ $labels.schedule }}"
            + ic
            + f" has been paused for more than {b.cfg.alert_for['VeleroSchedulePaused']}.",
        ),
    ]


def objective_alerts(b: Builder) -> list[Rule]:
    ic = b.in_cluster()
    on_tier = f"on {b.by('tier')}"
    required = b.cfg.restore_test_required_tiers
    drill_failed = 'result="failed"'
    return [
        b.alert(
            "RPOViolation",
            f"velero:tier_recovery_point_age_seconds > {on_tier} velero:tier_rpo_seconds",
            "A backup tier's recovery point is older than its RPO.",
            "The newest recovery point of tier {{ $labels.tier }}" + ic + " is {{ $value | humanizeDuration }} "
            "old, older than the tier's RPO.",
            reason="too_old",
        ),
        b.alert(
            "RPOViolation",
            f"velero:tier_rpo_seconds unless {on_tier} velero:tier_recovery_point_age_seconds",
            "A backup tier's recovery point is older than its RPO.",
            "Tier {{ $labels.tier }}" + ic + " has no recovery point at all: no Completed backup of it is "
            "left, or none was ever made.",
            reason="no_recovery_point",
        ),
        b.alert(
            "VeleroRestoreFailure",
            f"time() - {b.agg('max', 'velero_restore_last_failure_timestamp_seconds', 'tier', 'schedule')}\n"
            f"< {seconds(b.cfg.restore_failure_window)}",
            "A Velero restore failed.",
            "A restore from {{ with $labels.schedule }}schedule {{ . }} of {{ end }}tier {{ $labels.tier }}"
            + ic
            + " ended Failed or PartiallyFailed {{ $value | humanizeDuration }} ago.",
        ),
        b.alert(
            "VeleroRestoreSlowerThanRTO",
            f"{b.agg('max', 'velero_restore_last_duration_seconds', 'tier', 'schedule')}\n"
            f"> {on_tier} group_left () velero:tier_rto_seconds",
            "A Velero restore took longer than the tier's RTO.",
            "The newest restore from {{ with $labels.schedule }}schedule {{ . }} of {{ end }}tier "
            "{{ $labels.tier }}" + ic + " took {{ $value | humanizeDuration }}, longer than the tier's RTO.",
        ),
        b.alert(
            "VeleroRestoreTestOverdue",
            f"time() - velero:tier_restore_test_timestamp_seconds\n> {seconds(b.cfg.restore_test_max_age)}",
            "No successful Velero restore test of a tier lately.",
            "The newest successful restore of tier {{ $labels.tier }}" + ic + " completed {{ $value | "
            f"humanizeDuration }}}} ago (threshold {b.cfg.restore_test_max_age}).",
            reason="overdue",
        ),
        b.alert(
            "VeleroRestoreTestOverdue",
            f'velero:tier_rpo_seconds{{tier=~"{required}"}}\n'
            f"unless {on_tier} velero:tier_restore_test_timestamp_seconds",
            "No successful Velero restore test of a tier lately.",
            "No successful restore of tier {{ $labels.tier }}" + ic + " is on record.",
            reason="never_restored",
        ),
        b.alert(
            "VeleroRestoreTestOverdue",
            f"{b.agg('max', 'velero_tier_last_drill_result', 'tier', matchers=(drill_failed,))} == 1",
            "No successful Velero restore test of a tier lately.",
            "The newest restore drill of tier {{ $labels.tier }}" + ic + " failed: the restore did not complete "
            "or its validation failed. It stays so until a newer drill passes.",
            reason="drill_failed",
        ),
    ]


def storage_alerts(b: Builder) -> list[Rule]:
    c = b.c
    ic = b.in_cluster()
    loc = ("location", "bucket", "region")
    snapshot_ts = "velero_snapshot_last_completed_timestamp_seconds"
    snapshot_error = 'state="error"'
    copy_tiers = f'tier=~"{b.cfg.snapshot_copy_tiers}"'
    growth = b.cfg.bucket_growth_fraction
    window = b.cfg.bucket_growth_window
    return [
        b.alert(
            "VeleroStorageLocationUnavailable",
            # The `default` label tells the inhibitions whether the location is where backups go by default.
            f"({b.agg('max', 'velero_storage_location_available', 'location')} == 0)\n"
            f"* on {b.by('location')} group_left (default)\n"
            f"{b.agg('max', 'velero_storage_location_info', 'location', 'default')}",
            "A Velero backup storage location is unavailable.",
            "BackupStorageLocation {{ $labels.location }}" + ic + " is not Available: backups to it fail.",
            reason="unavailable",
        ),
        b.alert(
            "VeleroStorageLocationUnavailable",
            f"group by ({c}) ({b.s('velero_exporter_build_info')})\n"
            f"unless on ({c})\n{b.s('velero_storage_location_info')}",
            "A Velero backup storage location is unavailable.",
            "The cluster" + ic.replace(" in cluster", "") + " has no BackupStorageLocation: Velero cannot "
            "back up anything.",
            reason="none",
        ),
        b.alert(
            "VeleroStorageLocationNotValidated",
            # A location whose validation is disabled (frequency 0) is never stale (IsReadyToValidate in
            # internal/storage/storagelocation.go).
            f"""
time() - {b.agg("max", "velero_storage_location_last_validation_timestamp_seconds", "location")}
> on {b.by("location")}
({b.agg("max", "velero_storage_location_validation_frequency_seconds", "location")} > 0)
+ {seconds(b.cfg.location_validation_grace)}
""",
            "Velero has not validated a backup storage location lately: Velero may be down.",
            "Velero last validated BackupStorageLocation {{ $labels.location }}" + ic + " {{ $value | "
            f"humanizeDuration }}}} ago, more than its validation frequency plus {b.cfg.location_validation_grace}.",
            reason="stale",
        ),
        b.alert(
            "VeleroStorageLocationNotValidated",
            f"group by {b.by('location')} ({b.s('velero_storage_location_info')})\n"
            f"unless on {b.by('location')}\n{b.s('velero_storage_location_last_validation_timestamp_seconds')}",
            "Velero has not validated a backup storage location lately: Velero may be down.",
            "Velero has never validated BackupStorageLocation {{ $labels.location }}" + ic + ".",
            reason="never",
        ),
        b.alert(
            "VeleroSnapshotCopyStale",
            f"""
time() - {b.agg("max", snapshot_ts, "region", "tier")}
> on {b.by("tier")} group_left ()
{b.cfg.snapshot_stale_intervals} * velero:tier_schedule_interval_seconds:max
""",
            "A region's newest Velero volume snapshot of a tier is stale.",
            "The newest completed snapshot of tier {{ $labels.tier }} in region {{ $labels.region }}"
            + ic
            + " holds data from {{ $value | humanizeDuration }} ago, more than "
            f"{b.cfg.snapshot_stale_intervals} of the tier's schedule intervals.",
            reason="stale",
        ),
        b.alert(
            "VeleroSnapshotCopyStale",
            f"""
max by {b.by("tier")} ({b.s(snapshot_ts)})
- on {b.by("tier")} group_right ()
{b.agg("max", snapshot_ts, "region", "tier")}
> {seconds(b.cfg.snapshot_region_lag)}
""",
            "A region's newest Velero volume snapshot of a tier is stale.",
            "The newest completed snapshot of tier {{ $labels.tier }} in region {{ $labels.region }}"
            + ic
            + " is {{ $value | humanizeDuration }} behind the newest region's"
            + f" (threshold {b.cfg.snapshot_region_lag}).",
            reason="lagging",
        ),
        b.alert(
            "VeleroSnapshotCopyStale",
            f"""
count by {b.by("tier")} ({b.agg("max", snapshot_ts, "region", "tier", matchers=(copy_tiers,))})
< on ({c}) group_left ()
count by ({c}) (group by {b.by("region")} ({b.s("velero_snapshots")}))
""",
            "A region's newest Velero volume snapshot of a tier is stale.",
            "Only {{ $value }} of the known regions" + ic + " hold a completed snapshot of tier "
            "{{ $labels.tier }}: no copy reached the others.",
            reason="missing_region",
        ),
        b.alert(
            "VeleroSnapshotsFailed",
            # velero-plugin-for-aws reports a snapshot completed as soon as EC2 accepted it, so a backup is
            # Completed with every volume snapshot counted although AWS may later fail the snapshot.
            f"{b.agg('max', 'velero_snapshots', 'region', matchers=(snapshot_error,))} > 0",
            "Velero EBS snapshots failed after their backup finished.",
            "{{ $value }} EBS snapshot(s) matching Velero's tag in region {{ $labels.region }}" + ic + " are in "
            "state error: the volumes of their backups cannot be restored from them, although the backups "
            "count them as completed.",
        ),
        b.alert(
            "VeleroBucketRecoveryPointStale",
            f"time() - {b.agg('max', 'velero_bucket_recovery_point_timestamp_seconds', *loc)}\n"
            f"> {seconds(b.cfg.bucket_recovery_point_max_age)}",
            "The newest Velero backup in a bucket is stale.",
            "The newest Completed backup in bucket {{ $labels.bucket }} ({{ $labels.region }}, location "
            "{{ $labels.location }})" + ic + " started {{ $value | humanizeDuration }} ago (threshold "
            f"{b.cfg.bucket_recovery_point_max_age}).",
            reason="stale",
        ),
        b.alert(
            "VeleroBucketRecoveryPointStale",
            f"group by {b.by(*loc)} ({b.s('velero_bucket_size_bytes')})\n"
            f"unless on {b.by(*loc)}\n{b.s('velero_bucket_recovery_point_timestamp_seconds')}",
            "The newest Velero backup in a bucket is stale.",
            "Bucket {{ $labels.bucket }} ({{ $labels.region }}, location {{ $labels.location }})" + ic + " holds "
            "no Completed Velero backup.",
            reason="none",
        ),
        b.alert(
            "VeleroBucketGrowth",
            f"""
{b.agg("max", "velero_bucket_size_bytes", *loc)}
/ (max by {b.by(*loc)} ({b.s("velero_bucket_size_bytes")} offset {window}) > 0)
- 1 > {growth}
""",
            "A Velero bucket grew fast.",
            "Bucket {{ $labels.bucket }} ({{ $labels.region }}, location {{ $labels.location }})" + ic + " grew "
            f"by {{{{ $value | humanizePercentage }}}} in {window} (threshold {growth:.0%}).",
        ),
    ]


def posture_alerts(b: Builder) -> list[Rule]:
    """How the copies are kept: versioned, encrypted, private, not expired early, complete, immutable, apart."""
    ic = b.in_cluster()
    loc = ("location", "bucket", "region")
    on_loc = f"on {b.by(*loc)}"
    bucket = "Bucket {{ $labels.bucket }} ({{ $labels.region }}, location {{ $labels.location }})" + ic
    window = b.cfg.recovery_point_expiring_window
    unencrypted = 'algorithm="none"'
    object_lock_read = b.agg(
        "max", "velero_bucket_posture_measured_timestamp_seconds", *loc, matchers=('check="object_lock"',)
    )
    longest_retention = f"""
max by {b.by(*loc)} (
  group by {b.by(*loc, "tier")} ({b.s("velero_bucket_tier_size_bytes")} > 0)
  * on {b.by("tier")} group_left ()
  {b.agg("max", "velero_tier_retention_seconds", "tier")}
)"""
    return [
        b.alert(
            "VeleroBucketNotVersioned",
            f"{b.agg('max', 'velero_bucket_versioning_enabled', *loc)} == 0",
            "A Velero bucket is not versioned.",
            bucket + " does not have versioning enabled: a backup object overwritten or deleted (by mistake, "
            "a lifecycle rule or an attacker) cannot be recovered.",
        ),
        b.alert(
            "VeleroBucketUnencrypted",
            f"{b.agg('max', 'velero_bucket_encryption', *loc, matchers=(unencrypted,))} == 1",
            "A Velero bucket has no default encryption.",
            bucket + " has no default encryption: backups (Secrets included) are stored as Velero wrote them.",
        ),
        b.alert(
            "VeleroBucketPublicAccessNotBlocked",
            f"{b.agg('max', 'velero_bucket_public_access_blocked', *loc)} == 0",
            "A Velero bucket does not block public access.",
            bucket + " does not set all four public access block flags: a policy or ACL could expose the backups.",
        ),
        b.alert(
            "VeleroBucketLifecycleBelowRetention",
            f"""
{b.agg("max", "velero_bucket_lifecycle_expiration_seconds", *loc, "prefix")}
< {on_loc} group_left ()
{longest_retention}
""",
            "A lifecycle rule deletes Velero backups before their retention.",
            "A lifecycle rule of bucket {{ $labels.bucket }} ({{ $labels.region }}, location {{ $labels.location }})"
            + ic
            + ' on prefix "{{ $labels.prefix }}" expires backup objects after {{ $value | humanizeDuration }}, '
            "sooner than the retention of a tier stored there.",
        ),
        b.alert(
            "VeleroReplicaIncomplete",
            f"{b.agg('max', 'velero_bucket_replica_missing_backups', 'bucket', 'replica_bucket')} > 0",
            "A DR replica misses Velero backups.",
            "{{ $value }} Completed backup folder(s) of bucket {{ $labels.bucket }}" + ic + " are missing from "
            "its replica {{ $labels.replica_bucket }}.",
        ),
        b.alert(
            "VeleroDRBucketNotImmutable",
            f"""
{b.agg("max", "velero_bucket_object_lock_required", *loc)} == 1
unless {on_loc} ({b.agg("max", "velero_bucket_object_lock_retention_seconds", *loc)} > 0)
and {on_loc} {object_lock_read}
""",
            "A DR bucket is not immutable.",
            "DR replica " + bucket[len("Bucket ") :] + " has no Object Lock default retention: whoever can delete "
            "the primary's backups can delete these too.",
        ),
        b.alert(
            "VeleroSnapshotUnencrypted",
            f"{b.agg('max', 'velero_snapshot_unencrypted', 'region', 'tier')} > 0",
            "Velero volume snapshots are not encrypted.",
            "{{ $value }} completed snapshot(s) of tier {{ $labels.tier }} in region {{ $labels.region }}"
            + ic
            + " are not encrypted.",
        ),
        b.alert(
            "VeleroDRCopySameAccount",
            f"{b.agg('max', 'velero_aws_dr_target_in_primary_account', 'source', 'target')} == 1",
            "A DR copy lives in the primary's AWS account.",
            "The DR copies of {{ $labels.source }} target {{ $labels.target }}" + ic + " are read with the "
            "primary's account: an account compromise or closure takes them with the primary.",
        ),
        b.alert(
            "VeleroLastRecoveryPointExpiring",
            f"""
{b.agg("max", "velero_tier_recovery_point_expiration_timestamp_seconds", "tier")}
< time() + {seconds(window)}
and on {b.by("tier")} velero:tier_rpo_seconds
""",
            "The newest recovery point of a tier is about to expire.",
            "The newest recovery point of tier {{ $labels.tier }}" + ic + " expires at {{ $value | "
            "humanizeTimestamp }} and no newer backup succeeded: Velero then deletes it and the tier has none.",
        ),
    ]


def volume_alerts(b: Builder) -> list[Rule]:
    """Is the volume data really in the backup? The newest finished backup against the one before it, and the
    operations that move the data."""
    ic = b.in_cluster()
    method = ("schedule", "method")
    last_count = f"sum by {b.by(*method)} ({b.agg('max', 'velero_schedule_last_backup_volumes', *method, 'phase')})"
    previous_count = b.agg("max", "velero_schedule_previous_backup_volumes", *method)
    last_bytes = b.agg("max", "velero_schedule_last_backup_volume_bytes", *method)
    previous_bytes = b.agg("max", "velero_schedule_previous_backup_volume_bytes", *method)
    fraction = b.cfg.backup_shrink_fraction
    stall = b.cfg.volume_operation_stall_threshold
    progress = "velero_volume_operation_progress_timestamp_seconds"
    failed = 'method=~"fs-backup|data-mover", phase=~"Failed|Canceled"'
    newest = "The newest finished backup of schedule {{ $labels.schedule }}" + ic
    return [
        b.alert(
            "VeleroBackupVolumeDataMissing",
            b.newest_finished_well(f"{last_count}\n< on {b.by(*method)}\n{previous_count}"),
            "A Velero backup holds fewer volumes than the one before it.",
            newest + " holds {{ $value }} {{ $labels.method }} volume(s), fewer than the finished backup "
            "before it: a namespace, pod or volume was left out.",
            reason="fewer_volumes",
        ),
        b.alert(
            "VeleroBackupVolumeDataMissing",
            b.newest_finished_well(
                f"{last_bytes} == 0\nand on {b.by(*method)}\n{previous_bytes} > 0\n"
                f"and on {b.by(*method)}\n{last_count} > 0"
            ),
            "A Velero backup holds fewer volumes than the one before it.",
            newest + " holds 0 bytes of {{ $labels.method }} volume data; the finished backup before it held some.",
            reason="no_bytes",
        ),
        b.alert(
            "VeleroBackupShrank",
            b.newest_finished_well(
                f"{b.agg('max', 'velero_schedule_last_backup_size_bytes', 'schedule')}\n"
                f"< {fraction} * {b.agg('max', 'velero_schedule_previous_backup_size_bytes', 'schedule')}"
            ),
            "A Velero backup is much smaller than the one before it.",
            newest + " takes {{ $value | humanize1024 }}B in the bucket, less than "
            f"{fraction:.0%} of the finished backup before it: something was silently left out.",
            reason="size",
        ),
        b.alert(
            "VeleroBackupShrank",
            b.newest_finished_well(f"{last_bytes} > 0\nand\n{last_bytes}\n< {fraction} * {previous_bytes}"),
            "A Velero backup is much smaller than the one before it.",
            newest + " holds {{ $value | humanize1024 }}B of {{ $labels.method }} volume data, less than "
            f"{fraction:.0%} of the finished backup before it: something was silently left out.",
            reason="volume_bytes",
        ),
        b.alert(
            "VeleroVolumeOperationStalled",
            f"time() - {b.agg('max', progress, 'kind', 'operation', 'backup')}\n> {seconds(stall)}",
            "A Velero volume data operation makes no progress.",
            "{{ $labels.kind }} {{ $labels.operation }} (backup {{ $labels.backup }})" + ic + " has not moved for "
            "{{ $value | humanizeDuration }} (threshold " + stall + ").",
        ),
        b.alert(
            "VeleroVolumeOperationFailed",
            b.newest_finished_well(
                f"{b.agg('max', 'velero_schedule_last_backup_volumes', *method, 'phase', matchers=(failed,))} > 0"
            ),
            "Volume data of a Velero backup failed to upload.",
            "{{ $value }} {{ $labels.method }} volume(s) of the newest finished backup of schedule "
            "{{ $labels.schedule }}" + ic + " ended {{ $labels.phase }}: their data is not in the backup.",
        ),
    ]


def repository_alerts(b: Builder) -> list[Rule]:
    """The kopia (or restic) repositories that file-system backups and the data mover write to."""
    ic = b.in_cluster()
    repo = ("repository",)
    where = ("repository", "location", "volume_namespace")
    failed = 'result="Failed"'
    ready = "velero_repository_ready"
    frequency = b.agg("max", "velero_repository_maintenance_frequency_seconds", *repo)
    factor = b.cfg.repository_maintenance_overdue_factor
    # Velero skips the maintenance of a ReadOnly location's repositories (backup_repository_controller.go).
    read_only_location = 'access_mode="ReadOnly"'
    read_only = (
        f"{b.agg('max', ready, 'repository', 'location')}\n"
        f"* on {b.by('location')} group_left ()\n"
        f"{b.agg('max', 'velero_storage_location_info', 'location', matchers=(read_only_location,))}"
    )

    def located(expr: str) -> str:
        """Adds the repository's location and namespace (from velero_repository_ready)."""
        labels = f"group by {b.by(*where)} ({b.s(ready)})"
        return f"(\n{expr}\n) * on {b.by(*repo)} group_left (location, volume_namespace)\n{labels}"

    repository = (
        "BackupRepository {{ $labels.repository }} (namespace {{ $labels.volume_namespace }}, location "
        "{{ $labels.location }})" + ic
    )
    return [
        b.alert(
            "VeleroRepositoryNotReady",
            f"{b.agg('max', ready, *where, 'repository_type')} == 0",
            "A Velero backup repository is not ready.",
            repository + " is not Ready: file-system backups and data mover uploads of the namespace fail.",
        ),
        b.alert(
            "VeleroRepositoryMaintenanceOverdue",
            located(
                f"time() - {b.agg('max', 'velero_repository_last_maintenance_timestamp_seconds', *repo)}\n"
                f"> {factor} * {frequency}\nunless on {b.by(*repo)}\n({read_only})"
            ),
            "A Velero backup repository has not been maintained lately.",
            repository + " was last maintained {{ $value | humanizeDuration }} ago, more than "
            f"{factor} of its maintenance intervals.",
            reason="stale",
        ),
        b.alert(
            "VeleroRepositoryMaintenanceOverdue",
            located(
                f"time() - {b.agg('max', 'velero_repository_created_timestamp_seconds', *repo)}\n"
                f"> {factor} * {frequency}\n"
                f"unless on {b.by(*repo)}\n{b.s('velero_repository_last_maintenance_timestamp_seconds')}\n"
                f"unless on {b.by(*repo)}\n({read_only})"
            ),
            "A Velero backup repository has not been maintained lately.",
            repository + " was created {{ $value | humanizeDuration }} ago and has never been maintained.",
            reason="never",
        ),
        b.alert(
            "VeleroRepositoryMaintenanceFailed",
            located(f"{b.agg('max', 'velero_repository_last_maintenance_result', *repo, matchers=(failed,))} == 1"),
            "Maintenance of a Velero backup repository failed.",
            "The newest maintenance of " + repository + " failed: its storage grows and its index degrades until "
            "one succeeds.",
        ),
    ]


def coverage_alerts(b: Builder) -> list[Rule]:
    ic = b.in_cluster()
    return [
        b.alert(
            "VeleroNamespaceUnprotected",
            f"{b.agg('max', 'velero_namespace_unprotected', 'namespace')} == 1",
            "A namespace is in no backup tier.",
            "No enabled Velero Schedule of any tier selects namespace {{ $labels.namespace }}" + ic + ": nothing in "
            "it is backed up.",
        ),
        b.alert(
            "VeleroVolumeUnprotected",
            f"{b.agg('max', 'velero_pvc_unprotected', 'namespace', 'persistentvolumeclaim', 'reason')} == 1",
            "A volume's data is in no backup tier.",
            "No tier's backups carry the data of PersistentVolumeClaim {{ $labels.namespace }}/"
            "{{ $labels.persistentvolumeclaim }}" + ic + " (reason: {{ $labels.reason }}).",
        ),
    ]


def exporter_alerts(b: Builder) -> list[Rule]:
    c = b.c
    ic = b.in_cluster()
    build = b.s("velero_exporter_build_info")
    lookback = b.cfg.exporter_absent_lookback
    render_errors, render_window = "velero_exporter_render_errors_total", b.cfg.render_errors_window
    page = '"status_page"'
    kube = f'source=~"{b.cfg.kube_source}"'
    not_kube = f'source!~"{b.cfg.kube_source}"'
    return [
        b.alert(
            "VeleroExporterDown",
            f"{b.s('up')} == 0",
            "The velero-exporter is down.",
            "Prometheus cannot scrape the velero-exporter at {{ $labels.instance }}" + ic + ": no Velero alert "
            "can fire for it.",
            reason="scrape_failed",
        ),
        b.alert(
            "VeleroExporterDown",
            f"group by ({c}) (max_over_time({build}[{lookback}]))\nunless on ({c})\ngroup by ({c}) ({build})",
            "The velero-exporter is down.",
            "The velero-exporter" + ic + f" reported within the last {lookback} and no longer does: no Velero "
            "alert can fire for it.",
            reason="cluster_gone",
        ),
        b.alert(
            "VeleroExporterDown",
            f"absent({build})",
            "The velero-exporter is down.",
            "No velero-exporter reports to Prometheus at all: no Velero alert can fire.",
            reason="absent",
        ),
        b.alert(
            "VeleroExporterSourceDown",
            f"{b.s('velero_exporter_source_up', kube)} == 0",
            "A velero-exporter source is failing.",
            "The velero-exporter's {{ $labels.source }} source" + ic + " is failing: what it reports is stale.",
            severity_key="VeleroExporterKubeSourceDown",
        ),
        b.alert(
            "VeleroExporterSourceDown",
            f"{b.s('velero_exporter_source_up', not_kube)} == 0",
            "A velero-exporter source is failing.",
            "The velero-exporter's {{ $labels.source }} source" + ic + " is failing: what it reports is stale.",
        ),
        b.alert(
            "VeleroExporterResourceForbidden",
            f"{b.s('velero_exporter_resource_forbidden')} == 1",
            "The velero-exporter may not read a Kubernetes resource.",
            "The Kubernetes API forbids the velero-exporter" + ic + " to list {{ $labels.resource }}: its "
            "metrics are missing.",
        ),
        b.alert(
            "VeleroExporterRenderFailing",
            f"increase({b.s(render_errors, 'stage!=' + page)}[{render_window}]) > 0",
            "The velero-exporter fails to render its metrics.",
            "The velero-exporter" + ic + " fails to render (stage {{ $labels.stage }}): what it serves is frozen "
            "at its last good render, and no new Velero fault shows.",
        ),
        b.alert(
            "VeleroExporterRenderFailing",
            f"increase({b.s(render_errors, 'stage=' + page)}[{render_window}]) > 0",
            "The velero-exporter fails to render its status page.",
            "The velero-exporter" + ic + " fails to render its status page: the page shows its last good render; "
            "the metrics and alerts are current.",
            severity_key="VeleroExporterStatusPageRenderFailing",
        ),
    ]


def fleet_rules(b: Builder) -> list[Rule]:
    """A DR cluster against its primary. Each exporter states its cluster's name and role (velero_cluster_info);
    a DR cluster's `dr_of` is its primary's name, which becomes a `dr_of` label on the primary's recovery points
    so that the two meet in one join: no rule names a cluster, and a tier outside the DR cluster's dr_tiers
    (velero_cluster_dr_tier_info) never enters the join. That join, on (dr_of, tier), is the only one that
    matches series of two clusters; with a single cluster it finds no pair and everything here stays silent."""
    c = b.c
    ic = b.in_cluster()
    info = "velero_cluster_info"
    dr_info = b.dr_clusters()
    recovery_point = b.agg("max", "velero_tier_recovery_point_timestamp_seconds", "tier")
    dr_tier = "velero:dr_tier_info"
    primary_point = "velero:dr_tier_primary_recovery_point_timestamp_seconds"
    lag = "velero:dr_tier_recovery_point_lag_seconds"
    ever_named = (
        f"label_replace(\n  max by {b.by('cluster_name')} "
        f"(max_over_time({b.s(info)}[{b.cfg.exporter_absent_lookback}])),\n"
        '  "dr_of", "$1", "cluster_name", "(.*)"\n)'
    )

    def with_primary(expr: str) -> str:
        return f"(\n{expr}\n)\n* on ({c}) group_left (dr_of)\nmax by {b.by('dr_of')} ({dr_info})"

    last_phase = "velero_cluster_dr_tier_last_backup_phase"
    accepted = f"max by {b.by('tier')} ({b.s('velero_tier_partially_failed_accepted')}) == 1"
    by_copy = ("tier", "location", "phase")
    behind_summary = "A DR cluster's newest recovery point lags its primary's by more than the RPO."
    restore_summary = "A DR cluster cannot restore the newest copy of a DR tier."
    return [
        # {cluster, tier, dr_of}: each DR cluster's DR tiers, with the primary it names.
        b.record(
            dr_tier,
            with_primary(f"max by {b.by('tier')} ({b.s('velero_cluster_dr_tier_info')})"),
        ),
        # The primary's newest recovery point of each DR tier, on the DR cluster's labels: every cluster's points
        # under the name a dr_of would give it, matched on (dr_of, tier).
        b.record(
            primary_point,
            f"""
max by (dr_of, tier) (
  label_replace(
    {recovery_point}
    * on ({c}) group_left (cluster_name)
    max by {b.by("cluster_name")} ({b.s(info)}),
    "dr_of", "$1", "cluster_name", "(.*)"
  )
)
* on (dr_of, tier) group_right ()
{dr_tier}
""",
        ),
        # Primary's point minus the DR cluster's. Negative when the DR cluster holds a newer point (the
        # primary's newest was deleted); absent when the DR cluster holds none.
        b.record(lag, f"{primary_point}\n- on {b.by('tier')} group_left ()\n{recovery_point}"),
        b.alert(
            "VeleroDRClusterBehind",
            f"{lag}\n> on {b.by('tier')} group_left ()\nvelero:tier_rpo_seconds",
            behind_summary,
            "The newest recovery point of tier {{ $labels.tier }} that DR cluster {{ $labels.cluster }} holds is "
            "{{ $value | humanizeDuration }} older than primary {{ $labels.dr_of }}'s, more than the tier's RPO: "
            "a disaster now would lose that much more.",
            reason="behind",
        ),
        b.alert(
            "VeleroDRClusterBehind",
            f"{primary_point}\nunless on {b.by('tier')}\n{b.s('velero_tier_recovery_point_timestamp_seconds')}",
            behind_summary,
            "DR cluster {{ $labels.cluster }} holds no recovery point of tier {{ $labels.tier }} while its primary "
            "{{ $labels.dr_of }} has one: nothing of the tier has reached it.",
            reason="none",
        ),
        b.alert(
            "VeleroDRClusterBehind",
            # Only where clusters meet: a DR cluster's own Prometheus cannot see its primary, and says nothing.
            f"max by {b.by('dr_of')} ({dr_info})\nunless on (dr_of)\n{ever_named}\n"
            f"and on ()\ncount(group by ({c}) ({b.s('velero_exporter_build_info')})) > 1",
            behind_summary,
            "DR cluster" + ic.replace(" in cluster", "") + " names {{ $labels.dr_of }} as its primary, and no "
            f"exporter has reported that cluster name within {b.cfg.exporter_absent_lookback}: the pair cannot be "
            "compared.",
            severity_key="VeleroDRClusterPrimaryUnknown",
            reason="primary_unknown",
        ),
        b.alert(
            "VeleroDRClusterCannotRestore",
            with_primary(
                f"group by {b.by('tier', 'location')} ({b.s(last_phase)})\n"
                f"and on {b.by('location')}\n"
                f"({b.agg('max', 'velero_storage_location_available', 'location')} == 0)"
            ),
            restore_summary,
            "BackupStorageLocation {{ $labels.location }} of DR cluster {{ $labels.cluster }}, which holds its newest "
            "copy of tier {{ $labels.tier }} (primary {{ $labels.dr_of }}), is unavailable: Velero refuses restores "
            "from it and syncs no new backups from it.",
            reason="location_unavailable",
        ),
        b.alert(
            "VeleroDRClusterCannotRestore",
            with_primary(
                f"""
max by {b.by(*by_copy)} ({b.s(last_phase, 'phase=~"Failed|FailedValidation"')}) == 1
or
(
  max by {b.by(*by_copy)} ({b.s(last_phase, 'phase="PartiallyFailed"')}) == 1
  unless on {b.by("tier")} ({accepted})
)"""
            ),
            restore_summary,
            "The newest backup of tier {{ $labels.tier }} that DR cluster {{ $labels.cluster }} holds (synced from "
            "location {{ $labels.location }}; primary {{ $labels.dr_of }}) ended {{ $labels.phase }}: a restore "
            "from it would not bring back everything.",
            reason="not_completed",
        ),
    ]


def groups(cfg: MixinConfig) -> list[dict[str, Any]]:
    """The rule groups, in evaluation order: recording rules first, since the alerts read them."""
    b = Builder(cfg)
    return [
        {"name": "velero-exporter.rules", "rules": recording_rules(b)},
        {"name": "velero-backups", "rules": backup_alerts(b)},
        {"name": "velero-schedules", "rules": schedule_alerts(b)},
        {"name": "velero-objectives", "rules": objective_alerts(b)},
        {"name": "velero-storage", "rules": storage_alerts(b)},
        {"name": "velero-posture", "rules": posture_alerts(b)},
        {"name": "velero-volumes", "rules": volume_alerts(b)},
        {"name": "velero-repositories", "rules": repository_alerts(b)},
        {"name": "velero-coverage", "rules": coverage_alerts(b)},
        {"name": "velero-exporter", "rules": exporter_alerts(b)},
        {"name": "velero-fleet", "rules": fleet_rules(b)},
    ]


# ---------------------------------------------------------------------------------------------------------
# Alertmanager inhibitions
# ---------------------------------------------------------------------------------------------------------

# Alerts the exporter's object-state view produces; a stale or missing view can cause them.
_COVERAGE_ALERTS = "VeleroNamespaceUnprotected|VeleroVolumeUnprotected"
_OBJECT_STATE_ALERTS = (
    "VeleroBackupFailure|VeleroBackupMissing|RPOViolation|VeleroScheduleMissedRun|VeleroBackupStuck"
    "|VeleroBackupDeletionStuck|VeleroStorageLocationNotValidated|VeleroRestoreTestOverdue|VeleroSnapshotCopyStale"
    "|VeleroBucketRecoveryPointStale|VeleroVolumeOperationStalled|VeleroRepositoryMaintenanceOverdue"
    f"|{_COVERAGE_ALERTS}"
)


_LOCATION_CAUSED_ALERTS = (
    "VeleroBackupFailure|VeleroBackupMissing|RPOViolation|VeleroScheduleMissedRun"
    "|VeleroBackupStuck|VeleroBackupDeletionStuck|VeleroBucketRecoveryPointStale|VeleroSnapshotCopyStale"
    "|VeleroVolumeOperationStalled|VeleroRepositoryMaintenanceOverdue"
)


def inhibit_rules(cfg: MixinConfig) -> list[dict[str, Any]]:
    """A down location, exporter or source silences, in the same cluster, the alerts it causes."""

    def equal() -> list[str]:
        return [str(cfg.cluster_label)]

    return [
        {
            # Every Velero alert but the exporter's own is noise while the exporter is down.
            "source_matchers": ['alertname="VeleroExporterDown"'],
            "target_matchers": [
                'alertname=~"Velero.+|RPOViolation"',
                'alertname!~"VeleroExporterDown"',
            ],
            "equal": equal(),
        },
        {
            # A failing kube source freezes the exporter's view of Velero's objects.
            "source_matchers": ['alertname="VeleroExporterSourceDown"', f'source=~"{cfg.kube_source}"'],
            "target_matchers": [f'alertname=~"{_OBJECT_STATE_ALERTS}"'],
            "equal": equal(),
        },
        {
            "source_matchers": ['alertname="VeleroExporterSourceDown"', f'source=~"{cfg.bucket_source}"'],
            "target_matchers": ['alertname=~"VeleroBucketRecoveryPointStale|VeleroBucketGrowth"'],
            "equal": equal(),
        },
        {
            "source_matchers": [
                'alertname="VeleroExporterSourceDown"',
                f'source=~"{cfg.snapshot_source}"',
            ],
            "target_matchers": ['alertname=~"VeleroSnapshotCopyStale|VeleroSnapshotsFailed"'],
            "equal": equal(),
        },
        {
            # A repository whose maintenance fails is overdue too: one alert for one cause.
            "source_matchers": ['alertname="VeleroRepositoryMaintenanceFailed"'],
            "target_matchers": ['alertname="VeleroRepositoryMaintenanceOverdue"'],
            "equal": [*equal(), "repository"],
        },
        {
            # A failing coverage source freezes the exporter's view of namespaces, pods and volumes.
            "source_matchers": ['alertname="VeleroExporterSourceDown"', f'source=~"{cfg.coverage_source}"'],
            "target_matchers": [f'alertname=~"{_COVERAGE_ALERTS}"'],
            "equal": equal(),
        },
        {
            # A Velero that is down (no location validated lately) fails and delays every backup.
            "source_matchers": ['alertname="VeleroStorageLocationNotValidated"'],
            "target_matchers": [f'alertname=~"{_LOCATION_CAUSED_ALERTS}"'],
            "equal": equal(),
        },
        {
            # So does the default location, where every schedule without its own location writes, or no
            # location at all (reason none, no `default` label). Another location's outage silences nothing:
            # the backups of the default location must keep alerting.
            "source_matchers": ['alertname="VeleroStorageLocationUnavailable"', 'default!="false"'],
            "target_matchers": [f'alertname=~"{_LOCATION_CAUSED_ALERTS}"'],
            "equal": equal(),
        },
        {
            # A DR cluster behind its primary is past the tier's RPO by construction (the primary's point is not
            # in the future): its own RPOViolation for the tier says nothing more. It notifies first all the same
            # (its condition starts no later, its `for` is shorter); this stops its repeats (docs/runbooks.md).
            "source_matchers": ['alertname="VeleroDRClusterBehind"'],
            "target_matchers": ['alertname="RPOViolation"'],
            "equal": [*equal(), "tier"],
        },
        {
            # Velero syncs no backups from an unavailable location: the DR copy of its tiers falls behind.
            "source_matchers": ['alertname="VeleroDRClusterCannotRestore"', 'reason="location_unavailable"'],
            "target_matchers": ['alertname="VeleroDRClusterBehind"'],
            "equal": [*equal(), "tier"],
        },
    ]


# ---------------------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------------------

HEADER = "# Generated from velero_exporter/mixin: do not edit; run `python -m velero_exporter.mixin`.\n"


class _Dumper(yaml.SafeDumper):
    """Block style for multi-line strings, so the expressions read as written; no YAML aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str_representer(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str_representer)


def dump(data: Any) -> str:
    return HEADER + yaml.dump(data, Dumper=_Dumper, sort_keys=False, width=100000, allow_unicode=True)


def render_rule_file(cfg: MixinConfig) -> str:
    return dump({"groups": groups(cfg)})


def render_prometheusrule(cfg: MixinConfig) -> str:
    return dump(
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "PrometheusRule",
            "metadata": {"name": cfg.prometheusrule_name, "labels": dict(cfg.prometheusrule_labels)},
            "spec": {"groups": groups(cfg)},
        }
    )


def render_inhibit_rules(cfg: MixinConfig) -> str:
    return dump({"inhibit_rules": inhibit_rules(cfg)})
