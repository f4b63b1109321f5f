"""What Velero's controllers do, held by the exporter's model (issue 12): one section per behaviour, each citing
the upstream file it follows. Objects in, exact metric values out, through the same path as the exporter's.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from tests.metrics_text import Samples, series, value
from tests.test_metric_values import load, render
from tests.velero_schemas import violations
from velero_exporter.config.settings import Config
from velero_exporter.sandbox import objects as o

NOW = datetime(2026, 11, 26, 12, 0, 30, tzinfo=UTC).timestamp()
H = 3600.0
D = 86400.0
TIER = "backup-tier"


def t(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


# --- the next run: lastSkipped (pkg/controller/schedule_controller.go, getNextRunTime) -----------------------


def test_a_schedule_unpaused_with_skip_immediately_counts_its_next_run_from_the_skip() -> None:
    """Paused for three days, unpaused two hours ago with --skip-immediately: Velero skipped the run that was due
    at once and waits for the cron's next time after the skip, not after the last backup."""
    schedule = o.schedule(
        "daily-critical",
        cron="0 2 * * *",
        created=NOW - 90 * D,
        last_backup=t("2026-11-23T02:00:00+00:00"),
        last_skipped=NOW - 2 * H,
    )
    samples = render(load({"schedules": [schedule]}))
    assert value(samples, "velero_schedule_next_run_timestamp_seconds", schedule="daily-critical") == t(
        "2026-11-27T02:00:00+00:00"
    )
    assert value(samples, "velero_schedule_last_skipped_timestamp_seconds", schedule="daily-critical") == NOW - 2 * H


def test_a_skip_older_than_the_last_backup_changes_nothing() -> None:
    schedule = o.schedule(
        "hourly-hot",
        cron="0 * * * *",
        created=NOW - 90 * D,
        last_backup=t("2026-11-26T12:00:00+00:00"),
        last_skipped=NOW - 5 * D,
    )
    samples = render(load({"schedules": [schedule]}))
    assert value(samples, "velero_schedule_next_run_timestamp_seconds", schedule="hourly-hot") == t(
        "2026-11-26T13:00:00+00:00"
    )


def test_a_new_schedule_skipped_at_creation_counts_from_the_skip() -> None:
    """The server's --schedule-skip-immediately sets lastSkipped on a schedule that has no backup yet."""
    schedule = o.schedule("weekly-full", cron="0 3 * * 0", created=NOW - 10 * D, last_skipped=NOW - 10 * D + 5)
    samples = render(load({"schedules": [schedule]}))
    # created Monday 16 Nov 12:00:30, skipped 5 s later: the next Sunday 03:00 after that
    assert value(samples, "velero_schedule_next_run_timestamp_seconds", schedule="weekly-full") == t(
        "2026-11-22T03:00:00+00:00"
    )


# --- a due run is deferred while a backup is New or InProgress (checkIfBackupInNewOrProgress) ---------------


def test_only_new_and_in_progress_backups_defer_a_due_run() -> None:
    phases = {
        "a-new": "New",
        "b-in-progress": "InProgress",
        "c-queued": "Queued",
        "d-ready": "ReadyToStart",
        "e-plugin-ops": "WaitingForPluginOperations",
        "f-finalizing": "Finalizing",
        "g-completed": "Completed",
    }
    objs = {
        "schedules": [o.schedule(name, cron="0 * * * *", created=NOW - D) for name in phases],
        "backups": [
            o.backup(f"{name}-1", schedule=name, phase=phase, started=NOW - 600, completed=None)
            for name, phase in phases.items()
        ],
    }
    samples = render(load(objs))
    blocked = {name: value(samples, "velero_schedule_run_blocked", schedule=name) for name in phases}
    assert blocked == {
        "a-new": 1,
        "b-in-progress": 1,
        "c-queued": 0,
        "d-ready": 0,
        "e-plugin-ops": 0,
        "f-finalizing": 0,
        "g-completed": 0,
    }


def test_a_backup_without_a_phase_defers_too() -> None:
    """An object Velero has not processed yet has no status: the exporter holds it as New (Velero 1.16+ checks
    the empty phase explicitly)."""
    objs = {
        "schedules": [o.schedule("hourly-hot", cron="0 * * * *", created=NOW - D)],
        "backups": [o.backup("hourly-hot-1", schedule="hourly-hot", phase=None, created=NOW - 5)],
    }
    assert value(render(load(objs)), "velero_schedule_run_blocked", schedule="hourly-hot") == 1


# --- schedule labels: the template's, else the Schedule's own (FromSchedule, pkg/builder/backup_builder.go) ----


def test_a_schedule_labelled_only_on_its_metadata_joins_that_tier() -> None:
    """Velero's Helm chart puts `schedules.<name>.labels` on the Schedule's metadata; Velero copies them onto the
    backups when the template has no labels."""
    schedule = o.schedule("nightly", cron="0 2 * * *", labels={TIER: "critical"}, created=NOW - 10 * D)
    backup = o.backup("nightly-1", schedule="nightly", labels={TIER: "critical"}, started=NOW - H, completed=NOW)
    samples = render(load({"schedules": [schedule], "backups": [backup]}))
    assert value(samples, "velero_schedule_info", schedule="nightly", tier="critical", cron="0 2 * * *") == 1
    assert value(samples, "velero_schedule_exists", schedule="nightly", tier="critical") == 1
    phase = value(samples, "velero_schedule_last_backup_phase", schedule="nightly", tier="critical", phase="Completed")
    assert phase == 1


def test_template_labels_win_over_the_schedules_own_even_when_empty() -> None:
    """A template with labels (even `{}`, a non-nil map in Go) is what Velero copies; the Schedule's own labels
    are then ignored."""
    with_template = o.schedule(
        "a", cron="0 2 * * *", tier_label=(TIER, "hot"), labels={TIER: "critical"}, created=NOW - D
    )
    empty_template = o.schedule("b", cron="0 2 * * *", labels={TIER: "critical"}, created=NOW - D)
    empty_template["spec"]["template"]["metadata"] = {"labels": {}}
    null_template = o.schedule("c", cron="0 2 * * *", labels={TIER: "critical"}, created=NOW - D)
    null_template["spec"]["template"]["metadata"] = {"labels": None}
    samples = render(load({"schedules": [with_template, empty_template, null_template]}))
    assert value(samples, "velero_schedule_exists", schedule="a", tier="hot") == 1
    assert value(samples, "velero_schedule_exists", schedule="b", tier="unassigned") == 1
    assert value(samples, "velero_schedule_exists", schedule="c", tier="critical") == 1


# --- validation frequency (IsReadyToValidate, internal/storage/storagelocation.go) ---------------------------


def test_each_location_is_validated_at_its_own_frequency_else_the_servers() -> None:
    own = o.storage_location("hourly", bucket="b", last_validated=NOW - 1800)
    own["spec"]["validationFrequency"] = "1h0m0s"
    disabled = o.storage_location("disabled", bucket="b", prefix="d", last_validated=NOW - 30 * D)
    disabled["spec"]["validationFrequency"] = "0s"
    negative = o.storage_location("negative", bucket="b", prefix="n", last_validated=NOW - 30)
    negative["spec"]["validationFrequency"] = "-5m"
    default = o.storage_location("default", bucket="b", prefix="x", last_validated=NOW - 30)
    objs = {"backupstoragelocations": [own, disabled, negative, default]}
    samples = render(load(objs))
    frequency = {
        loc: value(samples, "velero_storage_location_validation_frequency_seconds", location=loc)
        for loc in ("hourly", "disabled", "negative", "default")
    }
    # a negative frequency is replaced by the server's, as Velero does
    assert frequency == {"hourly": H, "disabled": 0, "negative": 60, "default": 60}
    server_every_5m = render(load(objs), Config(store_validation_frequency_seconds=300))
    assert value(server_every_5m, "velero_storage_location_validation_frequency_seconds", location="default") == 300
    assert value(server_every_5m, "velero_storage_location_validation_frequency_seconds", location="hourly") == H


# --- data mover and item operations (backup_controller.go, backup_operations_controller.go) -----------------


def test_a_data_mover_backups_progress_is_its_item_operations() -> None:
    """With snapshotMoveData the CSI snapshot counts stay 0; the uploads are asynchronous item operations."""
    backup = o.backup(
        "weekly-full-1",
        schedule="weekly-full",
        phase="PartiallyFailed",
        started=NOW - 5 * H,
        completed=NOW - H,
        csi_snapshots_attempted=0,
        csi_snapshots_completed=0,
    )
    backup["spec"]["snapshotMoveData"] = True
    backup["status"].update(
        {"backupItemOperationsAttempted": 4, "backupItemOperationsCompleted": 3, "backupItemOperationsFailed": 1}
    )
    objs = {"schedules": [o.schedule("weekly-full", cron="0 3 * * 0", created=NOW - 90 * D)], "backups": [backup]}
    samples = render(load(objs))
    s = "weekly-full"
    assert value(samples, "velero_schedule_last_backup_item_operations_attempted", schedule=s) == 4
    assert value(samples, "velero_schedule_last_backup_item_operations_completed", schedule=s) == 3
    assert value(samples, "velero_schedule_last_backup_item_operations_failed", schedule=s) == 1
    assert value(samples, "velero_schedule_last_backup_volume_snapshots_attempted", schedule=s, method="csi") == 0


def test_absent_item_operation_counts_are_zero() -> None:
    """The three counts are `omitempty` ints (since Velero 1.11): absent means none."""
    objs = {
        "schedules": [o.schedule("hourly-hot", cron="0 * * * *", created=NOW - D)],
        "backups": [o.backup("hourly-hot-1", schedule="hourly-hot", started=NOW - H, completed=NOW - H + 60)],
    }
    samples = render(load(objs))
    assert value(samples, "velero_schedule_last_backup_item_operations_attempted", schedule="hourly-hot") == 0
    assert value(samples, "velero_schedule_last_backup_item_operations_completed", schedule="hourly-hot") == 0


def test_each_unfinished_backup_carries_its_own_item_operation_timeout() -> None:
    waiting = o.backup("b-waiting", schedule="daily", phase="WaitingForPluginOperations", started=NOW - 2 * H)
    waiting["spec"]["itemOperationTimeout"] = "1h0m0s"
    unset = o.backup("b-unset", schedule="daily", phase="InProgress", started=NOW - 60)
    objs = {"schedules": [o.schedule("daily", cron="0 2 * * *", created=NOW - D)], "backups": [waiting, unset]}
    samples = render(load(objs))
    assert value(samples, "velero_backup_item_operation_timeout_seconds", backup="b-waiting") == H
    # unset: Velero's --default-item-operation-timeout, which its backup controller writes into the spec
    assert value(samples, "velero_backup_item_operation_timeout_seconds", backup="b-unset") == 4 * H


# --- deletions and hook counts (backup_deletion_controller.go, pkg/backup/backup.go) -------------------------


def test_a_backup_being_deleted_is_dated_by_its_managed_fields() -> None:
    """Velero marks a backup Deleting before it deletes anything, and deletes the object last: a failed deletion
    leaves it Deleting. The API server dates each writer's last change in metadata.managedFields."""
    deleting = o.backup(
        "daily-critical-old",
        schedule="daily-critical",
        labels={TIER: "critical"},
        phase="Deleting",
        started=NOW - 20 * D,
        completed=NOW - 20 * D + 600,
        changed=NOW - 3 * H,
    )
    no_managed_fields = o.backup("adhoc-old", labels={TIER: "critical"}, phase="Deleting", started=NOW - 9 * D)
    objs = {
        "schedules": [o.schedule("daily-critical", cron="0 2 * * *", created=NOW - 90 * D)],
        "backups": [deleting, no_managed_fields],
    }
    samples = render(load(objs))
    assert series(samples, "velero_backup_deleting_since_timestamp_seconds") == {
        frozenset({("backup", "daily-critical-old"), ("schedule", "daily-critical"), ("tier", "critical")}): NOW - 3 * H
    }
    assert value(samples, "velero_tier_backups", tier="critical", phase="Deleting") == 2


def test_the_newest_managed_fields_entry_dates_the_change() -> None:
    backup = o.backup("b", phase="Deleting", started=NOW - D)
    backup["metadata"]["managedFields"] = [
        *o.managed_fields(NOW - 5 * H, "spec"),
        *o.managed_fields(NOW - 2 * H, "status"),
        {"manager": "kubectl-label", "operation": "Update", "time": o.rfc3339(NOW - 4 * H)},
    ]
    samples = render(load({"backups": [backup]}))
    assert value(
        samples, "velero_backup_deleting_since_timestamp_seconds", backup="b", schedule="", tier="unassigned"
    ) == (NOW - 2 * H)


def test_hook_counts_are_absent_where_velero_wrote_no_hook_status() -> None:
    """Velero 1.13+ writes status.hookStatus on every backup it ran ({} without hooks: its counts are
    omitempty); 1.12 has no such field, so the counts are unknown there, not 0."""
    v113 = o.backup("new-1", schedule="new", started=NOW - H, completed=NOW - H + 60)
    v112 = o.backup("old-1", schedule="old", started=NOW - H, completed=NOW - H + 60, hook_status=False)
    assert v113["status"]["hookStatus"] == {} and "hookStatus" not in v112["status"]
    objs = {
        "schedules": [o.schedule(n, cron="0 * * * *", created=NOW - D) for n in ("new", "old")],
        "backups": [v113, v112],
    }
    samples = render(load(objs))
    assert value(samples, "velero_schedule_last_backup_hooks_attempted", schedule="new") == 0
    assert value(samples, "velero_schedule_last_backup_hooks_failed", schedule="new") == 0
    assert value(samples, "velero_schedule_last_backup_hooks_attempted", schedule="old") is None
    assert value(samples, "velero_schedule_last_backup_hooks_failed", schedule="old") is None


# --- the cron grammar by Velero version, and crons that match nothing (schedule_controller.go) ---------------


def test_the_configured_velero_version_decides_how_crons_read() -> None:
    """Velero 1.12 to 1.14 parse with robfig/cron v1 (no CRON_TZ=, a stepped star is a star), 1.15+ with v3."""
    objs = {
        "schedules": [
            o.schedule("berlin", cron="CRON_TZ=Europe/Berlin 0 3 * * *", created=NOW - D),
            o.schedule("odd-mondays", cron="0 0 */2 * 1", created=NOW - D),
        ]
    }
    v118 = render(load(objs))
    v114 = render(load(objs), Config(velero_version=(1, 14)))
    assert value(v118, "velero_schedule_next_run_timestamp_seconds", schedule="berlin") == t(
        "2026-11-26T02:00:00+00:00"
    )
    assert value(v114, "velero_schedule_next_run_timestamp_seconds", schedule="berlin") is None
    # created Wednesday 25 Nov 12:00:30: v3 takes the next odd day or Monday, v1 the next odd Monday
    assert value(v118, "velero_schedule_next_run_timestamp_seconds", schedule="odd-mondays") == t(
        "2026-11-27T00:00:00+00:00"
    )
    assert value(v114, "velero_schedule_next_run_timestamp_seconds", schedule="odd-mondays") == t(
        "2026-12-07T00:00:00+00:00"
    )


def test_a_cron_that_matches_no_time_runs_back_to_back() -> None:
    """robfig's Next returns the zero time; getNextRunTime then finds the schedule due at every reconcile."""
    objs = {
        "schedules": [
            o.schedule("feb-30", cron="0 0 30 2 *", created=NOW - D),
            o.schedule("hourly", cron="0 * * * *", created=NOW - D),
            o.schedule("broken", cron="61 * * * *", phase="FailedValidation", created=NOW - D),
        ]
    }
    samples = render(load(objs))
    assert value(samples, "velero_schedule_runs_back_to_back", schedule="feb-30") == 1
    assert value(samples, "velero_schedule_next_run_timestamp_seconds", schedule="feb-30") is None
    assert value(samples, "velero_schedule_runs_back_to_back", schedule="hourly") == 0
    assert value(samples, "velero_schedule_runs_back_to_back", schedule="broken") is None


# --- model edges (each pins one comparison or rule that a mutation of the model would change) ----------------


def test_a_ttl_equal_to_the_retention_keeps_the_promise_and_a_second_less_does_not() -> None:
    retention = 30 * D  # the critical tier's
    equal = o.backup("equal", labels={TIER: "critical"}, started=NOW - H, completed=NOW, ttl="720h0m0s")
    short = o.backup("short", labels={TIER: "critical"}, started=NOW - H, completed=NOW, ttl="719h59m59s")
    critical = Config().tier("critical")
    assert critical is not None and critical.retention_seconds == retention
    assert value(render(load({"backups": [equal]})), "velero_tier_backups_ttl_below_retention", tier="critical") == 0
    both = render(load({"backups": [equal, short]}))
    assert value(both, "velero_tier_backups_ttl_below_retention", tier="critical") == 1


def test_the_gc_grace_is_exclusive() -> None:
    """A backup counts as past its expiration only once more than the grace (2h) has passed since."""
    grace = Config().gc_grace_seconds
    on_the_edge = o.backup("edge", started=NOW - 40 * D, completed=NOW - 40 * D + 60, expiration=NOW - grace)
    past = o.backup("past", started=NOW - 40 * D, completed=NOW - 40 * D + 60, expiration=NOW - grace - 1)
    assert (
        value(render(load({"backups": [on_the_edge]})), "velero_tier_backups_past_expiration", tier="unassigned") == 0
    )
    assert value(render(load({"backups": [past]})), "velero_tier_backups_past_expiration", tier="unassigned") == 1


def test_a_partially_failed_restore_is_a_failure_and_no_restore_test() -> None:
    objs = {
        "schedules": [o.schedule("hourly-hot", cron="0 * * * *", created=NOW - D)],
        "backups": [o.backup("hot-1", schedule="hourly-hot", started=NOW - 2 * H, completed=NOW - 2 * H + 60)],
        "restores": [
            o.restore("drill", backup_name="hot-1", phase="PartiallyFailed", started=NOW - H, completed=NOW - H + 300)
        ],
    }
    samples = render(load(objs))
    group = {"tier": "hot", "schedule": "hourly-hot"}
    assert value(samples, "velero_restore_last_failure_timestamp_seconds", **group) == NOW - H + 300
    assert value(samples, "velero_restore_last_phase", phase="PartiallyFailed", **group) == 1
    assert value(samples, "velero_tier_last_restore_success_timestamp_seconds", tier="hot") is None


def test_a_configured_schedule_keeps_its_tier_whatever_its_backups_labels_say() -> None:
    """daily-critical is listed under the critical tier: its backups are critical even labelled hot, and so is
    the schedule, even with a hot label on its template."""
    objs = {
        "schedules": [o.schedule("daily-critical", cron="0 2 * * *", tier_label=(TIER, "hot"), created=NOW - D)],
        "backups": [
            o.backup("dc-1", schedule="daily-critical", labels={TIER: "hot"}, started=NOW - 3 * H, completed=NOW - H)
        ],
    }
    samples = render(load(objs))
    assert value(samples, "velero_tier_backups", tier="critical", phase="Completed") == 1
    assert value(samples, "velero_tier_backups", tier="hot", phase="Completed") == 0
    assert value(samples, "velero_tier_recovery_point_timestamp_seconds", tier="critical") == NOW - 3 * H
    assert value(samples, "velero_tier_recovery_point_timestamp_seconds", tier="hot") is None
    assert value(samples, "velero_schedule_exists", schedule="daily-critical", tier="critical") == 1


# --- objects as Velero 1.18 writes them (tests/fixtures/velero-1.18-objects.yaml) ------------------------------

FIXTURE = Path(__file__).with_name("fixtures") / "velero-1.18-objects.yaml"
PLURAL = {
    "Backup": "backups",
    "Restore": "restores",
    "Schedule": "schedules",
    "BackupStorageLocation": "backupstoragelocations",
    "VolumeSnapshotLocation": "volumesnapshotlocations",
}


def velero_118_objects() -> dict[str, list[o.Obj]]:
    by_plural: dict[str, list[o.Obj]] = {}
    for obj in yaml.safe_load_all(FIXTURE.read_text()):
        by_plural.setdefault(PLURAL[obj["kind"]], []).append(obj)
    return by_plural


@pytest.fixture(scope="module")
def v118() -> Samples:
    return render(load(velero_118_objects()))


def test_the_118_fixtures_are_what_velero_accepts() -> None:
    objs = [obj for objects in velero_118_objects().values() for obj in objects]
    assert len(objs) == 11
    assert [v for obj in objs for v in violations(obj)] == []


VOLUME_DATA = ("podvolumebackups", "podvolumerestores", "datauploads", "datadownloads", "backuprepositories")


def test_every_118_object_is_read_without_a_problem(v118: Samples) -> None:
    problems = series(v118, "velero_exporter_invalid_objects")
    assert problems and set(problems.values()) == {0}
    assert series(v118, "velero_exporter_resource_objects") == {
        frozenset({("resource", "backups")}): 5,
        frozenset({("resource", "restores")}): 1,
        frozenset({("resource", "schedules")}): 2,
        frozenset({("resource", "backupstoragelocations")}): 2,
        frozenset({("resource", "volumesnapshotlocations")}): 1,
        # the volume data kinds: none in this cluster
        **{frozenset({("resource", plural)}): 0 for plural in VOLUME_DATA},
    }


def test_118_schedules(v118: Samples) -> None:
    # daily-critical by its template's label, hourly-hot by its own metadata label
    assert value(v118, "velero_schedule_info", schedule="daily-critical", tier="critical", cron="0 2 * * *") == 1
    assert value(v118, "velero_schedule_info", schedule="hourly-hot", tier="hot", cron="0 * * * *") == 1
    # the last backup (26 Nov 02:00:05) is later than the skip on unpause (20 Nov)
    assert value(v118, "velero_schedule_next_run_timestamp_seconds", schedule="daily-critical") == t(
        "2026-11-27T02:00:00+00:00"
    )
    assert value(v118, "velero_schedule_last_skipped_timestamp_seconds", schedule="daily-critical") == t(
        "2026-11-20T09:14:00+00:00"
    )
    assert value(v118, "velero_schedule_next_run_timestamp_seconds", schedule="hourly-hot") == t(
        "2026-11-26T13:00:00+00:00"
    )
    # a backup waiting for plugin operations does not defer the next run
    assert value(v118, "velero_schedule_run_blocked", schedule="hourly-hot") == 0
    assert value(v118, "velero_schedule_runs_back_to_back", schedule="hourly-hot") == 0
    assert value(v118, "velero_schedule_phase", schedule="daily-critical", phase="Enabled") == 1
    assert value(v118, "velero_schedule_paused", schedule="daily-critical") == 0
    assert value(v118, "velero_schedule_exists", schedule="hourly-hot", tier="hot") == 1
    assert value(v118, "velero_schedule_created_timestamp_seconds", schedule="hourly-hot") == t(
        "2026-06-01T08:00:00+00:00"
    )
    assert value(v118, "velero_schedule_interval_seconds", schedule="daily-critical") == D
    assert value(v118, "velero_schedule_backups", schedule="daily-critical", phase="Deleting") == 1


def test_118_newest_finished_backups(v118: Samples) -> None:
    dc, hh = {"schedule": "daily-critical"}, {"schedule": "hourly-hot"}
    assert value(v118, "velero_schedule_last_backup_phase", tier="critical", phase="PartiallyFailed", **dc) == 1
    assert value(v118, "velero_schedule_last_backup_start_timestamp_seconds", **dc) == t("2026-11-26T02:00:05+00:00")
    assert value(v118, "velero_schedule_last_backup_duration_seconds", **dc) == 52 * 60 + 35
    assert value(v118, "velero_schedule_last_backup_items_backed_up", **dc) == 3120
    assert value(v118, "velero_schedule_last_backup_items_expected", **dc) == 3120
    assert value(v118, "velero_schedule_last_backup_errors", **dc) == 2
    assert value(v118, "velero_schedule_last_backup_warnings", **dc) == 3
    assert value(v118, "velero_schedule_last_backup_hooks_attempted", **dc) == 2
    assert value(v118, "velero_schedule_last_backup_hooks_failed", **dc) == 1
    assert value(v118, "velero_schedule_last_backup_item_operations_attempted", **dc) == 6
    assert value(v118, "velero_schedule_last_backup_item_operations_completed", **dc) == 5
    assert value(v118, "velero_schedule_last_backup_item_operations_failed", **dc) == 1
    assert value(v118, "velero_schedule_last_backup_volume_snapshots_attempted", method="csi", **dc) == 0
    assert value(v118, "velero_schedule_last_backup_volume_snapshots_attempted", method="native", **dc) == 0
    assert value(v118, "velero_schedule_last_success_timestamp_seconds", **dc) == t("2026-11-25T02:47:31+00:00")
    assert value(v118, "velero_schedule_last_failure_timestamp_seconds", **dc) == t("2026-11-26T02:52:40+00:00")
    # hourly-hot: its newest finished backup is the Completed one of 11:00 (12:00 still waits)
    assert value(v118, "velero_schedule_last_backup_phase", tier="hot", phase="Completed", **hh) == 1
    assert value(v118, "velero_schedule_last_backup_items_backed_up", **hh) == 410
    assert value(v118, "velero_schedule_last_backup_items_expected", **hh) == 412
    assert value(v118, "velero_schedule_last_backup_hooks_attempted", **hh) == 0  # hookStatus: {}
    assert value(v118, "velero_schedule_last_backup_volume_snapshots_attempted", method="native", **hh) == 2
    assert value(v118, "velero_schedule_last_backup_volume_snapshots_completed", method="native", **hh) == 2
    assert value(v118, "velero_schedule_last_backup_volume_snapshots_attempted", method="csi", **hh) == 1
    assert value(v118, "velero_schedule_last_backup_volume_snapshots_completed", method="csi", **hh) == 1
    assert value(v118, "velero_schedule_last_backup_item_operations_attempted", **hh) == 1
    assert value(v118, "velero_schedule_last_backup_warnings", **hh) == 1


def test_118_backups_in_flight_and_being_deleted(v118: Samples) -> None:
    assert series(v118, "velero_backup_unfinished_since_timestamp_seconds") == {
        frozenset(
            {
                ("backup", "hourly-hot-20261126120001"),
                ("schedule", "hourly-hot"),
                ("tier", "hot"),
                ("phase", "WaitingForPluginOperations"),
            }
        ): t("2026-11-26T12:00:01+00:00")
    }
    assert series(v118, "velero_backup_item_operation_timeout_seconds") == {
        frozenset({("backup", "hourly-hot-20261126120001")}): H
    }
    assert series(v118, "velero_backup_deleting_since_timestamp_seconds") == {
        frozenset(
            {("backup", "daily-critical-20261020020001"), ("schedule", "daily-critical"), ("tier", "critical")}
        ): t("2026-11-26T09:30:00+00:00")
    }


def test_118_tiers(v118: Samples) -> None:
    assert value(v118, "velero_tier_recovery_point_timestamp_seconds", tier="critical") == t(
        "2026-11-25T02:00:04+00:00"
    )
    assert value(v118, "velero_tier_last_success_timestamp_seconds", tier="critical") == t("2026-11-25T02:47:31+00:00")
    assert value(v118, "velero_tier_oldest_recovery_point_timestamp_seconds", tier="critical") == t(
        "2026-11-25T02:00:04+00:00"
    )
    assert value(v118, "velero_tier_recovery_point_timestamp_seconds", tier="hot") == t("2026-11-26T11:00:02+00:00")
    assert {
        phase: value(v118, "velero_tier_backups", tier="critical", phase=phase)
        for phase in ("Completed", "PartiallyFailed", "Deleting")
    } == {"Completed": 1, "PartiallyFailed": 1, "Deleting": 1}
    assert value(v118, "velero_tier_backups", tier="hot", phase="WaitingForPluginOperations") == 1
    assert value(v118, "velero_tier_backups_ttl_below_retention", tier="critical") == 0
    # the Deleting backup expired a week ago: Velero has not deleted it
    assert value(v118, "velero_tier_backups_past_expiration", tier="critical") == 1


def test_118_restores_and_locations(v118: Samples) -> None:
    group = {"tier": "hot", "schedule": "hourly-hot"}
    assert value(v118, "velero_restore_last_phase", phase="Completed", **group) == 1
    assert value(v118, "velero_restore_last_duration_seconds", **group) == 9 * 60
    assert value(v118, "velero_restore_last_completion_timestamp_seconds", **group) == t("2026-11-26T11:19:00+00:00")
    assert value(v118, "velero_restores", tier="hot", phase="Completed") == 1
    assert value(v118, "velero_tier_last_restore_success_timestamp_seconds", tier="hot") == t(
        "2026-11-26T11:19:00+00:00"
    )
    assert value(v118, "velero_storage_location_validation_frequency_seconds", location="default") == 60
    assert value(v118, "velero_storage_location_validation_frequency_seconds", location="archive") == 0
    assert value(v118, "velero_storage_location_available", location="archive") == 1
    assert value(v118, "velero_storage_location_last_sync_timestamp_seconds", location="default") == t(
        "2026-11-26T12:00:10+00:00"
    )
    info = {"provider": "aws", "bucket": "kailash-velero-backups", "prefix": "cluster-a", "region": "us-east-1"}
    assert (
        value(v118, "velero_storage_location_info", location="default", default="true", access_mode="ReadWrite", **info)
        == 1
    )
    assert value(v118, "velero_snapshot_location_info", location="default", provider="aws", region="us-east-1") == 1
