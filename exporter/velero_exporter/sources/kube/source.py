"""The Kubernetes source: one reflector per Velero resource, parsing what it sees into the store.

Velero's resources live in one API group at two versions: velero.io/v1, and velero.io/v2alpha1 for the data
movers' DataUploads and DataDownloads (since Velero 1.12). The volume data kinds are optional: an older Velero
does not serve them (404) and a Role written for the first five forbids them (403); either is reported in the
health families and neither keeps the exporter from being ready or calls the source down.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from velero_exporter.config.settings import DEFAULT_LIMITS
from velero_exporter.sources.kube.client import KubeClient
from velero_exporter.sources.kube.reflector import Reflector
from velero_exporter.sources.parsing import (
    Parsed,
    SharedValues,
    parse_backup,
    parse_data_download,
    parse_data_upload,
    parse_pod_volume_backup,
    parse_pod_volume_restore,
    parse_repository,
    parse_restore,
    parse_schedule,
    parse_snapshot_location,
    parse_storage_location,
)
from velero_exporter.state.progress import remember_progress
from velero_exporter.state.store import Collection, Store

SOURCE = "kube"
log = logging.getLogger("velero_exporter.kube")


V1 = "velero.io/v1"
V2ALPHA1 = "velero.io/v2alpha1"


@dataclass(slots=True, frozen=True)
class KubeResource:
    plural: str
    parse: Parse
    group_version: str = V1
    # Absent from older Velero versions or from older Roles: its 403 or 404 does not call the source down.
    optional: bool = False
    # Carries what the exporter remembers of an object from its previous record to the new one.
    remember: Remember | None = None

    @property
    def group_version_path(self) -> str:
        return f"/apis/{self.group_version}"


RESOURCES: tuple[KubeResource, ...] = (
    KubeResource("backups", parse_backup),
    KubeResource("restores", parse_restore),
    KubeResource("schedules", parse_schedule),
    KubeResource("backupstoragelocations", parse_storage_location),
    KubeResource("volumesnapshotlocations", parse_snapshot_location),
    KubeResource("podvolumebackups", parse_pod_volume_backup, optional=True, remember=remember_progress),
    KubeResource("podvolumerestores", parse_pod_volume_restore, optional=True, remember=remember_progress),
    KubeResource("datauploads", parse_data_upload, V2ALPHA1, optional=True, remember=remember_progress),
    KubeResource("datadownloads", parse_data_download, V2ALPHA1, optional=True, remember=remember_progress),
    KubeResource("backuprepositories", parse_repository, optional=True),
)
# Readiness waits for these (DESIGN.md): without them the tier metrics would claim there is no recovery point.
READINESS_RESOURCES: tuple[str, ...] = ("backups", "schedules")


Parse = Callable[[object, SharedValues], Parsed[Any]]
Remember = Callable[[Any, Any, float], Any]  # (previous record or None, new record, now) -> the record to keep


class RecordList:
    """One (re)list in the making: each page is parsed as it arrives, the store is replaced at the end."""

    def __init__(self, collection: Collection[Any], parse: Callable[[object], Parsed[Any]], keep: Keep) -> None:
        self._collection = collection
        self._parse = parse
        self._keep = keep
        self._records: dict[str, Any] = {}
        self._problems: dict[str, tuple[str, ...]] = {}

    def add(self, objects: list[dict[str, Any]]) -> None:
        for obj in objects:
            parsed = self._parse(obj)
            # An object without a name cannot be tracked; it is still counted once, under "".
            name = parsed.name or ""
            if parsed.record is not None:
                self._records[name] = self._keep(name, parsed.record)
            if parsed.problems:
                self._problems[name] = parsed.problems

    def commit(self) -> int:
        self._collection.replace(self._records, self._problems)
        return len(self._records) + len(self._problems.keys() - self._records.keys())


Keep = Callable[[str, Any], Any]  # (name, new record) -> the record to store


def object_name(obj: Mapping[str, Any]) -> str:
    """The store key of a Velero object, or of any cluster-scoped one: its name."""
    metadata = obj.get("metadata")
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    return name if isinstance(name, str) else ""


class RecordSink:
    """Receives a reflector's objects and keeps their records (or their problems) in the store."""

    def __init__(
        self,
        collection: Collection[Any],
        parse: Parse,
        key: Callable[[Mapping[str, Any]], str] = object_name,
        *,
        max_value_bytes: int = DEFAULT_LIMITS.label_value_bytes,
        remember: Remember | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`key` names a deleted object as its parse named it (namespaced kinds of the whole cluster:
        "namespace/name")."""
        self._collection = collection
        self._key = key
        # One table of shared values per resource, for as long as the exporter runs.
        shared = SharedValues(max_value_bytes=max_value_bytes)
        self._parse: Callable[[object], Parsed[Any]] = lambda obj: parse(obj, shared)
        self._remember = remember
        self._clock = clock

    def _keep(self, name: str, record: Any) -> Any:
        """The record to store: the new one, with what is remembered of its predecessor (a relist included)."""
        if self._remember is None:
            return record
        return self._remember(self._collection.get(name), record, self._clock())

    def new_list(self) -> RecordList:
        return RecordList(self._collection, self._parse, self._keep)

    def replace(self, objects: list[dict[str, Any]]) -> None:
        """The full set at once (tests and tools that hold every object already)."""
        listing = self.new_list()
        listing.add(objects)
        listing.commit()

    def upsert(self, obj: dict[str, Any]) -> None:
        parsed = self._parse(obj)
        name = parsed.name or ""
        record = self._keep(name, parsed.record) if parsed.record is not None else None
        self._collection.put(name, record, parsed.problems)

    def delete(self, obj: dict[str, Any]) -> None:
        self._collection.remove(self._key(obj))


def is_ready(store: Store) -> bool:
    """The cluster has been read once: backups and schedules listed (or refused by the API: reported, not waited
    for), and every other resource's first list ended, listed or failed, so that the kube source's health says
    what it found rather than "not yet"."""
    resources = store.health.resources
    if any(name not in resources or not resources[name].tried for name in (r.plural for r in RESOURCES)):
        return False
    return all(resources[name].synced or resources[name].forbidden for name in READINESS_RESOURCES)


class KubeSource:
    def __init__(
        self,
        client: KubeClient,
        namespace: str,
        store: Store,
        *,
        reflector_options: dict[str, Any] | None = None,
        max_value_bytes: int = DEFAULT_LIMITS.label_value_bytes,
    ) -> None:
        self._client = client
        self._namespace = namespace
        self._store = store
        self._options = reflector_options or {}
        self._max_value_bytes = max_value_bytes

    async def run(self) -> None:
        health = self._store.health
        resources = {r.plural: health.resource(r.plural, optional=r.optional) for r in RESOURCES}
        # Up when every resource's list and watch is: each reflector's change of its resource's health is one.
        source_health = health.source(SOURCE, parts=tuple(resources.values()))
        log.info("source=kube namespace=%s resources=%s", self._namespace, ",".join(resources))
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
                        remember=resource.remember,
                    ),
                    resources[resource.plural],
                    source_health,
                    group_version_path=resource.group_version_path,
                    **self._options,
                )
                group.create_task(reflector.run(), name=f"reflector-{resource.plural}")
