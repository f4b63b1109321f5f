"""Turns the store into a ready-to-serve payload whenever it changes (and periodically, for clock-bound values).

The model runs in a worker thread on an immutable snapshot, so a render of many objects never stalls the event
loop; bursts of changes are coalesced into one render.

A render that fails (an object no test foresaw, a bug) never stops the exporter: each stage falls back on its
last good result (the models, the status page) or the whole last payload stays served; the failure is counted
by stage (velero_exporter_render_errors_total), logged once per distinct error, and retried with backoff.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from velero_exporter.backoff import Backoff
from velero_exporter.config.settings import Config
from velero_exporter.exposition.payload import Exposition, Payload
from velero_exporter.exposition.status_page import render_status_page
from velero_exporter.metrics.catalog import SUBJECTS
from velero_exporter.metrics.collector import Families, collect
from velero_exporter.metrics.family import Exported, ResourceStats
from velero_exporter.metrics.large import LargeEncoder
from velero_exporter.model.aws import AwsModel, build_aws_model
from velero_exporter.model.coverage import NOT_SYNCED, CoverageMemo, CoverageModel, build_coverage
from velero_exporter.model.velero import Model, build_model, plausibility
from velero_exporter.model.volumes import VolumeModel, build_volume_model
from velero_exporter.state.collector_pause import collector_paused
from velero_exporter.state.coverage_sync import is_synced
from velero_exporter.state.store import Health, Store, StoreView
from velero_exporter.state.vocabulary import RenderStage
from velero_exporter.velero.cron import Cron, CronError, parse_cron

log = logging.getLogger("velero_exporter.renderer")

T = TypeVar("T")
# Distinct errors remembered for logging once; past this many the memory starts again.
SEEN_ERRORS_LIMIT = 256
STATUS_PAGE_UNAVAILABLE = (
    "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>velero-exporter status</title></head>"
    "<body><p>The status page could not be rendered; the metrics are served. See the exporter's log.</p></body></html>"
)


@dataclass(slots=True, frozen=True)
class Models:
    """What one pass over a store snapshot computes: the Velero, AWS and volume data models."""

    model: Model
    aws: AwsModel
    volumes: VolumeModel

    @property
    def valid_until(self) -> float:
        return min(self.model.valid_until, self.volumes.valid_until)


@dataclass(slots=True, frozen=True)
class _Cached:
    version: int  # the store's change count (but the coverage source's) they were computed at
    ready: bool  # the objects they were computed from are complete (the sources' first lists have ended)
    models: Models


@dataclass(slots=True, frozen=True)
class _Coverage:
    version: int  # the coverage source's change count
    synced: bool
    # The Velero objects it also reads, by identity (a collection's snapshot is the same object until it changes).
    velero_inputs: tuple[object, ...]
    valid_until: float
    model: CoverageModel


class Renderer:
    def __init__(
        self,
        store: Store,
        config: Config,
        exposition: Exposition,
        *,
        version: str,
        clock: Callable[[], float] = time.time,
        ready: Callable[[], bool] = lambda: True,
        debounce: float = 0.05,
        refresh_interval: float = 15.0,
        health_interval: float = 1.0,
        telemetry_path: str = "/metrics",
        retry_initial: float = 1.0,
        retry_max: float = 60.0,
        rng: random.Random | None = None,
    ) -> None:
        """`ready` says whether the store holds complete objects (the sources' first lists have ended); a
        payload rendered from them is marked ready, which /readyz answers. A change of the sources' health alone
        is rendered at most once per `health_interval`: a list of many pages counts a call per page, and encoding
        the families after each would compete with the list for the CPU."""
        self._store = store
        self._config = config
        self._exposition = exposition
        self._version = version
        self._clock = clock
        self._ready = ready
        self._debounce = debounce
        self._refresh_interval = refresh_interval
        self._health_interval = health_interval
        self._telemetry_path = telemetry_path
        self._crons: dict[str, Cron | CronError] = {}
        self._cached: _Cached | None = None
        self._status_page: str | None = None  # the last good one
        self._seen_errors: set[tuple[str, str]] = set()
        self._retry = Backoff(retry_initial, retry_max, rng or random.Random(), reset_after=4 * retry_max)
        self._coverage: _Coverage | None = None
        # Held across renders: results and encoded lines of unchanged namespaces and claims are reused.
        self._coverage_memo = CoverageMemo()
        self._large = LargeEncoder()
        # Every render on one thread: its large buffers (tens of megabytes at a large cluster's coverage) come
        # from one malloc arena instead of one per worker of the default executor, which kept each its own.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="render")

    async def _in_render_thread(self, fn: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    def _cron(self, spec: str) -> Cron | CronError:
        # Schedules are few and their crons rarely change: parse each spec once.
        parsed = self._crons.get(spec)
        if parsed is None:
            try:
                parsed = parse_cron(spec, self._config.velero_timezone, self._config.cron_library)
            except CronError as exc:
                parsed = exc
            self._crons[spec] = parsed
        return parsed

    def resource_stats(self) -> dict[str, ResourceStats]:
        return {
            name: ResourceStats(len(coll), dict(coll.problem_counts()))
            for name, coll in self._store.collections().items()
        }

    def models(self, view: StoreView, now: float) -> Models:
        model = build_model(view, self._config, now, self._cron)
        volumes = build_volume_model(view, model, plausibility(self._config, now))
        return Models(model, build_aws_model(view, self._config, now), volumes)

    def coverage(self, view: StoreView, now: float, synced: bool) -> CoverageModel:
        if not self._config.coverage.enabled:
            return NOT_SYNCED
        with collector_paused():  # a result per namespace and claim, none of them garbage
            return build_coverage(view, self._config, now, synced=synced, memo=self._coverage_memo)

    def exported(
        self, models: Models, health: Health, resources: Mapping[str, ResourceStats], coverage: CoverageModel
    ) -> Exported:
        return Exported(
            models.model, models.aws, health, resources, self._version, models.volumes, coverage, self._config.cluster
        )

    def families(self, exported: Exported) -> Families:
        return collect(exported)

    def status_page(self, models: Models, health: Health, now: float, coverage: CoverageModel = NOT_SYNCED) -> str:
        return render_status_page(
            models.model,
            models.aws,
            health,
            now,
            volumes=models.volumes,
            version=self._version,
            telemetry_path=self._telemetry_path,
            coverage=coverage,
            coverage_enabled=self._config.coverage.enabled,
        )

    def encode(self, families: Families, exported: Exported, page: str, now: float, ready: bool = False) -> Payload:
        """Every variant of the exposition; the coverage families (a line per namespace and claim) are encoded
        apart, item by item, reusing the lines of unchanged items (metrics/large.py)."""
        with collector_paused():  # sample lines per namespace and claim
            large = self._large.encode(exported, SUBJECTS)
        return Payload(families, now, page, large, ready=ready).prepare()

    def payload(
        self,
        models: Models,
        health: Health,
        resources: Mapping[str, ResourceStats],
        now: float,
        coverage: CoverageModel = NOT_SYNCED,
    ) -> Payload:
        exported = self.exported(models, health, resources, coverage)
        page = self.status_page(models, health, now, coverage)
        return self.encode(self.families(exported), exported, page, now)

    def render(self, view: StoreView, health: Health, resources: Mapping[str, ResourceStats], now: float) -> Payload:
        synced = is_synced(health, view.schedules.values(), view.resource_policies)
        return self.payload(self.models(view, now), health, resources, now, self.coverage(view, now, synced))

    async def render_now(self) -> bool:
        """Snapshot on the loop (cheap copies), compute in a thread, publish on the loop; False when a stage
        failed (what could be rendered is published all the same).

        The models (a pass over every object) are computed again only when the store changed or the clock
        passed their validity; a change of the sources' health alone re-encodes the families, which costs the
        same whatever the number of backups.

        The payload is ready when the models were computed from a view taken once the store was ready (in the
        same step of the event loop, so no list can complete between the two): its first scrape carries the
        listed objects. The health, snapshotted after, is as new or newer.
        """
        now = self._clock()
        store = self._store
        # Before the snapshot, in the same step: a change after it means a new version.
        version, coverage_version, ready = store.version_without_coverage, store.coverage_changed.version, self._ready()
        view = store.view()
        cached = self._cached
        ok = True
        if cached is None or cached.version != version or now >= cached.models.valid_until:
            computed = await self._stage("model", self.models, view, now)
            if computed is not None:
                cached = self._cached = _Cached(version, ready, computed)
            else:
                ok = False  # the last good models stay, with the current health (and this error counted)
        elif ready and not cached.ready:
            # The objects the models were computed from are those of now, which are complete.
            cached = self._cached = dataclasses.replace(cached, ready=True)
        if cached is None:
            return False
        coverage = self._coverage
        synced = is_synced(store.health, view.schedules.values(), view.resource_policies)
        velero_inputs = (view.schedules, view.storage_locations, view.snapshot_locations)
        if (
            coverage is None
            or (coverage.version, coverage.synced) != (coverage_version, synced)
            or any(a is not b for a, b in zip(coverage.velero_inputs, velero_inputs, strict=True))
            or now >= coverage.valid_until
        ):
            result = await self._stage("model", self.coverage, view, now, synced)
            if result is not None:
                coverage = self._coverage = _Coverage(
                    coverage_version, synced, velero_inputs, result.valid_until, result
                )
            else:
                ok = False  # as for the models: the last good coverage stays
        coverage_model = coverage.model if coverage is not None else NOT_SYNCED
        health = store.health.snapshot()
        exported = self.exported(cached.models, health, self.resource_stats(), coverage_model)
        families = await self._stage("metrics", self.families, exported)
        if families is None:
            return False  # the last payload stays served whole
        page = await self._stage("status_page", self.status_page, cached.models, health, now, coverage_model)
        if page is not None:
            self._status_page = page
        payload = await self._stage(
            "encoding", self.encode, families, exported, self._status_page or STATUS_PAGE_UNAVAILABLE, now, cached.ready
        )
        if payload is None:
            return False
        self._exposition.publish(payload)
        return ok and page is not None

    async def _stage(self, stage: RenderStage, compute: Callable[..., T], *args: object) -> T | None:
        """One stage of a render in the render thread; None when it raised (counted and logged)."""
        try:
            return await self._in_render_thread(compute, *args)
        except Exception as exc:
            self._store.health.render_failed(stage)
            key = (stage, repr(exc))
            if key not in self._seen_errors:
                if len(self._seen_errors) >= SEEN_ERRORS_LIMIT:
                    self._seen_errors.clear()
                self._seen_errors.add(key)
                log.error("event=render_failed stage=%s (the last good output is served)", stage, exc_info=exc)
            return None

    async def run(self) -> None:
        """Render whenever the objects or the sources' health change (both signal the store), and every
        refresh_interval for the values the clock moves (ages, expirations)."""
        store = self._store
        while True:
            # What the next render will snapshot (the objects, the coverage source's included, and the health).
            objects_version, health_version = store.changed.version, store.health_changed.version
            if not await self.render_now():
                # The same input is likely to fail again: try later, and later still if it does.
                await asyncio.sleep(self._retry.next())
                continue
            await self._next_change(time.monotonic(), objects_version, health_version)

    async def _next_change(self, rendered_at: float, objects_version: int, health_version: int) -> None:
        """Until what was rendered is out of date: the objects changed (after a short debounce, which coalesces a
        relist or a busy watch into one render; none for the first complete objects), the health changed and
        health_interval has passed since the render, or refresh_interval has. A change of objects never waits for
        the health's interval."""
        store = self._store
        while store.changed.version == objects_version:
            health_due = rendered_at + self._health_interval if store.health_changed.version != health_version else None
            wait = (health_due if health_due is not None else rendered_at + self._refresh_interval) - time.monotonic()
            if wait <= 0:
                return
            try:
                # Not asyncio.wait_for: on 3.11 it swallows a cancellation that meets a change (a reflector's
                # cancelled backoff signals its health), and the exporter would never stop.
                async with asyncio.timeout(wait):
                    await store.changed.wait()
            except TimeoutError:
                return
        if self._ready() and not self._exposition.ready:
            return  # the first complete objects: /readyz waits for this render, and nothing is left to coalesce
        await asyncio.sleep(self._debounce)
