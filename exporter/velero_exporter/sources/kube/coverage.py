"""The coverage source: what Velero's selection reads beyond Velero's own objects.

- Namespaces, pods, PersistentVolumeClaims and PersistentVolumes, listed and watched across the cluster by the
  same reflectors as Velero's kinds (pages, watch, bookmarks, 410); a pod without a claim is not kept.
- The ConfigMaps that Schedules name as resource policies, read by GET in Velero's namespace (a ClusterRole can
  grant get on those names alone): every `interval`, and at once when a Schedule names one not read yet.

Its health is the source `coverage`; each kind has its resource health (the policies under `configmaps`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from velero_exporter.config.settings import DEFAULT_LIMITS
from velero_exporter.sources.cluster_parsing import (
    parse_namespace,
    parse_persistent_volume,
    parse_persistent_volume_claim,
    parse_pod,
)
from velero_exporter.sources.kube.client import KubeClient, KubeError
from velero_exporter.sources.kube.reflector import Reflector
from velero_exporter.sources.kube.source import Parse, RecordSink, object_name
from velero_exporter.state.coverage_records import ResourcePolicy, object_key
from velero_exporter.state.coverage_sync import named_policies
from velero_exporter.state.store import Collection, Store
from velero_exporter.velero.version import VeleroVersion
from velero_exporter.velero.volume_policy import PolicyError, parse_resource_policies

SOURCE = "coverage"
CORE = "/api/v1"
POLICIES = "configmaps"
RETRY = 10.0  # seconds before a policy that could not be read is asked for again
log = logging.getLogger("velero_exporter.coverage")


def _namespaced_key(obj: Mapping[str, Any]) -> str:
    metadata = obj.get("metadata")
    namespace = metadata.get("namespace") if isinstance(metadata, Mapping) else None
    return object_key(namespace if isinstance(namespace, str) else "", object_name(obj))


@dataclass(slots=True, frozen=True)
class ClusterResource:
    plural: str
    parse: Parse
    collection: Callable[[Store], Collection[Any]]
    key: Callable[[Mapping[str, Any]], str]


RESOURCES: tuple[ClusterResource, ...] = (
    ClusterResource("namespaces", parse_namespace, lambda s: s.namespaces, object_name),
    ClusterResource("pods", parse_pod, lambda s: s.pods, _namespaced_key),
    ClusterResource(
        "persistentvolumeclaims", parse_persistent_volume_claim, lambda s: s.persistent_volume_claims, _namespaced_key
    ),
    ClusterResource("persistentvolumes", parse_persistent_volume, lambda s: s.persistent_volumes, object_name),
)


class CoverageSource:
    def __init__(
        self,
        client: KubeClient,
        velero_namespace: str,
        store: Store,
        velero_version: VeleroVersion,
        *,
        policy_interval: float = 60.0,
        reflector_options: dict[str, Any] | None = None,
        policy_check: float = 1.0,
        max_value_bytes: int = DEFAULT_LIMITS.label_value_bytes,
    ) -> None:
        self._client = client
        self._namespace = velero_namespace
        self._store = store
        self._version = velero_version
        self._policy_interval = policy_interval
        self._options = reflector_options or {}
        self._policy_check = policy_check
        self._max_value_bytes = max_value_bytes

    async def run(self) -> None:
        health = self._store.health
        resources = {r.plural: health.resource(r.plural) for r in RESOURCES}
        # Up when every kind's list and watch and the policies' reads are: each change of their health is one.
        source_health = health.source(SOURCE, parts=(*resources.values(), health.resource(POLICIES)))
        log.info("source=coverage resources=%s", ",".join(resources))
        async with asyncio.TaskGroup() as group:
            for resource in RESOURCES:
                reflector = Reflector(
                    self._client,
                    resource.plural,
                    None,  # the whole cluster
                    RecordSink(
                        resource.collection(self._store),
                        resource.parse,
                        resource.key,
                        max_value_bytes=self._max_value_bytes,
                    ),
                    resources[resource.plural],
                    source_health,
                    group_version_path=CORE,
                    **self._options,
                )
                group.create_task(reflector.run(), name=f"reflector-{resource.plural}")
            group.create_task(self._read_policies(), name="coverage-policies")

    async def _read_policies(self) -> None:
        """Read every named policy each interval; between reads, look each second for a newly named one, and
        retry one that could not be read sooner (RETRY)."""
        policies = self._store.resource_policies
        health = self._store.health.resource(POLICIES)
        last_read = 0.0
        while True:
            names = named_policies(self._store.schedules)
            unread = [n for n in names if policies.get(n) is None]
            failed = any(p.state == "unreadable" for p in policies)
            since = time.monotonic() - last_read
            if unread or since >= self._policy_interval or (failed and since >= min(RETRY, self._policy_interval)):
                for name in sorted(names):
                    await self._read_policy(name)
                last_read = time.monotonic()
                health.read(up=not health.forbidden)
            for gone in [p.name for p in policies if p.name not in names]:
                policies.remove(gone)
            await asyncio.sleep(self._policy_check)

    async def _read_policy(self, name: str) -> None:
        policies = self._store.resource_policies
        health = self._store.health.resource(POLICIES)
        source_health = self._store.health.source(SOURCE)
        source_health.count_call("get")
        try:
            obj = await self._client.get(CORE, self._namespace, POLICIES, name)
        except KubeError as err:
            source_health.count_error(err.kind)
            if err.kind == "not_found":
                policies.put(name, ResourcePolicy(name, "missing", None, "no such ConfigMap"))
                return
            health.failed(forbidden=err.kind == "forbidden")
            held = policies.get(name)
            # A transient failure keeps what was read last; a refusal (or nothing read yet) makes it unknown.
            if held is None or err.kind == "forbidden":
                policies.put(name, ResourcePolicy(name, "unreadable", None, err.reason))
            log.warning("event=policy_read_failed configmap=%s reason=%s", name, err.kind)
            return
        health.permitted()
        source_health.succeeded(time.time())
        data = obj.get("data")
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            policies.put(name, ResourcePolicy(name, "invalid", None, "the ConfigMap has no string data"))
            return
        try:
            parsed = parse_resource_policies(data, self._version)
        except PolicyError as exc:
            policies.put(name, ResourcePolicy(name, "invalid", None, str(exc)))
            return
        policies.put(name, ResourcePolicy(name, "loaded", parsed))
