"""The sandbox's story: the DR plan's five schedules with their history, healthy tiers and deliberate trouble.

Runs are aligned to their crons, as Velero's are, so ages vary with the wall clock within a cron interval.
Trouble on purpose, so that the demo shows every alert path:
- daily-critical: the newest run Failed (VeleroBackupFailure); an ad-hoc backup labelled for the critical
  tier, taken 3 hours ago, is the tier's recovery point;
- weekly-full: the two newest runs PartiallyFailed, which the tier does not accept: its recovery point is two
  to three weeks old, past the tier's RPO (RPOViolation);
- a restore from a critical backup Failed two hours ago (VeleroRestoreFailure);
- the DR storage location is Unavailable;
- hourly-hot, config-backup and monthly-dr are healthy; a restore drill from the hot tier Completed and
  passed its validation (a verified drill).
Every tier holds as much history as its retention promises (no VeleroRecoveryPointHistoryLost).
Their volume data, and its own trouble, is sandbox/volume_story.py's.
"""

from __future__ import annotations

from velero_exporter.sandbox import objects
from velero_exporter.sandbox.cluster_story import PLATFORM_NAMESPACES, VOLUME_POLICY
from velero_exporter.sandbox.volume_story import volume_data
from velero_exporter.velero.cron import parse_cron
from velero_exporter.velero.duration import go_duration_seconds

HOUR = 3600.0
DAY = 86400.0
TIER_LABEL = "backup-tier"
PRIMARY_BUCKET = "kailash-velero-backups"
DR_BUCKET = "kailash-velero-dr-backups"


def run_name(schedule: str, t: float) -> str:
    """Velero names a scheduled backup <schedule>-<UTC start as YYYYMMDDhhmmss>."""
    stamp = objects.rfc3339(t) or ""
    return f"{schedule}-{stamp.replace('-', '').replace(':', '').replace('T', '').rstrip('Z')}"


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
    runs = []
    for i in range(count):
        start = last_run - i * step
        runs.append(
            objects.backup(
                run_name(schedule, start),
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


SCHEDULES: tuple[tuple[str, str, str, str, list[str]], ...] = (
    # name, tier, cron, ttl, included namespaces (the whole-cluster ones list the namespaces of the day they were
    # written, as operators write them: a namespace created since is in none, cluster_story.py)
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


def last_fire(cron: str, before: float) -> float:
    """The cron's newest time at or before `before` (runs are cron-aligned, as Velero's are)."""
    schedule = parse_cron(cron)
    t = schedule.next_after(before - schedule.max_interval(before - 400 * DAY) - 1)
    while (following := schedule.next_after(t)) <= before:
        t = following
    return t


def story(now: float) -> list[objects.Obj]:
    """Every object of the sandbox at time `now` (POSIX seconds)."""
    out: list[objects.Obj] = []
    # The newest finished run of each schedule: the last one that had time to finish (its duration below).
    hour = last_fire("0 * * * *", now - 120)
    half_hour = last_fire("*/30 * * * *", now - 60)
    # The failed daily run ended 10 minutes after it started; the Completed one before it is then never more
    # than two daily intervals old (no VeleroBackupMissing for daily-critical, whatever the time of day).
    last_daily = last_fire("0 2 * * *", now - 900)
    last_weekly = last_fire("0 3 * * 0", now - 4 * HOUR)
    last_monthly = last_fire("0 4 1 * *", now - 4 * HOUR)

    hot = scheduled_runs(
        "hourly-hot", "hot", last_run=hour, step=HOUR, count=7 * 24, duration=95, ttl="168h0m0s", items=412
    )
    config = scheduled_runs(
        "config-backup",
        "config",
        last_run=half_hour,
        step=HOUR / 2,
        count=144,
        duration=20,
        ttl="72h0m0s",
        items=97,
    )
    critical = scheduled_runs(
        "daily-critical",
        "critical",
        last_run=last_daily,
        step=DAY,
        count=30,  # the whole 30-day retention
        duration=1800,
        ttl="720h0m0s",
        items=3120,
        snapshots=6,
    )
    # The newest daily run failed: its object store upload was refused.
    failed = critical[0]
    failed["status"].update(
        {
            "phase": "Failed",
            "failureReason": "rpc error: upload to object storage failed",
            "completionTimestamp": objects.rfc3339(last_daily + 600),
        }
    )
    failed["status"]["progress"] = {"itemsBackedUp": 1404, "totalItems": 3120}
    failed["status"]["volumeSnapshotsCompleted"] = 2
    full = scheduled_runs(
        "weekly-full",
        "full",
        last_run=last_weekly,
        step=7 * DAY,
        count=13,
        duration=3 * HOUR,
        ttl="2160h0m0s",
        items=18250,
        snapshots=24,
    )
    # The two newest weekly runs lost some volumes: the tier's recovery point is two to three weeks old.
    for partial in full[:2]:
        partial["status"].update({"phase": "PartiallyFailed", "errors": 3, "warnings": 12})
    dr = scheduled_runs(
        "monthly-dr",
        "dr",
        last_run=last_monthly,
        step=28 * DAY,
        count=13,  # 336 days and more: the year's retention less one (at most 31-day) interval
        duration=4 * HOUR,
        ttl="8760h0m0s",
        items=18390,
        snapshots=24,
    )
    out += hot + config + critical + full + dr

    finished = {
        "hourly-hot": hour,
        "config-backup": half_hour,
        "daily-critical": last_daily,
        "weekly-full": last_weekly,
        "monthly-dr": last_monthly,
    }
    for name, tier, cron, ttl, namespaces in SCHEDULES:
        # A run that started but cannot have finished yet is InProgress, and it is the schedule's lastBackup, as
        # in a real cluster: no schedule looks as if it missed a run, whatever the time of day.
        last = last_fire(cron, now)
        if last > finished[name]:
            out.append(
                objects.backup(
                    run_name(name, last),
                    phase="InProgress",
                    schedule=name,
                    labels={TIER_LABEL: tier},
                    started=last,
                    ttl=ttl,
                    items_backed_up=0,
                )
            )
        out.append(
            objects.schedule(
                name,
                cron=cron,
                tier_label=(TIER_LABEL, tier),
                created=now - 400 * DAY,
                last_backup=last,
                ttl=ttl,
                included_namespaces=namespaces,
                selection=SELECTIONS[name],
            )
        )

    # After the failed daily run, on-call took an ad-hoc backup labelled for the critical tier: it is the
    # tier's recovery point. And one ad-hoc backup without a tier.
    out.append(
        objects.backup(
            "emergency-after-failed-daily",
            labels={TIER_LABEL: "critical"},
            started=now - 3 * HOUR,
            completed=now - 3 * HOUR + 1500,
            expiration=now + 30 * DAY - 3 * HOUR,
            items_backed_up=3050,
            items_total=3050,
        )
    )
    out.append(
        objects.backup(
            "app-debug-snapshot",
            started=now - 2 * DAY,
            completed=now - 2 * DAY + 60,
            expiration=now + 28 * DAY,
            items_backed_up=40,
            items_total=40,
        )
    )

    hot_drill_source = hot[26]["metadata"]["name"]
    # The hot tier's restore drill: labelled as a drill, and its validation job annotated it as passed.
    out.append(
        objects.restore(
            "drill-hot-restore",
            backup_name=hot_drill_source,
            started=now - DAY,
            completed=now - DAY + 540,
            drill=True,
            validation="passed",
        )
    )
    out.append(
        objects.restore(
            "restore-critical-app",
            backup_name=critical[1]["metadata"]["name"],
            phase="Failed",
            started=now - 2 * HOUR,
            completed=now - 2 * HOUR + 300,
            errors=4,
        )
    )

    out.append(
        objects.storage_location(
            "default",
            bucket=PRIMARY_BUCKET,
            region="us-east-1",
            default=True,
            last_validated=now - 30,
            last_synced=now - 45,
        )
    )
    out.append(
        objects.storage_location(
            "dr",
            bucket=DR_BUCKET,
            region="us-west-2",
            access_mode="ReadOnly",
            phase="Unavailable",
            last_validated=now - 40,
        )
    )
    out.append(objects.snapshot_location("default", region="us-east-1"))
    out.append(objects.snapshot_location("dr", region="us-west-2"))
    out += volume_data(out, now, TIER_LABEL)
    return out
