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

from .aws_model import build_aws_model
from .collector import ResourceStats, collect_all
from .config import Config
from .cron import Cron, CronError, parse_cron
from .exposition import Exposition, Payload
from .model import build_model
from .status_page import render_status_page
from .store import Health, Store, StoreView

log = logging.getLogger("velero_exporter.renderer")


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

    def render(self, view: StoreView, health: Health, resources: Mapping[str, ResourceStats], now: float) -> Payload:
        model = build_model(view, self._config, now, self._cron)
        aws = build_aws_model(view, self._config)
        families = collect_all(model, aws, health, resources, self._version)
        page = render_status_page(model, aws, health, now, version=self._version, telemetry_path=self._telemetry_path)
        return Payload(families, now, page).prepare()

    async def render_now(self) -> Payload:
        """Snapshot on the loop (cheap copies), compute in a thread, publish on the loop."""
        view = self._store.view()
        health = copy.deepcopy(self._store.health)
        resources = self.resource_stats()
        payload = await asyncio.to_thread(self.render, view, health, resources, self._clock())
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
