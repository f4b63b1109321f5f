"""Families of the cluster itself: its name and role in a fleet and, in a DR cluster, the tiers whose backups
reach it from its primary. The fleet rules join a DR cluster to its primary through these, so that no rule
names a cluster."""

from __future__ import annotations

from collections.abc import Iterator

from velero_exporter.config.settings import ClusterSettings
from velero_exporter.metrics.family import Exported, Labels, Sample, Subject, gauge, known
from velero_exporter.model.velero import TierState
from velero_exporter.state.vocabulary import FINISHED_PHASES


def _identity(cluster: ClusterSettings) -> Labels:
    return (cluster.name, cluster.role, cluster.dr_of or "")


CLUSTER: Subject[ClusterSettings] = Subject(
    "Cluster",
    lambda exported: (exported.cluster,) if exported.cluster is not None else (),
    (
        gauge(
            "velero_cluster_info",
            "1, with the cluster's name and role from config (primary, or dr) and, for a DR cluster, its "
            "primary's name.",
            ("cluster_name", "role", "dr_of"),
            known(_identity, lambda _: 1.0),
        ),
    ),
    notes="Served when the config has a `cluster:` section. `cluster_name` is the exporter's own statement of "
    "which cluster it watches; the `cluster` label that Prometheus adds (external labels, relabeling) stays the "
    "key the rules aggregate by, and the fleet rules map one to the other through this family. `dr_of` is empty "
    "for a primary.",
)


def _dr_tiers(exported: Exported) -> list[TierState]:
    if exported.cluster is None:
        return []
    tiers = {tier.name: tier for tier in exported.model.tiers if tier.objectives is not None}
    return [tiers[name] for name in exported.cluster.dr_tier_names(tuple(tiers)) if name in tiers]


def _tier(tier: TierState) -> Labels:
    return (tier.name,)


def _last_backup_phase(tier: TierState) -> Iterator[Sample]:
    newest = tier.last_finished
    if newest is None:
        return
    for phase in FINISHED_PHASES:
        yield (tier.name, newest.storage_location, phase), 1.0 if newest.phase == phase else 0.0


DR_TIERS: Subject[TierState] = Subject(
    "DR tiers (a DR cluster)",
    _dr_tiers,
    (
        gauge(
            "velero_cluster_dr_tier_info",
            "1 for each tier whose backups reach this DR cluster from its primary (cluster.dr_tiers).",
            ("tier",),
            known(_tier, lambda _: 1.0),
        ),
        gauge(
            "velero_cluster_dr_tier_last_backup_phase",
            "1 for the phase of the newest finished backup of the DR tier that this cluster holds (synced from the "
            "DR bucket), 0 for the other finished phases; `location` is the BackupStorageLocation it came from.",
            ("tier", "location", "phase"),
            _last_backup_phase,
        ),
    ),
    notes="Served by a DR cluster's exporter (`cluster.role: dr`), one series per tier of `cluster.dr_tiers` "
    "(every configured tier when it is not given). The newest backup's phase is absent while the cluster holds "
    "no finished backup of the tier.",
)
