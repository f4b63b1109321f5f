"""Every object the sandbox builds is one Velero's own CRD schemas accept (tests/schemas/).

The sandbox stands in for Velero in the demo and in every test that reads objects through the fake API: an
object Velero could not have written would prove nothing. The validator is shown to reject what Velero's schema
rejects, so that a pass means something.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tests.test_e2e_fidelity import scene
from tests.velero_schemas import violations
from velero_exporter.sandbox import dr_story
from velero_exporter.sandbox import objects as o
from velero_exporter.sandbox.kube_api import FakeKubeAPI
from velero_exporter.sandbox.scenarios import all_scenarios
from velero_exporter.sandbox.simulator import BackupSync, VeleroSimulator
from velero_exporter.sandbox.story import DEMO
from velero_exporter.sandbox.world import World

NOW = 1_790_000_000.0


def velero_objects(world: World) -> list[o.Obj]:
    """The World's Velero objects (its cluster's own, namespaces, pods, claims ..., have no Velero schema)."""
    return [obj for obj in world.objects.values() if obj["apiVersion"].startswith("velero.io/")]


def story(now: float) -> list[o.Obj]:
    return velero_objects(DEMO.build(now))


def test_every_object_of_the_story_validates() -> None:
    objects = story(NOW)
    assert {obj["kind"] for obj in objects} == {
        "Backup",
        "Restore",
        "Schedule",
        "BackupStorageLocation",
        "VolumeSnapshotLocation",
        "PodVolumeBackup",
        "PodVolumeRestore",
        "DataUpload",
        "DataDownload",
        "BackupRepository",
    }
    assert [v for obj in objects for v in violations(obj)] == []


@pytest.mark.parametrize("scenario", all_scenarios(), ids=lambda s: s.name)
def test_every_object_of_every_scenario_validates(scenario: Any) -> None:
    """In trouble, and after each repair."""
    world = scenario.build(NOW)
    worlds = [world]
    for trouble in scenario.troubles:
        if trouble.repair is not None:
            world = world.copy()
            trouble.repair(world)
            worlds.append(world)
    assert [v for w in worlds for obj in velero_objects(w) for v in violations(obj)] == []


def test_every_object_of_the_dr_clusters_story_validates() -> None:
    """The DR cluster's objects (sandbox/dr_story.py): the primary's backups as Velero's sync controller creates
    them, its read-only location, its drills."""
    objects = velero_objects(dr_story.world(NOW))
    assert {obj["kind"] for obj in objects} == {"Backup", "Restore", "BackupStorageLocation", "VolumeSnapshotLocation"}
    assert [v for obj in objects for v in violations(obj)] == []


def test_the_dr_clusters_objects_as_served_and_synced_validate() -> None:
    """The DR cluster in the fleet end to end (tests/test_fleet.py): its story as the fake API serves it, every
    backup of the primary's story as BackupSync copies it there, and its location as the test turns it
    Unavailable."""
    primary, dr = FakeKubeAPI(), FakeKubeAPI()
    for obj in story(NOW):
        primary.create(obj)
    for obj in velero_objects(dr_story.world(NOW)):
        dr.create(obj)
    sync = BackupSync(primary, dr, ("hot", "critical", "full", "config", "dr"))
    assert sync.sync_once() > 0
    (location,) = dr.list("backupstoragelocations")
    location["status"]["phase"] = "Unavailable"
    dr.replace(location)
    served = [obj for plural in ("backups", "restores", "bsl", "vsl") for obj in dr.list(plural)]
    assert {obj["kind"] for obj in served} == {"Backup", "Restore", "BackupStorageLocation", "VolumeSnapshotLocation"}
    assert [v for obj in served for v in violations(obj)] == []


def test_the_fidelity_scene_validates() -> None:
    """The objects tests/test_e2e_fidelity.py serves (a Deleting backup with managedFields, a skip-unpaused
    Schedule, a location with validation off)."""
    objects = scene(NOW).objects
    assert [v for obj in objects for v in violations(obj)] == []


def every_builder_option() -> list[o.Obj]:
    """Each builder with every optional field set, so that no field the sandbox can write escapes the check."""
    return [
        o.backup(
            "full",
            phase="PartiallyFailed",
            schedule="daily",
            labels={"backup-tier": "critical"},
            started=NOW - 600,
            completed=NOW,
            created=NOW - 601,
            expiration=NOW + 86400,
            items_backed_up=10,
            items_total=12,
            errors=1,
            warnings=2,
            hooks_attempted=3,
            hooks_failed=1,
            volume_snapshots_attempted=4,
            volume_snapshots_completed=3,
            csi_snapshots_attempted=2,
            csi_snapshots_completed=2,
            changed=NOW,
        ),
        o.backup("new", phase=None),
        o.backup("deleting", phase="Deleting", started=NOW - 86400, hook_status=False, changed=NOW),
        o.restore(
            "restore",
            backup_name="full",
            phase="Failed",
            schedule_name="daily",
            started=NOW - 60,
            completed=NOW,
            created=NOW - 61,
            errors=1,
            warnings=1,
        ),
        o.restore("restore-new", backup_name="full", phase=None),
        o.schedule(
            "daily",
            cron="0 2 * * *",
            tier_label=("backup-tier", "critical"),
            paused=True,
            created=NOW - 86400,
            last_backup=NOW - 3600,
            last_skipped=NOW - 60,
            included_namespaces=["app"],
            labels={"app.kubernetes.io/name": "velero"},
            skip_immediately=True,
        ),
        o.schedule("schedule-new", cron="@daily", phase=None),
        o.storage_location(
            "s3",
            bucket="bucket",
            prefix="cluster-a",
            s3_url="http://127.0.0.1:9",
            phase="Unavailable",
            last_validated=NOW,
            last_synced=NOW,
            default=True,
            access_mode="ReadOnly",
            created=NOW - 86400,
        ),
        o.storage_location("bsl-new", bucket="bucket", phase=None),
        o.snapshot_location("vsl", region="us-west-2", created=NOW),
        *volume_data_options(),
    ]


def volume_data_options() -> list[o.Obj]:
    """The volume data kinds' builders, every option set, and each without a status."""
    every = o.Progress(
        "Failed",
        created=NOW - 70,
        accepted=NOW - 65,
        started=NOW - 60,
        completed=NOW,
        bytes_done=10,
        total_bytes=20,
        message="data path failed",
    )
    done = o.Progress(started=NOW - 60, completed=NOW, bytes_done=20, total_bytes=20)
    unseen = o.Progress(None, created=NOW)
    volume = {"pod": "db-0", "pod_namespace": "app", "volume": "data"}
    return [
        *(
            o.pod_volume_backup(f"pvb-{i}", backup="full", progress=p, **volume)
            for i, p in enumerate((every, done, unseen))
        ),
        *(
            o.pod_volume_restore(f"pvr-{i}", restore="restore", snapshot="s", progress=p, **volume)
            for i, p in enumerate((every, done, unseen))
        ),
        *(
            o.data_upload(f"du-{i}", backup="full", pvc="data-db-0", pvc_namespace="app", progress=p)
            for i, p in enumerate((every, done, unseen))
        ),
        *(
            o.data_download(
                f"dd-{i}", restore="restore", pvc="data-db-0", pvc_namespace="app", snapshot="s", progress=p
            )
            for i, p in enumerate((every, done, unseen))
        ),
        o.backup_repository(
            "app",
            storage_location="s3",
            phase="NotReady",
            frequency="24h0m0s",
            last_maintenance=NOW - 3600,
            recent_maintenance=[
                o.maintenance("Succeeded", NOW - 3660, NOW - 3600),
                o.maintenance("Failed", NOW - 60, NOW),
            ],
            message="invalid repository password",
            created=NOW - 86400,
        ),
        o.backup_repository("new", repository_type="restic", phase=None),
    ]


@pytest.mark.parametrize("obj", every_builder_option(), ids=lambda obj: f"{obj['kind']}-{obj['metadata']['name']}")
def test_every_builder_option_validates(obj: o.Obj) -> None:
    assert violations(obj) == []


def test_objects_as_the_fake_api_serves_them_validate() -> None:
    """With what the API server adds: uid, resourceVersion, generation, creationTimestamp."""
    api = FakeKubeAPI()
    for obj in story(NOW):
        api.create(obj)
    plurals: tuple[str, ...] = ("backups", "restores", "schedules", "bsl", "vsl", "podvolumebackups")
    plurals += ("podvolumerestores", "datauploads", "datadownloads", "backuprepositories")
    served = [obj for plural in plurals for obj in api.list(plural)]
    assert served and all("uid" in obj["metadata"] and "resourceVersion" in obj["metadata"] for obj in served)
    assert [v for obj in served for v in violations(obj)] == []


async def test_the_simulators_backups_validate() -> None:
    api = FakeKubeAPI()
    api.create(o.schedule("hourly", cron="0 * * * *", tier_label=("backup-tier", "hot"), created=NOW - 7200))
    schedule = api.get("schedules", "hourly")
    assert schedule is not None
    simulator = VeleroSimulator(api, run_duration=0.0)
    await asyncio.wait_for(simulator.backup_run(schedule, time.time()), 10)
    backups = api.list("backups")
    assert [b["status"]["phase"] for b in backups] == ["Completed"]
    assert [v for obj in [*backups, *api.list("schedules")] for v in violations(obj)] == []


async def test_the_simulators_volume_operations_validate() -> None:
    """hourly-hot's run makes its PodVolumeBackups (sandbox/volume_story.py), InProgress then Completed."""
    api = FakeKubeAPI()
    api.create(o.schedule("hourly-hot", cron="0 * * * *", tier_label=("backup-tier", "hot"), created=NOW - 7200))
    schedule = api.get("schedules", "hourly-hot")
    assert schedule is not None
    await asyncio.wait_for(VeleroSimulator(api, run_duration=0.0).backup_run(schedule, time.time()), 10)
    operations = api.list("podvolumebackups")
    assert [p["status"]["phase"] for p in operations] == ["Completed"] * 3
    assert [v for obj in operations for v in violations(obj)] == []


def _with(obj: o.Obj, path: str, value: Any) -> o.Obj:
    *parents, last = path.split(".")
    node = obj
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    return obj


@pytest.mark.parametrize(
    ("path", "value", "problem"),
    [
        # a field Velero does not have (the API server would prune it: no Velero writes it)
        ("status.volumeSnapshotsTaken", 3, "Additional properties are not allowed ('volumeSnapshotsTaken'"),
        # a phase outside Velero's enum
        ("status.phase", "Done", "'Done' is not one of"),
        # a count as a string
        ("status.errors", "1", "'1' is not of type 'integer'"),
        # a timestamp that is not RFC 3339
        ("status.completionTimestamp", "yesterday", "'yesterday' is not a 'date-time'"),
        # metadata beyond ObjectMeta
        ("metadata.owner", "me", "Additional properties are not allowed ('owner'"),
        ("metadata.labels", {"a": 1}, "1 is not of type 'string'"),
    ],
)
def test_the_validator_rejects_what_velero_rejects(path: str, value: Any, problem: str) -> None:
    obj = _with(o.backup("b", started=NOW - 60, completed=NOW), path, value)
    found = violations(obj)
    assert len(found) == 1 and problem in found[0], found


def test_an_unknown_kind_has_no_schema() -> None:
    assert violations({"apiVersion": "velero.io/v1", "kind": "Backups", "metadata": {"name": "x"}}) == [
        "no Velero schema for apiVersion 'velero.io/v1' kind 'Backups'"
    ]
