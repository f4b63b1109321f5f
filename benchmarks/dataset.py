"""The benchmark's Velero objects: N backups of the seed's five schedules, as Velero leaves them.

Mostly Completed, some Failed and PartiallyFailed, a few InProgress (the newest run of a few schedules), spread
over the schedules by how often each runs in practice (the hourly and half-hourly ones make most of them).
Deterministic for a given N and `now`, so that runs compare.
"""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

from velero_exporter.sandbox import objects
from velero_exporter.sandbox.objects import run_name
from velero_exporter.sandbox.plan import SCHEDULES, TIER_LABEL

Obj = dict[str, Any]
HOUR = 3600.0
DAY = 86400.0
# A long TTL: 100k backups only pile up where retention is long; nothing here is past its expiration.
TTL = "87600h0m0s"
TTL_SECONDS = 87600 * HOUR
# Share of the backups per schedule, and each schedule's step between runs.
SHARES: dict[str, float] = {
    "hourly-hot": 0.40,
    "config-backup": 0.40,
    "daily-critical": 0.12,
    "weekly-full": 0.05,
    "monthly-dr": 0.03,
}
STEPS: dict[str, float] = {
    "hourly-hot": HOUR,
    "config-backup": HOUR / 2,
    "daily-critical": DAY,
    "weekly-full": 7 * DAY,
    "monthly-dr": 28 * DAY,
}
FAILED_SHARE = 0.02
PARTIAL_SHARE = 0.01
IN_PROGRESS = 3  # the newest run of the first three schedules is still going


def counts(n: int) -> dict[str, int]:
    """How many of the n backups each schedule has (they add up to n)."""
    names = list(SHARES)
    out = {name: int(n * SHARES[name]) for name in names}
    out[names[0]] += n - sum(out.values())
    return out


def backups(n: int, now: float, seed: int = 1) -> list[Obj]:
    rng = random.Random(seed)
    out: list[Obj] = []
    for index, (schedule, tier, _cron, _ttl, _namespaces) in enumerate(SCHEDULES):
        step = STEPS[schedule]
        newest = now - (now % step)
        for i in range(counts(n)[schedule]):
            start = newest - i * step
            running = i == 0 and index < IN_PROGRESS
            roll = rng.random()
            # Every schedule has a failure from the smallest size on, so that the series do not vary with N.
            phase = (
                "InProgress"
                if running
                else "Failed"
                if roll < FAILED_SHARE or i == 1
                else "PartiallyFailed"
                if roll < FAILED_SHARE + PARTIAL_SHARE
                else "Completed"
            )
            items = 400 + rng.randrange(3000)
            done = phase != "InProgress"
            out.append(
                objects.backup(
                    run_name(schedule, start),
                    phase=phase,
                    schedule=schedule,
                    labels={TIER_LABEL: tier},
                    started=start,
                    completed=start + 60 + rng.randrange(600) if done else None,
                    expiration=start + TTL_SECONDS,
                    ttl=TTL,
                    items_backed_up=items if phase == "Completed" else items // 2,
                    items_total=items,
                    errors=rng.randrange(1, 5) if phase in ("Failed", "PartiallyFailed") else None,
                    warnings=rng.randrange(0, 20) if done else None,
                    volume_snapshots_attempted=4 if done else None,
                    volume_snapshots_completed=(4 if phase == "Completed" else 2) if done else None,
                )
            )
    return out


def others(now: float) -> list[Obj]:
    """The five schedules, the two storage locations and the two snapshot locations of the seed."""
    out: list[Obj] = []
    for schedule, tier, cron, _ttl, namespaces in SCHEDULES:
        step = STEPS[schedule]
        out.append(
            objects.schedule(
                schedule,
                cron=cron,
                tier_label=(TIER_LABEL, tier),
                created=now - 5 * 365 * DAY,
                last_backup=now - (now % step),
                ttl=TTL,
                included_namespaces=namespaces,
            )
        )
    out.append(
        objects.storage_location(
            "default", bucket="bench-primary", region="us-east-1", default=True, last_validated=now - 30
        )
    )
    out.append(
        objects.storage_location(
            "dr", bucket="bench-dr", region="us-west-2", access_mode="ReadOnly", last_validated=now
        )
    )
    out.append(objects.snapshot_location("default", region="us-east-1"))
    out.append(objects.snapshot_location("dr", region="us-west-2"))
    return out


def phase_counts(items: list[Obj]) -> dict[tuple[str, str], int]:
    """(tier, phase) -> number of backups: the truth that velero_tier_backups must show."""
    tiers = {schedule: tier for schedule, tier, *_ in SCHEDULES}
    out: dict[tuple[str, str], int] = {}
    for obj in items:
        schedule = obj["metadata"]["labels"]["velero.io/schedule-name"]
        key = (tiers[schedule], obj["status"]["phase"])
        out[key] = out.get(key, 0) + 1
    return out


OPERATION_KINDS = ("PodVolumeBackup", "DataUpload")


def volume_operations(backups: list[Obj], n: int, seed: int = 2) -> list[Obj]:
    """n finished PodVolumeBackups and n finished DataUploads, dealt out over the finished backups in turn (as a
    cluster where every backup saves its volumes both ways would hold them); 1 % Failed, 1 % Canceled."""
    rng = random.Random(seed)
    finished = [b for b in backups if b["status"]["phase"] != "InProgress"]
    out: list[Obj] = []
    for i in range(n):
        backup = finished[i % len(finished)]
        name, started = backup["metadata"]["name"], backup["status"]["startTimestamp"]
        start = datetime.fromisoformat(started).timestamp()
        roll = rng.random()
        phase = "Failed" if roll < 0.01 else "Canceled" if roll < 0.02 else "Completed"
        size = 1 << rng.randrange(20, 34)
        done = size if phase == "Completed" else size // 2
        progress = objects.Progress(phase, started=start + 5, completed=start + 50, bytes_done=done, total_bytes=size)
        out.append(
            objects.pod_volume_backup(
                f"{name}-v{i}", backup=name, pod=f"app-{i % 50}", pod_namespace="app", volume="data", progress=progress
            )
        )
        # A DataUpload's phase Canceled is Velero's; a PodVolumeBackup's only from 1.17: both kinds carry it here.
        out.append(
            objects.data_upload(
                f"{name}-d{i}", backup=name, pvc=f"data-{i % 50}", pvc_namespace="app", progress=progress
            )
        )
    return out


def operation_counts(items: list[Obj]) -> dict[tuple[str, str], int]:
    """(kind, phase) -> number of operations: the truth that velero_volume_operations must show."""
    out: dict[tuple[str, str], int] = {}
    for obj in items:
        key = (obj["kind"], obj["status"]["phase"])
        out[key] = out.get(key, 0) + 1
    return out
