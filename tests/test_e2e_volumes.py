"""End to end, the volume data alerts: sandbox -> exporter -> real Prometheus (the bundle's rules, `for` at 0s) ->
real Alertmanager -> a webhook.

The story's volume trouble (sandbox/volume_story.py) fires its five alerts; two scenarios on top of it make a
repository NotReady and another's maintenance overdue; then Velero's part is played to repair each cause (a new
hourly run with every volume, a weekly run whose file-system backups complete, the stalled DataUpload moving,
maintenance succeeding, the repository Ready again) and every one of the seven alerts resolves at the receiver.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from tests.test_e2e import Alert, Receiver, alert, firing, receiver, test_rules, wait_for
from velero_exporter.app import Exporter, Options
from velero_exporter.config.file import load_config
from velero_exporter.sandbox import objects as o
from velero_exporter.sandbox.demo import DEMO_CONFIG, running_sandbox
from velero_exporter.sandbox.kube_api import FakeKubeAPI
from velero_exporter.sandbox.monitoring import running_alertmanager, running_prometheus
from velero_exporter.sandbox.story import TIER_LABEL, run_name
from velero_exporter.sandbox.volume_story import STALLED_BACKUP, STALLED_OPERATION, operations

ROOT = Path(__file__).resolve().parent.parent
__all__ = ["receiver"]  # the webhook fixture, shared with tests/test_e2e.py
VOLUME_ALERTS = {
    "VeleroBackupVolumeDataMissing",
    "VeleroBackupShrank",
    "VeleroVolumeOperationStalled",
    "VeleroVolumeOperationFailed",
    "VeleroRepositoryNotReady",
    "VeleroRepositoryMaintenanceOverdue",
    "VeleroRepositoryMaintenanceFailed",
}
STORY: set[Alert] = {
    alert(
        alertname="VeleroBackupVolumeDataMissing",
        severity="warning",
        schedule="hourly-hot",
        tier="hot",
        method="fs-backup",
        reason="fewer_volumes",
    ),
    alert(
        alertname="VeleroBackupShrank",
        severity="warning",
        schedule="hourly-hot",
        tier="hot",
        method="fs-backup",
        reason="volume_bytes",
    ),
    alert(
        alertname="VeleroVolumeOperationFailed",
        severity="warning",
        schedule="weekly-full",
        tier="full",
        method="fs-backup",
        phase="Failed",
    ),
    alert(
        alertname="VeleroVolumeOperationStalled",
        severity="warning",
        kind="DataUpload",
        operation=STALLED_OPERATION,
        backup=STALLED_BACKUP,
    ),
    alert(
        alertname="VeleroRepositoryMaintenanceFailed",
        severity="warning",
        repository="vault-default-kopia",
        location="default",
        volume_namespace="vault",
    ),
}
SCENARIOS: set[Alert] = {
    alert(
        alertname="VeleroRepositoryNotReady",
        severity="warning",
        repository="kailash-app-default-kopia",
        repository_type="kopia",
        location="default",
        volume_namespace="kailash-app",
    ),
    alert(
        alertname="VeleroRepositoryMaintenanceOverdue",
        severity="warning",
        repository="monitoring-default-kopia",
        location="default",
        volume_namespace="monitoring",
        reason="stale",
    ),
}


def volume_alerts(alerts: set[Alert]) -> set[Alert]:
    return {a for a in alerts if dict(a)["alertname"] in VOLUME_ALERTS}


def set_repository(api: FakeKubeAPI, name: str, **status: object) -> None:
    repository = api.get("backuprepositories", name)
    assert repository is not None, name
    repository["status"].update(status)
    api.replace(repository)


def trouble(api: FakeKubeAPI, now: float) -> None:
    """The scenarios: kailash-app's repository loses its password; monitoring's maintenance stops for 3 hours."""
    set_repository(api, "kailash-app-default-kopia", phase="NotReady", message="invalid repository password")
    set_repository(api, "monitoring-default-kopia", lastMaintenanceTime=o.rfc3339(now - 3 * 3600))


def repair(api: FakeKubeAPI, now: float) -> None:
    """Velero's part once the causes are fixed."""
    # A new hourly run with all three volumes; a weekly run whose file-system backups all complete.
    for schedule, tier in (("hourly-hot", "hot"), ("weekly-full", "full")):
        name = run_name(schedule, now - 120)
        for operation in operations(name, schedule, now - 120, now - 10):
            api.create(operation)
        snapshots = 24 if schedule == "weekly-full" else 0
        api.create(
            o.backup(
                name,
                schedule=schedule,
                labels={TIER_LABEL: tier},
                started=now - 120,
                completed=now - 10,
                volume_snapshots_attempted=snapshots,
                volume_snapshots_completed=snapshots,
            )
        )
    # The stalled DataUpload moves again.
    upload = api.get("datauploads", STALLED_OPERATION)
    assert upload is not None
    upload["status"]["progress"]["bytesDone"] = 1024**3
    api.replace(upload)
    # Maintenance succeeds; the repository is Ready again.
    done = o.maintenance("Succeeded", now - 60, now - 5)
    set_repository(api, "vault-default-kopia", lastMaintenanceTime=o.rfc3339(now - 5), recentMaintenance=[done])
    set_repository(api, "monitoring-default-kopia", lastMaintenanceTime=o.rfc3339(now - 5))
    set_repository(api, "kailash-app-default-kopia", phase="Ready", message=None)


@pytest.mark.slow
async def test_volume_alerts_fire_from_the_sandbox_and_resolve_when_velero_repairs(
    tmp_path: Path, receiver: tuple[Receiver, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="e2e")
    webhook, webhook_url = receiver
    rules = test_rules(tmp_path)
    async with running_sandbox(time.time()) as sandbox:
        options = Options(listen_host="127.0.0.1", listen_port=0, kubeconfig=str(sandbox.kubeconfig))
        async with (
            Exporter(load_config(DEMO_CONFIG), options) as exporter,
            running_alertmanager(webhook_url, ROOT / "rules" / "alertmanager-inhibit.yml") as alertmanager,
            running_prometheus(
                [exporter.url.removeprefix("http://")], [rules], alertmanager.url, scrape_interval="1s"
            ) as prometheus,
        ):
            last: set[Alert] = set()

            async def until(expected: set[Alert], what: str) -> None:
                async def check() -> bool:
                    nonlocal last
                    last = volume_alerts(await firing(prometheus.url))
                    return last == expected

                await wait_for(check, what)

            try:
                await until(STORY, "the story's volume alerts")
                trouble(sandbox.api, time.time())
                await until(STORY | SCENARIOS, "the repository scenarios' alerts")
                repair(sandbox.api, time.time())
                await until(set(), "every volume alert resolved")
            except AssertionError:
                raise AssertionError(f"volume alerts firing: {sorted(dict(a)['alertname'] for a in last)}") from None

            async def all_resolved_at_the_receiver() -> bool:
                return all(
                    webhook.seen("resolved", name, {k: v for k, v in labels if k != "alertname"})
                    for name, labels in ((dict(a)["alertname"], a) for a in STORY | SCENARIOS)
                )

            await wait_for(all_resolved_at_the_receiver, "the seven alerts resolved at the receiver")
