"""Slim, immutable records of the cluster's objects that decide what Velero's selection protects: namespaces, the
pods that mount PersistentVolumeClaims, the claims, their volumes, and the resource policies Schedules name.

Only what selection reads is kept (labels, the two fs-backup annotations, the pods' claim volumes, the claim's
volume and class, the volume's source); a pod without a claim volume is not kept at all. Labels are sorted
(key, value) pairs shared between records; a capacity is kept as the quantity's text (a few distinct sizes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from velero_exporter.velero.volume_policy import ResourcePolicies

Labels = tuple[tuple[str, str], ...]

# The annotation by which an operator says a namespace or a claim need no backup.
COVERAGE_ANNOTATION = "velero-exporter.io/coverage"
COVERAGE_IGNORE = "ignore"


def object_key(namespace: str, name: str) -> str:
    """How a namespaced object is keyed in the store (the apiserver's own key order: namespace, then name)."""
    return f"{namespace}/{name}"


@dataclass(slots=True, frozen=True)
class Namespace:
    name: str
    labels: Labels
    created: float | None
    terminating: bool
    ignored: bool  # annotated velero-exporter.io/coverage: ignore


@dataclass(slots=True, frozen=True)
class PodVolume:
    """A pod volume backed by a claim."""

    name: str
    claim: str
    mounted: bool  # some container mounts it (fs-backup reads only mounted volumes)
    block: bool  # a container attaches it as a block device (fs-backup cannot read it)


@dataclass(slots=True, frozen=True)
class Pod:
    namespace: str
    name: str
    labels: Labels
    volumes: tuple[PodVolume, ...]
    # backup.velero.io/backup-volumes (fs-backup opt-in) and backup-volumes-excludes (opt-out), split on ","
    # as Velero splits them (no trimming).
    opted_in: tuple[str, ...]
    opted_out: tuple[str, ...]
    running: bool  # scheduled and Running: fs-backup skips the volumes of any other pod

    @property
    def key(self) -> str:
        return object_key(self.namespace, self.name)


@dataclass(slots=True, frozen=True)
class PersistentVolumeClaim:
    namespace: str
    name: str
    labels: Labels
    volume_name: str  # "" while unbound
    storage_class: str
    phase: str
    created: float | None
    ignored: bool  # annotated velero-exporter.io/coverage: ignore

    @property
    def key(self) -> str:
        return object_key(self.namespace, self.name)


@dataclass(slots=True, frozen=True)
class PersistentVolume:
    name: str
    labels: Labels
    storage_class: str
    capacity: str  # spec.capacity.storage as written ("" when absent)
    volume_type: str  # the first volume source set, as Velero names it (awsElasticBlockStore, csi, nfs ...)
    csi_driver: str | None
    csi_attributes: Labels
    nfs: tuple[str, str] | None  # (server, path)


PolicyState = Literal["loaded", "invalid", "missing", "unreadable"]


@dataclass(slots=True, frozen=True)
class ResourcePolicy:
    """A ConfigMap that some Schedule names in spec.template.resourcePolicy, as the exporter last read it.

    loaded: parsed for the configured Velero release; invalid: Velero would refuse it (every backup naming it fails
    validation); missing: no such ConfigMap (the same); unreadable: the exporter may not or could not read it, so
    what it decides is unknown.
    """

    name: str
    state: PolicyState
    policies: ResourcePolicies | None
    detail: str = ""
