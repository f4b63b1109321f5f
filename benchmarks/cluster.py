"""The benchmark's large cluster for coverage: 10,000 namespaces, 50,000 claims with their volumes, 150,000 pods.

Each team namespace holds a five-replica StatefulSet (five pods, each mounting its own claim) and ten pods without
a claim (a Deployment's). One in a hundred namespaces is a scratch namespace the whole-cluster Schedules exclude,
one in twenty claims sits on the class the volume policy skips: the exposition holds every kind of series, and
the truth is known. Objects are built with the sandbox's builders, in the API's shape. Deterministic.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from velero_exporter.sandbox import cluster_objects as k
from velero_exporter.sandbox import objects
from velero_exporter.sandbox.plan import TIER_LABEL

Obj = dict[str, Any]
DAY = 86400.0
NAMESPACES = 10_000
CLAIMS_PER_NAMESPACE = 5
PODS_WITHOUT_CLAIMS = 10
SCRATCH_EVERY = 100  # namespace i % 100 == 99 is a scratch one
SKIPPED_EVERY = 20  # claim j % 20 == 19 is on the skipped class
POLICY = "bench-volume-policy"
POLICY_YAML = """\
version: v1
volumePolicies:
  - conditions: {storageClass: [gp2-ephemeral]}
    action: {type: skip}
"""


def skipped(i: int, j: int) -> bool:
    """Claim j of namespace i is on the class the volume policy skips."""
    return (i * CLAIMS_PER_NAMESPACE + j) % SKIPPED_EVERY == SKIPPED_EVERY - 1


def namespace_name(i: int) -> str:
    return f"scratch-{i:05d}" if i % SCRATCH_EVERY == SCRATCH_EVERY - 1 else f"team-{i:05d}"


def cluster_objects(now: float) -> Iterator[Obj]:
    """Namespaces, pods, claims, volumes, the storage classes and the policy ConfigMap."""
    created = now - 30 * DAY
    yield k.storage_class("gp3", default=True)
    yield k.storage_class("gp2-ephemeral")
    yield k.config_map(POLICY, "velero", {"policy.yaml": POLICY_YAML})
    for i in range(NAMESPACES):
        ns = namespace_name(i)
        yield k.namespace(ns, created=created, labels={"team": f"t{i % 97}"})
        for j in range(CLAIMS_PER_NAMESPACE):
            claim = f"data-db-{j}"
            volume = f"pvc-{i:05d}-{j}"
            storage_class = "gp2-ephemeral" if skipped(i, j) else "gp3"
            yield k.pod(f"db-{j}", ns, claims={"data": claim}, labels={"app": "db"}, created=created)
            yield k.persistent_volume_claim(claim, ns, volume=volume, storage_class=storage_class, created=created)
            yield k.persistent_volume(volume, claim=(ns, claim), storage_class=storage_class, created=created)
        for j in range(PODS_WITHOUT_CLAIMS):
            yield k.pod(f"web-7d9f8b6c5-{j:05d}", ns, labels={"app": "web"}, created=created)


def schedules(now: float) -> list[Obj]:
    """The seed's five Schedules for a large cluster: whole-cluster ones by wildcard, minus the scratch namespaces."""
    policy: Obj = {"resourcePolicy": {"kind": "configmap", "name": POLICY}}
    whole: Obj = {"includedNamespaces": ["*"], "excludedNamespaces": ["scratch-*", "kube-*"], **policy}
    fs_only: Obj = {"snapshotVolumes": False, "defaultVolumesToFsBackup": True}
    selections: dict[str, tuple[str, str, Obj]] = {
        "hourly-hot": ("hot", "0 * * * *", {"includedNamespaces": ["team-0000*"], **fs_only}),
        "daily-critical": ("critical", "0 2 * * *", {"includedNamespaces": ["team-00*"], **policy}),
        "weekly-full": ("full", "0 3 * * 0", {**whole, "includeClusterResources": True}),
        "config-backup": ("config", "*/30 * * * *", {**whole, "includedResources": ["configmaps", "secrets"]}),
        "monthly-dr": ("dr", "0 4 1 * *", whole),
    }
    return [
        objects.schedule(
            name,
            cron=cron,
            tier_label=(TIER_LABEL, tier),
            created=now - 400 * DAY,
            last_backup=now - 3600,
            selection={**selection, "volumeSnapshotLocations": ["default"]},
        )
        for name, (tier, cron, selection) in selections.items()
    ]


def truth() -> dict[str, int]:
    """What velero_coverage_namespaces and velero_coverage_pvcs must say, by state.

    Scratch namespaces are in no Schedule: they and their claims are unprotected. A claim on the skipped class is
    unprotected too, unless it is in one of hot's ten namespaces, whose fs-backup names no policy."""
    scratch = [i for i in range(NAMESPACES) if namespace_name(i).startswith("scratch-")]
    hot = range(10)  # team-00000 .. team-00009

    claims = NAMESPACES * CLAIMS_PER_NAMESPACE
    unprotected = len(scratch) * CLAIMS_PER_NAMESPACE + sum(
        1
        for i in range(NAMESPACES)
        if i not in scratch and i not in hot
        for j in range(CLAIMS_PER_NAMESPACE)
        if skipped(i, j)
    )
    return {
        "namespaces_protected": NAMESPACES - len(scratch),
        "namespaces_unprotected": len(scratch),
        "pvcs_protected": claims - unprotected,
        "pvcs_unprotected": unprotected,
    }
