"""End to end, the volume data alerts: sandbox -> exporter -> real Prometheus (the bundle's rules, `for` at 0s) ->
real Alertmanager -> a webhook.

The story's volume trouble (sandbox/volume_story.py) fires its five alerts; two scenarios on top of it make a
repository NotReady and another's maintenance overdue; then Velero's part is played to repair each cause (a new
hourly run with every volume, a weekly run whose file-system backups complete, the stalled DataUpload moving,
maintenance succeeding, the repository Ready again) and every one of the seven alerts resolves at the receiver.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.test_e2e import VOLUME_STORY, Alert, Receiver, alert, firing, pipeline, receiver, wait_for
from velero_exporter.sandbox import objects as o
from velero_exporter.sandbox.kube_api import FakeKubeAPI
from velero_exporter.sandbox.story import TIER_LABEL, run_name
from velero_exporter.sandbox.volume_story import STALLED_OPERATION, operations

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
    tmp_path: Path, receiver: tuple[Receiver, str]
) -> None:
    webhook, webhook_url = receiver
    async with pipeline(tmp_path, webhook_url) as (sandbox, prometheus):
        last: set[Alert] = set()

        async def until(expected: set[Alert], what: str) -> None:
            async def check() -> bool:
                nonlocal last
                last = volume_alerts(await firing(prometheus))
                return last == expected

            try:
                await wait_for(check, what)
            except AssertionError:
                raise AssertionError(f"{what}: firing {sorted(dict(a)['alertname'] for a in last)}") from None

        def unnotified(status: str) -> list[str]:
            return [
                name
                for name, labels in ((dict(a)["alertname"], dict(a)) for a in VOLUME_STORY | SCENARIOS)
                if not webhook.seen(status, name, {k: v for k, v in labels.items() if k != "alertname"})
            ]

        async def notified(status: str) -> None:
            async def check() -> bool:
                return not unnotified(status)

            try:
                # Prometheus resends an alert on its own schedule: generous under load.
                await wait_for(check, f"the seven alerts {status} at the receiver", within=300)
            except AssertionError:
                raise AssertionError(f"not {status} at the receiver: {unnotified(status)}") from None

        await until(VOLUME_STORY, "the story's volume alerts")
        trouble(sandbox.api, time.time())
        await until(VOLUME_STORY | SCENARIOS, "the repository scenarios' alerts")
        # Alertmanager tells of a resolved alert only if it told of it firing.
        await notified("firing")
        repair(sandbox.api, time.time())
        await until(set(), "every volume alert resolved")
        await notified("resolved")
