"""The volume data kinds through the whole exporter and the wire-level fake API: an older Velero that serves no
DataUploads, a Role that forbids them, and the progress the exporter remembers across watch events and relists."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp

from tests.faulty_kube_api import FaultyKubeAPI
from tests.metrics_text import Samples, value
from tests.test_exporter_live import KUBE_ONLY, Harness, now, phase_of, seed_hourly, serving
from tests.test_status_page import DemoExporter, demo_exporter, parse_tables
from velero_exporter.sandbox import objects as o
from velero_exporter.sandbox.scenarios.volumes import STALLED_BACKUP

__all__ = ["demo_exporter"]  # the sandbox's exporter fixture, shared with tests/test_status_page.py

PROGRESS = "velero_volume_operation_progress_timestamp_seconds"
UPLOAD = {"kind": "DataUpload", "operation": "hourly-hot-1-a1b2c", "backup": "hourly-hot-1"}


async def running(tmp_path: Path, api: FaultyKubeAPI, seed: Callable[[FaultyKubeAPI], None]) -> AsyncIterator[Harness]:
    await api.start()
    seed(api)
    async for h in serving(tmp_path, api, KUBE_ONLY):
        yield h


def seed_volumes(api: FaultyKubeAPI) -> None:
    seed_hourly(api)
    t = now()
    api.create(
        o.pod_volume_backup(
            "hourly-hot-1-x7k2p",
            backup="hourly-hot-1",
            pod="db-0",
            pod_namespace="app",
            volume="data",
            progress=o.Progress(started=t - 7190, completed=t - 7110, bytes_done=500, total_bytes=500),
        )
    )
    api.create(o.backup_repository("app", last_maintenance=t - 600, created=t - 86400))


def resource(samples: Samples, family: str, plural: str) -> float | None:
    return value(samples, f"velero_exporter_resource_{family}", resource=plural)


async def test_an_older_velero_without_the_data_movers_runs_and_says_so(tmp_path: Path) -> None:
    async for h in running(tmp_path, FaultyKubeAPI(bookmark_interval=0.5, versions=("v1",)), seed_volumes):
        samples = await h.until(
            lambda s: resource(s, "served", "datauploads") == 0 and resource(s, "served", "datadownloads") == 0,
            "DataUploads and DataDownloads reported not served",
        )
        assert resource(samples, "forbidden", "datauploads") == 0
        assert resource(samples, "up", "datauploads") == 0
        assert resource(samples, "served", "podvolumebackups") == 1
        # Not served is not down: the source is up, and the exporter ready, with what the cluster has.
        samples = await h.until(lambda s: value(s, "velero_exporter_source_up", source="kube") == 1, "source up")
        assert await h.readiness() == 200
        samples = await h.until(
            lambda s: value(s, "velero_volume_operations", kind="PodVolumeBackup", phase="Completed") == 1,
            "the PodVolumeBackup counted",
        )
        kinds = {dict(labels)["kind"] for (name, labels) in samples if name == "velero_volume_operations"}
        assert kinds == {"PodVolumeBackup", "PodVolumeRestore"}
        assert (
            value(
                samples,
                "velero_schedule_last_backup_volumes",
                schedule="hourly-hot",
                tier="hot",
                method="fs-backup",
                phase="Completed",
            )
            == 1
        )
        assert (
            value(
                samples,
                "velero_repository_ready",
                repository="app-default-kopia",
                repository_type="kopia",
                location="default",
                volume_namespace="app",
            )
            == 1
        )


async def test_a_role_without_the_volume_kinds_is_reported_and_not_waited_for(tmp_path: Path) -> None:
    def seed(api: FaultyKubeAPI) -> None:
        seed_volumes(api)
        for plural in ("podvolumebackups", "podvolumerestores", "datauploads", "datadownloads", "backuprepositories"):
            api.forbidden.add(plural)

    async for h in running(tmp_path, FaultyKubeAPI(bookmark_interval=0.5), seed):
        samples = await h.until(lambda s: resource(s, "forbidden", "backuprepositories") == 1, "the 403s")
        await h.until(lambda s: phase_of(s, "hourly-hot", "hot") == "Completed", "backups served")
        samples = await h.until(lambda s: value(s, "velero_exporter_source_up", source="kube") == 1, "source up")
        assert await h.readiness() == 200
        assert not [name for name, _ in samples if name == "velero_volume_operations"]
        h.api.forbidden.discard("podvolumebackups")
        await h.until(
            lambda s: value(s, "velero_volume_operations", kind="PodVolumeBackup", phase="Completed") == 1,
            "allowed again",
        )


async def test_progress_is_remembered_across_watch_events_and_relists(tmp_path: Path) -> None:
    t = now()

    def upload(bytes_done: int, message: str | None = None, phase: str = "InProgress") -> o.Obj:
        return o.data_upload(
            UPLOAD["operation"],
            backup="hourly-hot-1",
            pvc="data-db-0",
            pvc_namespace="app",
            progress=o.Progress(
                phase=phase,
                created=t - 3600,
                accepted=t - 3590,
                started=t - 3500,
                completed=t if phase == "Completed" else None,
                bytes_done=bytes_done,
                total_bytes=10_000,
                message=message,
            ),
        )

    def seed(api: FaultyKubeAPI) -> None:
        seed_hourly(api)
        api.create(upload(0))

    async for h in running(tmp_path, FaultyKubeAPI(bookmark_interval=0.5), seed):
        # Nothing moved yet: it last moved when it started, whenever the exporter first saw it.
        await h.until(lambda s: value(s, PROGRESS, **UPLOAD) == t - 3500, "the start as the last progress")

        before = time.time()
        h.api.replace(upload(4000))

        def moved_since(s: Samples, after: float = before) -> bool:
            return (value(s, PROGRESS, **UPLOAD) or 0) >= after

        samples = await h.until(moved_since, "bytes moved")
        moved = value(samples, PROGRESS, **UPLOAD)
        assert moved is not None and moved <= time.time()

        # A status change that moves nothing (a message), then a relist after 410 Expired: the time stays.
        h.api.replace(upload(4000, message="uploading"))
        h.api.faults.expire_watches()
        await h.until(lambda s: value(s, "velero_exporter_relists_total", resource="datauploads") == 1, "relist")
        h.api.create(o.backup("hourly-hot-2", schedule="hourly-hot", started=t - 60, phase="InProgress"))
        samples = await h.until(
            lambda s: value(s, "velero_tier_backups", tier="hot", phase="InProgress") == 1, "a later event"
        )
        assert value(samples, PROGRESS, **UPLOAD) == moved

        h.api.replace(upload(10_000, phase="Completed"))
        samples = await h.until(lambda s: value(s, PROGRESS, **UPLOAD) is None, "finished: no series")
        assert value(samples, "velero_volume_operations", kind="DataUpload", phase="Completed") == 1


async def test_the_status_page_shows_the_sandboxs_volume_data(demo_exporter: DemoExporter) -> None:
    async with aiohttp.ClientSession() as http, http.get(demo_exporter.exporter.url + "/") as resp:
        tables = parse_tables(await resp.text())
    volumes = {row[0]: row for row in tables["Volume data (newest finished backup vs the one before)"]}
    hot = volumes["hourly-hot"]
    # The database pod opted out of the newest hourly run (sandbox/volume_story.py).
    assert (hot[3], hot[6]) == ("fs-backup: 2, 1.8 GiB", "fs-backup: 3, 7.8 GiB")
    assert hot[8] == "fewer fs-backup volumes, fs-backup bytes shrank"
    assert volumes["weekly-full"][8] == "fs-backup volumes failed"
    assert volumes["daily-critical"][3] == "data-mover: 3 (1 failed), 10.5 GiB; snapshot: 6 (4 failed)"
    assert volumes["daily-critical"][8] == "none"  # it Failed: VeleroBackupFailure's, not the volume alerts'
    assert volumes["config-backup"][3] == "no volumes"
    ((kind, operation, backup, phase, done, since),) = tables["Volume operations in flight"]
    assert (kind, backup, phase, done) == ("DataUpload", STALLED_BACKUP, "InProgress", "0 B of 12.0 GiB")
    assert operation.startswith(STALLED_BACKUP) and re.search(r"\(5\dm(\d+s)? ago\)$", since), since
    repositories = {row[0]: (row[4], row[7]) for row in tables["Backup repositories"]}
    assert repositories == {
        "kailash-app-default-kopia": ("Ready", "Succeeded"),
        "logging-default-kopia": ("Ready", "Succeeded"),
        "monitoring-default-kopia": ("Ready", "Succeeded"),
        "vault-default-kopia": ("Ready", "Failed"),
    }
