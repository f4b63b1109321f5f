"""The Kubernetes source: one reflector per Velero resource, parsing what it sees into the store."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from velero_exporter.config.settings import DEFAULT_LIMITS
from velero_exporter.sources.kube.client import KubeClient
from velero_exporter.sources.kube.reflector import Reflector
from velero_exporter.sources.parsing import (
    Parsed,
    SharedValues,
    parse_backup,
    parse_restore,
    parse_schedule,
    parse_snapshot_location,
    parse_storage_location,
)
from velero_exporter.state.store import Collection, Store

SOURCE = "kube"
log = logging.getLogger("velero_exporter.kube")


@dataclass(slots=True, frozen=True)
class KubeResource:
    plural: str
    parse: Parse


RESOURCES: tuple[KubeResource, ...] = (
    KubeResource("backups", parse_backup),
    KubeResource("restores", parse_restore),
    KubeResource("schedules", parse_schedule),
    KubeResource("backupstoragelocations", parse_storage_location),
    KubeResource("volumesnapshotlocations", parse_snapshot_location),
)
# Readiness waits for these (DESIGN.md): without them the tier metrics would claim there is no recovery point.
READINESS_RESOURCES: tuple[str, ...] = ("backups", "schedules")


Parse = Callable[[object, SharedValues], Parsed[Any]]


class RecordList:
    """One (re)list in the making: each page is parsed as it arrives, the store is replaced at the end."""

    def __init__(self, collection: Collection[Any], parse: Callable[[object], Parsed[Any]]) -> None:
        self._collection = collection
        self._parse = parse
        self._records: dict[str, Any] = {}
        self._problems: dict[str, tuple[str, ...]] = {}

    def add(self, objects: list[dict[str, Any]]) -> None:
        for obj in objects:
            parsed = self._parse(obj)
            # An object without a name cannot be tracked; it is still counted once, under "".
            name = parsed.name or ""
            if parsed.record is not None:
                self._records[name] = parsed.record
            if parsed.problems:
                self._problems[name] = parsed.problems

    def commit(self) -> int:
        self._collection.replace(self._records, self._problems)
        return len(self._records) + len(self._problems.keys() - self._records.keys())


class RecordSink:
    """Receives a reflector's objects and keeps their records (or their problems) in the store."""

    def __init__(
        self, collection: Collection[Any], parse: Parse, *, max_value_bytes: int = DEFAULT_LIMITS.label_value_bytes
    ) -> None:
        self._collection = collection
        # One table of shared values per resource, for as long as the exporter runs.
        shared = SharedValues(max_value_bytes=max_value_bytes)
        self._parse: Callable[[object], Parsed[Any]] = lambda obj: parse(obj, shared)

    def new_list(self) -> RecordList:
        return RecordList(self._collection, self._parse)

    def replace(self, objects: list[dict[str, Any]]) -> None:
        """The full set at once (tests and tools that hold every object already)."""
        listing = self.new_list()
        listing.add(objects)
        listing.commit()

    def upsert(self, obj: dict[str, Any]) -> None:
        parsed = self._parse(obj)
        self._collection.put(parsed.name or "", parsed.record, parsed.problems)

    def delete(self, obj: dict[str, Any]) -> None:
        metadata = obj.get("metadata")
        name = metadata.get("name") if isinstance(metadata, dict) else None
        self._collection.remove(name if isinstance(name, str) else "")


def is_ready(store: Store) -> bool:
    """Backups and schedules have been listed once, or the API refuses them (reported, not waited for)."""
    resources = store.health.resources
    return all(
        name in resources and (resources[name].synced or resources[name].forbidden) for name in READINESS_RESOURCES
    )


class KubeSource:
    def __init__(
        self,
        client: KubeClient,
        namespace: str,
        store: Store,
        *,
        reflector_options: dict[str, Any] | None = None,
        health_interval: float = 0.5,
        max_value_bytes: int = DEFAULT_LIMITS.label_value_bytes,
    ) -> None:
        self._client = client
        self._namespace = namespace
        self._store = store
        self._options = reflector_options or {}
        self._health_interval = health_interval
        self._max_value_bytes = max_value_bytes

    def _update_up(self) -> None:
        health = self._store.health
        health.source(SOURCE).up = all(health.resource(r.plural).up for r in RESOURCES)

    async def _watch_health(self) -> None:
        while True:
            self._update_up()
            await asyncio.sleep(self._health_interval)

    async def run(self) -> None:
        health = self._store.health
        source_health = health.source(SOURCE)
        log.info("source=kube namespace=%s resources=%s", self._namespace, ",".join(r.plural for r in RESOURCES))
        async with asyncio.TaskGroup() as group:
            for resource in RESOURCES:
                reflector = Reflector(
                    self._client,
                    resource.plural,
                    self._namespace,
                    RecordSink(
                        self._store.collections()[resource.plural],
                        resource.parse,
                        max_value_bytes=self._max_value_bytes,
                    ),
                    health.resource(resource.plural),
                    source_health,
                    **self._options,
                )
                group.create_task(reflector.run(), name=f"reflector-{resource.plural}")
            group.create_task(self._watch_health(), name="kube-health")
