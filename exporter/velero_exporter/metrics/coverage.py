"""Families of coverage: per namespace and per claim (bounded by the cluster's objects, like kube-state-metrics'
per-object families), and their totals by state for dashboards at scale.

The per-object subjects are keyed: they are encoded item by item and an item's bytes are reused while the model
hands over the very same item (metrics/large.py), so a cluster of 10,000 namespaces and 50,000 claims costs a
render no more than its changes. All are absent until the coverage source has read the cluster once.
"""

from __future__ import annotations

from collections.abc import Iterator

from velero_exporter.metrics.family import Exported, Labels, Sample, Subject, counts, flag, gauge
from velero_exporter.model.coverage import CoverageModel, NamespaceCoverage, PvcCoverage
from velero_exporter.state.vocabulary import COVERAGE_STATES


def _covered(item: NamespaceCoverage) -> Iterator[Sample]:
    for tier, covered in item.covered:
        yield (item.name, tier), 1.0 if covered else 0.0


def _protected(item: PvcCoverage) -> Iterator[Sample]:
    for tier, method in item.protected:
        yield (item.namespace, item.name, tier, method), 1.0


def _unprotected(item: PvcCoverage) -> Iterator[Sample]:
    if item.state == "unprotected" and item.reason is not None:
        yield (item.namespace, item.name, item.reason), 1.0


NAMESPACES: Subject[NamespaceCoverage] = Subject(
    "Coverage per namespace",
    lambda exported: exported.coverage.namespaces,
    (
        gauge(
            "velero_namespace_covered",
            "1 when an enabled, unpaused Schedule of the tier selects the namespace (as Velero selects), else 0; "
            "every namespace and tier.",
            ("namespace", "tier"),
            _covered,
        ),
        gauge(
            "velero_namespace_unprotected",
            "1 when no tier selects the namespace and it is not ignored (config, annotation, grace), else 0.",
            ("namespace",),
            flag(lambda n: (n.name,), lambda n: n.state == "unprotected"),
        ),
    ),
    notes="`namespace` is every namespace of the cluster; `tier` every configured tier, and `unassigned` while a "
    "Schedule of no tier is enabled. Served only with the coverage source on (`coverage.enabled`), once it has "
    "read the cluster.",
    key=lambda n: n.name,
)

PVCS: Subject[PvcCoverage] = Subject(
    "Coverage per PersistentVolumeClaim",
    lambda exported: exported.coverage.pvcs,
    (
        gauge(
            "velero_pvc_protected",
            "1 for each tier whose backups carry the claim and its data, by the method that carries it "
            "(snapshot, csi-snapshot, fs-backup, data-mover).",
            ("namespace", "persistentvolumeclaim", "tier", "method"),
            _protected,
        ),
        gauge(
            "velero_pvc_unprotected",
            "1 when no tier carries the claim's data and it is not ignored; `reason` is the cause in the tier that "
            "came closest to carrying it.",
            ("namespace", "persistentvolumeclaim", "reason"),
            _unprotected,
        ),
    ),
    notes="One series per bound claim and tier that protects it, or one per unprotected claim with its reason: "
    "namespace_not_selected, labels_not_selected, resources_excluded, snapshots_disabled, volume_excluded, "
    "policy_skip, unknown (the exporter cannot see what decides it; never shown as protected). Ignored claims "
    "(annotation, or an ignored namespace) that no tier protects have no series; the totals count them.",
    key=lambda p: f"{p.namespace}/{p.name}",
)


def _synced(exported: Exported) -> tuple[CoverageModel, ...]:
    return (exported.coverage,) if exported.coverage.synced else ()


def _none(_: CoverageModel) -> Labels:
    return ()


TOTALS: Subject[CoverageModel] = Subject(
    "Coverage totals",
    _synced,
    (
        gauge(
            "velero_coverage_namespaces",
            "Namespaces by coverage state: protected (some tier selects it), unprotected, ignored.",
            ("state",),
            counts(_none, lambda m: m.namespace_states, COVERAGE_STATES),
        ),
        gauge(
            "velero_coverage_pvcs",
            "Bound PersistentVolumeClaims by coverage state: protected (some tier carries its data), unprotected, "
            "ignored.",
            ("state",),
            counts(_none, lambda m: m.pvc_states, COVERAGE_STATES),
        ),
    ),
)
