"""The coverage source end to end against the wire-level fake API with the sandbox's cluster and Schedules: the
exact series the story implies, changes that follow within the exporter's render, the API's refusals, and no
cluster-wide request at all while coverage is off (the fake API's request log is the proof).

Each test waits for a change with a generous deadline; how fast changes arrive is the benchmark's business.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tests.faulty_kube_api import FaultyKubeAPI
from tests.metrics_text import Samples, series, value
from tests.test_exporter_live import Harness, serving
from velero_exporter.config.file import load_config
from velero_exporter.config.settings import Config
from velero_exporter.sandbox import cluster_objects as k
from velero_exporter.sandbox.cluster_story import PLATFORM_NAMESPACES, VOLUME_POLICY
from velero_exporter.sandbox.scenarios.coverage import NEW_NAMESPACE
from velero_exporter.sandbox.story import DEMO, DEMO_CONFIG
from velero_exporter.sources.kube.source import RESOURCES as VELERO_RESOURCES

DEADLINE = 30.0
log = logging.getLogger("coverage-live")


def demo_config(*, coverage: bool = True) -> Config:
    """The demo's config, Kubernetes only (the AWS sources are tests/test_aws_sources.py's)."""
    config = load_config(DEMO_CONFIG)
    return dataclasses.replace(
        config,
        aws=dataclasses.replace(config.aws, enabled=False),
        coverage=dataclasses.replace(config.coverage, enabled=coverage),
    )


async def demo_api(now: float) -> FaultyKubeAPI:
    """The demo's cluster (sandbox/story.py) in the fake API: its Kubernetes objects only, the AWS sources are off."""
    api = FaultyKubeAPI(namespace="velero")
    await api.start()
    for obj in DEMO.build(now).objects.values():
        api.create(obj)
    return api


async def harness_for(
    tmp_path: Path, config: Config, seed: Callable[[FaultyKubeAPI], None] | None = None
) -> AsyncIterator[Harness]:
    api = await demo_api(time.time())
    if seed is not None:
        seed(api)
    async for h in serving(tmp_path, api, config):
        yield h


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    async for h in harness_for(tmp_path, demo_config()):
        yield h


def synced(samples: Samples) -> bool:
    return value(samples, "velero_coverage_namespaces", state="protected") is not None


def unprotected_volumes(samples: Samples) -> dict[tuple[str, str], str]:
    return {
        (dict(labels)["namespace"], dict(labels)["persistentvolumeclaim"]): dict(labels)["reason"]
        for labels, v in series(samples, "velero_pvc_unprotected").items()
        if v == 1
    }


def covered_tiers(samples: Samples, namespace: str) -> set[str]:
    return {
        dict(labels)["tier"]
        for labels, v in series(samples, "velero_namespace_covered").items()
        if dict(labels)["namespace"] == namespace and v == 1
    }


async def test_the_sandbox_story_gives_exactly_the_coverage_it_implies(harness: Harness) -> None:
    samples = await harness.until(synced, "the coverage source's first read")
    # 13 namespaces: 6 platform ones covered; kailash-reports not; kube-*, default (config globs), velero
    # (annotated) and the ten-minute-old preview namespace ignored.
    assert value(samples, "velero_coverage_namespaces", state="protected") == 6
    assert value(samples, "velero_coverage_namespaces", state="unprotected") == 1
    assert value(samples, "velero_coverage_namespaces", state="ignored") == 6
    unprotected_namespaces = {
        dict(n)["namespace"] for n, v in series(samples, "velero_namespace_unprotected").items() if v
    }
    assert unprotected_namespaces == {NEW_NAMESPACE}
    assert covered_tiers(samples, "kailash-app") == {"hot", "critical", "full", "config", "dr"}
    assert covered_tiers(samples, "ingress-nginx") == {"full", "config", "dr"}
    assert covered_tiers(samples, NEW_NAMESPACE) == set()
    assert len(series(samples, "velero_namespace_covered")) == 13 * 5  # every namespace and tier

    assert unprotected_volumes(samples) == {
        ("kailash-app", "media"): "volume_excluded",
        ("monitoring", "grafana-data"): "policy_skip",
        (NEW_NAMESPACE, "reports-db-data"): "namespace_not_selected",
    }
    assert value(samples, "velero_coverage_pvcs", state="protected") == 9
    assert value(samples, "velero_coverage_pvcs", state="unprotected") == 3
    assert value(samples, "velero_coverage_pvcs", state="ignored") == 2  # fluentd's buffer, the preview's db
    postgres = {
        dict(labels)["tier"]: dict(labels)["method"]
        for labels, v in series(samples, "velero_pvc_protected").items()
        if dict(labels)["persistentvolumeclaim"] == "pgdata-postgres-0"
    }
    assert postgres == {"hot": "fs-backup", "critical": "snapshot", "full": "snapshot", "dr": "snapshot"}
    # The uploads volume is on EFS, which no snapshot plugin copies: only hot's fs-backup carries it.
    uploads = {
        dict(labels)["tier"]: dict(labels)["method"]
        for labels, v in series(samples, "velero_pvc_protected").items()
        if dict(labels)["persistentvolumeclaim"] == "uploads"
    }
    assert uploads == {"hot": "fs-backup"}
    assert value(samples, "velero_exporter_source_up", source="coverage") == 1
    assert value(samples, "velero_exporter_resource_objects", resource="pods") == 15  # only the pods with claims
    assert value(samples, "velero_exporter_resource_objects", resource="configmaps") == 1


async def test_a_schedule_that_starts_including_the_namespace_clears_it(harness: Harness) -> None:
    await harness.until(
        lambda s: value(s, "velero_namespace_unprotected", namespace=NEW_NAMESPACE) == 1, "the unprotected namespace"
    )
    schedule = harness.api.get("schedules", "weekly-full")
    assert schedule is not None
    schedule["spec"]["template"]["includedNamespaces"] = [*PLATFORM_NAMESPACES, NEW_NAMESPACE]
    changed = time.monotonic()
    harness.api.replace(schedule)
    samples = await harness.until(
        lambda s: value(s, "velero_namespace_unprotected", namespace=NEW_NAMESPACE) == 0, "the namespace covered"
    )
    log.info("schedule change to cleared series: %.3f s", time.monotonic() - changed)
    assert covered_tiers(samples, NEW_NAMESPACE) == {"full"}
    assert (
        value(
            samples,
            "velero_pvc_protected",
            namespace=NEW_NAMESPACE,
            persistentvolumeclaim="reports-db-data",
            tier="full",
            method="snapshot",
        )
        == 1
    )
    assert (NEW_NAMESPACE, "reports-db-data") not in unprotected_volumes(samples)


async def test_new_and_deleted_objects_follow(harness: Harness) -> None:
    await harness.until(synced, "the first read")
    # A namespace created now is within the grace: counted as ignored, not alerted on.
    harness.api.create(k.namespace("team-new", created=time.time()))
    samples = await harness.until(
        lambda s: value(s, "velero_namespace_unprotected", namespace="team-new") == 0, "the new namespace"
    )
    assert value(samples, "velero_coverage_namespaces", state="ignored") == 7
    # A claim added to a covered namespace, mounted by a new pod: protected by the platform tiers' snapshots.
    harness.api.create(k.pod("worker-0", "vault", claims={"data": "worker-data"}))
    harness.api.create(k.persistent_volume_claim("worker-data", "vault", volume="pv-worker", storage_class="gp3"))
    harness.api.create(k.persistent_volume("pv-worker", claim=("vault", "worker-data"), storage_class="gp3"))
    samples = await harness.until(
        lambda s: (
            value(
                s,
                "velero_pvc_protected",
                namespace="vault",
                persistentvolumeclaim="worker-data",
                tier="critical",
                method="snapshot",
            )
            == 1
        ),
        "the new claim",
    )
    # Deleted, its series go.
    harness.api.delete("persistentvolumeclaims", "worker-data", "vault")
    samples = await harness.until(
        lambda s: not [n for (n, labels) in s if ("persistentvolumeclaim", "worker-data") in labels], "the deletion"
    )
    assert value(samples, "velero_coverage_pvcs", state="protected") == 9


async def test_a_policy_the_exporter_may_not_read_makes_its_volumes_unknown(tmp_path: Path) -> None:
    def seed(api: FaultyKubeAPI) -> None:
        api.forbidden.add("configmaps")

    async for h in harness_for(tmp_path, demo_config(), seed):
        samples = await h.until(
            lambda s: synced(s) and value(s, "velero_exporter_source_up", source="coverage") == 0, "the refusal"
        )
        assert value(samples, "velero_exporter_resource_forbidden", resource="configmaps") == 1
        reasons = unprotected_volumes(samples)
        # Critical, full and dr name the policy: what they do with a volume is unknown, never "protected".
        assert reasons[("monitoring", "grafana-data")] == "unknown"
        assert reasons[("kailash-app", "media")] == "unknown"
        assert reasons[(NEW_NAMESPACE, "reports-db-data")] == "namespace_not_selected"  # no tier selects it
        assert value(samples, "velero_coverage_pvcs", state="protected") == 3  # hot's fs-backup needs no policy
        h.api.forbidden.discard("configmaps")
        await h.until(
            lambda s: unprotected_volumes(s).get(("monitoring", "grafana-data")) == "policy_skip", "the policy read"
        )


async def test_a_cluster_kind_the_exporter_may_not_list_is_reported_and_nothing_is_said(tmp_path: Path) -> None:
    def seed(api: FaultyKubeAPI) -> None:
        api.forbidden.add("pods")

    async for h in harness_for(tmp_path, demo_config(), seed):
        samples = await h.until(
            lambda s: value(s, "velero_exporter_resource_forbidden", resource="pods") == 1, "the 403"
        )
        assert not synced(samples)  # half a cluster would claim volumes unprotected that are not
        assert not series(samples, "velero_pvc_unprotected")
        assert await h.readiness() == 200  # Velero's objects are served all the same
        assert not synced(await h.scrape())


async def test_coverage_off_makes_no_cluster_wide_request(tmp_path: Path) -> None:
    async for h in harness_for(tmp_path, demo_config(coverage=False)):
        samples = await h.until(
            lambda s: value(s, "velero_exporter_resource_synced", resource="schedules") == 1, "the first list"
        )
        await asyncio.sleep(2.0)  # time for anything else the exporter might ask
        samples = await h.scrape()
        assert not synced(samples)
        assert not [
            name for (name, _) in samples if name.startswith(("velero_namespace_", "velero_pvc_", "velero_coverage_"))
        ]
        resources = {dict(labels)["resource"] for labels in series(samples, "velero_exporter_resource_objects")}
        assert resources == {r.plural for r in VELERO_RESOURCES}
        paths = {r.path for r in h.api.requests}
        assert paths  # the exporter did talk to the API ...
        # ... in Velero's namespace only, at Velero's group versions
        velero = ("/apis/velero.io/v1/namespaces/velero/", "/apis/velero.io/v2alpha1/namespaces/velero/")
        assert all(p.startswith(velero) for p in paths), sorted(paths)


async def test_coverage_on_reads_the_cluster_and_gets_only_the_named_policy(harness: Harness) -> None:
    await harness.until(synced, "the first read")
    paths = {r.path for r in harness.api.requests}
    assert {
        "/api/v1/namespaces",
        "/api/v1/pods",
        "/api/v1/persistentvolumeclaims",
        "/api/v1/persistentvolumes",
    } <= paths
    configmaps = {p for p in paths if "configmaps" in p}
    assert configmaps == {f"/api/v1/namespaces/velero/configmaps/{VOLUME_POLICY}"}
    assert "/apis/storage.k8s.io/v1/storageclasses" not in paths  # Velero's selection never reads them
