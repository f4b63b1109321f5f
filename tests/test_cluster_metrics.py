"""Exact values of the cluster families: the identity from config and, in a DR cluster, its DR tiers and the
newest backup of each that it holds (synced from the DR bucket)."""

from __future__ import annotations

import dataclasses

from tests.metrics_text import Samples, series
from tests.test_metric_values import NOW, load, render
from velero_exporter.config.settings import ClusterSettings, Config
from velero_exporter.sandbox import objects as o

H = 3600.0
D = 86400.0
TIER = "backup-tier"


def labels(**pairs: str) -> frozenset[tuple[str, str]]:
    return frozenset(pairs.items())


def synced(name: str, tier: str, *, started: float, phase: str = "Completed", location: str = "dr") -> o.Obj:
    """A backup as Velero's sync controller creates it in the DR cluster: the primary's labels, the DR location."""
    return o.backup(
        name,
        phase=phase,
        schedule=f"{tier}-schedule",
        labels={TIER: tier, "velero.io/storage-location": location},
        started=started,
        completed=started + 600,
        storage_location=location,
    )


DR_BACKUPS = [
    synced("monthly-dr-1", "dr", started=NOW - 40 * D),
    synced("monthly-dr-2", "dr", started=NOW - 10 * D),
    synced("daily-critical-1", "critical", started=NOW - 3 * D),
    # The newest critical copy is PartiallyFailed (the primary's run was): it is what a restore would take.
    synced("daily-critical-2", "critical", started=NOW - 2 * D, phase="PartiallyFailed"),
    # A backup of a tier that does not reach the DR cluster by config: no DR series for it.
    synced("weekly-full-1", "full", started=NOW - 5 * D, location="other"),
]


def dr_render(cluster: ClusterSettings | None, backups: list[o.Obj] = DR_BACKUPS) -> Samples:
    config = dataclasses.replace(Config(), cluster=cluster)
    return render(load({"backups": backups}), config)


def test_a_dr_cluster_says_its_name_role_and_primary() -> None:
    samples = dr_render(ClusterSettings("kailash-dr", "dr", "kailash-prod", ("dr", "critical")))
    assert series(samples, "velero_cluster_info") == {
        labels(cluster_name="kailash-dr", role="dr", dr_of="kailash-prod"): 1.0
    }
    assert series(samples, "velero_cluster_dr_tier_info") == {labels(tier="dr"): 1.0, labels(tier="critical"): 1.0}


def test_the_newest_backup_of_each_dr_tier_with_its_phase_and_location() -> None:
    samples = dr_render(ClusterSettings("kailash-dr", "dr", "kailash-prod", ("dr", "critical")))
    phases = ("Completed", "PartiallyFailed", "Failed", "FailedValidation")
    expected = {labels(tier="dr", location="dr", phase=p): float(p == "Completed") for p in phases}
    expected |= {labels(tier="critical", location="dr", phase=p): float(p == "PartiallyFailed") for p in phases}
    assert series(samples, "velero_cluster_dr_tier_last_backup_phase") == expected
    # The recovery point is still the newest Completed one: the tier metrics count synced backups like any other.
    assert series(samples, "velero_tier_recovery_point_timestamp_seconds")[labels(tier="critical")] == NOW - 3 * D


def test_a_dr_tier_without_any_backup_has_info_but_no_phase() -> None:
    samples = dr_render(ClusterSettings("b", "dr", "a", ("hot", "dr")))
    assert series(samples, "velero_cluster_dr_tier_info") == {labels(tier="hot"): 1.0, labels(tier="dr"): 1.0}
    assert {dict(k)["tier"] for k in series(samples, "velero_cluster_dr_tier_last_backup_phase")} == {"dr"}


def test_without_dr_tiers_every_configured_tier_reaches_the_dr_cluster() -> None:
    samples = dr_render(ClusterSettings("b", "dr", "a"))
    assert set(series(samples, "velero_cluster_dr_tier_info")) == {
        labels(tier=t) for t in ("hot", "critical", "full", "config", "dr")
    }  # not `unassigned`: it has no objectives to compare


def test_a_primary_has_identity_and_no_dr_tiers() -> None:
    samples = dr_render(ClusterSettings("kailash-prod", "primary"))
    assert series(samples, "velero_cluster_info") == {
        labels(cluster_name="kailash-prod", role="primary", dr_of=""): 1.0
    }
    assert series(samples, "velero_cluster_dr_tier_info") == {}
    assert series(samples, "velero_cluster_dr_tier_last_backup_phase") == {}


def test_without_a_cluster_section_no_cluster_family_is_served() -> None:
    samples = dr_render(None)
    names = {name for name, _ in samples}
    assert not {n for n in names if n.startswith("velero_cluster_")}
