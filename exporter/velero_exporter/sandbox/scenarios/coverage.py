"""Namespaces and volumes that no tier protects: the troubles of the velero-coverage rules.

In the demo's story (its cluster objects are sandbox/cluster_story.py's; the Schedules name their namespaces one
by one, as they were written a year ago):
- kailash-reports, created a week ago, is in no Schedule's list: the namespace and its database volume are
  unprotected;
- kailash-app's shared media volume (EFS) is opted out of fs-backup by its pods' backup-volumes-excludes, and no
  snapshot plugin can copy EFS;
- monitoring's Grafana volume was recreated on the gp2-ephemeral class, which the volume policy of critical, full
  and dr skips.
"""

from __future__ import annotations

from velero_exporter.sandbox import cluster_objects as k
from velero_exporter.sandbox import cluster_story
from velero_exporter.sandbox.cluster_story import EPHEMERAL_CLASS, IGNORE, PLATFORM_NAMESPACES
from velero_exporter.sandbox.scenario import Trouble, alert
from velero_exporter.sandbox.world import DAY, World

NEW_NAMESPACE = "kailash-reports"
NEW_CLAIM = "reports-db-data"


def _new_namespace(world: World) -> None:
    world.add(k.namespace(NEW_NAMESPACE, created=world.now - 7 * DAY, labels={"team": "analytics"}))
    world.add(*cluster_story.claimed(NEW_NAMESPACE, "reports-db-0", NEW_CLAIM, size="50Gi"))


def _weekly_includes_it(world: World) -> None:
    weekly = world.get("Schedule", "weekly-full")
    weekly["spec"]["template"]["includedNamespaces"] = [*PLATFORM_NAMESPACES, NEW_NAMESPACE]
    world.add(weekly)


NAMESPACE_UNPROTECTED = Trouble(
    "kailash-reports, created a week ago, is in no Schedule's list",
    (
        alert("VeleroNamespaceUnprotected", namespace=NEW_NAMESPACE),
        alert(
            "VeleroVolumeUnprotected",
            namespace=NEW_NAMESPACE,
            persistentvolumeclaim=NEW_CLAIM,
            reason="namespace_not_selected",
        ),
    ),
    change=_new_namespace,
    # weekly-full's template lists it too: the full tier snapshots its volume.
    repair=_weekly_includes_it,
)

OPTED_OUT = {"backup.velero.io/backup-volumes-excludes": "media"}
MEDIA_OPTED_OUT = Trouble(
    "the API pods opt the shared media volume (EFS, which no snapshot plugin copies) out of fs-backup",
    (
        alert(
            "VeleroVolumeUnprotected", namespace="kailash-app", persistentvolumeclaim="media", reason="volume_excluded"
        ),
    ),
    change=lambda world: world.add(*cluster_story.media_volume(OPTED_OUT)),
    # The pods are redeployed without the annotation: hot's fs-backup carries the volume again.
    repair=lambda world: world.add(*cluster_story.media_volume()),
)

GRAFANA_POLICY_SKIP = Trouble(
    "Grafana's volume was recreated on the class the volume policy skips",
    (
        alert(
            "VeleroVolumeUnprotected",
            namespace="monitoring",
            persistentvolumeclaim="grafana-data",
            reason="policy_skip",
        ),
    ),
    change=lambda world: world.add(*cluster_story.grafana(EPHEMERAL_CLASS)),
    # The team keeps Grafana's dashboards in git: the claim is annotated as needing no backup.
    repair=lambda world: world.add(*cluster_story.grafana(EPHEMERAL_CLASS, claim_annotations=IGNORE)),
)
