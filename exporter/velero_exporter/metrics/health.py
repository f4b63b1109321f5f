"""Families of the exporter's own health: its build, each source, each polling target and each Kubernetes
resource it watches. Silence must never look like health: a source that fails says so here."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from velero_exporter.metrics.family import Exported, Labels, Sample, Subject, counter, counts, flag, gauge, known
from velero_exporter.model.velero import IMPLAUSIBLE_TIMESTAMP
from velero_exporter.state.store import Health, ResourceHealth, SourceHealth, TargetHealth
from velero_exporter.state.vocabulary import ERROR_KINDS, PROBLEMS, RENDER_STAGES

BUILD: Subject[str] = Subject(
    "The exporter's build",
    lambda exported: (exported.version,),
    (
        gauge(
            "velero_exporter_build_info",
            "The exporter's version; always 1.",
            ("version",),
            known(lambda v: (v,), lambda _: 1.0),
        ),
    ),
)

Source = tuple[str, SourceHealth]


def _source(item: Source) -> Labels:
    return (item[0],)


def _calls(item: Source) -> Iterator[Sample]:
    name, health = item
    for operation in sorted(health.api_calls):
        yield (name, operation), float(health.api_calls[operation])


SOURCES: Subject[Source] = Subject(
    "The exporter's sources",
    lambda exported: sorted(exported.health.sources.items()),
    (
        gauge(
            "velero_exporter_source_up",
            "1 when the source's last refresh or watch is healthy.",
            ("source",),
            flag(_source, lambda s: s[1].up),
        ),
        gauge(
            "velero_exporter_source_last_success_timestamp_seconds",
            "Last time the source was healthy.",
            ("source",),
            known(_source, lambda s: s[1].last_success),
        ),
        counter(
            "velero_exporter_source_errors",
            "Errors of the source by kind; for the AWS sources every failed attempt, retried or not.",
            ("source", "kind"),
            counts(_source, lambda s: s[1].errors, ERROR_KINDS),
        ),
        counter(
            "velero_exporter_api_calls",
            "Calls the source made to its API, by operation (for AWS, every attempt: what the exporter costs).",
            ("source", "operation"),
            _calls,
            ad_hoc="what the exporter costs in API calls, by operation",
        ),
        gauge(
            "velero_exporter_source_refresh_duration_seconds",
            "How long the source's last refresh took.",
            ("source",),
            known(_source, lambda s: s[1].last_refresh_duration),
            ad_hoc="how long each refresh takes, for ad-hoc queries",
        ),
    ),
)

Target = tuple[tuple[str, str], TargetHealth]


def _target(item: Target) -> Labels:
    return item[0]


TARGETS: Subject[Target] = Subject(
    "The polling sources' targets",
    lambda exported: sorted(exported.health.targets.items()),
    (
        gauge(
            "velero_exporter_target_up",
            "1 when the last refresh of the source's target (a bucket's location, a region) succeeded.",
            ("source", "target"),
            flag(_target, lambda t: t[1].up),
        ),
        gauge(
            "velero_exporter_target_last_success_timestamp_seconds",
            "Last successful refresh of the target.",
            ("source", "target"),
            known(_target, lambda t: t[1].last_success),
        ),
        counter(
            "velero_exporter_target_errors",
            "Failed calls for the target by kind.",
            ("source", "target", "kind"),
            counts(_target, lambda t: t[1].errors, ERROR_KINDS),
        ),
    ),
)


@dataclass(slots=True, frozen=True)
class Resource:
    name: str
    health: ResourceHealth | None  # None before its reflector has started
    objects: int
    problems: dict[str, int]


def _resources(exported: Exported) -> list[Resource]:
    health = exported.health.resources
    implausible = {**exported.model.implausible, **exported.volumes.implausible}  # of different resources
    return [
        Resource(name, health.get(name), stats.objects, _problems(stats.problems, implausible.get(name)))
        for name, stats in sorted(exported.resources.items())
    ]


def _problems(parsed: Mapping[str, int], implausible: int | None) -> dict[str, int]:
    """The problems the parser found, and the implausible timestamps the model found (it knows the time)."""
    problems = dict(parsed)
    if implausible:
        problems[IMPLAUSIBLE_TIMESTAMP] = problems.get(IMPLAUSIBLE_TIMESTAMP, 0) + implausible
    return problems


def _resource(resource: Resource) -> Labels:
    return (resource.name,)


RESOURCES: Subject[Resource] = Subject(
    "The Kubernetes resources the exporter watches",
    _resources,
    (
        gauge(
            "velero_exporter_resource_up",
            "1 when the list and watch of the resource are healthy.",
            ("resource",),
            flag(_resource, lambda r: r.health is not None and r.health.up),
        ),
        gauge(
            "velero_exporter_resource_synced",
            "1 once the resource has completed a list.",
            ("resource",),
            flag(_resource, lambda r: r.health is not None and r.health.synced),
        ),
        gauge(
            "velero_exporter_resource_forbidden",
            "1 when the API answers 403 for the resource (RBAC).",
            ("resource",),
            flag(_resource, lambda r: r.health is not None and r.health.forbidden),
        ),
        gauge(
            "velero_exporter_resource_served",
            "0 when the API answers 404 for the resource: its CRD is not installed (DataUploads and DataDownloads "
            "before Velero 1.12); 1 otherwise.",
            ("resource",),
            flag(_resource, lambda r: r.health is None or r.health.served),
        ),
        gauge(
            "velero_exporter_resource_objects",
            "Objects held of the resource.",
            ("resource",),
            known(_resource, lambda r: r.objects),
        ),
        counter(
            "velero_exporter_relists",
            "Full lists after the first (410 Expired, errors).",
            ("resource",),
            known(_resource, lambda r: r.health.relists if r.health is not None else 0),
        ),
        counter(
            "velero_exporter_watch_restarts",
            "Watches started after the first.",
            ("resource",),
            known(_resource, lambda r: r.health.watch_restarts if r.health is not None else 0),
        ),
        gauge(
            "velero_exporter_resource_backoff_seconds",
            "How long the list and watch of the resource wait before their next attempt (after failures, or 410 "
            "Expired relists in a row, backing off as client-go does: 0.8 s doubling to 30 s, jittered); 0 when "
            "not waiting.",
            ("resource",),
            known(_resource, lambda r: r.health.backoff_seconds if r.health is not None else 0.0),
            ad_hoc="why a resource's relists are slow or its source is down: the wait before the next attempt",
        ),
        gauge(
            "velero_exporter_invalid_objects",
            "Objects currently held with a problem (skipped or degraded), by reason; implausible_timestamp: a time "
            "outside years 1-9999 or past the clock-skew allowance, which is never a recovery point.",
            ("resource", "reason"),
            counts(_resource, lambda r: r.problems, PROBLEMS),
        ),
    ),
)

RENDERS: Subject[Health] = Subject(
    "The exporter's renders",
    lambda exported: (exported.health,),
    (
        counter(
            "velero_exporter_render_errors",
            "Renders that failed, by stage (model, metrics, status_page, encoding); the stage's last good output "
            "stays served and the render is retried with backoff.",
            ("stage",),
            counts(lambda _: (), lambda health: health.render_errors, RENDER_STAGES),
        ),
    ),
)
