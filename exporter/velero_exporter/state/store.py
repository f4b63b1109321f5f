"""The in-memory store: what the sources last saw, as slim records, plus the sources' own health.

Sources write here; the model reads immutable snapshots. Nothing in this module does I/O.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from collections.abc import Callable, Container, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Generic, TypeVar

from velero_exporter.state.aws_records import BucketKey, BucketPosture, BucketUsage, RegionSnapshots, RepositoryUsage
from velero_exporter.state.coverage_records import (
    Namespace,
    PersistentVolume,
    PersistentVolumeClaim,
    Pod,
    ResourcePolicy,
)
from velero_exporter.state.records import (
    Backup,
    Repository,
    Restore,
    Schedule,
    SnapshotLocation,
    StorageLocation,
    VolumeOperation,
)
from velero_exporter.state.vocabulary import ErrorKind, RenderStage

R = TypeVar("R")
K = TypeVar("K")

Problems = tuple[str, ...]


class Collection(Generic[R]):
    """The objects of one kind, by name, and the problems found while parsing them.

    An object whose parse failed has problems but no record (it was skipped); an object with problems and a
    record was degraded (a field ignored). Both are counted until the object changes or goes. Until its first
    full set (`listed`), an empty collection means "not known yet", not "none".

    A record equal to the one held is not stored again: the held one keeps its identity (the coverage model reuses
    its results per record) and nobody is woken for a change that changes nothing (a pod's status update, a pod
    that is not kept at all). A snapshot shares the records' dict until the next change copies it (one dict of
    150,000 pods, not two).
    """

    def __init__(self, on_change: ChangeSignal) -> None:
        self._records: dict[str, R] = {}
        self._problems: dict[str, Problems] = {}
        self._on_change = on_change
        self._frozen: Mapping[str, R] | None = None
        self.listed = False

    def replace(self, records: Mapping[str, R], problems: Mapping[str, Problems]) -> None:
        """The full set after a (re)list: anything not in it is gone."""
        held = self._records
        self._records = {name: _same(held.get(name), record) for name, record in records.items()}
        self._frozen = None
        self._problems = {name: p for name, p in problems.items() if p}
        self.listed = True
        self._on_change()

    def put(self, name: str, record: R | None, problems: Problems = ()) -> None:
        held = self._records.get(name)
        if held == record and self._problems.get(name, ()) == problems:
            return
        self._writable()
        if record is None:
            self._records.pop(name, None)
        else:
            self._records[name] = record
        if problems:
            self._problems[name] = problems
        else:
            self._problems.pop(name, None)
        self._changed()

    def remove(self, name: str) -> None:
        if name not in self._records and name not in self._problems:
            return
        self._writable()
        self._records.pop(name, None)
        self._problems.pop(name, None)
        self._changed()

    def _writable(self) -> None:
        if self._frozen is not None:  # a snapshot holds the dict: change a copy
            self._records = dict(self._records)
            self._frozen = None

    def _changed(self) -> None:
        self._on_change()

    def get(self, name: str) -> R | None:
        return self._records.get(name)

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[R]:
        return iter(self._records.values())

    def frozen(self) -> Mapping[str, R]:
        """An immutable snapshot; the same one until the collection changes (a view of 150,000 pods is then free)."""
        if self._frozen is None:
            self._frozen = MappingProxyType(self._records)
        return self._frozen

    def problem_counts(self) -> Counter[str]:
        """How many objects currently have each problem."""
        counts: Counter[str] = Counter()
        for problems in self._problems.values():
            counts.update(problems)
        return counts


class Measurements(Generic[K, R]):
    """What a polling source measured, by target: replaced per target, dropped when the target goes."""

    def __init__(self, on_change: ChangeSignal) -> None:
        self._values: dict[K, R] = {}
        self._on_change = on_change

    def put(self, key: K, value: R) -> None:
        self._values[key] = value
        self._on_change()

    def retain(self, keys: Container[K]) -> None:
        """Drop the targets that are no longer discovered."""
        gone = [key for key in self._values if key not in keys]
        for key in gone:
            del self._values[key]
        if gone:
            self._on_change()

    def get(self, key: K) -> R | None:
        return self._values.get(key)

    def frozen(self) -> Mapping[K, R]:
        return MappingProxyType(dict(self._values))


def _same(held: R | None, record: R) -> R:
    return held if held is not None and held == record else record


class ChangeSignal:
    """Counts the changes of one part of the store and wakes whoever waits for a change of any part (the
    renderer). A part's signal passes each change on to its parent, whose count then includes it (the coverage
    source's objects are objects), or only shares its parent's wake-up (health, counted apart: it does not
    invalidate the models)."""

    def __init__(self, parent: ChangeSignal | None = None, *, counted: bool = True) -> None:
        self.version = 0
        self.wakeup: asyncio.Event = parent.wakeup if parent is not None else asyncio.Event()
        self._parent = parent if counted else None

    def __call__(self) -> None:
        self.version += 1
        self.wakeup.set()
        if self._parent is not None:
            self._parent()

    async def wait(self) -> None:
        await self.wakeup.wait()
        self.wakeup.clear()


def unobserved() -> None:
    """The change signal of health kept outside a store (a test's, a snapshot's): nobody waits for it."""


Signal = Callable[[], None]


class SourceHealth:
    """How one source (kube, buckets, snapshots) is doing, changed only through its methods, each of which
    signals the change. A source made of parts (the kube source, of the resources it watches) is up when every
    part is; any other is up as its poller last said."""

    __slots__ = ("_changed", "_parts", "_up", "api_calls", "errors", "last_refresh_duration", "last_success")

    def __init__(self, changed: Signal = unobserved, parts: tuple[ResourceHealth, ...] = ()) -> None:
        self._changed = changed
        self._parts = parts
        self._up = False
        self.last_success: float | None = None
        self.errors: Counter[str] = Counter()  # by kind
        self.api_calls: Counter[str] = Counter()  # by operation
        self.last_refresh_duration: float | None = None

    @property
    def up(self) -> bool:
        return all(part.keeps_source_up for part in self._parts) if self._parts else self._up

    def set_up(self, up: bool, now: float | None = None) -> None:
        """A polling source's verdict after a refresh; `now` is when it was healthy, if it is."""
        changed = up != self._up
        self._up = up
        if up and now is not None:
            self.last_success = now
            changed = True
        if changed:
            self._changed()

    def succeeded(self, now: float) -> None:
        self.last_success = now
        self._changed()

    def refreshed(self, duration: float) -> None:
        self.last_refresh_duration = duration
        self._changed()

    def count_call(self, operation: str) -> None:
        self.api_calls[operation] += 1
        self._changed()

    def count_error(self, kind: ErrorKind) -> None:
        self.errors[kind] += 1
        self._changed()

    def copy(self) -> SourceHealth:
        """A copy that later changes do not reach, signalling nobody, its parts folded into `up`."""
        other = SourceHealth()
        other._up = self.up
        other.last_success = self.last_success
        other.errors = Counter(self.errors)
        other.api_calls = Counter(self.api_calls)
        other.last_refresh_duration = self.last_refresh_duration
        return other


@dataclass(slots=True)
class ResourceHealth:
    """How the watch of one Kubernetes resource is doing; the reflector changes it through the methods."""

    synced: bool = False  # has completed a list (at least once)
    tried: bool = False  # a first list has ended, listed or failed: the source has a verdict on the resource
    up: bool = False  # the last list/watch is healthy
    forbidden: bool = False
    # False once the API answers 404 for the resource: its CRD is not installed (an older Velero), until a list
    # succeeds again.
    served: bool = True
    optional: bool = False  # a kind of an older Velero's API may lack or the Role may not grant (volume data)
    relists: int = 0
    watch_restarts: int = 0
    backoff_seconds: float = 0.0  # the wait before the next list or watch; 0 when not waiting
    changed: Signal = field(default=unobserved, repr=False, compare=False)

    def listed(self, *, up: bool) -> None:
        self.synced = self.tried = self.served = True
        self.up = up
        self.forbidden = False
        self.changed()

    def failed(self, *, forbidden: bool = False, not_found: bool = False) -> None:
        self.tried = True
        self.up = False
        self.forbidden = self.forbidden or forbidden
        self.served = self.served and not not_found
        self.changed()

    def read(self, *, up: bool) -> None:
        """A round of reads by GET (not a list) ended; a refusal during it stays until a read succeeds."""
        self.synced = self.tried = True
        self.up = up
        self.changed()

    def permitted(self) -> None:
        if self.forbidden:
            self.forbidden = False
            self.changed()

    @property
    def keeps_source_up(self) -> bool:
        """Healthy, or optional and refused (reported on its own, in the resource's families)."""
        return self.up or (self.optional and (self.forbidden or not self.served))

    def set_up(self, up: bool) -> None:
        if up != self.up:
            self.up = up
            self.changed()

    def relisting(self) -> None:
        self.relists += 1
        self.changed()

    def watch_restarted(self) -> None:
        self.watch_restarts += 1
        self.changed()

    def waiting(self, seconds: float) -> None:
        self.backoff_seconds = seconds
        self.changed()

    def copy(self) -> ResourceHealth:
        return dataclasses.replace(self, changed=unobserved)


@dataclass(slots=True)
class TargetHealth:
    """How one target of a polling source (a bucket, a region) is doing; changed through the methods."""

    up: bool = False
    last_success: float | None = None
    errors: Counter[str] = field(default_factory=Counter)  # by kind
    changed: Signal = field(default=unobserved, repr=False, compare=False)

    def succeeded(self, now: float) -> None:
        self.up = True
        self.last_success = now
        self.changed()

    def failed(self) -> None:
        if self.up:
            self.up = False
            self.changed()

    def count_error(self, kind: ErrorKind) -> None:
        self.errors[kind] += 1
        self.changed()

    def copy(self) -> TargetHealth:
        return dataclasses.replace(self, errors=Counter(self.errors), changed=unobserved)


class Health:
    """The sources' health and the renderer's failures. Every change goes through a method that signals it, so
    that the renderer shows a fault (or a recovery) without polling for it."""

    def __init__(self, changed: Signal = unobserved) -> None:
        self._changed = changed
        self.sources: dict[str, SourceHealth] = {}
        self.resources: dict[str, ResourceHealth] = {}
        self.targets: dict[tuple[str, str], TargetHealth] = {}  # (source, target)
        self.render_errors: Counter[str] = Counter()  # the renderer's failures, by stage

    def source(self, name: str, parts: tuple[ResourceHealth, ...] = ()) -> SourceHealth:
        """The source's health, listed (down) from now on; `parts` when it is made of resources."""
        health = self.sources.get(name)
        if health is None:
            health = self.sources[name] = SourceHealth(self._changed, parts)
            self._changed()
        return health

    def resource(self, name: str, *, optional: bool = False) -> ResourceHealth:
        health = self.resources.get(name)
        if health is None:
            health = self.resources[name] = ResourceHealth(optional=optional, changed=self._changed)
            self._changed()
        return health

    def target(self, source: str, name: str) -> TargetHealth:
        health = self.targets.get((source, name))
        if health is None:
            health = self.targets[source, name] = TargetHealth(changed=self._changed)
            self._changed()
        return health

    def retain_targets(self, source: str, names: Container[str]) -> None:
        """Forget the targets of a source that are no longer discovered: no series stays behind."""
        gone = [k for k in self.targets if k[0] == source and k[1] not in names]
        for key in gone:
            del self.targets[key]
        if gone:
            self._changed()

    def render_failed(self, stage: RenderStage) -> None:
        self.render_errors[stage] += 1
        self._changed()

    def snapshot(self) -> Health:
        """A copy for a render in another thread: later changes do not reach it, and it signals nobody."""
        copy = Health()
        copy.sources = {name: health.copy() for name, health in self.sources.items()}
        copy.resources = {name: health.copy() for name, health in self.resources.items()}
        copy.targets = {key: health.copy() for key, health in self.targets.items()}
        copy.render_errors = Counter(self.render_errors)
        return copy


@dataclass(slots=True, frozen=True)
class StoreView:
    """An immutable snapshot of the store for the model: safe to read from another thread."""

    backups: Mapping[str, Backup]
    restores: Mapping[str, Restore]
    schedules: Mapping[str, Schedule]
    storage_locations: Mapping[str, StorageLocation]
    snapshot_locations: Mapping[str, SnapshotLocation]
    buckets: Mapping[BucketKey, BucketUsage] = field(default_factory=dict)
    repositories: Mapping[BucketKey, RepositoryUsage] = field(default_factory=dict)
    snapshots: Mapping[str, RegionSnapshots] = field(default_factory=dict)  # by region
    posture: Mapping[BucketKey, BucketPosture] = field(default_factory=dict)
    accounts: Mapping[str, str] = field(default_factory=dict)  # by identity (role ARN or DEFAULT_IDENTITY)
    pod_volume_backups: Mapping[str, VolumeOperation] = field(default_factory=dict)
    pod_volume_restores: Mapping[str, VolumeOperation] = field(default_factory=dict)
    data_uploads: Mapping[str, VolumeOperation] = field(default_factory=dict)
    data_downloads: Mapping[str, VolumeOperation] = field(default_factory=dict)
    backup_repositories: Mapping[str, Repository] = field(default_factory=dict)
    # The coverage source's objects (empty while it is off); namespaced ones keyed "namespace/name".
    namespaces: Mapping[str, Namespace] = field(default_factory=dict)
    pods: Mapping[str, Pod] = field(default_factory=dict)
    persistent_volume_claims: Mapping[str, PersistentVolumeClaim] = field(default_factory=dict)
    persistent_volumes: Mapping[str, PersistentVolume] = field(default_factory=dict)
    resource_policies: Mapping[str, ResourcePolicy] = field(default_factory=dict)


class Store:
    def __init__(self, *, coverage: bool = False) -> None:
        """`coverage`: hold the coverage source's objects too (the cluster-wide read is off by default)."""
        self.changed = ChangeSignal()
        # Changes of the coverage source's objects, counted apart: they do not invalidate the Velero model.
        self.coverage_changed = ChangeSignal(parent=self.changed)
        self.coverage = coverage
        self.backups: Collection[Backup] = Collection(self.changed)
        self.restores: Collection[Restore] = Collection(self.changed)
        self.schedules: Collection[Schedule] = Collection(self.changed)
        self.storage_locations: Collection[StorageLocation] = Collection(self.changed)
        self.snapshot_locations: Collection[SnapshotLocation] = Collection(self.changed)
        self.pod_volume_backups: Collection[VolumeOperation] = Collection(self.changed)
        self.pod_volume_restores: Collection[VolumeOperation] = Collection(self.changed)
        self.data_uploads: Collection[VolumeOperation] = Collection(self.changed)
        self.data_downloads: Collection[VolumeOperation] = Collection(self.changed)
        self.backup_repositories: Collection[Repository] = Collection(self.changed)
        self.buckets: Measurements[BucketKey, BucketUsage] = Measurements(self.changed)
        self.repositories: Measurements[BucketKey, RepositoryUsage] = Measurements(self.changed)
        self.snapshots: Measurements[str, RegionSnapshots] = Measurements(self.changed)
        self.posture: Measurements[BucketKey, BucketPosture] = Measurements(self.changed)
        self.accounts: Measurements[str, str] = Measurements(self.changed)
        self.namespaces: Collection[Namespace] = Collection(self.coverage_changed)
        self.pods: Collection[Pod] = Collection(self.coverage_changed)
        self.persistent_volume_claims: Collection[PersistentVolumeClaim] = Collection(self.coverage_changed)
        self.persistent_volumes: Collection[PersistentVolume] = Collection(self.coverage_changed)
        self.resource_policies: Collection[ResourcePolicy] = Collection(self.coverage_changed)
        # Health changes wake the renderer too, but are counted apart: they do not invalidate the models.
        self.health_changed = ChangeSignal(self.changed, counted=False)
        self.health = Health(self.health_changed)

    def collections(self) -> dict[str, Collection[Any]]:
        """Each collection by the plural of its Kubernetes resource (the coverage source's only when it is on)."""
        velero: dict[str, Collection[Any]] = {
            "backups": self.backups,
            "restores": self.restores,
            "schedules": self.schedules,
            "backupstoragelocations": self.storage_locations,
            "volumesnapshotlocations": self.snapshot_locations,
            "podvolumebackups": self.pod_volume_backups,
            "podvolumerestores": self.pod_volume_restores,
            "datauploads": self.data_uploads,
            "datadownloads": self.data_downloads,
            "backuprepositories": self.backup_repositories,
        }
        if not self.coverage:
            return velero
        return {
            **velero,
            "namespaces": self.namespaces,
            "pods": self.pods,
            "persistentvolumeclaims": self.persistent_volume_claims,
            "persistentvolumes": self.persistent_volumes,
            "configmaps": self.resource_policies,
        }

    @property
    def version_without_coverage(self) -> int:
        """Changes of everything but the coverage source's objects (what the Velero and AWS models read)."""
        return self.changed.version - self.coverage_changed.version

    def view(self) -> StoreView:
        return StoreView(
            backups=self.backups.frozen(),
            restores=self.restores.frozen(),
            schedules=self.schedules.frozen(),
            storage_locations=self.storage_locations.frozen(),
            snapshot_locations=self.snapshot_locations.frozen(),
            buckets=self.buckets.frozen(),
            repositories=self.repositories.frozen(),
            snapshots=self.snapshots.frozen(),
            posture=self.posture.frozen(),
            accounts=self.accounts.frozen(),
            pod_volume_backups=self.pod_volume_backups.frozen(),
            pod_volume_restores=self.pod_volume_restores.frozen(),
            data_uploads=self.data_uploads.frozen(),
            data_downloads=self.data_downloads.frozen(),
            backup_repositories=self.backup_repositories.frozen(),
            namespaces=self.namespaces.frozen(),
            pods=self.pods.frozen(),
            persistent_volume_claims=self.persistent_volume_claims.frozen(),
            persistent_volumes=self.persistent_volumes.frozen(),
            resource_policies=self.resource_policies.frozen(),
        )
