"""The volume data's exact metric values for a known object set (parsing -> store -> model -> exposition), no I/O.

The object set: hourly-hot's newest finished backup lost a PodVolumeBackup against the one before it, and its
bytes fell; daily-critical (a name longer than 63 characters, so Velero hashed its label) moved its volumes with
the data mover, one Canceled; native and CSI snapshot counts; operations still running; restores' operations;
repositories of Velero 1.15 (no recentMaintenance) and 1.16+; the backups' folders measured in the bucket.
"""

from __future__ import annotations

from datetime import UTC, datetime
from types import MappingProxyType

import pytest

from tests.metrics_text import Samples, series, value
from tests.test_metric_values import load, render
from tests.test_status_page import parse_tables
from velero_exporter.config.settings import BucketSettings, Config
from velero_exporter.exposition.payload import Exposition
from velero_exporter.exposition.renderer import Renderer
from velero_exporter.exposition.status_page import render_status_page
from velero_exporter.sandbox import objects as o
from velero_exporter.sources.kube.source import RESOURCES, RecordSink
from velero_exporter.state.aws_records import BackupFolder, BucketTarget, BucketUsage, Usage
from velero_exporter.state.store import Store
from velero_exporter.state.vocabulary import ALL_VOLUME_OPERATION_PHASES

NOW = datetime(2026, 11, 26, 12, 0, 30, tzinfo=UTC).timestamp()
H = 3600.0
GIB = 1024**3
LONG = "daily-critical-" + "x" * 50  # 65 characters: Velero labels its objects with a hashed 63
HOT_1, HOT_2 = "hourly-hot-1", "hourly-hot-2"


# --- metric values -----------------------------------------------------------------------------------------


def _pvbs(backup: str, started: float, volumes: dict[str, int], failed: str = "") -> list[o.Obj]:
    return [
        o.pod_volume_backup(
            f"{backup}-{volume}",
            backup=backup,
            pod=f"{volume}-0",
            pod_namespace="kailash-app",
            volume=volume,
            progress=o.Progress(
                phase="Failed" if volume == failed else "Completed",
                started=started + 5,
                completed=started + 60,
                bytes_done=size,
                total_bytes=size,
            ),
        )
        for volume, size in volumes.items()
    ]


def fixture_objects() -> dict[str, list[o.Obj]]:
    backups = [
        o.backup(HOT_1, schedule="hourly-hot", started=NOW - 2 * H, completed=NOW - 2 * H + 90),
        o.backup(HOT_2, schedule="hourly-hot", started=NOW - H, completed=NOW - H + 90),
        o.backup("hourly-hot-3", schedule="hourly-hot", phase="InProgress", started=NOW - 60),
        o.backup(
            "daily-critical-0",
            schedule="daily-critical",
            started=NOW - 30 * H,
            completed=NOW - 29 * H,
            volume_snapshots_attempted=2,
            volume_snapshots_completed=2,
        ),
        o.backup(
            LONG,
            schedule="daily-critical",
            phase="PartiallyFailed",
            started=NOW - 6 * H,
            completed=NOW - 5 * H,
            volume_snapshots_attempted=2,
            volume_snapshots_completed=1,
            csi_snapshots_attempted=1,
            csi_snapshots_completed=1,
        ),
    ]
    pvbs = [
        *_pvbs(HOT_1, NOW - 2 * H, {"pgdata": 6 * GIB, "uploads": GIB, "redis": GIB // 4}),
        *_pvbs(HOT_2, NOW - H, {"uploads": GIB, "redis": GIB // 4}, failed="redis"),
        # The running backup's: unfinished, one has moved bytes, one has not started.
        o.pod_volume_backup(
            "hourly-hot-3-uploads",
            backup="hourly-hot-3",
            pod="uploads-0",
            pod_namespace="kailash-app",
            volume="uploads",
            progress=o.Progress(
                phase="InProgress", created=NOW - 50, started=NOW - 40, bytes_done=GIB // 2, total_bytes=GIB
            ),
        ),
        o.pod_volume_backup(
            "hourly-hot-3-redis",
            backup="hourly-hot-3",
            pod="redis-0",
            pod_namespace="kailash-app",
            volume="redis",
            progress=o.Progress(phase="New", created=NOW - 45),
        ),
    ]
    uploads = [
        o.data_upload(
            f"critical-{pvc}",
            backup=LONG,
            pvc=pvc,
            pvc_namespace="vault",
            progress=o.Progress(
                phase=phase, started=NOW - 6 * H + 60, completed=NOW - 5 * H - 60, bytes_done=done, total_bytes=2 * GIB
            ),
        )
        for pvc, phase, done in (("data-vault-0", "Completed", 2 * GIB), ("audit-vault-0", "Canceled", GIB))
    ]
    restores = [o.restore("restore-hot", backup_name=HOT_1, phase="InProgress", started=NOW - 120)]
    pvrs = [
        o.pod_volume_restore(
            "restore-hot-pgdata",
            restore="restore-hot",
            pod="pgdata-0",
            pod_namespace="kailash-app",
            volume="pgdata",
            snapshot="s1",
            progress=o.Progress(phase="InProgress", created=NOW - 100, started=NOW - 90),
        )
    ]
    repositories = [
        o.backup_repository("kailash-app", last_maintenance=NOW - 20 * 60, created=NOW - 90 * 86400),
        o.backup_repository(
            "vault",
            phase="NotReady",
            message="invalid repository password",
            last_maintenance=NOW - 3 * H,
            recent_maintenance=[o.maintenance("Failed", NOW - H, NOW - H + 30, "job failed")],
            created=NOW - 90 * 86400,
        ),
    ]
    return {
        "backups": backups,
        "restores": restores,
        "schedules": [
            o.schedule("hourly-hot", cron="0 * * * *", tier_label=("backup-tier", "hot"), created=NOW - 9 * 86400),
            o.schedule("daily-critical", cron="0 2 * * *", tier_label=("backup-tier", "critical"), created=NOW),
        ],
        "backupstoragelocations": [o.storage_location("default", bucket="primary", default=True)],
        "podvolumebackups": pvbs,
        "podvolumerestores": pvrs,
        "datauploads": uploads,
        "backuprepositories": repositories,
    }


def measure_folders(store: Store, listed: float) -> None:
    """The buckets source's list mode, as of `listed`: the backups' folders in the default location's bucket."""
    target = BucketTarget("default", "primary", "", "us-east-1", "", BucketSettings(), discovered=True)
    sizes = {HOT_1: 40_000, HOT_2: 12_000, "daily-critical-0": 90_000, LONG: 80_000}
    folders = {name: BackupFolder(size, 10, listed, None, present=True) for name, size in sizes.items()}
    usage = {"backups": Usage(sum(sizes.values()), 40, listed)}
    store.buckets.put(target.key, BucketUsage(target, None, usage, MappingProxyType(folders), listed, None))


def load_at(objs: dict[str, list[o.Obj]], seen: float) -> Store:
    """As tests.test_metric_values.load, the exporter's clock reading `seen` when it lists them."""
    store = Store()
    for resource in RESOURCES:
        sink = RecordSink(
            store.collections()[resource.plural], resource.parse, remember=resource.remember, clock=lambda: seen
        )
        sink.replace(objs.get(resource.plural, []))
    return store


def listed_kinds(store: Store, *plurals: str) -> Store:
    for plural in plurals:
        store.health.resource(plural).synced = True
    return store


@pytest.fixture(scope="module")
def samples() -> Samples:
    store = load_at(fixture_objects(), seen=NOW - 30)
    listed_kinds(store, "podvolumebackups", "podvolumerestores", "datauploads")
    measure_folders(store, listed=NOW - 10 * 60)
    return render(store, now=NOW)


def _by(samples: Samples, name: str, *keys: str) -> dict[tuple[str, ...], float]:
    return {tuple(dict(labels)[k] for k in keys): v for labels, v in series(samples, name).items()}


def test_the_newest_backup_s_volumes_by_method_and_phase(samples: Samples) -> None:
    volumes = _by(samples, "velero_schedule_last_backup_volumes", "schedule", "tier", "method", "phase")
    nonzero = {k: v for k, v in volumes.items() if v}
    assert nonzero == {
        ("hourly-hot", "hot", "fs-backup", "Completed"): 1,
        ("hourly-hot", "hot", "fs-backup", "Failed"): 1,
        ("daily-critical", "critical", "data-mover", "Completed"): 1,
        ("daily-critical", "critical", "data-mover", "Canceled"): 1,
        ("daily-critical", "critical", "snapshot", "Completed"): 1,
        ("daily-critical", "critical", "snapshot", "Failed"): 1,
        ("daily-critical", "critical", "csi-snapshot", "Completed"): 1,
    }
    # Every phase of each method is there, for both schedules: 2 methods x 9 phases + 2 x 2 outcomes.
    assert len(volumes) == 2 * (2 * len(ALL_VOLUME_OPERATION_PHASES) + 2 * 2)


def test_the_previous_backup_s_volumes_and_both_backups_bytes(samples: Samples) -> None:
    previous = _by(samples, "velero_schedule_previous_backup_volumes", "schedule", "method")
    assert previous == {
        ("hourly-hot", "fs-backup"): 3,
        ("hourly-hot", "data-mover"): 0,
        ("hourly-hot", "snapshot"): 0,
        ("hourly-hot", "csi-snapshot"): 0,
        ("daily-critical", "fs-backup"): 0,
        ("daily-critical", "data-mover"): 0,
        ("daily-critical", "snapshot"): 2,
        ("daily-critical", "csi-snapshot"): 0,
    }
    assert _by(samples, "velero_schedule_last_backup_volume_bytes", "schedule", "method") == {
        ("hourly-hot", "fs-backup"): GIB + GIB // 4,
        ("hourly-hot", "data-mover"): 0,
        ("daily-critical", "fs-backup"): 0,
        ("daily-critical", "data-mover"): 3 * GIB,  # the Canceled upload's GiB counts as moved
    }
    assert _by(samples, "velero_schedule_previous_backup_volume_bytes", "schedule", "method") == {
        ("hourly-hot", "fs-backup"): 6 * GIB + GIB + GIB // 4,
        ("hourly-hot", "data-mover"): 0,
        ("daily-critical", "fs-backup"): 0,
        ("daily-critical", "data-mover"): 0,
    }


def test_sizes_come_from_the_folders_the_buckets_source_listed(samples: Samples) -> None:
    assert _by(samples, "velero_schedule_last_backup_size_bytes", "schedule", "tier") == {
        ("hourly-hot", "hot"): 12_000,
        ("daily-critical", "critical"): 80_000,
    }
    assert _by(samples, "velero_schedule_previous_backup_size_bytes", "schedule") == {
        ("hourly-hot",): 40_000,
        ("daily-critical",): 90_000,
    }


def test_a_folder_listed_before_its_backup_finished_has_no_size() -> None:
    store = load(fixture_objects())
    measure_folders(store, listed=NOW - H + 60)  # hourly-hot-2 finished at NOW - H + 90
    samples = render(store, now=NOW)
    assert value(samples, "velero_schedule_last_backup_size_bytes", schedule="hourly-hot", tier="hot") is None
    assert value(samples, "velero_schedule_previous_backup_size_bytes", schedule="hourly-hot", tier="hot") == 40_000


def test_operations_by_kind_and_phase_only_for_the_kinds_listed(samples: Samples) -> None:
    operations = _by(samples, "velero_volume_operations", "kind", "phase")
    assert {k: v for k, v in operations.items() if v} == {
        ("PodVolumeBackup", "Completed"): 4,
        ("PodVolumeBackup", "Failed"): 1,
        ("PodVolumeBackup", "InProgress"): 1,
        ("PodVolumeBackup", "New"): 1,
        ("PodVolumeRestore", "InProgress"): 1,
        ("DataUpload", "Completed"): 1,
        ("DataUpload", "Canceled"): 1,
    }
    # DataDownloads were never listed (not served, or forbidden): no zeros that would look like health.
    assert {kind for kind, _ in operations} == {"PodVolumeBackup", "PodVolumeRestore", "DataUpload"}
    assert len(operations) == 3 * len(ALL_VOLUME_OPERATION_PHASES)


def test_unfinished_operations_and_when_they_last_moved(samples: Samples) -> None:
    progress = _by(samples, "velero_volume_operation_progress_timestamp_seconds", "kind", "operation", "backup")
    assert progress == {
        # It moved bytes before the exporter first saw it (its first list, at NOW - 30): from then.
        ("PodVolumeBackup", "hourly-hot-3-uploads", "hourly-hot-3"): NOW - 30,
        ("PodVolumeBackup", "hourly-hot-3-redis", "hourly-hot-3"): NOW - 45,  # created, nothing moved
        ("PodVolumeRestore", "restore-hot-pgdata", HOT_1): NOW - 90,  # the restored backup
    }


def test_repositories(samples: Samples) -> None:
    ready = _by(samples, "velero_repository_ready", "repository", "repository_type", "location", "volume_namespace")
    assert ready == {
        ("kailash-app-default-kopia", "kopia", "default", "kailash-app"): 1,
        ("vault-default-kopia", "kopia", "default", "vault"): 0,
    }
    assert _by(samples, "velero_repository_last_maintenance_timestamp_seconds", "repository") == {
        ("kailash-app-default-kopia",): NOW - 20 * 60,
        ("vault-default-kopia",): NOW - 3 * H,
    }
    assert _by(samples, "velero_repository_maintenance_frequency_seconds", "repository") == {
        ("kailash-app-default-kopia",): H,
        ("vault-default-kopia",): H,
    }
    # Only Velero 1.16+ reports a result: absent for the other.
    assert _by(samples, "velero_repository_last_maintenance_result", "repository", "result") == {
        ("vault-default-kopia", "Succeeded"): 0,
        ("vault-default-kopia", "Failed"): 1,
    }


def test_volume_series_do_not_grow_with_finished_operations() -> None:
    def count(extra_runs: int) -> int:
        objs = fixture_objects()
        for i in range(extra_runs):
            name = f"hourly-hot-old-{i}"
            started = NOW - (3 + i) * H
            objs["backups"].append(o.backup(name, schedule="hourly-hot", started=started, completed=started + 60))
            objs["podvolumebackups"] += _pvbs(name, started, {"pgdata": GIB, "uploads": GIB})
            objs["datauploads"].append(
                o.data_upload(
                    f"{name}-du",
                    backup=name,
                    pvc="d",
                    pvc_namespace="n",
                    progress=o.Progress(started=started, bytes_done=1),
                )
            )
        store = listed_kinds(load(objs), "podvolumebackups", "podvolumerestores", "datauploads")
        return len(render(store, now=NOW))

    assert count(0) == count(50)


def test_the_status_page_shows_the_volume_data_operations_and_repositories() -> None:
    store = load_at(fixture_objects(), seen=NOW - 30)
    listed_kinds(store, "podvolumebackups", "podvolumerestores", "datauploads")
    measure_folders(store, listed=NOW - 10 * 60)
    models = Renderer(store, Config(), Exposition(), version="t").models(store.view(), NOW)
    page = render_status_page(
        models.model, models.aws, store.health, NOW, volumes=models.volumes, version="t", telemetry_path="/m"
    )
    tables = parse_tables(page)

    volumes = {row[0]: row for row in tables["Volume data (newest finished backup vs the one before)"]}
    assert volumes["hourly-hot"] == [
        "hourly-hot",
        "hot",
        HOT_2,
        "fs-backup: 2 (1 failed), 1.2 GiB",
        "11.7 KiB",
        HOT_1,
        "fs-backup: 3, 7.2 GiB",
        "39.1 KiB",
        "fs-backup volumes failed, fewer fs-backup volumes, fs-backup bytes shrank, folder shrank",
    ]
    assert volumes["daily-critical"][3] == "data-mover: 2 (1 failed), 3.0 GiB; snapshot: 2 (1 failed); csi-snapshot: 1"
    assert volumes["daily-critical"][8] == "data-mover volumes failed"

    in_flight = tables["Volume operations in flight"]
    assert [row[:4] for row in in_flight] == [
        ["PodVolumeBackup", "hourly-hot-3-redis", "hourly-hot-3", "New"],
        ["PodVolumeBackup", "hourly-hot-3-uploads", "hourly-hot-3", "InProgress"],
        ["PodVolumeRestore", "restore-hot-pgdata", HOT_1, "InProgress"],
    ]
    assert in_flight[1][4:] == ["512.0 MiB of 1.0 GiB", "2026-11-26 12:00 UTC (30s ago)"]

    repositories = {row[0]: row[1:] for row in tables["Backup repositories"]}
    assert repositories == {
        "kailash-app-default-kopia": [
            "kopia",
            "default",
            "kailash-app",
            "Ready",
            "2026-11-26 11:40 UTC (20m ago)",
            "1h",
            "—",
        ],
        "vault-default-kopia": [
            "kopia",
            "default",
            "vault",
            "NotReady",
            "2026-11-26 09:00 UTC (3h ago)",
            "1h",
            "Failed",
        ],
    }


def test_an_implausible_timestamp_is_dropped_and_counted() -> None:
    """A time no Velero writes (2099, or year 1) is unknown, as for Backups: never a progress time or a maintenance."""
    year_2099 = datetime(2099, 1, 1, tzinfo=UTC).timestamp()
    objs = fixture_objects()
    objs["podvolumebackups"].append(
        o.pod_volume_backup(
            "forged",
            backup="hourly-hot-3",
            pod="x-0",
            pod_namespace="kailash-app",
            volume="x",
            progress=o.Progress("InProgress", created=NOW - 50, started=year_2099),
        )
    )
    objs["backuprepositories"].append(o.backup_repository("forged", last_maintenance=year_2099, created=NOW - 60))
    samples = render(load_at(objs, seen=NOW - 30), now=NOW)
    progress = "velero_volume_operation_progress_timestamp_seconds"
    assert value(samples, progress, kind="PodVolumeBackup", operation="forged", backup="hourly-hot-3") == NOW - 50
    assert (
        value(samples, "velero_repository_last_maintenance_timestamp_seconds", repository="forged-default-kopia")
        is None
    )
    for resource in ("podvolumebackups", "backuprepositories"):
        problem = {"resource": resource, "reason": "implausible_timestamp"}
        assert value(samples, "velero_exporter_invalid_objects", **problem) == 1
