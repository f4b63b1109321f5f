"""How a metric family is declared: once, in the table of its subject (as kube-state-metrics declares one list
of family generators per resource).

A Family says its name, type, help and labels and how one item of its subject (a tier, a schedule, a bucket ...)
turns into samples. A Subject says where its items come from in what a render exports. The collector only
walks the tables; docs/metrics.md and the contract test read the same tables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from velero_exporter.config.settings import ClusterSettings
from velero_exporter.model.aws import AwsModel
from velero_exporter.model.coverage import NOT_SYNCED, CoverageModel
from velero_exporter.model.velero import Model
from velero_exporter.model.volumes import NO_VOLUMES, VolumeModel
from velero_exporter.state.store import Health

T = TypeVar("T")
Labels = tuple[str, ...]
Sample = tuple[Labels, float]
Samples = Callable[[T], Iterable[Sample]]


@dataclass(slots=True, frozen=True)
class ResourceStats:
    """What the exporter holds of one Kubernetes resource."""

    objects: int
    problems: Mapping[str, int]


@dataclass(slots=True, frozen=True)
class Exported:
    """Everything one render exports: the models, the sources' health, what is held per resource, and which
    cluster this is."""

    model: Model
    aws: AwsModel
    health: Health
    resources: Mapping[str, ResourceStats]
    version: str
    volumes: VolumeModel = NO_VOLUMES
    coverage: CoverageModel = NOT_SYNCED
    # The cluster's identity from config (None: not configured).
    cluster: ClusterSettings | None = None


@dataclass(slots=True, frozen=True)
class Family(Generic[T]):
    name: str
    help: str
    labels: Labels
    samples: Samples[T]
    type: Literal["gauge", "counter"] = "gauge"
    # Why the family is served although no alert, panel or status-page section reads it (it answers ad-hoc
    # queries, or it is the raw input of something that reads a recording rule). Empty: something must use it.
    ad_hoc: str = ""


@dataclass(slots=True, frozen=True)
class Subject(Generic[T]):
    """The families of one subject and where its items come from."""

    name: str  # the section title in docs/metrics.md
    items: Callable[[Exported], Iterable[T]]
    families: tuple[Family[T], ...]
    # What docs/metrics.md says of the subject's labels and series, above its table.
    notes: str = ""
    # A subject with an item per cluster object (per namespace, per claim) names each item's key: its items are
    # encoded one by one and an item's bytes reused while it is the same object (metrics/large.py).
    key: Callable[[T], str] | None = None


def gauge(name: str, help: str, labels: Labels, samples: Samples[T], *, ad_hoc: str = "") -> Family[T]:
    return Family(name, help, labels, samples, "gauge", ad_hoc)


def counter(name: str, help: str, labels: Labels, samples: Samples[T], *, ad_hoc: str = "") -> Family[T]:
    """A counter; `name` without `_total`, which the exposition adds."""
    return Family(name, help, labels, samples, "counter", ad_hoc)


def known(labels: Callable[[T], Labels], value: Callable[[T], float | None]) -> Samples[T]:
    """One sample per item, absent while its value is unknown (a timestamp is never 0)."""

    def samples(item: T) -> Iterator[Sample]:
        found = value(item)
        if found is not None:
            yield labels(item), float(found)

    return samples


def flag(labels: Callable[[T], Labels], value: Callable[[T], bool]) -> Samples[T]:
    """One sample per item: 1 or 0."""
    return known(labels, lambda item: 1.0 if value(item) else 0.0)


def state_set(labels: Callable[[T], Labels], states: Iterable[str], current: Callable[[T], str | None]) -> Samples[T]:
    """1 for the item's current state, 0 for each other known state (all 0 while it has none)."""
    ordered = tuple(states)

    def samples(item: T) -> Iterator[Sample]:
        now = current(item)
        head = labels(item)
        for state in ordered:
            yield (*head, state), 1.0 if state == now else 0.0

    return samples


def counts(labels: Callable[[T], Labels], by: Callable[[T], Mapping[str, int]], keys: Iterable[str]) -> Samples[T]:
    """One sample per key (every known key, so that a count that is 0 is there): how many of each."""
    ordered = tuple(keys)

    def samples(item: T) -> Iterator[Sample]:
        found = by(item)
        head = labels(item)
        extra = sorted(found.keys() - set(ordered))  # a value this exporter does not know still counts
        for key in (*ordered, *extra):
            yield (*head, key), float(found.get(key, 0))

    return samples
