"""The mixin's configuration: every selector, threshold, window, `for` and severity of the rules, dashboards and
status page, in one place (the role of a monitoring mixin's `_config`).

The rule files, the PrometheusRule, the chart's copies and the dashboards are generated from DEFAULT
(`python -m velero_exporter.mixin`); tests generate variants with `dataclasses.replace` (the end-to-end test
shortens `alert_for`). Durations are Prometheus durations; `seconds()` turns one into whole seconds, since
PromQL before 3.x has no duration arithmetic.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")


def seconds(duration: str) -> int:
    """A Prometheus duration ("1h30m") in whole seconds."""
    parts = _DURATION.findall(duration)
    if not duration or "".join(n + u for n, u in parts) != duration:
        raise ValueError(f"not a Prometheus duration: {duration!r}")
    return int(sum(int(n) * _UNITS[u] for n, u in parts))


@dataclass(frozen=True, slots=True)
class MixinConfig:
    # Selects the exporter's series (and its `up` series). Every selector in every rule starts with it; no
    # rule names a job or a cluster anywhere else.
    exporter_selector: str = 'job=~"velero-exporter.*"'
    # The label that tells clusters apart in Thanos or Mimir. Aggregations keep it (`by (cluster, ...)`),
    # joins match on it, and inhibitions require it equal; the rules work when it is absent too.
    cluster_label: str = "cluster"
    # The exporter's source names (velero_exporter_source_up{source}), as anchored regexes.
    kube_source: str = "kube"
    bucket_source: str = "buckets?"
    snapshot_source: str = "snapshots?"
    coverage_source: str = "coverage"
    # VeleroBackupMissing: no successful backup cluster-wide for this long ...
    backup_missing_cluster_window: str = "24h"
    # ... or none of a schedule's within this many of its intervals.
    backup_missing_intervals: int = 2
    # VeleroRestoreFailure: how long a failed restore keeps the alert firing.
    restore_failure_window: str = "24h"
    # VeleroScheduleMissedRun: the schedule's next run is this far in the past while nothing defers it.
    schedule_missed_after: str = "15m"
    # VeleroBackupStuck thresholds, per phase. The clock is the backup's creation while it is queued and its
    # start afterwards (velero_backup_unfinished_since_timestamp_seconds).
    backup_queued_phases: str = "New|Queued|ReadyToStart"
    backup_queued_threshold: str = "1h"
    backup_in_progress_phases: str = "InProgress|Finalizing|FinalizingPartiallyFailed"
    backup_in_progress_threshold: str = "4h"
    backup_plugin_operations_phases: str = "WaitingForPluginOperations|WaitingForPluginOperationsPartiallyFailed"
    # The threshold is each backup's own item operation timeout (velero_backup_item_operation_timeout_seconds)
    # plus this grace for the InProgress part that precedes the plugin operations, since the clock is the
    # backup's start.
    backup_plugin_operations_grace: str = "1h"
    # VeleroBackupDeletionStuck: a backup has been Deleting for longer than this (a deletion takes minutes; a
    # failed one leaves the backup Deleting until someone, or the hourly garbage collection, tries again).
    backup_deleting_threshold: str = "1h"
    # VeleroBackupWarnings fires when the newest finished backup of a schedule has more warnings than this.
    backup_warnings_max: int = 0
    # VeleroSnapshotCopyStale: a region's newest snapshot of a tier is older than this many of the tier's
    # longest schedule interval ...
    snapshot_stale_intervals: int = 2
    # ... or older than the newest region's by more than this ...
    snapshot_region_lag: str = "24h"
    # ... or a region holds none of a tier (anchored regex of the tiers whose snapshots every known region
    # must hold).
    snapshot_copy_tiers: str = ".+"
    # VeleroRecoveryPointHistoryLost: once a tier's oldest schedule is older than its retention, its oldest
    # recovery point should be as old as the retention less one schedule interval (TTL = retention); it fires when
    # it is younger than that by more than this margin.
    recovery_history_margin: str = "6h"
    # VeleroBucketRecoveryPointStale: the newest Completed backup found in a bucket is older than this. The
    # seed's DR bucket receives the monthly dr tier, so a month and a bit.
    bucket_recovery_point_max_age: str = "32d"
    # VeleroBucketGrowth: the bucket grew by more than this fraction over the window.
    bucket_growth_fraction: float = 0.5
    bucket_growth_window: str = "1d"
    # VeleroLastRecoveryPointExpiring: the tier's newest recovery point expires within this window (Velero deletes
    # it at its TTL whether or not a newer backup succeeded).
    recovery_point_expiring_window: str = "24h"
    # VeleroRestoreTestOverdue: no Completed restore of a tier for this long (the seed drills monthly).
    restore_test_max_age: str = "35d"
    # Tiers (anchored regex) for which no restore at all counts as overdue. All configured tiers by default:
    # an objective that was never tested is not evidence.
    restore_test_required_tiers: str = ".+"
    # How long Prometheus keeps the last successful restore after Velero deleted the Restore object with its
    # backup (the latch in velero:tier_last_restore_success_timestamp_seconds survives outages this long).
    restore_evidence_latch: str = "1d"
    # VeleroBackupShrank: the newest finished backup's folder size or a method's volume bytes fell below this
    # fraction of the previous finished backup's (a silent exclusion: a namespace, a pod or a volume left out).
    backup_shrink_fraction: float = 0.5
    # VeleroVolumeOperationStalled: an unfinished PodVolumeBackup/Restore or DataUpload/Download has not moved
    # (bytesDone, phase) for this long.
    volume_operation_stall_threshold: str = "30m"
    # VeleroRepositoryMaintenanceOverdue: the last successful maintenance is older than this many of the
    # repository's maintenance frequencies.
    repository_maintenance_overdue_factor: int = 2
    # VeleroStorageLocationNotValidated: Velero validates a location every validation frequency (its own, else the
    # server's, 1m by default); stale when the last validation is older than the frequency plus this grace.
    location_validation_grace: str = "15m"
    # VeleroExporterDown: a cluster whose exporter reported within this window and no longer does.
    exporter_absent_lookback: str = "1d"
    # VeleroExporterRenderFailing: a render stage failed within this window. Longer than the renderer's longest
    # retry backoff (60s), so that a failure that persists keeps it above 0 between two attempts.
    render_errors_window: str = "5m"
    # Where the runbooks live; each alert links to base + "#" + its anchor.
    runbook_base_url: str = "https://github.com/velero-exporter/velero-exporter/blob/main/docs/runbooks.md"
    severity: Mapping[str, str] = field(
        default_factory=lambda: {
            # The DR plan lists its four alerts as critical: each one means a restore may not be possible.
            "VeleroBackupFailure": "critical",
            "VeleroBackupMissing": "critical",
            "VeleroRestoreFailure": "critical",
            "RPOViolation": "critical",
            "VeleroStorageLocationUnavailable": "critical",
            "VeleroStorageLocationNotValidated": "critical",
            "VeleroScheduleFailedValidation": "warning",
            "VeleroScheduleMissedRun": "warning",
            "VeleroSchedulePaused": "warning",
            "VeleroBackupStuck": "warning",
            "VeleroBackupDeletionStuck": "warning",
            "VeleroBackupEmpty": "warning",
            "VeleroBackupVolumeSnapshotsIncomplete": "warning",
            "VeleroBackupHooksFailed": "warning",
            "VeleroBackupWarnings": "warning",
            "VeleroSnapshotCopyStale": "warning",
            "VeleroSnapshotsFailed": "warning",
            "VeleroBucketRecoveryPointStale": "warning",
            "VeleroBucketGrowth": "warning",
            "VeleroBucketNotVersioned": "warning",
            "VeleroBucketUnencrypted": "warning",
            "VeleroBucketPublicAccessNotBlocked": "warning",
            "VeleroBucketLifecycleBelowRetention": "warning",
            "VeleroReplicaIncomplete": "warning",
            "VeleroDRBucketNotImmutable": "warning",
            "VeleroSnapshotUnencrypted": "warning",
            "VeleroDRCopySameAccount": "warning",
            # Once it is deleted the tier has no recovery point at all.
            "VeleroLastRecoveryPointExpiring": "critical",
            "VeleroRestoreTestOverdue": "warning",
            "VeleroRestoreSlowerThanRTO": "warning",
            "VeleroRetentionBelowObjective": "warning",
            "VeleroRecoveryPointHistoryLost": "warning",
            "VeleroBackupGarbageCollectionFailed": "warning",
            "VeleroBackupVolumeDataMissing": "warning",
            "VeleroBackupShrank": "warning",
            "VeleroVolumeOperationStalled": "warning",
            "VeleroVolumeOperationFailed": "warning",
            "VeleroRepositoryNotReady": "warning",
            "VeleroRepositoryMaintenanceOverdue": "warning",
            "VeleroRepositoryMaintenanceFailed": "warning",
            # An unprotected namespace or volume loses nothing until it is needed: a ticket, not a page.
            "VeleroNamespaceUnprotected": "warning",
            "VeleroVolumeUnprotected": "warning",
            "VeleroExporterDown": "critical",
            "VeleroExporterSourceDown": "warning",
            # The kube source feeds every object-state alert: its outage must page like the exporter's.
            "VeleroExporterKubeSourceDown": "critical",
            "VeleroExporterResourceForbidden": "warning",
            # The models or the metrics frozen at their last good render: no new fault of Velero's shows.
            "VeleroExporterRenderFailing": "critical",
            # Only the status page is stale; the metrics and the alerts are current.
            "VeleroExporterStatusPageRenderFailing": "warning",
            # A DR cluster that cannot restore what its primary holds fails the DR plan's objectives.
            "VeleroDRClusterBehind": "critical",
            "VeleroDRClusterCannotRestore": "critical",
            # A DR cluster naming a primary that never reports: a configuration to fix, not an outage.
            "VeleroDRClusterPrimaryUnknown": "warning",
        }
    )
    # `for` of each alert; docs/runbooks.md explains each value.
    alert_for: Mapping[str, str] = field(
        default_factory=lambda: {
            "VeleroBackupFailure": "5m",
            "VeleroBackupMissing": "15m",
            "VeleroRestoreFailure": "0m",
            # Velero starts a due backup up to a minute late and the recovery point only moves once the backup
            # has completed: 15m covers the delay and a normal backup of the seed's short-RPO tiers.
            "RPOViolation": "15m",
            "VeleroStorageLocationUnavailable": "10m",
            "VeleroStorageLocationNotValidated": "5m",
            "VeleroScheduleFailedValidation": "5m",
            "VeleroScheduleMissedRun": "5m",
            "VeleroSchedulePaused": "24h",
            "VeleroBackupStuck": "5m",
            "VeleroBackupDeletionStuck": "15m",
            "VeleroBackupEmpty": "5m",
            "VeleroBackupVolumeSnapshotsIncomplete": "5m",
            "VeleroBackupHooksFailed": "5m",
            "VeleroBackupWarnings": "5m",
            "VeleroSnapshotCopyStale": "30m",
            "VeleroSnapshotsFailed": "15m",
            "VeleroBucketRecoveryPointStale": "30m",
            "VeleroBucketGrowth": "30m",
            # A bucket's settings change by hand, not by themselves: a short wait is enough.
            "VeleroBucketNotVersioned": "15m",
            "VeleroBucketUnencrypted": "15m",
            "VeleroBucketPublicAccessNotBlocked": "15m",
            "VeleroBucketLifecycleBelowRetention": "15m",
            # The replica grace already absorbs replication lag; this absorbs listings taken at different times.
            "VeleroReplicaIncomplete": "30m",
            "VeleroDRBucketNotImmutable": "15m",
            "VeleroSnapshotUnencrypted": "15m",
            "VeleroDRCopySameAccount": "15m",
            "VeleroLastRecoveryPointExpiring": "15m",
            "VeleroRestoreTestOverdue": "1h",
            "VeleroRestoreSlowerThanRTO": "0m",
            "VeleroRetentionBelowObjective": "15m",
            "VeleroRecoveryPointHistoryLost": "1h",
            "VeleroBackupGarbageCollectionFailed": "15m",
            "VeleroBackupVolumeDataMissing": "5m",
            "VeleroBackupShrank": "5m",
            # The stall threshold is in the expression; `for` only rides out a scrape or two.
            "VeleroVolumeOperationStalled": "5m",
            "VeleroVolumeOperationFailed": "5m",
            # A new repository is New for as long as Velero takes to initialise it.
            "VeleroRepositoryNotReady": "15m",
            "VeleroRepositoryMaintenanceOverdue": "30m",
            # Velero retries a failed maintenance at its next reconcile: one success clears it.
            "VeleroRepositoryMaintenanceFailed": "15m",
            # A Schedule being edited (a namespace moved between lists) may uncover a namespace for a moment; the
            # exporter's own grace (coverage.grace) already spares namespaces that are new.
            "VeleroNamespaceUnprotected": "15m",
            "VeleroVolumeUnprotected": "15m",
            "VeleroExporterDown": "10m",
            "VeleroExporterSourceDown": "15m",
            "VeleroExporterResourceForbidden": "10m",
            "VeleroExporterRenderFailing": "10m",
            "VeleroDRClusterBehind": "30m",
            "VeleroDRClusterCannotRestore": "10m",
        }
    )

    # PrometheusRule metadata.
    prometheusrule_name: str = "velero-exporter"
    prometheusrule_labels: Mapping[str, str] = field(
        default_factory=lambda: {"app.kubernetes.io/name": "velero-exporter"}
    )


DEFAULT = MixinConfig()
