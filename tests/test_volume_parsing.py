"""The volume data kinds parsed into slim records, Velero's label values, and what the exporter remembers of an
operation's progress: pure functions, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from velero_exporter.sandbox import objects as o
from velero_exporter.sources.parsing import parse_data_upload, parse_pod_volume_backup, parse_repository
from velero_exporter.state.progress import last_progress, remember_progress
from velero_exporter.state.records import VolumeOperation
from velero_exporter.velero.labels import label_value

NOW = datetime(2026, 11, 26, 12, 0, 30, tzinfo=UTC).timestamp()
H = 3600.0
LONG = "daily-critical-" + "x" * 50  # 65 characters: Velero labels its objects with a hashed 63


# --- Velero's label values ---------------------------------------------------------------------------------


def test_label_values_are_cut_and_hashed_as_velero_does() -> None:
    # pkg/label/label_test.go's own case.
    long = "this_is_a_very_long_label_value_that_will_be_rejected_by_Kubernetes"
    assert label_value(long) == "this_is_a_very_long_label_value_that_will_be_rejected_by_8d0722"
    assert label_value("x" * 63) == "x" * 63
    assert len(label_value(LONG)) == 63 and label_value(LONG).startswith(LONG[:57])


# --- parsing -----------------------------------------------------------------------------------------------


def test_a_dataupload_becomes_a_slim_record() -> None:
    upload = o.data_upload(
        "b-x1",
        backup=LONG,
        pvc="data",
        pvc_namespace="app",
        progress=o.Progress(
            phase="InProgress", created=NOW - 60, accepted=NOW - 50, started=NOW - 40, bytes_done=10, total_bytes=40
        ),
    )
    parsed = parse_data_upload(upload)
    assert parsed.problems == ()
    assert parsed.record == VolumeOperation(
        kind="DataUpload",
        name="b-x1",
        phase="InProgress",
        owner=label_value(LONG),
        created=NOW - 60,
        accepted=NOW - 50,
        started=NOW - 40,
        completed=None,
        bytes_done=10,
        total_bytes=40,
    )


def test_a_pod_volume_backup_of_velero_1_12_has_no_acceptance_and_may_have_no_status() -> None:
    pvb = o.pod_volume_backup(
        "b-x2", backup="b", pod="p", pod_namespace="n", volume="v", progress=o.Progress(phase=None, created=NOW)
    )
    parsed = parse_pod_volume_backup(pvb)
    assert parsed.record is not None
    assert (parsed.record.phase, parsed.record.accepted, parsed.record.bytes_done) == ("New", None, None)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"status": {"phase": "Exploded"}}, "unknown_phase"),
        ({"status": {"phase": "InProgress", "progress": {"bytesDone": "many"}}}, "bad_field_type"),
        ({"status": {"phase": "InProgress", "startTimestamp": "yesterday"}}, "bad_timestamp"),
        ({"metadata": {"name": "b-x3", "labels": {"velero.io/backup-name": 7}}}, "bad_field_type"),
    ],
)
def test_a_malformed_operation_is_kept_and_its_problem_counted(change: dict[str, Any], problem: str) -> None:
    pvb = o.pod_volume_backup(
        "b-x3", backup="b", pod="p", pod_namespace="n", volume="v", progress=o.Progress(started=NOW)
    )
    parsed = parse_pod_volume_backup({**pvb, **change})
    assert parsed.record is not None and parsed.problems == (problem,)


def test_a_repository_s_newest_maintenance_is_the_one_that_started_last() -> None:
    history = [
        o.maintenance("Succeeded", NOW - 3 * H, NOW - 3 * H + 60),
        o.maintenance("Failed", NOW - H, NOW - H + 60, "job failed"),
        o.maintenance("Succeeded", NOW - 2 * H, NOW - 2 * H + 60),
    ]
    parsed = parse_repository(o.backup_repository("app", last_maintenance=NOW - 2 * H, recent_maintenance=history))
    assert parsed.record is not None and parsed.problems == ()
    record = parsed.record
    assert (record.name, record.repository_type, record.location, record.volume_namespace) == (
        "app-default-kopia",
        "kopia",
        "default",
        "app",
    )
    assert (record.maintenance_frequency, record.last_maintenance) == (H, NOW - 2 * H)
    assert record.last_maintenance_result == "Failed"


def test_a_repository_of_velero_1_15_has_no_maintenance_result_and_an_unknown_one_is_counted() -> None:
    older = parse_repository(o.backup_repository("app", last_maintenance=NOW))
    assert older.record is not None and older.record.last_maintenance_result is None
    strange = o.backup_repository("app", recent_maintenance=[{"result": "Skipped", "startTimestamp": "x"}])
    parsed = parse_repository(strange)
    assert parsed.record is not None and parsed.record.last_maintenance_result == "Unknown"
    assert set(parsed.problems) == {"unknown_phase", "bad_timestamp"}
    listless = parse_repository({**strange, "status": {"phase": "Ready", "recentMaintenance": "all good"}})
    assert listless.problems == ("bad_field_type",)


# --- what the exporter remembers of progress ---------------------------------------------------------------


def _operation(phase: str = "InProgress", bytes_done: int | None = 100, moved: float | None = None) -> VolumeOperation:
    return VolumeOperation(
        "DataUpload", "u", phase, "b", NOW - 300, NOW - 290, NOW - 280, None, bytes_done, 1000, moved
    )


def test_progress_is_remembered_until_bytes_or_phase_change() -> None:
    first = remember_progress(None, _operation(), NOW)
    assert first.moved == NOW  # moved bytes before the exporter saw it: from the first sight
    same = remember_progress(first, _operation(), NOW + 60)
    assert same.moved == NOW
    more = remember_progress(same, _operation(bytes_done=200), NOW + 120)
    assert more.moved == NOW + 120
    canceling = remember_progress(more, _operation(phase="Canceling", bytes_done=200), NOW + 180)
    assert canceling.moved == NOW + 180
    done = remember_progress(canceling, _operation(phase="Completed", bytes_done=1000), NOW + 240)
    assert done.moved is None


def test_an_operation_that_moved_nothing_needs_no_memory() -> None:
    first = remember_progress(None, _operation(bytes_done=None), NOW)
    assert first.moved is None
    assert last_progress(first) == NOW - 280  # its start, the newest of its own timestamps
    assert remember_progress(first, _operation(bytes_done=None), NOW + 60).moved is None
    assert last_progress(remember_progress(first, _operation(bytes_done=5), NOW + 90)) == NOW + 90


def test_last_progress_is_absent_without_any_timestamp() -> None:
    bare = VolumeOperation("PodVolumeBackup", "p", "New", "b", None, None, None, None, None, None)
    assert last_progress(bare) is None
