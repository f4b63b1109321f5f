"""Object parsing: malformed input is counted and degraded or skipped, never raised."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.metrics_text import series, value
from tests.test_metric_values import NOW, load, render
from velero_exporter.sandbox import objects as o
from velero_exporter.sources.parsing import (
    BAD_DURATION,
    BAD_FIELD_TYPE,
    BAD_TIMESTAMP,
    BAD_VALIDATION,
    MISSING_NAME,
    MISSING_STATUS,
    NOT_AN_OBJECT,
    UNKNOWN_PHASE_REASON,
    VALUE_TRUNCATED,
    SharedValues,
    parse_backup,
    parse_restore,
    parse_schedule,
    parse_snapshot_location,
    parse_storage_location,
    parse_timestamp,
)
from velero_exporter.state.vocabulary import VALIDATION_ANNOTATION
from velero_exporter.velero.duration import go_duration_seconds

PARSERS = (parse_backup, parse_restore, parse_schedule, parse_storage_location, parse_snapshot_location)


def test_a_well_formed_backup() -> None:
    parsed = parse_backup(
        o.backup("b1", schedule="s", started=NOW - 60, completed=NOW, errors=1, items_backed_up=5, items_total=7)
    )
    assert parsed.problems == ()
    backup = parsed.record
    assert backup is not None
    assert (backup.name, backup.phase, backup.schedule) == ("b1", "Completed", "s")
    assert (backup.started, backup.completed) == (NOW - 60, NOW)
    assert (backup.items_backed_up, backup.items_total, backup.errors) == (5, 7, 1)
    assert backup.ttl_seconds == 720 * 3600


@pytest.mark.parametrize(
    ("mutate", "problem", "check"),
    [
        (lambda b: b.pop("status"), MISSING_STATUS, lambda r: r.phase == "New"),
        (lambda b: b["status"].update(phase="Exploded"), UNKNOWN_PHASE_REASON, lambda r: r.phase == "Unknown"),
        (lambda b: b["status"].update(phase=7), BAD_FIELD_TYPE, lambda r: r.phase == "Unknown"),
        (lambda b: b["status"].update(startTimestamp="yesterday"), BAD_TIMESTAMP, lambda r: r.started is None),
        (
            lambda b: b["status"].update(startTimestamp="2026-11-26T12:00:00"),
            BAD_TIMESTAMP,
            lambda r: r.started is None,
        ),
        (lambda b: b["status"].update(completionTimestamp=12345), BAD_TIMESTAMP, lambda r: r.completed is None),
        (lambda b: b["status"].update(errors="many"), BAD_FIELD_TYPE, lambda r: r.errors == 0),
        (lambda b: b["status"].update(errors=-1), BAD_FIELD_TYPE, lambda r: r.errors == 0),
        (lambda b: b["status"].update(warnings=True), BAD_FIELD_TYPE, lambda r: r.warnings == 0),
        (lambda b: b["status"].update(progress=[1, 2]), BAD_FIELD_TYPE, lambda r: r.items_total is None),
        (lambda b: b["spec"].update(ttl="forever"), BAD_DURATION, lambda r: r.ttl_seconds is None),
        (lambda b: b["metadata"].update(labels={"a": 1}), BAD_FIELD_TYPE, lambda r: r.labels == ()),
        (lambda b: b.update(spec="nope"), BAD_FIELD_TYPE, lambda r: r.storage_location == ""),
    ],
)
def test_malformed_fields_degrade_the_record(mutate: Any, problem: str, check: Any) -> None:
    obj = o.backup("b1", started=NOW - 60, completed=NOW)
    mutate(obj)
    parsed = parse_backup(obj)
    assert parsed.name == "b1"
    assert problem in parsed.problems
    assert parsed.record is not None
    assert check(parsed.record)


def test_a_restore_drill_with_its_validation() -> None:
    parsed = parse_restore(o.restore("drill-1", backup_name="b1", completed=NOW, drill=True, validation="passed"))
    restore = parsed.record
    assert parsed.problems == () and restore is not None
    assert (restore.label("velero-exporter.io/drill"), restore.validation) == ("true", "passed")
    plain = parse_restore(o.restore("r", backup_name="b1", completed=NOW)).record
    assert plain is not None and (plain.labels, plain.validation) == ((), None)


@pytest.mark.parametrize(
    ("annotations", "validation", "problems"),
    [
        ({VALIDATION_ANNOTATION: "failed"}, "failed", ()),
        ({VALIDATION_ANNOTATION: " Passed "}, "passed", ()),  # as a person may type it
        ({VALIDATION_ANNOTATION: ""}, None, ()),
        ({VALIDATION_ANNOTATION: "ok"}, None, (BAD_VALIDATION,)),  # counted; the drill stays unvalidated
        ({VALIDATION_ANNOTATION: 1}, None, (BAD_FIELD_TYPE,)),
        ({"kubectl.kubernetes.io/last-applied-configuration": "{}"}, None, ()),
    ],
)
def test_the_validation_annotation(
    annotations: dict[str, Any], validation: str | None, problems: tuple[str, ...]
) -> None:
    obj = o.restore("drill-1", backup_name="b1", completed=NOW, drill=True)
    obj["metadata"]["annotations"] = annotations
    parsed = parse_restore(obj)
    assert parsed.record is not None and parsed.record.validation == validation
    assert parsed.problems == problems


def test_annotations_that_are_not_a_mapping_degrade_the_restore() -> None:
    obj = o.restore("drill-1", backup_name="b1", completed=NOW, drill=True)
    obj["metadata"]["annotations"] = ["passed"]
    parsed = parse_restore(obj)
    assert parsed.problems == (BAD_FIELD_TYPE,)
    assert parsed.record is not None and (parsed.record.validation, parsed.record.phase) == (None, "Completed")


@pytest.mark.parametrize(
    ("obj", "problem"),
    [
        ("a string", NOT_AN_OBJECT),
        (None, NOT_AN_OBJECT),
        ({"metadata": {}}, MISSING_NAME),
        ({"metadata": {"name": 5}}, MISSING_NAME),
        ({"metadata": "x"}, MISSING_NAME),
    ],
)
def test_unidentifiable_objects_are_skipped(obj: object, problem: str) -> None:
    for parse in PARSERS:
        parsed = parse(obj)
        assert (parsed.name, parsed.record, parsed.problems) == (None, None, (problem,))


def test_problems_are_counted_by_resource_and_reason_and_the_rest_is_served() -> None:
    good = o.backup("good", schedule="hourly-hot", started=NOW - 100, completed=NOW - 50)
    bad_phase = o.backup("weird", schedule="hourly-hot", started=NOW - 100, completed=NOW - 50)
    bad_phase["status"]["phase"] = "Teleported"
    bad_time = o.backup("bad-time", schedule="hourly-hot", started=NOW - 100)
    bad_time["status"]["completionTimestamp"] = "not a time"
    no_name: dict[str, Any] = {"kind": "Backup", "metadata": {}}
    bad_cron = o.schedule("hourly-hot", cron="every hour please", created=NOW - 1000)
    samples = render(load({"backups": [good, bad_phase, bad_time, no_name], "schedules": [bad_cron]}))
    assert value(samples, "velero_exporter_invalid_objects", resource="backups", reason=UNKNOWN_PHASE_REASON) == 1
    assert value(samples, "velero_exporter_invalid_objects", resource="backups", reason=BAD_TIMESTAMP) == 1
    assert value(samples, "velero_exporter_invalid_objects", resource="backups", reason=MISSING_NAME) == 1
    assert value(samples, "velero_exporter_invalid_objects", resource="backups", reason=BAD_FIELD_TYPE) == 0
    assert value(samples, "velero_exporter_resource_objects", resource="backups") == 3
    assert value(samples, "velero_tier_backups", tier="hot", phase="Unknown") == 1
    assert value(samples, "velero_tier_recovery_point_timestamp_seconds", tier="hot") == NOW - 100
    # a bad cron degrades only what depends on it
    assert value(samples, "velero_schedule_next_run_timestamp_seconds", schedule="hourly-hot") is None
    assert value(samples, "velero_schedule_exists", schedule="hourly-hot", tier="hot") == 1


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("720h0m0s", 2592000.0), ("1h30m", 5400.0), ("0", 0.0), ("1.5s", 1.5), ("300ms", 0.3), ("-1h", -3600.0)],
)
def test_go_durations(text: str, seconds: float) -> None:
    assert go_duration_seconds(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "h", "1d", "1h 2m", "abc", "1hh", "+"])
def test_bad_go_durations(text: str) -> None:
    assert go_duration_seconds(text) is None


def test_timestamps() -> None:
    assert parse_timestamp("1970-01-01T00:01:00Z") == 60.0
    assert parse_timestamp("1970-01-01T01:01:00+01:00") == 60.0
    assert parse_timestamp("1970-01-01T00:01:00.5Z") == 60.5
    for bad in ("1970-01-01", "1970-01-01 00:01:00Z", "soon", "", 60, None):
        assert parse_timestamp(bad) is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=25,
)
FIELDS = ("phase", "startTimestamp", "completionTimestamp", "expiration", "errors", "progress", "hookStatus")


@st.composite
def mangled_backups(draw: st.DrawFn) -> object:
    """A real backup with any of its fields replaced by arbitrary JSON, or arbitrary JSON outright."""
    if draw(st.booleans()):
        return draw(json_values)
    obj = o.backup("b", schedule="s", started=NOW - 10, completed=NOW, errors=0, hooks_attempted=1)
    for key in draw(st.lists(st.sampled_from(FIELDS), max_size=4)):
        obj["status"][key] = draw(json_values)
    for part in draw(st.lists(st.sampled_from(("metadata", "spec", "status")), max_size=1)):
        obj[part] = draw(json_values)
    return obj


@settings(max_examples=300, deadline=None)
@given(mangled_backups())
def test_any_json_parses_to_a_record_or_a_counted_skip(obj: object) -> None:
    for parse in PARSERS:
        parsed = parse(obj)
        if parsed.record is None:
            assert parsed.problems
        else:
            assert parsed.name
    backup = parse_backup(obj).record
    if backup is not None:
        assert backup.errors >= 0
        assert backup.started is None or isinstance(backup.started, float)


@settings(max_examples=50, deadline=None)
@given(st.lists(mangled_backups(), max_size=6))
def test_the_exposition_renders_whatever_the_objects(objs: list[object]) -> None:
    samples = render(load({"backups": objs}))  # type: ignore[dict-item]
    assert value(samples, "velero_exporter_build_info", version="test") == 1
    held = {p.name for p in map(parse_backup, objs) if p.record is not None}
    counted = sum(v for (name, _), v in samples.items() if name == "velero_tier_backups")
    assert counted == len(held) == value(samples, "velero_exporter_resource_objects", resource="backups")


def test_free_form_values_are_capped_and_counted() -> None:
    """About 1 MB in a field once went straight into a label value (an 8 MB /metrics)."""
    huge = o.storage_location("default", bucket="b" * 1_000_000, prefix="é" * 600, region="us-east-1")
    parsed = parse_storage_location(huge)
    assert parsed.record is not None
    assert parsed.record.bucket == "b" * 1024
    assert parsed.record.prefix == "é" * 512  # 1,024 bytes of UTF-8, cut at a character
    assert parsed.record.region == "us-east-1"
    assert parsed.problems == (VALUE_TRUNCATED,)
    samples = render(load({"backupstoragelocations": [huge]}))
    (labels,) = series(samples, "velero_storage_location_info")
    assert dict(labels)["bucket"] == "b" * 1024
    assert (
        value(samples, "velero_exporter_invalid_objects", resource="backupstoragelocations", reason=VALUE_TRUNCATED)
        == 1
    )
    small = parse_storage_location(huge, SharedValues(max_value_bytes=8)).record  # limits.label_value_bytes
    assert small is not None and small.bucket == "b" * 8


def test_a_label_map_read_before_is_shared_and_a_bad_one_is_noted_every_time() -> None:
    """Label maps already read are found by their pairs as they came; only clean ones are kept, so a cut or
    mistyped label is noted on every object that carries it, not only the first."""
    shared = SharedValues(max_value_bytes=32)

    def with_labels(name: str, labels: dict[str, Any]) -> dict[str, Any]:
        obj = o.backup(name, schedule="hourly-hot")
        obj["metadata"]["labels"] = labels
        return obj

    clean = {"velero.io/schedule-name": "hourly-hot", "backup-tier": "hot"}
    first, second = (parse_backup(with_labels(n, dict(clean)), shared) for n in ("a", "b"))
    assert first.record is not None and second.record is not None
    assert first.record.labels is second.record.labels  # one shared set
    assert first.record.labels == (("backup-tier", "hot"), ("velero.io/schedule-name", "hourly-hot"))
    assert first.problems == second.problems == ()
    for bad in ({**clean, "note": "x" * 40}, {**clean, "count": 3}, {**clean, "list": ["x"]}):
        results = [parse_backup(with_labels(n, dict(bad)), shared) for n in ("c", "d")]
        assert [p.problems for p in results] == [results[0].problems] * 2 and results[0].problems != ()
        assert results[0].record is not None and results[1].record is not None
        assert results[0].record.labels == results[1].record.labels
