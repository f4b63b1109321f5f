"""Plays Velero's part in the sandbox, so that the demo keeps moving and stays consistent as time passes.

- Velero validates every storage location at its validation frequency (each minute by default; once only when
  it is 0): lastValidationTime moves (an unavailable one stays unavailable).
- A schedule whose cron is due gets a backup, InProgress then Completed, and its lastBackup moves to the run's
  time, as Velero's schedule controller does (skipImmediately and a backup still New or InProgress included);
  so a long-running demo shows no missed run the story did not intend. Its volumes go with it: the
  PodVolumeBackups or DataUploads its schedule makes (sandbox/volume_story.py) move half their bytes, then
  complete.
- For the watch path to be visible within a minute, the demo also runs hourly-hot every `demo_every` seconds.
- BackupSync brings the primary's backups to a DR cluster, as a copy to the DR bucket and Velero's sync controller
  would (the demo's DR cluster has stopped syncing; the tests start and stop it).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from velero_exporter.config.settings import Config
from velero_exporter.model.velero import next_run_base, validation_frequency
from velero_exporter.sandbox import objects
from velero_exporter.sandbox.dr_cluster import synced, tier_of
from velero_exporter.sandbox.kube_api import FakeKubeAPI
from velero_exporter.sandbox.objects import run_name
from velero_exporter.sandbox.plan import TIER_LABEL
from velero_exporter.sandbox.volume_story import operations
from velero_exporter.sandbox.world import UPLOADED_PHASES
from velero_exporter.sources.parsing import parse_schedule, parse_storage_location
from velero_exporter.state.vocabulary import SCHEDULE_BLOCKING_PHASES, SCHEDULE_NAME_LABEL
from velero_exporter.velero.cron import CronError, parse_cron
from velero_exporter.velero.duration import go_duration_seconds

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
            now = self._clock()
            for location in self._api.list("backupstoragelocations"):
                if self.is_ready_to_validate(location, now):
                    location.setdefault("status", {})["lastValidationTime"] = objects.rfc3339(now)
                    self._api.replace(location)
            await asyncio.sleep(min(10.0, self._tick))

    @staticmethod
    def is_ready_to_validate(location: dict[str, Any], now: float) -> bool:
        """As Velero decides (IsReadyToValidate in internal/storage/storagelocation.go): once in any case, then
        every validation frequency (the location's own, else the server's default of a minute); never again
        when it is 0."""
        record = parse_storage_location(location).record
        if record is None:
            return False
        if record.last_validated is None:
            return True
        frequency = validation_frequency(record, Config())
        return frequency > 0 and now >= record.last_validated + frequency

    async def _run_due_schedules(self, group: asyncio.TaskGroup) -> None:
        while True:
            now = self._clock()
            for schedule in self._api.list("schedules"):
                if schedule["spec"].get("paused"):
                    continue
                if schedule["spec"].get("skipImmediately"):
                    # Velero skips the run due at once on creation or unpause, and records it.
                    schedule["spec"]["skipImmediately"] = False
                    schedule.setdefault("status", {})["lastSkipped"] = objects.rfc3339(now)
                    self._api.replace(schedule)
                if self.is_due(schedule, now):
                    group.create_task(self.backup_run(schedule, now))
            await asyncio.sleep(self._tick)

    def is_due(self, schedule: dict[str, Any], now: float) -> bool:
        """As Velero's schedule controller decides (pkg/controller/schedule_controller.go): the cron's next time
        after the last backup or skip has passed, and no backup of the schedule is New or InProgress (a run due
        meanwhile waits; Velero never catches up on runs it missed: one run, now, whatever the gap)."""
        record = parse_schedule(schedule).record
        base = next_run_base(record) if record is not None else None
        if record is None or base is None:
            return False
        try:
            due = parse_cron(record.cron).next_after(base)
        except CronError:
            return False
        if due > now:
            return False
        backups = self._api.list("backups")
        return not any(
            b["metadata"].get("labels", {}).get(SCHEDULE_NAME_LABEL) == record.name
            and (b.get("status", {}).get("phase") or "New") in SCHEDULE_BLOCKING_PHASES
            for b in backups
        )

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
        record = parse_schedule(schedule).record
        labels = dict(record.backup_labels) if record is not None else {}
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
        for operation in operations(backup_name, name, start, None):
            self._api.create(operation)
        current = self._api.get("schedules", name)
        if current is not None:
            current.setdefault("status", {})["lastBackup"] = objects.rfc3339(start)
            self._api.replace(current)
        await asyncio.sleep(self._run_duration)
        completed = self._clock()
        for operation in operations(backup_name, name, start, completed):
            self._api.replace(operation)
        self._api.replace(
            objects.backup(
                backup_name, completed=completed, expiration=completed + (go_duration_seconds(ttl) or 0.0), **common
            )
        )
        log.info("simulated backup=%s phase=Completed", backup_name)


class BackupSync:
    """The way of the primary's backups to the DR cluster: their copy into the DR bucket (the schedule's location,
    S3 replication or a script) and Velero's sync controller in the DR cluster, which creates a Backup for each
    backup it finds there (every minute by default; here every `period` seconds).

    Per tier: `stop(tier)` plays a copy that stopped (a replication rule removed, a script failing), `start(tier)`
    its repair, after which the DR cluster catches up with everything of the tier the primary holds.
    """

    def __init__(
        self,
        primary: FakeKubeAPI,
        dr: FakeKubeAPI,
        tiers: Iterable[str],
        *,
        period: float = 5.0,
        tier_label: str = TIER_LABEL,
        location: str = "dr",
    ) -> None:
        self._primary = primary
        self._dr = dr
        self._tiers = set(tiers)
        self._period = period
        self._tier_label = tier_label
        self._location = location  # the DR cluster's location on the DR bucket

    def start(self, tier: str) -> None:
        self._tiers.add(tier)

    def stop(self, tier: str) -> None:
        self._tiers.discard(tier)

    def sync_once(self) -> int:
        """Copies what the DR cluster lacks of the syncing tiers; returns how many backups it created."""
        created = 0
        for backup in self._primary.list("backups"):
            if (
                tier_of(backup, self._tier_label) in self._tiers
                and backup.get("status", {}).get("phase") in UPLOADED_PHASES
                and self._dr.get("backups", backup["metadata"]["name"]) is None
            ):
                self._dr.create(synced(backup, self._location))
                created += 1
        return created

    async def run(self) -> None:
        while True:
            created = self.sync_once()
            if created:
                log.info("synced backups=%d into the DR cluster", created)
            await asyncio.sleep(self._period)
