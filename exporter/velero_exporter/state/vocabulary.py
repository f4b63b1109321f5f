"""The words of the records and the health, each defined once: Velero's phases, the exporter's error kinds and
the problems found in objects. Every family that counts by one of them initialises each value to 0.

Velero's phases are those of pkg/apis/velero/v1 (backup_types.go, restore_types.go, schedule_types.go,
backupstoragelocation_types.go, pod_volume_backup_types.go, backup_repository_types.go) and v2alpha1
(data_upload_types.go, data_download_types.go); an object without a phase is New.
"""

from __future__ import annotations

from typing import Literal, get_args

BackupPhase = Literal[
    "New",
    "Queued",
    "ReadyToStart",
    "FailedValidation",
    "InProgress",
    "WaitingForPluginOperations",
    "WaitingForPluginOperationsPartiallyFailed",
    "Finalizing",
    "FinalizingPartiallyFailed",
    "Completed",
    "PartiallyFailed",
    "Failed",
    "Deleting",
]
RestorePhase = Literal[
    "New",
    "FailedValidation",
    "InProgress",
    "WaitingForPluginOperations",
    "WaitingForPluginOperationsPartiallyFailed",
    "Finalizing",
    "FinalizingPartiallyFailed",
    "Completed",
    "PartiallyFailed",
    "Failed",
]
SchedulePhase = Literal["New", "Enabled", "FailedValidation"]
LocationPhase = Literal["Available", "Unavailable"]
# A phase this exporter does not know (a newer Velero): the object is kept and counted under this phase.
UNKNOWN_PHASE = "Unknown"

BACKUP_PHASES: tuple[BackupPhase, ...] = get_args(BackupPhase)
RESTORE_PHASES: tuple[RestorePhase, ...] = get_args(RestorePhase)
SCHEDULE_PHASES: tuple[SchedulePhase, ...] = get_args(SchedulePhase)
LOCATION_PHASES: tuple[LocationPhase, ...] = get_args(LocationPhase)
# What the count families initialise: every known phase and Unknown.
ALL_BACKUP_PHASES: tuple[str, ...] = (*BACKUP_PHASES, UNKNOWN_PHASE)
ALL_RESTORE_PHASES: tuple[str, ...] = (*RESTORE_PHASES, UNKNOWN_PHASE)

# A finished run's phases, best first (the state sets of the newest finished backup or restore).
FINISHED_PHASES: tuple[str, ...] = ("Completed", "PartiallyFailed", "Failed", "FailedValidation")
FINISHED_BACKUP_PHASES: frozenset[str] = frozenset(FINISHED_PHASES)
FINISHED_RESTORE_PHASES: frozenset[str] = frozenset(FINISHED_PHASES)
# A finished run that did not complete: failed, partly failed or refused by validation.
UNSUCCESSFUL_PHASES: frozenset[str] = frozenset(FINISHED_PHASES) - {"Completed"}
QUEUED_BACKUP_PHASES: frozenset[str] = frozenset({"New", "Queued", "ReadyToStart"})
UNFINISHED_BACKUP_PHASES: frozenset[str] = frozenset(
    {
        *QUEUED_BACKUP_PHASES,
        "InProgress",
        "WaitingForPluginOperations",
        "WaitingForPluginOperationsPartiallyFailed",
        "Finalizing",
        "FinalizingPartiallyFailed",
    }
)
FAILED_RESTORE_PHASES: frozenset[str] = frozenset({"Failed", "PartiallyFailed"})
# While a backup of a schedule is in one of these phases, Velero's schedule controller creates no new backup from
# it: a due run waits for the next reconcile after the backup moved on (checkIfBackupInNewOrProgress in
# pkg/controller/schedule_controller.go; an empty phase, which the records hold as New, blocks from 1.16 on).
# Queued, ReadyToStart, WaitingForPluginOperations and Finalizing do not block.
SCHEDULE_BLOCKING_PHASES: frozenset[str] = frozenset({"New", "InProgress"})

# Labels Velero puts on the Backups a Schedule creates, and on Restores.
SCHEDULE_NAME_LABEL = "velero.io/schedule-name"

# A restore drill's validation job records its outcome on the Restore in this annotation (docs/runbooks.md);
# which Restores are drills is a label the configuration names (Config.drill_label).
VALIDATION_ANNOTATION = "velero-exporter.io/validation"
Validation = Literal["passed", "failed"]
VALIDATIONS: tuple[Validation, ...] = get_args(Validation)
# A finished drill's result (velero_tier_last_drill_result{result}): its validation, "unvalidated" while a
# Completed drill has none, and "failed" too when the restore itself did not complete.
DrillResult = Literal["passed", "failed", "unvalidated"]
DRILL_RESULTS: tuple[DrillResult, ...] = get_args(DrillResult)

# The phases of the four volume data operations. PodVolumeBackups and PodVolumeRestores had New, InProgress,
# Completed and Failed until 1.16; 1.17 gave them the data movers' eight (pod_volume_backup_types.go).
VolumeOperationPhase = Literal[
    "New", "Accepted", "Prepared", "InProgress", "Canceling", "Canceled", "Completed", "Failed"
]
VOLUME_OPERATION_PHASES: tuple[VolumeOperationPhase, ...] = get_args(VolumeOperationPhase)
ALL_VOLUME_OPERATION_PHASES: tuple[str, ...] = (*VOLUME_OPERATION_PHASES, UNKNOWN_PHASE)
FINISHED_VOLUME_OPERATION_PHASES: frozenset[str] = frozenset({"Completed", "Failed", "Canceled"})
# A Canceled operation moved no data for good: it counts as failed (VeleroVolumeOperationFailed).
FAILED_VOLUME_OPERATION_PHASES: frozenset[str] = frozenset({"Failed", "Canceled"})
# How a backup saved a volume (the `method` label): file-system backup (PodVolumeBackups, kopia or restic), CSI
# snapshot data movement (DataUploads), a native snapshot (VolumeSnapshotLocation's plugin), a CSI snapshot.
VolumeMethod = Literal["fs-backup", "data-mover", "snapshot", "csi-snapshot"]
VOLUME_METHODS: tuple[VolumeMethod, ...] = get_args(VolumeMethod)
# The methods whose data an operation object moves (and so has bytes).
MOVED_METHODS: tuple[VolumeMethod, ...] = ("fs-backup", "data-mover")

RepositoryPhase = Literal["New", "Ready", "NotReady"]
REPOSITORY_PHASES: tuple[RepositoryPhase, ...] = get_args(RepositoryPhase)
# status.recentMaintenance[].result, Velero 1.16+ (backup_repository_types.go).
MaintenanceResult = Literal["Succeeded", "Failed"]
MAINTENANCE_RESULTS: tuple[MaintenanceResult, ...] = get_args(MaintenanceResult)

# Labels Velero puts on the volume data operations (pkg/apis/velero/v1/labels_annotations.go): the backup's name
# on PodVolumeBackups (pkg/podvolume/backupper.go) and DataUploads (pkg/backup/actions/csi/pvc_action.go from
# 1.14; velero-plugin-for-csi's internal/backup/pvc_action.go before), the restore's on PodVolumeRestores
# (pkg/podvolume/restorer.go) and DataDownloads (pkg/restore/actions/csi/pvc_action.go). The same keys in 1.12
# through 1.18. The value is the name passed through pkg/label.GetValidName: see velero/labels.py.
BACKUP_NAME_LABEL = "velero.io/backup-name"
RESTORE_NAME_LABEL = "velero.io/restore-name"

# What a source's failure can be (velero_exporter_*_errors{kind}). `internal` is a bug of the exporter's own
# (a reflector or poller that raised), counted and retried rather than fatal.
ErrorKind = Literal[
    "forbidden",
    "unauthorized",
    "not_found",
    "expired",
    "throttled",
    "server_error",
    "unreachable",
    "timeout",
    "bad_response",
    "no_credentials",
    "client_error",
    "internal",
]
ERROR_KINDS: tuple[ErrorKind, ...] = get_args(ErrorKind)
_STATUS_KINDS: dict[int, ErrorKind] = {
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    410: "expired",
    429: "throttled",
}


def kind_for_status(status: int, other: ErrorKind) -> ErrorKind:
    """The kind of an HTTP error status, for the Kubernetes and the AWS APIs alike; `other` for a status
    neither a server's (5xx) nor one of the known client errors."""
    if status >= 500:
        return "server_error"
    return _STATUS_KINDS.get(status, other)


# Why an object is held with a problem (velero_exporter_invalid_objects{reason}): skipped, or a field ignored.
Problem = Literal[
    "not_an_object",
    "missing_name",
    "missing_status",
    "unknown_phase",
    "bad_timestamp",
    "bad_duration",
    "bad_field_type",
    "bad_validation",
    # A free-form field longer than limits.label_value_bytes, cut to it (it may become a label value).
    "value_truncated",
    # A timestamp outside years 1-9999 in UTC or later than now plus the clock-skew allowance (found by the
    # model, which knows the time): never a recovery point.
    "implausible_timestamp",
    # A velero-exporter.io/coverage annotation whose value is not "ignore": the object is judged all the same.
    "bad_annotation",
]
PROBLEMS: tuple[Problem, ...] = get_args(Problem)

# The stages of a render that fail on their own (velero_exporter_render_errors{stage}); the last good output of
# the stage stays served.
RenderStage = Literal["model", "metrics", "status_page", "encoding"]
RENDER_STAGES: tuple[RenderStage, ...] = get_args(RenderStage)

# Coverage (model/coverage.py). Why no tier carries a claim's data, from the farthest to the closest a tier came
# to carrying it: the reason shown is the one of the tier that came closest. `unknown`: what decides it is out of
# the exporter's sight (a policy it may not read, a snapshot plugin it does not know).
CoverageReason = Literal[
    "namespace_not_selected",
    "labels_not_selected",
    "resources_excluded",
    "snapshots_disabled",
    "volume_excluded",
    "policy_skip",
    "unknown",
]
COVERAGE_REASONS: tuple[CoverageReason, ...] = get_args(CoverageReason)
# How a tier's backups carry a claim's data, the ones that copy it off the volume first (the order in which one
# method is named when a tier's schedules carry it several ways).
CoverageMethod = Literal["data-mover", "fs-backup", "snapshot", "csi-snapshot"]
COVERAGE_METHODS: tuple[CoverageMethod, ...] = get_args(CoverageMethod)
CoverageState = Literal["protected", "unprotected", "ignored"]
COVERAGE_STATES: tuple[CoverageState, ...] = get_args(CoverageState)
