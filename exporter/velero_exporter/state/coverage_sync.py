"""When the coverage model may speak: every kind it reads has been listed once, and every resource policy a
Schedule names has been read once. Shared by the coverage source (which policies to read) and the renderer (whether
to say anything yet), so that the renderer does not reach into a source."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

from velero_exporter.state.coverage_records import ResourcePolicy
from velero_exporter.state.records import Schedule
from velero_exporter.state.store import Health

# The cluster's kinds the coverage source lists and watches (its reflectors, in sources/kube/coverage.py).
CLUSTER_KINDS: tuple[str, ...] = ("namespaces", "pods", "persistentvolumeclaims", "persistentvolumes")
# What the coverage model needs listed before it says anything: the cluster's objects and the Schedules.
SYNC_RESOURCES: tuple[str, ...] = (*CLUSTER_KINDS, "schedules", "volumesnapshotlocations")


def is_synced(health: Health, schedules: Iterable[Schedule], policies: Mapping[str, ResourcePolicy]) -> bool:
    """Every kind the model reads has been listed once, and every policy a Schedule names has been read once."""
    resources = health.resources
    if not all(name in resources and resources[name].synced for name in SYNC_RESOURCES):
        return False
    return all(name in policies for name in named_policies(schedules))


def named_policies(schedules: Iterable[Schedule]) -> set[str]:
    """The ConfigMaps that Schedules' templates name in spec.resourcePolicy (kind configmap, any case: Velero
    compares with strings.EqualFold)."""
    names = set()
    for schedule in schedules:
        try:
            policy = json.loads(schedule.selection).get("resourcePolicy")
        except ValueError:
            continue
        if isinstance(policy, dict) and str(policy.get("kind", "")).lower() == "configmap":
            name = policy.get("name")
            if isinstance(name, str) and name:
                names.add(name)
    return names
