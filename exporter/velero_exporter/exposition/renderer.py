"""Turns the store into a ready-to-serve payload whenever it changes (and periodically, for clock-bound values).

The model runs in a worker thread on an immutable snapshot, so a render of many objects never stalls the event
loop; bursts of changes are coalesced into one render.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from velero_exporter.config.settings import Config
from velero_exporter.exposition.payload import Exposition, Payload
from velero_exporter.exposition.status_page import render_status_page
from velero_exporter.metrics.collector import collect
from velero_exporter.metrics.family import Exported, ResourceStats
from velero_exporter.model.aws import AwsModel, build_aws_model
from velero_exporter.model.velero import Model, build_model
from velero_exporter.state.store import Health, Store, StoreView
from velero_exporter.velero.cron import Cron, CronError, parse_cron

log = logging.getLogger("velero_exporter.renderer")


@dataclass(slots=True, frozen=True)
class _Models:
    version: int  # the store's change count they were computed at
    valid_until: float
    model: Model
    aws: AwsModel


class Renderer:
    def __init__(
        self,
        store: Store,
        config: Config,
        exposition: Exposition,
        *,
        version: str,
        clock: Callable[[], float] = time.time,
        debounce: float = 0.05,
        refresh_interval: float = 15.0,
        health_poll: float = 1.0,
        telemetry_path: str = "/metrics",
    ) -> None:
        self._store = store
        self._config = config
        self._exposition = exposition
        self._version = version
        self._clock = clock
        self._debounce = debounce
        self._refresh_interval = refresh_interval
        self._health_poll = health_poll
        self._telemetry_path = telemetry_path
        self._crons: dict[str, Cron | CronError] = {}
        self._cached: _Models | None = None
        self.renders = 0

    def _cron(self, spec: str) -> Cron | CronError:
        # Schedules are few and their crons rarely change: parse each spec once.
        parsed = self._crons.get(spec)
        if parsed is None:
            try:
                parsed = parse_cron(spec, self._config.velero_timezone)
            except CronError as exc:
                parsed = exc
            self._crons[spec] = parsed
        return parsed

    def resource_stats(self) -> dict[str, ResourceStats]:
        return {
            name: ResourceStats(len(coll), dict(coll.problem_counts()))
            for name, coll in self._store.collections().items()
        }

    def models(self, view: StoreView, now: float) -> tuple[Model, AwsModel]:
        return build_model(view, self._config, now, self._cron), build_aws_model(view, self._config)

    def payload(
        self, model: Model, aws: AwsModel, health: Health, resources: Mapping[str, ResourceStats], now: float
    ) -> Payload:
        families = collect(Exported(model, aws, health, resources, self._version))
        page = render_status_page(model, aws, health, now, version=self._version, telemetry_path=self._telemetry_path)
        return Payload(families, now, page).prepare()

    def render(self, view: StoreView, health: Health, resources: Mapping[str, ResourceStats], now: float) -> Payload:
        return self.payload(*self.models(view, now), health, resources, now)

    async def render_now(self) -> Payload:
        """Snapshot on the loop (cheap copies), compute in a thread, publish on the loop.

        The models (a pass over every object) are computed again only when the store changed or the clock
        passed their validity; a change of the sources' health alone re-encodes the families, which costs the
        same whatever the number of backups.
        """
        now = self._clock()
        version = self._store.changed.version  # before the snapshot: a change after it means a new version
        cached = self._cached
        if cached is None or cached.version != version or now >= cached.valid_until:
            model, aws = await asyncio.to_thread(self.models, self._store.view(), now)
            cached = self._cached = _Models(version, model.valid_until, model, aws)
        health = copy.deepcopy(self._store.health)
        payload = await asyncio.to_thread(self.payload, cached.model, cached.aws, health, self.resource_stats(), now)
        self._exposition.publish(payload)
        self.renders += 1
        return payload

    async def run(self) -> None:
        changed = self._store.changed
        while True:
            await self.render_now()
            rendered_at = time.monotonic()
            seen_health = repr(self._store.health)
            while True:
                try:
                    await asyncio.wait_for(changed.wait(), timeout=self._health_poll)
                except TimeoutError:
                    # Sources update their health without touching objects; a fault must show promptly.
                    if repr(self._store.health) != seen_health:
                        break
                    if time.monotonic() - rendered_at >= self._refresh_interval:
                        break
                    continue
                # Coalesce a burst (a relist, a busy watch) into one render.
                await asyncio.sleep(self._debounce)
                break
