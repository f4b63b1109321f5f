"""The DR plan's cluster, healthy: its five schedules with their history, its two storage locations and buckets,
its volume snapshots copied to the DR region, the volume data its backups and restores moved (volume_story.py),
and the namespaces, pods and volumes its schedules protect (cluster_story.py). The demo's story (story.py) is this
cluster with troubles.

Runs are aligned to their crons, as Velero's are, so ages vary with the wall clock within a cron interval. Every
tier has a recent restore drill that passed its validation (a verified drill). The buckets are set up as the seed
DR plan sets them up (versioned, encrypted with AES256, public access blocked), the primary replicating to the DR
bucket, which carries Object Lock; every backup that snapshots volumes has its (encrypted) snapshots in the
primary region and copies in the DR region (a script's CopySnapshot).
"""

from __future__ import annotations

from velero_exporter.sandbox import cloud, cluster_story, objects, volume_story
from velero_exporter.sandbox.cloud import BucketSetup
from velero_exporter.sandbox.cluster_story import PLATFORM_NAMESPACES, VOLUME_POLICY
from velero_exporter.sandbox.world import DAY, HOUR, Snapshot, World, snapshots_of
from velero_exporter.velero.cron import parse_cron
from velero_exporter.velero.duration import go_duration_seconds

TIER_LABEL = "backup-tier"
PRIMARY_BUCKET = "kailash-velero-backups"
DR_BUCKET = "kailash-velero-dr-backups"
PRIMARY_REGION = "us-east-1"
DR_REGION = "us-west-2"

SCHEDULES: tuple[tuple[str, str, str, str, list[str]], ...] = (
    # name, tier, cron, ttl, included namespaces (the whole-cluster ones list the namespaces of the day they were
    # written, as operators write them: a namespace created since is in none)
    ("hourly-hot", "hot", "0 * * * *", "168h0m0s", ["kailash-app"]),
    (
        "daily-critical",
        "critical",
        "0 2 * * *",
        "720h0m0s",
        ["kailash-app", "monitoring", "logging", "vault"],
    ),
    ("weekly-full", "full", "0 3 * * 0", "2160h0m0s", PLATFORM_NAMESPACES),
    ("config-backup", "config", "*/30 * * * *", "72h0m0s", PLATFORM_NAMESPACES),
    ("monthly-dr", "dr", "0 4 1 * *", "8760h0m0s", PLATFORM_NAMESPACES),
)
_POLICY = {"resourcePolicy": {"kind": "configmap", "name": VOLUME_POLICY}}
_SNAPSHOTS = {"snapshotVolumes": True, **_POLICY}
# The rest of each template's selection, as the seed describes the schedules.
SELECTIONS: dict[str, objects.Obj] = {
    # "Application data only, no volume snapshots (uses Restic)": file-system backup of every volume.
    "hourly-hot": {"snapshotVolumes": False, "defaultVolumesToFsBackup": True},
    # "Full volume snapshots".
    "daily-critical": _SNAPSHOTS,
    "weekly-full": {**_SNAPSHOTS, "includeClusterResources": True},
    # "ConfigMaps, Secrets, RBAC; no persistent volumes".
    "config-backup": {
        "includedResources": [
            "configmaps",
            "secrets",
            "serviceaccounts",
            "roles.rbac.authorization.k8s.io",
            "rolebindings.rbac.authorization.k8s.io",
            "clusterroles.rbac.authorization.k8s.io",
            "clusterrolebindings.rbac.authorization.k8s.io",
        ],
        "includeClusterResources": True,
        "snapshotVolumes": False,
    },
    "monthly-dr": {**_SNAPSHOTS, "includeClusterResources": True},
}
# Restore drills, one per tier: the restore, the schedule and which of its runs it restored (0: the newest, and
# always one that had finished before the drill), how long ago it started and how long it took.
DRILLS: tuple[tuple[str, str, int, float, float], ...] = (
    ("drill-hot-restore", "hourly-hot", 26, DAY, 540),
    ("drill-critical-restore", "daily-critical", 3, 2 * DAY, 1500),
    ("drill-full-restore", "weekly-full", 2, 10 * DAY, 2 * HOUR),
    ("drill-config-restore", "config-backup", 60, DAY, 300),
    ("drill-dr-restore", "monthly-dr", 1, 20 * DAY, HOUR),
)


def scheduled_runs(
    schedule: str,
    tier: str,
    *,
    last_run: float,
    step: float,
    count: int,
    duration: float,
    ttl: str,
    items: int,
    snapshots: int = 0,
) -> list[objects.Obj]:
    """A schedule's Completed runs, newest first."""
    runs = []
    for i in range(count):
        start = last_run - i * step
        runs.append(
            objects.backup(
                objects.run_name(schedule, start),
                schedule=schedule,
                labels={TIER_LABEL: tier},
                started=start,
                completed=start + duration,
                expiration=start + (go_duration_seconds(ttl) or 0.0),
                ttl=ttl,
                items_backed_up=items,
                items_total=items,
                volume_snapshots_attempted=snapshots,
                volume_snapshots_completed=snapshots,
            )
        )
    return runs


def last_fire(cron: str, before: float) -> float:
    """The cron's newest time at or before `before` (runs are cron-aligned, as Velero's are)."""
    schedule = parse_cron(cron)
    t = schedule.next_after(before - schedule.max_interval(before - 400 * DAY) - 1)
    while (following := schedule.next_after(t)) <= before:
        t = following
    return t


def newest_finished(now: float) -> dict[str, float]:
    """The start of each schedule's newest finished run: the last one that had time to finish (its duration
    below). The daily run takes 10 minutes when it fails (story.py), so the Completed one before it is then never
    more than two daily intervals old, whatever the time of day."""
    return {
        "hourly-hot": last_fire("0 * * * *", now - 120),
        "config-backup": last_fire("*/30 * * * *", now - 60),
        "daily-critical": last_fire("0 2 * * *", now - 900),
        "weekly-full": last_fire("0 3 * * 0", now - 4 * HOUR),
        "monthly-dr": last_fire("0 4 1 * *", now - 4 * HOUR),
    }


# How each schedule's runs go: how many are kept, how far apart, how long one takes, what it backs up.
RUNS: dict[str, tuple[int, float, float, int, int]] = {
    # schedule: count, step, duration, items, volume snapshots
    "hourly-hot": (7 * 24, HOUR, 95, 412, 0),
    "config-backup": (144, HOUR / 2, 20, 97, 0),
    "daily-critical": (30, DAY, 1800, 3120, 6),  # the whole 30-day retention
    "weekly-full": (13, 7 * DAY, 3 * HOUR, 18250, 24),
    # 336 days and more: the year's retention less one (at most 31-day) interval
    "monthly-dr": (13, 28 * DAY, 4 * HOUR, 18390, 24),
}


def runs(now: float) -> dict[str, list[objects.Obj]]:
    """Each schedule's finished runs, newest first."""
    last = newest_finished(now)
    out = {}
    for name, tier, _cron, ttl, _namespaces in SCHEDULES:
        count, step, duration, items, snapshots = RUNS[name]
        out[name] = scheduled_runs(
            name,
            tier,
            last_run=last[name],
            step=step,
            count=count,
            duration=duration,
            ttl=ttl,
            items=items,
            snapshots=snapshots,
        )
    return out


def run_by_hand(schedule: str, started: float, completed: float) -> objects.Obj:
    """`velero backup create --from-schedule <schedule>`, Completed: the schedule's template and labels, named
    by its start as Velero names it."""
    (name, tier, _cron, ttl, _namespaces), *_ = (s for s in SCHEDULES if s[0] == schedule)
    _count, _step, _duration, items, snapshots = RUNS[name]
    (run,) = scheduled_runs(
        name,
        tier,
        last_run=started,
        step=0,
        count=1,
        duration=completed - started,
        ttl=ttl,
        items=items,
        snapshots=snapshots,
    )
    return run


def take(world: World, backup: objects.Obj, *, copied: bool) -> None:
    """A backup Velero ran: the object, its folder in the bucket (replicated to the DR bucket), its volume data
    operations (sandbox/volume_story.py), the snapshots of its volumes; `copied`: the DR plan's script copied the
    snapshots to the DR region."""
    world.add(backup, *volume_story.backup_operations(backup))
    if backup["status"].get("volumeSnapshotsCompleted", 0):
        world.add_snapshots(snapshots_of(backup, PRIMARY_REGION, encrypted=True))
        if copied:
            copy_to_dr(world, backup)


def dr_copies(backup: objects.Obj) -> list[Snapshot]:
    """The DR plan's script's copies of the backup's snapshots (with their tags) in the DR region."""
    return [s.copied_to(DR_REGION) for s in snapshots_of(backup, PRIMARY_REGION, encrypted=True)]


def copy_to_dr(world: World, backup: objects.Obj) -> None:
    world.add_snapshots(dr_copies(backup))


# The seed DR plan's buckets: versioned, encrypted and private; the primary replicates everything to the DR
# bucket, which keeps what it holds for the longest retention (Object Lock in compliance mode).
PRIMARY_SETUP = BucketSetup(replicate_to=DR_BUCKET)
DR_SETUP = BucketSetup(object_lock_days=365)


def world(now: float) -> World:
    """The DR plan's cluster at `now` (POSIX seconds), with nothing wrong."""
    out = World(now)
    out.add(*cluster_story.cluster_objects(now), *volume_story.repositories(now))
    out.add_bucket(DR_BUCKET, DR_REGION, setup=DR_SETUP)
    out.add_bucket(PRIMARY_BUCKET, PRIMARY_REGION, setup=PRIMARY_SETUP)
    out.add(
        objects.storage_location(
            "default",
            bucket=PRIMARY_BUCKET,
            region=PRIMARY_REGION,
            default=True,
            last_validated=now - 30,
            last_synced=now - 45,
        ),
        objects.storage_location(
            "dr", bucket=DR_BUCKET, region=DR_REGION, access_mode="ReadOnly", last_validated=now - 40
        ),
        objects.snapshot_location("default", region=PRIMARY_REGION),
        objects.snapshot_location("dr", region=DR_REGION),
    )
    finished = runs(now)
    # An ad-hoc backup without a tier.
    debug = objects.backup(
        "app-debug-snapshot",
        started=now - 2 * DAY,
        completed=now - 2 * DAY + 60,
        expiration=now + 28 * DAY,
        items_backed_up=40,
        items_total=40,
    )
    # In the order they ended, as Velero wrote their folders.
    for backup in sorted([debug, *(b for r in finished.values() for b in r)], key=_completed):
        take(out, backup, copied=True)
    out.put(PRIMARY_BUCKET, {"kopia/kailash-app/" + k: v for k, v in cloud.kopia_repository(40, 20_000).items()})

    last = newest_finished(now)
    for name, tier, cron, ttl, namespaces in SCHEDULES:
        # A run that started but cannot have finished yet is InProgress, and it is the schedule's lastBackup, as
        # in a real cluster: no schedule looks as if it missed a run, whatever the time of day.
        started = last_fire(cron, now)
        if started > last[name]:
            out.add(
                objects.backup(
                    objects.run_name(name, started),
                    phase="InProgress",
                    schedule=name,
                    labels={TIER_LABEL: tier},
                    started=started,
                    ttl=ttl,
                    items_backed_up=0,
                )
            )
        out.add(
            objects.schedule(
                name,
                cron=cron,
                tier_label=(TIER_LABEL, tier),
                created=now - 400 * DAY,
                last_backup=started,
                ttl=ttl,
                included_namespaces=namespaces,
                selection=SELECTIONS[name],
            )
        )
    for restore, schedule, run, ago, took in DRILLS:
        source = finished[schedule][run]
        # Labelled as a drill, and its validation job annotated it as passed: a verified drill.
        restored(
            out,
            objects.restore(
                restore,
                backup_name=objects.name_of(source),
                started=now - ago,
                completed=now - ago + took,
                drill=True,
                validation="passed",
            ),
        )
    return out


def restored(world: World, restore: objects.Obj) -> None:
    """A restore Velero ran, with the volume data it moved back (sandbox/volume_story.py)."""
    source = world.get("Backup", restore["spec"]["backupName"])
    world.add(restore, *volume_story.restore_operations(restore, source))


def _completed(backup: objects.Obj) -> str:
    completed: str = backup["status"]["completionTimestamp"]
    return completed
