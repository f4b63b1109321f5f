"""Keeps the sandbox moving: a new hourly-hot backup goes InProgress, then Completed, again and again."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from . import objects
from .kube_api import FakeKubeAPI
from .story import TIER_LABEL, run_name

log = logging.getLogger("velero_exporter.sandbox")


async def simulate_hourly_runs(
    api: FakeKubeAPI,
    *,
    every: float = 60.0,
    duration: float = 20.0,
    clock: Callable[[], float] = time.time,
) -> None:
    """Forever: start a run of hourly-hot, finish it `duration` later, update the schedule's lastBackup."""
    while True:
        await asyncio.sleep(every - duration)
        start = clock()
        name = run_name("hourly-hot", start)
        api.create(
            objects.backup(
                name,
                phase="InProgress",
                schedule="hourly-hot",
                labels={TIER_LABEL: "hot"},
                started=start,
                ttl="168h0m0s",
                items_backed_up=0,
                items_total=412,
            )
        )
        schedule = api.get("schedules", "hourly-hot")
        if schedule is not None:
            schedule.setdefault("status", {})["lastBackup"] = objects.rfc3339(start)
            api.replace(schedule)
        await asyncio.sleep(duration)
        api.replace(
            objects.backup(
                name,
                phase="Completed",
                schedule="hourly-hot",
                labels={TIER_LABEL: "hot"},
                started=start,
                completed=clock(),
                expiration=start + 168 * 3600,
                ttl="168h0m0s",
                items_backed_up=412,
                items_total=412,
            )
        )
        log.info("simulated backup=%s phase=Completed", name)
