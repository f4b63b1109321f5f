"""The renderer: models computed again only when the store changes or the clock passes their validity."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import NoReturn

import pytest

from tests.metrics_text import Samples, parse_samples, value
from tests.test_metric_values import NOW, fixture_objects, load
from tests.test_status_page import parse_tables
from velero_exporter.config.settings import Config
from velero_exporter.exposition.payload import TEXT, Exposition
from velero_exporter.exposition.renderer import Models, Renderer
from velero_exporter.exposition.status_page import VIOLATED
from velero_exporter.model.velero import IMPLAUSIBLE_TIMESTAMP
from velero_exporter.sandbox import objects as o
from velero_exporter.sources.kube.source import RecordSink
from velero_exporter.sources.parsing import parse_backup, parse_schedule
from velero_exporter.state.store import StoreView

H = 3600.0
D = 86400.0
GRACE = Config().gc_grace_seconds


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def count_model_computations(renderer: Renderer) -> list[float]:
    """The `now` of each computation of the models, from here on."""
    calls: list[float] = []
    models = renderer.models

    def counting(view: StoreView, now: float) -> Models:
        calls.append(now)
        return models(view, now)

    renderer.models = counting  # type: ignore[method-assign]
    return calls


async def test_models_are_reused_until_the_store_changes_or_an_expiration_passes() -> None:
    expires = NOW + H
    store = load({"backups": [o.backup("b1", started=NOW - H, completed=NOW - H + 60, expiration=expires)]})
    clock = Clock(NOW)
    exposition = Exposition()
    renderer = Renderer(store, Config(), exposition, version="t", clock=clock)
    calls = count_model_computations(renderer)

    def past_expiration() -> float | None:
        assert exposition.current is not None
        samples = parse_samples(exposition.current.body(TEXT, False).decode())
        return value(samples, "velero_tier_backups_past_expiration", tier="unassigned")

    await renderer.render_now()
    clock.t = NOW + 60
    store.health.source("kube").set_up(True)  # health alone: the families are encoded again, the models kept
    await renderer.render_now()
    assert calls == [NOW]
    assert past_expiration() == 0
    assert 'velero_exporter_source_up{source="kube"} 1.0' in exposition.current.body(TEXT, False).decode()  # type: ignore[union-attr]

    clock.t = expires + GRACE + 1  # the backup is now past its expiration and grace: the clock changed the model
    await renderer.render_now()
    assert calls == [NOW, expires + GRACE + 1]
    assert past_expiration() == 1

    store.backups.remove("b1")  # the store changed
    await renderer.render_now()
    assert len(calls) == 3
    assert past_expiration() == 0


def samples_of(exposition: Exposition) -> Samples:
    assert exposition.current is not None
    return parse_samples(exposition.current.body(TEXT, False).decode())


async def test_a_change_of_health_alone_is_rendered_at_once_and_keeps_the_models() -> None:
    """Sources signal their health: no poll, no clock tick (an hour away here) is needed to show it."""
    store = load(fixture_objects())
    exposition = Exposition()
    renderer = Renderer(store, Config(), exposition, version="t", refresh_interval=H, health_interval=0.05)
    calls = count_model_computations(renderer)
    task = asyncio.create_task(renderer.run())
    try:
        deadline = time.monotonic() + 20
        while exposition.current is None and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert value(samples_of(exposition), "velero_exporter_source_up", source="buckets") is None
        store.health.source("buckets").set_up(True, NOW)
        while time.monotonic() < deadline:
            if value(samples_of(exposition), "velero_exporter_source_up", source="buckets") == 1:
                break
            await asyncio.sleep(0.01)
        samples = samples_of(exposition)
        assert value(samples, "velero_exporter_source_up", source="buckets") == 1
        assert value(samples, "velero_exporter_source_last_success_timestamp_seconds", source="buckets") == NOW
        assert len(calls) == 1
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_change_of_objects_does_not_wait_for_the_interval_of_a_pending_health_change() -> None:
    """Health alone is rendered at most once per health_interval (a list counts a call per page); an object that
    changes meanwhile (the watch's event) is rendered at once all the same."""
    store = load(fixture_objects())
    exposition = Exposition()
    renderer = Renderer(store, Config(), exposition, version="t", refresh_interval=H, health_interval=H)
    task = asyncio.create_task(renderer.run())
    try:
        deadline = time.monotonic() + 20
        while exposition.current is None and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        held = len(store.backups)
        store.health.source("buckets").count_call("ListObjectsV2")  # health alone: its render waits an hour
        await asyncio.sleep(0.2)
        store.backups.remove("hourly-hot-1")
        while time.monotonic() < deadline:
            if value(samples_of(exposition), "velero_exporter_resource_objects", resource="backups") == held - 1:
                break
            await asyncio.sleep(0.01)
        samples = samples_of(exposition)
        assert value(samples, "velero_exporter_resource_objects", resource="backups") == held - 1
        # the health changed before was rendered with it
        assert value(samples, "velero_exporter_api_calls_total", source="buckets", operation="ListObjectsV2") == 1
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_the_render_loop_stops_when_cancelled_as_the_store_changes() -> None:
    """Stopping the exporter cancels the sources and the renderer at once, and a cancelled reflector's backoff
    signals its health: a cancellation that meets a change must still end the loop (asyncio.wait_for on 3.11
    returned the change instead, and the exporter hung on stop)."""
    store = load(fixture_objects())
    exposition = Exposition()
    renderer = Renderer(store, Config(), exposition, version="t", refresh_interval=H, health_interval=H)
    task = asyncio.create_task(renderer.run())
    deadline = time.monotonic() + 20
    while exposition.current is None and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)  # waiting for the next change
    store.health.resource("backups").waiting(0.0)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=10)
    assert done == {task} and task.cancelled()


async def test_a_payload_is_ready_only_when_its_models_come_from_a_view_taken_once_the_lists_ended() -> None:
    """The lists completing while the models of an older view are computed (on a busy machine, a render takes a
    while) must not make that render's payload ready: it does not hold them."""
    store = load({})
    lists_ended = False
    exposition = Exposition()
    renderer = Renderer(store, Config(), exposition, version="t", clock=Clock(NOW), ready=lambda: lists_ended)
    models = renderer.models
    computing, go_on = threading.Event(), threading.Event()
    seen: list[int] = []

    def slow(view: StoreView, now: float) -> Models:
        seen.append(len(view.backups))
        computing.set()
        go_on.wait(20)
        return models(view, now)

    renderer.models = slow  # type: ignore[method-assign]
    go_on.set()
    assert await renderer.render_now() is True  # the empty store, before the lists
    computing.clear()
    go_on.clear()
    # The schedules' list ends first: a change, so the next render computes the models of a new view.
    RecordSink(store.schedules, parse_schedule).replace([o.schedule("hourly", cron="0 * * * *", created=NOW - H)])
    render = asyncio.create_task(renderer.render_now())
    assert await asyncio.to_thread(computing.wait, 20)
    # Meanwhile, on the event loop: the backups' list ends.
    RecordSink(store.backups, parse_backup).replace([o.backup("b1", started=NOW - H, completed=NOW - H + 60)])
    lists_ended = True
    go_on.set()
    assert await render is True
    assert not exposition.ready  # rendered from the view taken before the list ended
    assert await renderer.render_now() is True
    assert exposition.ready
    assert value(samples_of(exposition), "velero_exporter_resource_objects", resource="backups") == 1
    assert seen == [0, 0, 1]


async def test_readiness_without_a_change_of_objects_keeps_the_models() -> None:
    """A resource the API forbids ends its first list without objects: the store is ready, nothing to compute."""
    store = load(fixture_objects())
    complete = False
    exposition = Exposition()
    renderer = Renderer(store, Config(), exposition, version="t", clock=Clock(NOW), ready=lambda: complete)
    calls = count_model_computations(renderer)
    await renderer.render_now()
    assert not exposition.ready
    complete = True
    await renderer.render_now()
    assert exposition.ready
    assert len(calls) == 1


# --- hostile objects: what no Velero writes never stops the exporter, and never fakes freshness -------------


def rendered(renderer: Renderer) -> tuple[Samples, dict[str, list[list[str]]]]:
    payload = renderer._exposition.current
    assert payload is not None
    return parse_samples(payload.body(TEXT, False).decode()), parse_tables(payload.status_page)


async def test_year_0_validation_time_regression() -> None:
    """A location validated at 0001-01-01T00:00:00+14:00 (valid RFC 3339, year 0 in UTC) once made the status
    page raise and the process exit, on every restart while the object existed."""
    location = o.storage_location("default", bucket="primary", last_validated=NOW - 30)
    location["status"]["lastValidationTime"] = "0001-01-01T00:00:00+14:00"
    renderer = Renderer(load({"backupstoragelocations": [location]}), Config(), Exposition(), version="t")
    assert await renderer.render_now() is True
    samples, tables = rendered(renderer)
    # the location is still reported, its impossible validation time is unknown (absent), and it is counted
    assert value(samples, "velero_storage_location_available", location="default") == 1
    assert value(samples, "velero_storage_location_last_validation_timestamp_seconds", location="default") is None
    reason = IMPLAUSIBLE_TIMESTAMP
    assert value(samples, "velero_exporter_invalid_objects", resource="backupstoragelocations", reason=reason) == 1
    assert value(samples, "velero_exporter_render_errors_total", stage="status_page") == 0
    assert tables["Storage locations"] == [["default", "primary", "us-east-1", "Available", "—"]]


async def test_completed_backup_from_2099_regression() -> None:
    """A Completed backup of a tier that says it started in 2099 once turned the tier from "RPO violated" to
    "ok": the Backup CRD has no status subresource, so whoever may create a Backup could silence RPOViolation."""
    forged = datetime(2099, 1, 1, tzinfo=UTC).timestamp()
    backups = [
        o.backup("hourly-hot-old", schedule="hourly-hot", started=NOW - 5 * H, completed=NOW - 5 * H + 60),
        o.backup("forged", labels={"backup-tier": "hot"}, started=forged, completed=forged + 60),
    ]
    renderer = Renderer(load({"backups": backups}), Config(), Exposition(), version="t", clock=Clock(NOW))
    await renderer.render_now()
    samples, tables = rendered(renderer)
    assert value(samples, "velero_tier_recovery_point_timestamp_seconds", tier="hot") == NOW - 5 * H
    assert {row[0]: row[3] for row in tables["Tiers"]}["hot"] == VIOLATED
    assert value(samples, "velero_exporter_invalid_objects", resource="backups", reason=IMPLAUSIBLE_TIMESTAMP) == 1
    # it exists (counted by phase), it is just not a run the exporter believes
    assert value(samples, "velero_tier_backups", tier="hot", phase="Completed") == 2


async def test_a_future_timestamp_is_believed_once_within_the_clock_skew_allowance() -> None:
    skew = Config().clock_skew_seconds
    backups = [
        o.backup("slightly-ahead", schedule="hourly-hot", started=NOW + skew / 2, completed=NOW + skew / 2 + 60),
        o.backup("far-ahead", schedule="config-backup", started=NOW + 3 * skew, completed=NOW + 3 * skew + 60),
    ]
    clock = Clock(NOW)
    renderer = Renderer(load({"backups": backups}), Config(), Exposition(), version="t", clock=clock)
    await renderer.render_now()
    samples, _ = rendered(renderer)
    assert value(samples, "velero_tier_recovery_point_timestamp_seconds", tier="hot") == NOW + skew / 2
    assert value(samples, "velero_tier_recovery_point_timestamp_seconds", tier="config") is None
    assert value(samples, "velero_exporter_invalid_objects", resource="backups", reason=IMPLAUSIBLE_TIMESTAMP) == 1
    clock.t = NOW + 2 * skew + 60  # the exporter's clock catches up (or Velero's is fixed): no object changed
    await renderer.render_now()
    samples, _ = rendered(renderer)
    assert value(samples, "velero_tier_recovery_point_timestamp_seconds", tier="config") == NOW + 3 * skew
    assert value(samples, "velero_exporter_invalid_objects", resource="backups", reason=IMPLAUSIBLE_TIMESTAMP) == 0


async def test_implausible_schedule_and_restore_times_are_unknown_and_counted() -> None:
    schedule = o.schedule("hourly-hot", cron="0 * * * *", created=NOW - D, last_backup=NOW - H)
    schedule["status"]["lastBackup"] = "9999-12-31T23:00:00-05:00"  # year 10000 in UTC
    restore = o.restore("drill", backup_name="b", started=NOW - H, completed=NOW + D)
    renderer = Renderer(load({"schedules": [schedule], "restores": [restore]}), Config(), Exposition(), version="t")
    renderer._clock = Clock(NOW)
    await renderer.render_now()
    samples, _ = rendered(renderer)
    # without its last backup the next run counts from the schedule's creation, as Velero would
    assert value(samples, "velero_schedule_next_run_timestamp_seconds", schedule="hourly-hot") == NOW - 30 - D + H
    assert value(samples, "velero_restores", tier="unassigned", phase="Completed") == 1
    assert value(samples, "velero_tier_last_restore_success_timestamp_seconds", tier="unassigned") is None
    for resource in ("schedules", "restores"):
        assert value(samples, "velero_exporter_invalid_objects", resource=resource, reason=IMPLAUSIBLE_TIMESTAMP) == 1


async def test_a_failing_stage_keeps_the_last_good_output_and_is_counted_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = load(fixture_objects())
    renderer = Renderer(store, Config(), Exposition(), version="t", clock=Clock(NOW))
    assert await renderer.render_now() is True
    good_page = renderer._exposition.current.status_page  # type: ignore[union-attr]

    def broken(*args: object) -> NoReturn:
        raise ValueError("year 0 is out of range")

    renderer.status_page = broken  # type: ignore[method-assign,assignment]
    for _ in range(3):
        assert await renderer.render_now() is False
    samples, _ = rendered(renderer)
    assert value(samples, "velero_exporter_render_errors_total", stage="status_page") == 2  # the third's is unseen
    assert renderer._exposition.current.status_page == good_page  # type: ignore[union-attr]
    failures = [r for r in caplog.records if "render_failed" in r.getMessage()]
    assert len(failures) == 1 and "stage=status_page" in failures[0].getMessage()

    renderer.models = lambda view, now: broken()  # type: ignore[method-assign]
    store.backups.remove("hourly-hot-1")  # a change: the models must be computed again, and that fails
    assert await renderer.render_now() is False
    samples, _ = rendered(renderer)
    assert value(samples, "velero_exporter_render_errors_total", stage="model") == 1
    # the last good models are served (hourly-hot-1 still counted), with the current health
    assert value(samples, "velero_schedule_last_success_timestamp_seconds", schedule="hourly-hot") is not None

    renderer.families = lambda *args: broken()  # type: ignore[method-assign]
    before = renderer._exposition.current
    assert await renderer.render_now() is False
    assert renderer._exposition.current is before  # nothing new could be encoded: the whole last payload stays


class _JitterAtCap(random.Random):
    """Full jitter drawn at its ceiling, so that the waits are known: 0.05, 0.1, 0.2, 0.2, ..."""

    def uniform(self, a: float, b: float) -> float:
        return b


async def test_the_render_loop_survives_failures_and_retries_with_backoff() -> None:
    store = load(fixture_objects())
    renderer = Renderer(
        store, Config(), Exposition(), version="t", retry_initial=0.05, retry_max=0.2, rng=_JitterAtCap()
    )
    attempts: list[float] = []

    def broken(view: object, now: float) -> object:
        attempts.append(time.monotonic())
        raise RuntimeError("bug")

    renderer.models = broken  # type: ignore[method-assign,assignment]
    task = asyncio.create_task(renderer.run())
    try:
        deadline = time.monotonic() + 20
        while len(attempts) < 6 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert not task.done()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert len(attempts) >= 6
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    # Lower bounds only, which a loaded machine cannot break: never a hot loop, and the wait grows to its cap.
    assert min(gaps) >= 0.05 and max(gaps) >= 0.2
    assert store.health.render_errors["model"] == len(attempts)


async def test_the_first_complete_objects_skip_the_debounce_and_later_changes_do_not() -> None:
    """/readyz waits for the render of the first complete lists: nothing is left to coalesce, so no debounce."""
    store = load(fixture_objects())
    complete = False
    exposition = Exposition()
    renderer = Renderer(store, Config(), exposition, version="t", ready=lambda: complete, debounce=60.0)
    task = asyncio.create_task(renderer.run())

    async def until(condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + 20
        while not condition():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            await asyncio.sleep(0.01)

    try:
        await until(lambda: exposition.current is not None, "the first render")
        assert not exposition.ready
        complete = True
        store.backups.remove("hourly-hot-1")  # the last list's commit
        await until(lambda: exposition.ready, "the ready render, well before the 60 s debounce")
        served = exposition.current
        store.backups.remove("hourly-hot-2")  # an event once ready: debounced
        await asyncio.sleep(0.3)
        assert exposition.current is served
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
