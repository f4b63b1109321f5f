"""The Kubernetes fault matrix, end to end: each fault shows in the health metrics while it lasts, nothing
crashes, and once it is gone /metrics equals the truth (the model rendered straight from the server's objects).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.faulty_kube_api import FaultyKubeAPI
from tests.metrics_text import Samples, value
from tests.test_exporter_live import Harness, now, start_harness
from tests.test_metric_values import load, render
from velero_exporter.sandbox import objects as o
from velero_exporter.sources.kube.source import RESOURCES


def seed(api: FaultyKubeAPI) -> None:
    t = now()
    api.create(o.schedule("hourly-hot", cron="0 * * * *", tier_label=("backup-tier", "hot"), created=t - 86400))
    api.create(o.schedule("daily-critical", cron="0 2 * * *", created=t - 86400))
    for i in range(30):
        api.create(
            o.backup(f"hourly-hot-{i}", schedule="hourly-hot", started=t - 3600 * (i + 1), completed=t - 3600 * i)
        )
    api.create(
        o.backup("daily-critical-1", schedule="daily-critical", phase="Failed", started=t - 7200, completed=t - 7000)
    )
    api.create(o.restore("r1", backup_name="hourly-hot-3", started=t - 600, completed=t - 300))
    api.create(o.storage_location("default", bucket="b", last_validated=t))


def truth(api: FaultyKubeAPI, at: float) -> Samples:
    """What /metrics must say about Velero's objects: the same pipeline fed directly with the server's objects,
    every resource listed (as the exporter has, once the fault is gone)."""
    store = load({r.plural: api.list(r.plural) for r in RESOURCES})
    for resource in RESOURCES:
        store.health.resource(resource.plural).synced = True
    return state(render(store, now=at))


def state(samples: Samples) -> Samples:
    """The object-state series (the exporter's own health differs by design)."""
    return {k: v for k, v in samples.items() if not k[0].startswith("velero_exporter_")}


def churn(api: FaultyKubeAPI, tag: str) -> None:
    """Changes made while the fault lasts: a new backup, a finished one, a deletion."""
    t = now()
    api.create(o.backup(f"during-{tag}", schedule="hourly-hot", phase="InProgress", started=t))
    api.replace(o.backup("daily-critical-1", schedule="daily-critical", started=t - 7200, completed=t - 7000))
    api.delete("backups", "hourly-hot-29")


@dataclass(frozen=True)
class Fault:
    name: str
    inject: Callable[[FaultyKubeAPI], Awaitable[None]]
    shows: Callable[[Samples], bool]  # the fault, as the health metrics show it while it lasts
    clear: Callable[[FaultyKubeAPI], Awaitable[None]]
    # what the server must have seen, where the health metrics alone cannot tell this fault from another
    at_server: Callable[[FaultyKubeAPI], bool] = lambda _: True


def errors(kind: str) -> Callable[[Samples], bool]:
    return lambda s: (value(s, "velero_exporter_source_errors_total", source="kube", kind=kind) or 0) >= 1


def relisted(s: Samples) -> bool:
    return (value(s, "velero_exporter_relists_total", resource="backups") or 0) >= 1


async def nothing(_: FaultyKubeAPI) -> None:
    return None


async def expire(api: FaultyKubeAPI) -> None:
    api.faults.stall_watches(0.5)  # the deletion's event must be lost with the history, as after a long gap
    churn(api, "expire")
    api.faults.expire_watches()


async def cut(api: FaultyKubeAPI) -> None:
    api.faults.cut_watches(mid_event=True)
    churn(api, "cut")


def list_errors(status: int) -> Callable[[FaultyKubeAPI], Awaitable[None]]:
    async def inject(api: FaultyKubeAPI) -> None:
        churn(api, str(status))
        # the watch breaks and the relist meets the errors
        api.faults.fail(plural="backups", verb="watch", status=410, times=1)
        api.faults.fail(plural="backups", verb="list", status=status, times=3)
        api.faults.cut_watches(mid_event=False)

    return inject


async def throttle(api: FaultyKubeAPI) -> None:
    churn(api, "429")
    api.faults.fail(plural="backups", verb="watch", status=410, times=1)
    api.faults.fail(plural="backups", verb="list", status=429, times=2, retry_after=1)
    api.faults.cut_watches(mid_event=False)


async def stall(api: FaultyKubeAPI) -> None:
    api.faults.stall_watches(4.0)
    churn(api, "stall")


async def expired_continue(api: FaultyKubeAPI) -> None:
    churn(api, "continue")
    # the watch breaks; the relist's second page meets an expired continue token and the list starts over
    api.faults.expire_continue_tokens("backups")
    api.faults.fail(plural="backups", verb="watch", status=410, times=1)
    api.faults.cut_watches(mid_event=False)


async def gone(api: FaultyKubeAPI) -> None:
    await api.go_down()
    churn(api, "down")


async def back(api: FaultyKubeAPI) -> None:
    await api.come_up()


async def forbid(api: FaultyKubeAPI) -> None:
    api.faults.forbid("restores")
    api.faults.cut_watches(mid_event=False)
    churn(api, "403")


async def allow(api: FaultyKubeAPI) -> None:
    api.faults.allow("restores")


FAULTS = [
    Fault("410 mid-stream", expire, relisted, nothing),
    Fault("stream cut mid-event", cut, errors("unreachable"), nothing),
    Fault("500 on list", list_errors(500), errors("server_error"), nothing),
    Fault("503 on list", list_errors(503), errors("server_error"), nothing),
    Fault("429 with Retry-After", throttle, errors("throttled"), nothing),
    Fault("stalled watch", stall, errors("timeout"), nothing),
    Fault(
        "expired continue token",
        expired_continue,
        errors("expired"),
        nothing,
        lambda api: any(r.query.get("continue") and r.status == 410 for r in api.requests),
    ),
    Fault(
        "API gone while objects are deleted",
        gone,
        lambda s: value(s, "velero_exporter_source_up", source="kube") == 0,
        back,
    ),
    Fault(
        "403 on one resource",
        forbid,
        lambda s: value(s, "velero_exporter_resource_forbidden", resource="restores") == 1,
        allow,
    ),
]


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.name)
async def test_fault_shows_then_metrics_equal_the_truth(tmp_path: Path, fault: Fault) -> None:
    # pages of 10, so that a relist of the 31 backups follows continue tokens
    async for h in start_harness(tmp_path, seed, page_size=10):
        await h.until(lambda s: value(s, "velero_exporter_resource_objects", resource="backups") == 31, "sync")
        await fault.inject(h.api)
        await h.until(fault.shows, f"{fault.name} in the health metrics")
        await fault.clear(h.api)
        await until_truth(h)
        assert fault.at_server(h.api)


async def until_truth(h: Harness) -> None:
    deadline = time.monotonic() + 30
    last: Samples = {}
    while time.monotonic() < deadline:
        payload = h.exporter.exposition.current
        if payload is not None:
            last = state(await h.scrape())
            if (
                last == truth(h.api, payload.rendered_at)
                and value(last, "velero_tier_backups", tier="hot", phase="InProgress") == 1
            ):
                return
        await asyncio.sleep(0.1)
    expected = truth(h.api, time.time())
    diff = {k: (last.get(k), expected.get(k)) for k in set(last) | set(expected) if last.get(k) != expected.get(k)}
    raise AssertionError(f"/metrics differs from the truth: {dict(list(diff.items())[:10])}")
