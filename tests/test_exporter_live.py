"""The whole exporter against the wire-level fake Kubernetes API: changes follow, faults heal, HTTP behaves.

Each test waits for a change with a generous deadline; how fast changes arrive is the benchmark's business.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from tests.faulty_kube_api import FaultyKubeAPI
from tests.metrics_text import Samples, parse_samples, value
from velero_exporter.app import Exporter, Options
from velero_exporter.config.settings import AwsConfig, Config
from velero_exporter.sandbox import objects as o
from velero_exporter.sources.kube.source import RESOURCES

DEADLINE = 20.0
LONG_DEADLINE = 120.0  # for what a busy machine slows down most
H = 3600.0
MANY_BACKUPS = 2000  # four list pages
FAST_REFLECTOR = {"inactivity_timeout": 2.0, "backoff_initial": 0.05, "backoff_max": 0.5, "watch_timeout": 5.0}


# These tests are about the Kubernetes side: the AWS sources stay off (tests/test_aws_sources.py has them).
KUBE_ONLY = Config(aws=AwsConfig(enabled=False))


@dataclass
class Harness:
    api: FaultyKubeAPI
    exporter: Exporter
    http: aiohttp.ClientSession

    async def scrape(self, headers: dict[str, str] | None = None) -> Samples:
        async with self.http.get(f"{self.exporter.url}/metrics", headers=headers) as resp:
            assert resp.status == 200
            return parse_samples(await resp.text())

    async def until(self, check: Callable[[Samples], bool], what: str, within: float = DEADLINE) -> Samples:
        deadline = time.monotonic() + within
        samples: Samples = {}
        while time.monotonic() < deadline:
            if self.exporter.exposition.current is not None:
                samples = await self.scrape()
                if check(samples):
                    return samples
            await asyncio.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}")

    async def readiness(self, within: float = DEADLINE) -> int:
        """/readyz's status once it is 200, or at the deadline: readiness follows the first lists' render."""
        deadline = time.monotonic() + within
        while True:
            async with self.http.get(f"{self.exporter.url}/readyz") as resp:
                if resp.status == 200 or time.monotonic() >= deadline:
                    return resp.status
            await asyncio.sleep(0.05)


def now() -> float:
    return float(int(time.time()))


async def serving(tmp_path: Path, api: FaultyKubeAPI, config: Config, **reflector: float) -> AsyncIterator[Harness]:
    """The exporter with `config` on an API already started and seeded; the API is stopped after."""
    options = Options(
        listen_host="127.0.0.1",
        listen_port=0,
        kubeconfig=str(api.write_kubeconfig(tmp_path / "kubeconfig")),
        reflector_options={**FAST_REFLECTOR, **reflector},
    )
    try:
        async with Exporter(config, options) as exporter, aiohttp.ClientSession() as http:
            yield Harness(api, exporter, http)
    finally:
        await api.stop()


async def start_harness(
    tmp_path: Path, seed: Callable[[FaultyKubeAPI], None], *, bookmark_interval: float = 0.5, **reflector: float
) -> AsyncIterator[Harness]:
    api = FaultyKubeAPI(bookmark_interval=bookmark_interval)
    await api.start()
    seed(api)
    async for h in serving(tmp_path, api, KUBE_ONLY, **reflector):
        yield h


def seed_hourly(api: FaultyKubeAPI) -> None:
    t = now()
    api.create(o.schedule("hourly-hot", cron="0 * * * *", tier_label=("backup-tier", "hot"), created=t - 86400))
    api.create(o.backup("hourly-hot-1", schedule="hourly-hot", started=t - 7200, completed=t - 7100))
    api.create(o.storage_location("default", bucket="b", last_validated=t))


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    async for h in start_harness(tmp_path, seed_hourly):
        yield h


def phase_of(samples: Samples, schedule: str, tier: str) -> str | None:
    for phase in ("Completed", "PartiallyFailed", "Failed", "FailedValidation"):
        if value(samples, "velero_schedule_last_backup_phase", schedule=schedule, tier=tier, phase=phase) == 1:
            return phase
    return None


async def test_a_backup_failing_on_the_server_shows_and_a_new_run_does_not_clear_it(harness: Harness) -> None:
    api, t = harness.api, now()
    await harness.until(lambda s: phase_of(s, "hourly-hot", "hot") == "Completed", "the first list")
    api.create(o.backup("hourly-hot-2", schedule="hourly-hot", phase="InProgress", started=t - 60))
    samples = await harness.until(
        lambda s: (
            value(
                s,
                "velero_backup_unfinished_since_timestamp_seconds",
                backup="hourly-hot-2",
                schedule="hourly-hot",
                tier="hot",
                phase="InProgress",
            )
            == t - 60
        ),
        "the running backup",
    )
    assert phase_of(samples, "hourly-hot", "hot") == "Completed"
    api.replace(o.backup("hourly-hot-2", schedule="hourly-hot", phase="Failed", started=t - 60, completed=t - 5))
    samples = await harness.until(lambda s: phase_of(s, "hourly-hot", "hot") == "Failed", "the failure")
    assert value(samples, "velero_schedule_last_failure_timestamp_seconds", schedule="hourly-hot") == t - 5
    assert not [k for k in samples if k[0] == "velero_backup_unfinished_since_timestamp_seconds"]

    api.create(o.backup("hourly-hot-3", schedule="hourly-hot", phase="InProgress", started=t))
    samples = await harness.until(
        lambda s: value(s, "velero_tier_backups", tier="hot", phase="InProgress") == 1, "the new run"
    )
    assert phase_of(samples, "hourly-hot", "hot") == "Failed"  # a new run starting does not clear it

    api.replace(o.backup("hourly-hot-3", schedule="hourly-hot", started=t, completed=t + 30))
    samples = await harness.until(lambda s: phase_of(s, "hourly-hot", "hot") == "Completed", "the recovery")
    assert value(samples, "velero_tier_recovery_point_timestamp_seconds", tier="hot") == t


async def test_a_deleted_backup_leaves_no_series(harness: Harness) -> None:
    api, t = harness.api, now()
    api.create(o.backup("doomed", phase="InProgress", started=t - 10))
    await harness.until(
        lambda s: value(s, "velero_tier_backups", tier="unassigned", phase="InProgress") == 1, "the new backup"
    )
    api.delete("backups", "doomed")
    samples = await harness.until(
        lambda s: value(s, "velero_tier_backups", tier="unassigned", phase="InProgress") == 0, "the deletion"
    )
    assert not [labels for (name, labels) in samples if ("backup", "doomed") in labels]


async def test_410_mid_watch_relists_and_a_deletion_in_the_gap_disappears(harness: Harness) -> None:
    api = harness.api
    await harness.until(lambda s: value(s, "velero_exporter_resource_objects", resource="backups") == 1, "sync")
    # Deleted while the watch is being expired: the DELETED event is lost with the compacted history.
    api.faults.stall_watches(1.0)
    api.delete("backups", "hourly-hot-1")
    api.faults.expire_watches()
    samples = await harness.until(
        lambda s: value(s, "velero_exporter_resource_objects", resource="backups") == 0, "the relist"
    )
    assert value(samples, "velero_tier_recovery_point_timestamp_seconds", tier="hot") is None
    assert value(samples, "velero_exporter_relists_total", resource="backups") >= 1  # type: ignore[operator]


async def test_the_api_down_for_30s_keeps_the_last_state_then_recovers(harness: Harness) -> None:
    api, t = harness.api, now()
    before = await harness.until(lambda s: value(s, "velero_exporter_source_up", source="kube") == 1, "healthy")
    await api.go_down()
    api.create(o.backup("made-while-down", schedule="hourly-hot", started=t - 30, completed=t - 20))
    api.delete("backups", "hourly-hot-1")
    down = await harness.until(lambda s: value(s, "velero_exporter_source_up", source="kube") == 0, "source down")
    assert value(down, "velero_tier_recovery_point_timestamp_seconds", tier="hot") == value(
        before, "velero_tier_recovery_point_timestamp_seconds", tier="hot"
    )
    await asyncio.sleep(30)
    still = await harness.scrape()
    assert value(still, "velero_exporter_source_up", source="kube") == 0
    assert value(still, "velero_tier_last_success_timestamp_seconds", tier="hot") == t - 7100
    errors = sum(v for (n, _), v in still.items() if n == "velero_exporter_source_errors_total")
    assert errors >= 1
    await api.come_up()
    after = await harness.until(
        lambda s: (
            value(s, "velero_exporter_source_up", source="kube") == 1
            and value(s, "velero_tier_recovery_point_timestamp_seconds", tier="hot") == t - 30
        ),
        "recovery",
    )
    assert value(after, "velero_exporter_resource_objects", resource="backups") == 1


async def test_a_forbidden_resource_is_reported_and_the_rest_is_served(tmp_path: Path) -> None:
    def seed(api: FaultyKubeAPI) -> None:
        seed_hourly(api)
        api.faults.forbid("restores")

    async for h in start_harness(tmp_path, seed):
        samples = await h.until(
            lambda s: value(s, "velero_exporter_resource_forbidden", resource="restores") == 1, "the 403"
        )
        assert value(samples, "velero_exporter_resource_up", resource="restores") == 0
        assert value(samples, "velero_exporter_source_up", source="kube") == 0
        assert await h.readiness() == 200
        await h.until(lambda s: phase_of(s, "hourly-hot", "hot") == "Completed", "backups served")
        h.api.faults.allow("restores")
        await h.until(lambda s: value(s, "velero_exporter_resource_up", resource="restores") == 1, "allowed")


async def test_readiness_waits_for_backups_and_schedules(tmp_path: Path) -> None:
    def seed(api: FaultyKubeAPI) -> None:
        seed_hourly(api)
        api.faults.fail(plural="schedules", verb="list", status=503, times=10_000)

    async for h in start_harness(tmp_path, seed):
        await h.until(lambda s: value(s, "velero_exporter_resource_synced", resource="backups") == 1, "backups")
        async with h.http.get(f"{h.exporter.url}/readyz") as resp:
            assert resp.status == 503
        async with h.http.get(f"{h.exporter.url}/healthz") as resp:
            assert resp.status == 200
        h.api.faults.clear()
        assert await h.readiness() == 200


async def test_a_reopened_watch_restores_source_up_without_any_event(tmp_path: Path) -> None:
    """An idle resource may send nothing for minutes (a bookmark a minute on a real API server, none here): after a
    failed watch, the watch the server accepts again is what says the resource is healthy."""
    # No bookmarks, no watch ending within ten minutes, and silence is not a fault for as long: only the accepted
    # watch can bring source_up back.
    async for h in start_harness(
        tmp_path, seed_hourly, bookmark_interval=3600, inactivity_timeout=600, watch_timeout=600
    ):

        def refused(samples: Samples) -> float | None:
            return value(samples, "velero_exporter_source_errors_total", source="kube", kind="server_error")

        await h.until(lambda s: value(s, "velero_exporter_source_up", source="kube") == 1, "healthy", LONG_DEADLINE)
        written = h.api.resource_version
        h.api.faults.fail(plural="restores", verb="watch", status=503, times=1, retry_after=2)
        h.api.faults.cut_watches(mid_event=False)
        await h.until(lambda s: refused(s) == 1, "the refused watch", LONG_DEADLINE)
        samples = await h.until(
            lambda s: (
                value(s, "velero_exporter_resource_up", resource="restores") == 1
                and value(s, "velero_exporter_source_up", source="kube") == 1
            ),
            "the re-opened watch",
            LONG_DEADLINE,
        )
        assert refused(samples) == 1
        watches = [r.status for r in h.api.requests if r.query.get("watch") and r.path.endswith("/restores")]
        assert watches[-2:] == [503, 200]
        # Nothing was written since, and bookmarks are off: the re-opened watch has sent no event at all.
        assert h.api.resource_version == written


def seed_many(api: FaultyKubeAPI) -> None:
    """Enough backups for several list pages, and one object of every other resource."""
    t = now()
    api.create(o.schedule("hourly-hot", cron="0 * * * *", tier_label=("backup-tier", "hot"), created=t - 200 * H))
    for i in range(MANY_BACKUPS):
        started = t - (i + 1) * H
        api.create(o.backup(f"hourly-hot-{i}", schedule="hourly-hot", started=started, completed=started + 60))
    api.create(o.restore("drill", backup_name="hourly-hot-0", started=t - 30 * 60, completed=t - 20 * 60))
    api.create(o.storage_location("default", bucket="b", last_validated=t))
    api.create(o.snapshot_location("aws-default", region="us-east-1"))


@contextlib.contextmanager
def busy_cores() -> Iterator[None]:
    """A process spinning on each core, for as long as the block runs."""
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 2)]
    try:
        yield
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()


async def test_the_first_ready_payload_carries_the_lists_and_source_up_with_every_core_busy(tmp_path: Path) -> None:
    """/readyz once answered 200 before the renderer had rendered the completed lists: a scrape right after saw no
    backups, and source_up 0. Readiness is now a property of the payload served. Three starts, /readyz asked as
    often as the event loop allows, each core busy with a spinning process."""
    with busy_cores():
        for start in range(3):
            (tmp_path / str(start)).mkdir()
            async for h in start_harness(tmp_path / str(start), seed_many):
                status, deadline = 0, time.monotonic() + LONG_DEADLINE
                while status != 200 and time.monotonic() < deadline:
                    async with h.http.get(f"{h.exporter.url}/readyz") as resp:
                        status = resp.status
                assert status == 200, "not ready in time"
                samples = await h.scrape()
                objects = {
                    resource.plural: value(samples, "velero_exporter_resource_objects", resource=resource.plural)
                    for resource in RESOURCES
                }
                # seed_many makes one of each Velero kind but Backups, and no volume data.
                volume_data = {resource.plural: 0.0 for resource in RESOURCES if resource.optional}
                expected = dict.fromkeys(objects, 1.0) | volume_data | {"backups": float(MANY_BACKUPS)}
                assert (start, objects) == (start, expected)
                assert value(samples, "velero_exporter_source_up", source="kube") == 1
                assert value(samples, "velero_tier_backups", tier="hot", phase="Completed") == MANY_BACKUPS
                assert value(samples, "velero_tier_recovery_point_timestamp_seconds", tier="hot") is not None


async def test_formats_and_compression(harness: Harness) -> None:
    await harness.until(lambda s: phase_of(s, "hourly-hot", "hot") == "Completed", "sync")
    url = f"{harness.exporter.url}/metrics"
    om = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
    plain = {"Accept": om, "Accept-Encoding": "identity"}
    async with harness.http.get(url, headers=plain, auto_decompress=False) as resp:
        assert resp.headers["Content-Type"].startswith("application/openmetrics-text")
        assert "Content-Encoding" not in resp.headers
        body = await resp.read()
        assert body.endswith(b"# EOF\n")
    async with harness.http.get(url, headers={"Accept-Encoding": "gzip"}, auto_decompress=False) as resp:
        assert resp.headers["Content-Encoding"] == "gzip"
        assert resp.headers["Content-Type"].startswith("text/plain")
        text = gzip.decompress(await resp.read()).decode()
        assert 'velero_tier_rpo_seconds{tier="hot"} 3600.0' in text
    async with harness.http.get(f"{harness.exporter.url}/nope") as resp:
        assert resp.status == 404
    async with harness.http.post(url) as resp:
        assert resp.status == 405
    async with harness.http.get(f"{harness.exporter.url}/") as resp:
        assert "/metrics" in await resp.text()
