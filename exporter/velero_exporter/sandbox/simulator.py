"""Plays Velero's part in the sandbox, so that the demo keeps moving and stays consistent as time passes.

- Velero validates every storage location each minute: lastValidationTime moves (an unavailable one stays
  unavailable).
- A schedule whose cron is due gets a backup, InProgress then Completed, and its lastBackup moves to the run's
  time, as Velero's schedule controller does; so a long-running demo shows no missed run the story did not
  intend.
- For the watch path to be visible within a minute, the demo also runs hourly-hot every `demo_every` seconds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from velero_exporter.sandbox import objects
from velero_exporter.sandbox.kube_api import FakeKubeAPI
from velero_exporter.sandbox.story import run_name
from velero_exporter.sources.parsing import parse_go_duration, parse_timestamp
from velero_exporter.velero.cron import CronError, parse_cron

log = logging.getLogger("velero_exporter.sandbox")


class VeleroSimulator:
    def __init__(
        self,
        api: FakeKubeAPI,
        *,
        demo_every: float = 60.0,
        run_duration: float = 20.0,
        tick: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._api = api
        self._demo_every = demo_every
        self._run_duration = run_duration
        self._tick = tick
        self._clock = clock

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(self._validate_locations())
            group.create_task(self._run_due_schedules(group))
            group.create_task(self._demo_runs(group))

    async def _validate_locations(self) -> None:
        while True:
            for location in self._api.list("backupstoragelocations"):
                location.setdefault("status", {})["lastValidationTime"] = objects.rfc3339(self._clock())
                self._api.replace(location)
            await asyncio.sleep(min(60.0, self._tick * 6))

    async def _run_due_schedules(self, group: asyncio.TaskGroup) -> None:
        while True:
            now = self._clock()
            for schedule in self._api.list("schedules"):
                status = schedule.get("status", {})
                last = parse_timestamp(status.get("lastBackup")) or parse_timestamp(
                    schedule["metadata"].get("creationTimestamp")
                )
                if schedule["spec"].get("paused") or last is None:
                    continue
                try:
                    due = parse_cron(schedule["spec"]["schedule"]).next_after(last)
                except CronError:
                    continue
                # Velero stamps the run with the time it notices it is due and never catches up on runs it
                # missed: one run, now, whatever the gap.
                if due <= now:
                    group.create_task(self.backup_run(schedule, now))
            await asyncio.sleep(self._tick)

    async def _demo_runs(self, group: asyncio.TaskGroup) -> None:
        while True:
            await asyncio.sleep(self._demo_every)
            schedule = self._api.get("schedules", "hourly-hot")
            if schedule is not None:
                group.create_task(self.backup_run(schedule, self._clock()))

    async def backup_run(self, schedule: dict[str, Any], start: float) -> None:
        """One run of the schedule: InProgress now, Completed `run_duration` later."""
        name = schedule["metadata"]["name"]
        template = schedule["spec"].get("template", {})
        labels = dict(template.get("metadata", {}).get("labels", {}))
        ttl = template.get("ttl", "720h0m0s")
        backup_name = run_name(name, start)
        if self._api.get("backups", backup_name) is not None:
            return
        common: dict[str, Any] = {
            "schedule": name,
            "labels": labels,
            "started": start,
            "ttl": ttl,
            "storage_location": template.get("storageLocation", "default"),
        }
        self._api.create(objects.backup(backup_name, phase="InProgress", items_backed_up=0, **common))
        current = self._api.get("schedules", name)
        if current is not None:
            current.setdefault("status", {})["lastBackup"] = objects.rfc3339(start)
            self._api.replace(current)
        await asyncio.sleep(self._run_duration)
        completed = self._clock()
        self._api.replace(
            objects.backup(
                backup_name, completed=completed, expiration=completed + (parse_go_duration(ttl) or 0.0), **common
            )
        )
        log.info("simulated backup=%s phase=Completed", backup_name)
