"""The exporter itself in trouble: gone, never seen, its Kubernetes API down, a resource forbidden by RBAC, a bucket
it cannot read, a render that keeps failing. Each is a cluster of its own: an exporter that cannot see tells
nothing else about its cluster.
"""

from __future__ import annotations

from velero_exporter.sandbox import objects
from velero_exporter.sandbox.scenario import Change, Scenario, Trouble, alert, inhibited
from velero_exporter.sandbox.scenarios import base
from velero_exporter.sandbox.scenarios.base import TierPlan
from velero_exporter.sandbox.world import World

APPS = TierPlan("apps", ("apps-nightly",))


def _exporter(up: bool) -> Change:
    def change(world: World) -> None:
        world.exporter_up = up

    return change


def _api(up: bool) -> Change:
    def change(world: World) -> None:
        world.api_up = up

    return change


def _forbid(*resources: str) -> Change:
    def change(world: World) -> None:
        world.forbidden = set(resources)

    return change


def _apps_cluster(name: str, summary: str, trouble: Trouble, *, own_prometheus: bool = False) -> Scenario:
    """A healthy cluster of one tier, with the one trouble."""
    return Scenario(name, summary, base.config(APPS), base.cluster(APPS), (trouble,), own_prometheus)


EXPORTER_GONE = _apps_cluster(
    "exporter-gone",
    "The exporter ran, Prometheus scraped it, and it went away (its pod was evicted and not rescheduled).",
    Trouble(
        "the exporter stopped",
        (alert("VeleroExporterDown", reason="scrape_failed"), alert("VeleroExporterDown", reason="cluster_gone")),
        later=_exporter(False),
        repair=_exporter(True),
    ),
)

# Prometheus has a scrape target for the exporter, which has never answered (its image cannot be pulled): no
# exporter reports at all. A Prometheus of its own, since any other cluster's exporter would answer for it; that
# Prometheus's external label names the cluster, as in a Prometheus per cluster behind Thanos or Mimir.
NO_EXPORTER = _apps_cluster(
    "no-exporter",
    "Prometheus scrapes an exporter that has never answered: no exporter reports at all.",
    Trouble(
        "the exporter never started",
        (alert("VeleroExporterDown", reason="absent"), alert("VeleroExporterDown", reason="scrape_failed")),
        change=_exporter(False),
        repair=_exporter(True),
    ),
    own_prometheus=True,
)

API_DOWN = _apps_cluster(
    "api-down",
    "The Kubernetes API server stops answering after the exporter has read the cluster.",
    Trouble(
        "the API server is unreachable",
        (alert("VeleroExporterSourceDown", source="kube", severity="critical"),),
        later=_api(False),
        repair=_api(True),
    ),
)

RBAC = _apps_cluster(
    "rbac",
    "The exporter's Role lacks restores: the Kubernetes API forbids it to list them.",
    Trouble(
        "RBAC forbids the exporter to read restores: the kube source is not healthy, and without the restores no"
        " drill is on record (the source's alert inhibits that consequence)",
        (
            alert("VeleroExporterResourceForbidden", resource="restores"),
            alert("VeleroExporterSourceDown", source="kube", severity="critical"),
            inhibited(alert("VeleroRestoreTestOverdue", tier="apps", reason="never_restored")),
        ),
        change=_forbid("restores"),
        repair=_forbid(),
    ),
)

GONE_BUCKET = "bucket-gone-primary"


def _bucket_deleted(world: World) -> None:
    del world.buckets[GONE_BUCKET]


def _bucket_recreated(world: World) -> None:
    """The bucket is created again and Velero's sync writes the backups' folders back."""
    world.add_bucket(GONE_BUCKET, "us-east-1")
    world.add(*world.of_kind("Backup"), *world.of_kind("Restore"))


BUCKET_GONE = Scenario(
    "bucket-gone",
    "The default location's bucket was deleted: the exporter's sources that read buckets fail.",
    base.config(APPS, aws={}),
    base.cluster(APPS, bucket=GONE_BUCKET),
    (
        Trouble(
            "the location's bucket does not exist",
            (
                alert("VeleroExporterSourceDown", source="buckets", severity="warning"),
                alert("VeleroExporterSourceDown", source="repositories", severity="warning"),
                alert("VeleroExporterSourceDown", source="posture", severity="warning"),
            ),
            change=_bucket_deleted,
            repair=_bucket_recreated,
        ),
    ),
)


def _render_broken(stage: str, broken: bool) -> Change:
    """A release of the exporter whose render stage raises (or one that fixes it). With the broken release, the
    platform team adds a snapshot location for another region: an object change, which makes the exporter render
    (and compute its models) again, and which nothing this cluster's exporter serves shows but its object count
    (AWS is off): its stale output is still the cluster's truth."""

    def change(world: World) -> None:
        stages = world.broken_render_stages
        world.broken_render_stages = stages | {stage} if broken else stages - {stage}
        if broken:
            world.add(objects.snapshot_location(f"{stage.replace('_', '-')}-region", region="eu-west-1"))

    return change


RENDER_FAILING = Scenario(
    "render-failing",
    "An exporter release whose model raises on the cluster's objects, and whose status page raises too.",
    base.config(APPS),
    base.cluster(APPS),
    tuple(
        Trouble(
            f"the exporter's {stage} stage raises at every render (a bug): it serves its last good output",
            (alert("VeleroExporterRenderFailing", stage=stage, severity=severity),),
            later=_render_broken(stage, True),
            repair=_render_broken(stage, False),
        )
        for stage, severity in (("model", "critical"), ("status_page", "warning"))
    ),
)

SCENARIOS = (EXPORTER_GONE, NO_EXPORTER, API_DOWN, RBAC, BUCKET_GONE, RENDER_FAILING)
