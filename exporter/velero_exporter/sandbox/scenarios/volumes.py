"""Volume data that goes missing, shrinks, stalls or fails, and kopia repositories that are not ready or not
maintained: the troubles of the velero-volumes and velero-repositories rules.

In the demo's story (its volume data is sandbox/volume_story.py's):
- hourly-hot's newest finished run left the database pod out (an exclude annotation left from a debugging
  session): one volume fewer, and most of the bytes gone;
- an ad-hoc backup of the critical tier, taken before an upgrade, waits for its data mover: one DataUpload has moved
  no byte since it started 50 minutes ago;
- vault's repository failed its last two maintenance runs.
(weekly-full's PartiallyFailed runs lost a file-system backup: backups.WEEKLY_PARTIALLY_FAILED.)
"""

from __future__ import annotations

from typing import Any

from velero_exporter.sandbox import objects, plan, volume_story
from velero_exporter.sandbox.scenario import Change, Scenario, Trouble, alert
from velero_exporter.sandbox.scenarios import base
from velero_exporter.sandbox.scenarios.base import TierPlan
from velero_exporter.sandbox.volume_story import FS_BACKUP, GIB, MINUTE, Volume
from velero_exporter.sandbox.world import DAY, HOUR, World
from velero_exporter.sources.parsing import parse_timestamp

# --- in the demo's story ---------------------------------------------------------------------------------------

OPTED_OUT = "postgres-0"  # the hourly-hot pod left out of the newest finished run


def _database_opted_out(world: World) -> None:
    newest = objects.run_name("hourly-hot", plan.newest_finished(world.now)["hourly-hot"])
    (database,) = (v for v in volume_story.VOLUMES["hourly-hot"][1] if v.pod == OPTED_OUT)
    world.delete("PodVolumeBackup", volume_story.operation_name(newest, database))


HOT_DATABASE_OPTED_OUT = Trouble(
    "hourly-hot's newest finished run left the database pod out: one volume fewer, most of the bytes gone",
    tuple(
        alert(name, schedule="hourly-hot", tier="hot", method=FS_BACKUP, reason=reason)
        for name, reason in (("VeleroBackupVolumeDataMissing", "fewer_volumes"), ("VeleroBackupShrank", "volume_bytes"))
    ),
    change=_database_opted_out,
    # The annotation is removed; the next hourly run saves every volume again.
    repair=lambda world: plan.take(
        world, plan.run_by_hand("hourly-hot", world.now - 120, world.now - 10), copied=False
    ),
)

STALLED_BACKUP = "critical-before-upgrade"
STALLED_PVC = "prometheus-db-prometheus-0"
STALLED_FOR = 50 * MINUTE
STALLED_VOLUME = next(v for v in volume_story.VOLUMES["daily-critical"][1] if v.volume == STALLED_PVC)
STALLED_OPERATION = volume_story.operation_name(STALLED_BACKUP, STALLED_VOLUME)


def _stalled_upload(bytes_done: int | None, *, moved: float | None = None) -> Change:
    """The ad-hoc backup's DataUpload of Prometheus's volume, InProgress since STALLED_FOR: not a byte moved (its
    data mover pod cannot reach the repository), or `bytes_done` once it moves again."""

    def change(world: World) -> None:
        started = world.now - STALLED_FOR
        progress = objects.Progress(
            "InProgress",
            created=started - 5 * MINUTE + 2,
            accepted=started - 60,
            started=started,
            bytes_done=bytes_done,
            total_bytes=STALLED_VOLUME.bytes,
        )
        world.add(
            objects.data_upload(
                STALLED_OPERATION,
                backup=STALLED_BACKUP,
                pvc=STALLED_PVC,
                pvc_namespace=STALLED_VOLUME.namespace,
                progress=progress,
                node="node-2",
            )
        )

    return change


def _backup_waits_for_its_data_mover(world: World) -> None:
    started = world.now - STALLED_FOR - 5 * MINUTE
    world.add(
        objects.backup(
            STALLED_BACKUP,
            phase="WaitingForPluginOperations",
            labels={plan.TIER_LABEL: "critical"},
            started=started,
            items_backed_up=3050,
            items_total=3050,
        ),
        *(
            upload
            for upload in volume_story.operations(STALLED_BACKUP, "daily-critical", started, started + 20 * MINUTE)
            if upload["spec"]["sourcePVC"] != STALLED_PVC
        ),
    )
    _stalled_upload(None)(world)


UPLOAD_STALLED = Trouble(
    "an ad-hoc critical backup's DataUpload has moved no byte for 50 minutes",
    (alert("VeleroVolumeOperationStalled", kind="DataUpload", operation=STALLED_OPERATION, backup=STALLED_BACKUP),),
    change=_backup_waits_for_its_data_mover,
    # The data mover's node reaches the repository again: the upload moves.
    repair=_stalled_upload(STALLED_VOLUME.bytes // 2),
)

MAINTENANCE_FAILED = "vault"  # the namespace whose repository's maintenance fails


def _maintenance_fails(world: World) -> None:
    """The last success 90 minutes ago; the runs due since then failed (kopia: repository is read-only)."""
    now, last = world.now, world.now - 90 * MINUTE
    history = [
        objects.maintenance("Succeeded", last - 120, last),
        objects.maintenance("Failed", now - 30 * MINUTE, now - 29 * MINUTE, "maintenance job failed"),
        objects.maintenance("Failed", now - 10 * MINUTE, now - 9 * MINUTE, "maintenance job failed"),
    ]
    world.add(
        objects.backup_repository(
            MAINTENANCE_FAILED, last_maintenance=last, recent_maintenance=history, created=now - 400 * 86400.0
        )
    )


VAULT_MAINTENANCE_FAILED = Trouble(
    "vault's repository failed its last two maintenance runs",
    (
        alert(
            "VeleroRepositoryMaintenanceFailed",
            repository=f"{MAINTENANCE_FAILED}-default-kopia",
            location="default",
            volume_namespace=MAINTENANCE_FAILED,
        ),
    ),
    change=_maintenance_fails,
    repair=lambda world: world.add(volume_story.maintained(MAINTENANCE_FAILED, world.now, last=world.now - 60)),
)


# --- backups whose volume data is empty or whose folder shrank; repositories not ready or never maintained -----

# Two schedules of one tier save a database's and a file server's volumes with file-system backup.
DATA = TierPlan("data", ("db-nightly", "files-nightly"))
BUCKET = "volumes-backups"
VOLUMES: dict[str, tuple[Volume, ...]] = {
    "db-nightly": (Volume("db", "postgres-0", "pgdata", 4 * GIB),),
    "files-nightly": (
        Volume("files", "samba-0", "shares", 2 * GIB),
        Volume("files", "samba-0", "profiles", GIB),
    ),
}
REPOSITORIES = ("db", "files", "wiki", "crm")  # "search" has none until its trouble


def _operations(backup: objects.Obj, *, bytes_done: int | None = None) -> list[objects.Obj]:
    """The run's PodVolumeBackups, Completed, each with `bytes_done` if given."""
    started = parse_timestamp(backup["status"]["startTimestamp"]) or 0.0
    completed = parse_timestamp(backup["status"]["completionTimestamp"])
    schedule = volume_story.schedule_of(backup)
    out = volume_story.operations(
        objects.name_of(backup), schedule, started, completed, volumes=VOLUMES[schedule], method=FS_BACKUP
    )
    if bytes_done is not None:
        for operation in out:
            operation["status"]["progress"]["bytesDone"] = bytes_done
    return out


def _cluster(now: float) -> World:
    """The data tier's runs with their file-system backups in the primary bucket; the kopia repositories of the
    namespaces it saves, and of two more, all maintained within the hour."""
    world = base.world(now, (DATA,), bucket=BUCKET)
    for backup in world.of_kind("Backup"):
        world.add(*_operations(backup))
    world.add(*(volume_story.maintained(namespace, now, last=now - 20 * MINUTE) for namespace in REPOSITORIES))
    return world


def _newest_run(schedule: str, *, bytes_done: int | None = None, **status: Any) -> Change:
    """The schedule's newest run replaced by one with these fields (base.run's), its operations Completed with
    `bytes_done` if given."""

    def change(world: World) -> None:
        backup = base.run(schedule, DATA, world.now - DATA.last_run_ago, **status)
        world.add(backup, *_operations(backup, bytes_done=bytes_done))

    return change


def _run_again(schedule: str) -> Change:
    """The schedule's next run saves every byte again."""

    def repair(world: World) -> None:
        backup = base.run_now(schedule, DATA, world)
        world.add(backup, *_operations(backup))

    return repair


def _maintained(namespace: str, ago: float = 60.0) -> Change:
    """The namespace's repository, its maintenance last run `ago`."""
    return lambda world: world.add(volume_story.maintained(namespace, world.now, last=world.now - ago))


def _created_unmaintained(namespace: str) -> Change:
    """A repository created three hours ago (its namespace's first file-system backup) that maintenance never ran
    on: the maintenance job cannot be scheduled."""
    return lambda world: world.add(objects.backup_repository(namespace, created=world.now - 3 * HOUR))


def _not_ready(namespace: str) -> Change:
    return lambda world: world.add(
        objects.backup_repository(
            namespace,
            phase="NotReady",
            message="invalid repository password",
            last_maintenance=world.now - 20 * MINUTE,
            created=world.now - 400 * DAY,
        )
    )


def _repository_where(namespace: str) -> dict[str, str]:
    return {"repository": f"{namespace}-default-kopia", "location": "default", "volume_namespace": namespace}


VOLUME_DATA = Scenario(
    "volumes",
    "A backup whose volume data is empty, one whose folder shrank to a fraction; repositories not ready, not"
    " maintained for hours, or never.",
    base.config(DATA, aws={}),
    _cluster,
    (
        Trouble(
            "db-nightly's newest run saved the database's volume with no byte in it (the database moved to another"
            " volume)",
            (
                alert(
                    "VeleroBackupVolumeDataMissing",
                    schedule="db-nightly",
                    tier="data",
                    method=FS_BACKUP,
                    reason="no_bytes",
                ),
            ),
            change=_newest_run("db-nightly", bytes_done=0),
            repair=_run_again("db-nightly"),
        ),
        Trouble(
            "files-nightly's newest run backed up a tenth of its items: its folder is a fraction of the one before",
            (alert("VeleroBackupShrank", schedule="files-nightly", tier="data", reason="size"),),
            change=_newest_run("files-nightly", items_backed_up=base.ITEMS // 10, items_total=base.ITEMS // 10),
            repair=_run_again("files-nightly"),
        ),
        Trouble(
            "the wiki's repository lost its password: NotReady",
            (alert("VeleroRepositoryNotReady", repository_type="kopia", **_repository_where("wiki")),),
            change=_not_ready("wiki"),
            repair=_maintained("wiki"),
        ),
        Trouble(
            "the crm repository's maintenance has not run for three hours",
            (alert("VeleroRepositoryMaintenanceOverdue", reason="stale", **_repository_where("crm")),),
            change=_maintained("crm", ago=3 * HOUR),
            repair=_maintained("crm"),
        ),
        Trouble(
            "the search repository, created three hours ago, was never maintained",
            (alert("VeleroRepositoryMaintenanceOverdue", reason="never", **_repository_where("search")),),
            change=_created_unmaintained("search"),
            repair=_maintained("search"),
        ),
    ),
)

SCENARIOS = (VOLUME_DATA,)
