"""The sandbox's Velero stand-in: due schedules run, locations are revalidated, demo runs keep coming, and a DR
cluster holds and syncs the primary's backups as Velero's sync controller does."""

from __future__ import annotations

import asyncio
import contextlib
import time

from velero_exporter.sandbox import dr_story, plan
from velero_exporter.sandbox import objects as o
from velero_exporter.sandbox.dr_cluster import tier_of
from velero_exporter.sandbox.dr_story import DRILL_DURATIONS, LOCATION, SYNC_STOPPED
from velero_exporter.sandbox.kube_api import FakeKubeAPI
from velero_exporter.sandbox.simulator import BackupSync, VeleroSimulator
from velero_exporter.sandbox.story import DEMO
from velero_exporter.sources.parsing import parse_timestamp


async def test_a_due_schedule_runs_and_completes_and_locations_are_revalidated() -> None:
    api = FakeKubeAPI()
    now = time.time()
    # due: its last backup is more than half an hour old
    api.create(
        o.schedule(
            "config-backup",
            cron="*/30 * * * *",
            tier_label=("backup-tier", "config"),
            last_backup=now - 3600,
            created=now - 86400,
            ttl="72h0m0s",
        )
    )
    # not due: paused
    api.create(o.schedule("paused", cron="* * * * *", paused=True, last_backup=now - 3600, created=now - 86400))
    api.create(o.storage_location("default", bucket="b", last_validated=now - 3600))
    simulator = VeleroSimulator(api, demo_every=3600, run_duration=0.2, tick=0.05)
    task = asyncio.create_task(simulator.run())
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            done = [b for b in api.list("backups") if b.get("status", {}).get("phase") == "Completed"]
            if done:
                break
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    backups = api.list("backups")
    assert len(backups) == 1
    backup = backups[0]
    assert backup["metadata"]["labels"] == {
        "backup-tier": "config",
        "velero.io/schedule-name": "config-backup",
        "velero.io/storage-location": "default",
    }
    assert backup["status"]["phase"] == "Completed"
    assert backup["spec"]["ttl"] == "72h0m0s"
    started = parse_timestamp(backup["status"]["startTimestamp"])
    schedule = api.get("schedules", "config-backup")
    assert schedule is not None
    assert parse_timestamp(schedule["status"]["lastBackup"]) == started
    # Velero stamps the run with when it noticed it was due, and runs it once however late
    assert started is not None and now - 1 <= started <= time.time()
    location = api.get("backupstoragelocations", "default")
    assert location is not None
    validated = parse_timestamp(location["status"]["lastValidationTime"])
    assert validated is not None and validated >= now - 1


def test_the_simulator_decides_due_runs_as_velero_does() -> None:
    api = FakeKubeAPI()
    now = time.time()
    simulator = VeleroSimulator(api)
    hourly = o.schedule("hourly", cron="0 * * * *", last_backup=now - 7200, created=now - 86400)
    api.create(hourly)
    assert simulator.is_due(hourly, now)
    # a backup of it still InProgress defers the run; a Queued or Finalizing one does not
    api.create(o.backup("hourly-1", schedule="hourly", phase="Finalizing", started=now - 60))
    assert simulator.is_due(hourly, now)
    api.create(o.backup("hourly-2", schedule="hourly", phase="InProgress", started=now - 60))
    assert not simulator.is_due(hourly, now)
    # a skip later than the last backup moves the next run
    skipped = o.schedule("skipped", cron="0 * * * *", last_backup=now - 7200, last_skipped=now - 1, created=now - 9e4)
    assert not simulator.is_due(skipped, now)


async def test_skip_immediately_is_consumed_and_recorded() -> None:
    api = FakeKubeAPI()
    now = time.time()
    api.create(
        o.schedule("daily", cron="0 2 * * *", last_backup=now - 5 * 86400, created=now - 9e5, skip_immediately=True)
    )
    simulator = VeleroSimulator(api, demo_every=3600, tick=0.05)
    task = asyncio.create_task(simulator.run())
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            schedule = api.get("schedules", "daily")
            if schedule is not None and "lastSkipped" in schedule["status"]:
                break
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert schedule is not None
    assert schedule["spec"]["skipImmediately"] is False
    skipped = parse_timestamp(schedule["status"]["lastSkipped"])
    assert skipped is not None and skipped >= now - 1
    # the overdue run was skipped, not taken
    assert api.list("backups") == []


def test_the_simulator_validates_locations_as_velero_does() -> None:
    now = time.time()
    ready = VeleroSimulator.is_ready_to_validate
    assert ready(o.storage_location("fresh", bucket="b", last_validated=None), now)
    assert ready(o.storage_location("stale", bucket="b", last_validated=now - 61), now)
    assert not ready(o.storage_location("recent", bucket="b", last_validated=now - 30), now)
    disabled = o.storage_location("disabled", bucket="b", last_validated=now - 30 * 86400)
    disabled["spec"]["validationFrequency"] = "0s"
    assert not ready(disabled, now)
    disabled["status"].pop("lastValidationTime")
    assert ready(disabled, now)  # validated once, whatever the frequency


async def test_a_run_moves_its_schedules_volumes() -> None:
    api = FakeKubeAPI()
    now = time.time()
    api.create(o.schedule("hourly-hot", cron="0 * * * *", tier_label=("backup-tier", "hot"), last_backup=now - 7200))
    simulator = VeleroSimulator(api, demo_every=3600, run_duration=0.5, tick=0.05)
    task = asyncio.create_task(simulator.run())
    phases: set[tuple[str, ...]] = set()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            pvbs = api.list("podvolumebackups")
            phases.add(tuple(sorted(p["status"]["phase"] for p in pvbs)))
            if pvbs and all(p["status"]["phase"] == "Completed" for p in pvbs):
                break
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    (backup,) = api.list("backups")
    pvbs = api.list("podvolumebackups")
    # hourly-hot's three kailash-app volumes (sandbox/volume_story.py), labelled with their backup
    assert sorted(p["spec"]["volume"] for p in pvbs) == ["pgdata", "redis-data", "uploads"]
    assert {p["metadata"]["labels"]["velero.io/backup-name"] for p in pvbs} == {backup["metadata"]["name"]}
    assert ("InProgress", "InProgress", "InProgress") in phases
    assert all(p["status"]["progress"]["bytesDone"] == p["status"]["progress"]["totalBytes"] for p in pvbs)
    assert api.list("datauploads") == []


# --- the DR cluster: its story and the sync of the primary's backups -----------------------------------------


def _names(objs: list[o.Obj]) -> set[str]:
    return {obj["metadata"]["name"] for obj in objs}


def test_the_dr_cluster_holds_the_dr_buckets_backups_as_velero_synced_them_until_it_stopped() -> None:
    now = time.time()
    primary = DEMO.build(now)
    dr = dr_story.world(now, primary)
    backups = dr.of_kind("Backup")
    last_sync = now - SYNC_STOPPED
    finished = {
        o.name_of(b): b
        for b in primary.of_kind("Backup")
        if b["status"]["phase"] in {"Completed", "PartiallyFailed", "Failed"}
    }
    replica = primary.buckets[plan.DR_BUCKET].keys
    in_bucket = {name for name in finished if f"backups/{name}/velero-backup.json" in replica}
    finished_then = {
        n for n in in_bucket if (parse_timestamp(finished[n]["status"]["completionTimestamp"]) or 0) <= last_sync
    }
    assert _names(backups) == finished_then
    # the replica misses one folder (the demo's story), and nothing after the last sync reached the cluster
    assert len(in_bucket) == len(finished) - 1
    assert len(finished_then) < len(in_bucket)
    for backup in backups:
        assert backup["spec"]["storageLocation"] == LOCATION
        assert backup["metadata"]["labels"]["velero.io/storage-location"] == LOCATION
        # everything else as the primary made it: phase, times, labels (the tier label among them)
        assert backup["status"] == finished[backup["metadata"]["name"]]["status"]
    # every tier's, and the ad-hoc backups without a tier
    assert {tier_of(b, plan.TIER_LABEL) for b in backups} == {"hot", "critical", "full", "config", "dr", None}
    (location,) = dr.of_kind("BackupStorageLocation")
    assert location["spec"]["objectStorage"] == {"bucket": plan.DR_BUCKET}
    assert (location["spec"]["accessMode"], location["status"]["phase"]) == ("ReadOnly", "Available")
    assert parse_timestamp(location["status"]["lastSyncedTime"]) == int(last_sync)
    drills = dr.of_kind("Restore")
    assert {tier_of(finished[d["spec"]["backupName"]], plan.TIER_LABEL) for d in drills} == set(DRILL_DURATIONS)
    assert not dr.of_kind("Schedule")
    assert not dr.buckets  # the DR bucket is the primary's World's (the same account): the cluster only reads it


def test_backup_sync_copies_the_finished_backups_of_the_syncing_tiers_and_catches_up() -> None:
    now = time.time()
    primary, dr = FakeKubeAPI(), FakeKubeAPI()
    for name, tier, phase in (
        ("hot-1", "hot", "Completed"),
        ("hot-2", "hot", "InProgress"),  # not uploaded yet
        ("full-1", "full", "PartiallyFailed"),
        ("critical-1", "critical", "Failed"),
        ("critical-2", "critical", "FailedValidation"),  # never ran: nothing uploaded
    ):
        primary.create(o.backup(name, phase=phase, labels={"backup-tier": tier}, started=now - 60))
    sync = BackupSync(primary, dr, ("hot", "full"))
    assert sync.sync_once() == 2
    assert _names(dr.list("backups")) == {"hot-1", "full-1"}
    assert sync.sync_once() == 0  # nothing twice
    sync.stop("hot")
    primary.create(o.backup("hot-3", labels={"backup-tier": "hot"}, started=now))
    assert sync.sync_once() == 0
    sync.start("hot")
    sync.start("critical")
    assert sync.sync_once() == 2
    assert _names(dr.list("backups")) == {"hot-1", "full-1", "hot-3", "critical-1"}
    copied = dr.get("backups", "critical-1")
    assert copied is not None
    assert copied["spec"]["storageLocation"] == "dr" and copied["status"]["phase"] == "Failed"
