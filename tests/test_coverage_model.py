"""The coverage model (model/coverage.py): for objects in the API's own shape, which tier protects which
namespace and claim, by which method, and the reason for each claim no tier protects. No I/O."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from velero_exporter.config.settings import Config, CoverageConfig, Tier, TierSchedule, VeleroServer
from velero_exporter.model.coverage import CoverageMemo, CoverageModel, PvcCoverage, build_coverage
from velero_exporter.sandbox import cluster_objects as k
from velero_exporter.sandbox import objects as o
from velero_exporter.sources.cluster_parsing import (
    parse_namespace,
    parse_persistent_volume,
    parse_persistent_volume_claim,
    parse_pod,
)
from velero_exporter.sources.parsing import Parsed, parse_schedule, parse_snapshot_location, parse_storage_location
from velero_exporter.state.coverage_records import ResourcePolicy
from velero_exporter.state.store import StoreView
from velero_exporter.velero.volume_policy import parse_resource_policies

NOW = 1_700_000_000.0
DAY = 86400.0
HOUR = 3600.0
EBS, EFS = k.EBS_CSI, k.EFS_CSI
TIERS = (
    Tier("hot", HOUR, HOUR, 7 * DAY, (TierSchedule("hourly-hot"),)),
    Tier("critical", DAY, HOUR, 30 * DAY, (TierSchedule("daily-critical"),)),
    Tier("full", 8 * DAY, HOUR, 90 * DAY, (TierSchedule("weekly-full"),)),
)
POLICY = """
version: v1
volumePolicies:
  - conditions:
      storageClass: [gp2-ephemeral]
    action:
      type: skip
"""
PARSERS: dict[str, tuple[str, Callable[[object], Parsed[Any]]]] = {
    "Namespace": ("namespaces", parse_namespace),
    "Pod": ("pods", parse_pod),
    "PersistentVolumeClaim": ("persistent_volume_claims", parse_persistent_volume_claim),
    "PersistentVolume": ("persistent_volumes", parse_persistent_volume),
    "Schedule": ("schedules", parse_schedule),
    "BackupStorageLocation": ("storage_locations", parse_storage_location),
    "VolumeSnapshotLocation": ("snapshot_locations", parse_snapshot_location),
}


def config(version: tuple[int, int] = (1, 18), **coverage: Any) -> Config:
    return Config(tiers=TIERS, velero_version=version, coverage=CoverageConfig(enabled=True, **coverage))


def view(
    objects: Iterable[dict[str, Any]], policies: dict[str, str] | None = None, version: tuple[int, int] = (1, 18)
) -> StoreView:
    fields: dict[str, dict[str, Any]] = {field: {} for field, _ in PARSERS.values()}
    for obj in objects:
        field, parse = PARSERS[obj["kind"]]
        parsed = parse(obj)
        assert parsed.name is not None and parsed.record is not None and not parsed.problems, obj
        fields[field][parsed.name] = parsed.record
    fields["resource_policies"] = {
        name: ResourcePolicy(name, "loaded", parse_resource_policies({"p": text}, version))
        for name, text in (policies or {}).items()
    }
    return StoreView(backups={}, restores={}, **fields)  # type: ignore[arg-type]


def velero_locations(*providers: str) -> list[dict[str, Any]]:
    out = [o.storage_location("default", bucket="primary", default=True)]
    out += [
        o.snapshot_location(f"vsl-{i}", region="us-east-1", provider=p) for i, p in enumerate(providers or ("aws",))
    ]
    return out


def schedule(name: str, **selection: Any) -> dict[str, Any]:
    phase = selection.pop("phase", "Enabled")
    paused = selection.pop("paused", False)
    return o.schedule(name, cron="@daily", created=NOW - 400 * DAY, selection=selection, phase=phase, paused=paused)


def claim(
    namespace: str, name: str, *, storage_class: str = "gp3", driver: str = EBS, **pvc: Any
) -> list[dict[str, Any]]:
    """A bound claim and its volume."""
    volume = f"pvc-{namespace}-{name}"
    pv_labels = pvc.pop("pv_labels", None)
    nfs = pvc.pop("nfs", None)
    return [
        k.persistent_volume_claim(name, namespace, volume=volume, storage_class=storage_class, **pvc),
        k.persistent_volume(
            volume, claim=(namespace, name), storage_class=storage_class, driver=driver, labels=pv_labels, nfs=nfs
        ),
    ]


def model(objects: Iterable[dict[str, Any]], cfg: Config | None = None, **kwargs: Any) -> CoverageModel:
    cfg = cfg or config()
    return build_coverage(view(objects, version=cfg.velero_version, **kwargs), cfg, NOW, synced=True)


def pvc_of(result: CoverageModel, namespace: str, name: str) -> PvcCoverage:
    (found,) = [p for p in result.pvcs if (p.namespace, p.name) == (namespace, name)]
    return found


def covered(result: CoverageModel) -> dict[str, set[str]]:
    return {n.name: {t for t, yes in n.covered if yes} for n in result.namespaces}


def old(created_days: float) -> float:
    return NOW - created_days * DAY


# --- the seed's cluster ----------------------------------------------------------------------------------------


def seed_cluster() -> list[dict[str, Any]]:
    """Shaped like the sandbox's story: hot fs-backs up kailash-app, critical and full snapshot their lists of
    namespaces, and both name a policy that skips the ephemeral class."""
    policy = {"resourcePolicy": {"kind": "configmap", "name": "volume-policy"}}
    objects = [
        *velero_locations(),
        schedule(
            "hourly-hot", includedNamespaces=["kailash-app"], snapshotVolumes=False, defaultVolumesToFsBackup=True
        ),
        schedule("daily-critical", includedNamespaces=["kailash-app", "monitoring"], **policy),
        schedule(
            "weekly-full",
            includedNamespaces=["kailash-app", "monitoring", "ingress"],
            includeClusterResources=True,
            **policy,
        ),
        *(k.namespace(n, created=old(400)) for n in ("kailash-app", "monitoring", "ingress", "kube-system")),
        k.namespace("kailash-reports", created=old(7)),
        k.namespace("preview-42", created=NOW - 600),
        k.pod("postgres-0", "kailash-app", claims={"data": "postgres-data"}),
        *claim("kailash-app", "postgres-data"),
        k.pod(
            "api-0",
            "kailash-app",
            claims={"uploads": "uploads"},
            annotations={"backup.velero.io/backup-volumes-excludes": "uploads"},
        ),
        *claim("kailash-app", "uploads", storage_class="efs-sc", driver=EFS, access_mode="ReadWriteMany"),
        k.pod("grafana-0", "monitoring", claims={"data": "grafana-data"}),
        *claim("monitoring", "grafana-data", storage_class="gp2-ephemeral"),
        k.pod("reports-db-0", "kailash-reports", claims={"data": "reports-db"}),
        *claim("kailash-reports", "reports-db"),
        *claim("preview-42", "scratch"),
    ]
    return objects


def test_the_seed_cluster_per_tier_and_why() -> None:
    result = model(seed_cluster(), config(ignore_namespaces=("kube-*",)), policies={"volume-policy": POLICY})
    assert result.tiers == ("hot", "critical", "full")
    assert covered(result) == {
        "kailash-app": {"hot", "critical", "full"},
        "monitoring": {"critical", "full"},
        "ingress": {"full"},
        "kube-system": set(),
        "kailash-reports": set(),
        "preview-42": set(),
    }
    states = {n.name: n.state for n in result.namespaces}
    assert states["kube-system"] == "ignored"  # a glob of the config
    assert states["preview-42"] == "ignored"  # ten minutes old: within the grace
    assert states["kailash-reports"] == "unprotected"  # a week old and in no schedule's list
    assert result.namespace_states == {"protected": 3, "unprotected": 1, "ignored": 2}

    postgres = pvc_of(result, "kailash-app", "postgres-data")
    assert postgres.protected == (("hot", "fs-backup"), ("critical", "snapshot"), ("full", "snapshot"))
    assert postgres.state == "protected" and postgres.reason is None
    # Opted out of fs-backup (hot), and on EFS, which the AWS plugin cannot snapshot (critical, full).
    uploads = pvc_of(result, "kailash-app", "uploads")
    assert (uploads.protected, uploads.state, uploads.reason) == ((), "unprotected", "volume_excluded")
    # Selected by critical and full, whose policy skips its class: the closest reason, not the namespace.
    grafana = pvc_of(result, "monitoring", "grafana-data")
    assert (grafana.protected, grafana.reason) == ((), "policy_skip")
    reports = pvc_of(result, "kailash-reports", "reports-db")
    assert (reports.protected, reports.reason) == ((), "namespace_not_selected")
    scratch = pvc_of(result, "preview-42", "scratch")
    assert (scratch.state, scratch.reason) == ("ignored", "namespace_not_selected")
    assert result.pvc_states == {"protected": 1, "unprotected": 3, "ignored": 1}
    assert result.valid_until == NOW - 600 + HOUR  # preview-42 leaves its grace then
    per_tier = {t.tier: (t.namespaces, dict(t.pvcs_by_method)) for t in result.per_tier}
    assert per_tier["hot"] == (1, {"data-mover": 0, "fs-backup": 1, "snapshot": 0, "csi-snapshot": 0})
    assert per_tier["full"] == (3, {"data-mover": 0, "fs-backup": 0, "snapshot": 1, "csi-snapshot": 0})


def test_a_schedule_that_starts_including_a_namespace_covers_it() -> None:
    objects = seed_cluster()
    before = model(objects, policies={"volume-policy": POLICY})
    assert "full" not in covered(before)["kailash-reports"]
    objects[4] = schedule(
        "weekly-full",
        includedNamespaces=["kailash-app", "monitoring", "ingress", "kailash-reports"],
        resourcePolicy={"kind": "configmap", "name": "volume-policy"},
    )
    after = model(objects, policies={"volume-policy": POLICY})
    assert covered(after)["kailash-reports"] == {"full"}
    assert pvc_of(after, "kailash-reports", "reports-db").protected == (("full", "snapshot"),)


# --- what each part of the template decides ----------------------------------------------------------------


def one_claim(*schedules: dict[str, Any], pod_labels: dict[str, str] | None = None, **pvc: Any) -> list[dict[str, Any]]:
    return [
        *velero_locations(),
        *schedules,
        k.namespace("team", created=old(30)),
        k.pod(
            "app-0",
            "team",
            claims={"data": "data"},
            labels=pod_labels,
            annotations=pvc.pop("pod_annotations", None),
            phase=pvc.pop("pod_phase", "Running"),
        ),
        *claim("team", "data", **pvc),
    ]


def reason_and_methods(
    objects: list[dict[str, Any]], cfg: Config | None = None, **kwargs: Any
) -> tuple[str | None, tuple[tuple[str, str], ...]]:
    found = pvc_of(model(objects, cfg, **kwargs), "team", "data")
    return found.reason, found.protected


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        ({}, (None, (("hot", "snapshot"),))),
        ({"includedNamespaces": ["other"]}, ("namespace_not_selected", ())),
        ({"excludedNamespaces": ["te*"]}, ("namespace_not_selected", ())),
        ({"labelSelector": {"matchLabels": {"backup": "yes"}}}, ("labels_not_selected", ())),
        ({"orLabelSelectors": [{"matchLabels": {"app": "db"}}]}, (None, (("hot", "snapshot"),))),  # via its pod
        ({"excludedResources": ["persistentvolumeclaims"]}, ("resources_excluded", ())),
        ({"includedResources": ["configmaps", "secrets"]}, ("resources_excluded", ())),
        ({"excludedResources": ["persistentvolumes"]}, ("resources_excluded", ())),
        ({"includeClusterResources": False}, ("resources_excluded", ())),
        ({"excludedClusterScopedResources": ["persistentvolumes"]}, ("resources_excluded", ())),
        ({"snapshotVolumes": False}, ("snapshots_disabled", ())),
        ({"defaultVolumesToFsBackup": True}, (None, (("hot", "fs-backup"),))),
        ({"defaultVolumesToRestic": True, "defaultVolumesToFsBackup": False}, (None, (("hot", "fs-backup"),))),
        # A PV excluded from the backup still has its data carried by fs-backup of the pod.
        (
            {"excludedResources": ["persistentvolumes"], "defaultVolumesToFsBackup": True},
            (None, (("hot", "fs-backup"),)),
        ),
    ],
)
def test_template_fields(selection: dict[str, Any], expected: tuple[str | None, tuple[tuple[str, str], ...]]) -> None:
    assert reason_and_methods(one_claim(schedule("hourly-hot", **selection), pod_labels={"app": "db"})) == expected


def test_the_claims_own_labels_select_it_without_its_pod() -> None:
    objects = one_claim(
        schedule("hourly-hot", labelSelector={"matchLabels": {"backup": "yes"}}), labels={"backup": "yes"}
    )
    assert reason_and_methods(objects) == (None, (("hot", "snapshot"),))


@pytest.mark.parametrize(
    ("annotations", "selection", "phase", "expected"),
    [
        (
            {"backup.velero.io/backup-volumes": "data"},
            {"snapshotVolumes": False},
            "Running",
            (None, (("hot", "fs-backup"),)),
        ),
        (
            {"backup.velero.io/backup-volumes-excludes": "data"},
            {"snapshotVolumes": False, "defaultVolumesToFsBackup": True},
            "Running",
            ("volume_excluded", ()),
        ),
        # Opted out of fs-backup, the volume is snapshotted instead.
        (
            {"backup.velero.io/backup-volumes-excludes": "data"},
            {"defaultVolumesToFsBackup": True},
            "Running",
            (None, (("hot", "snapshot"),)),
        ),
        # Opted in but its pod is not running: fs-backup skips it, and the snapshot was left to fs-backup.
        ({"backup.velero.io/backup-volumes": "data"}, {}, "Pending", ("volume_excluded", ())),
        # snapshotMoveData does not keep claims from fs-backup on the backup's own path (pkg/backup/backup.go).
        ({}, {"defaultVolumesToFsBackup": True, "snapshotMoveData": True}, "Running", (None, (("hot", "fs-backup"),))),
    ],
)
def test_fs_backup_annotations(
    annotations: dict[str, str], selection: dict[str, Any], phase: str, expected: object
) -> None:
    objects = one_claim(schedule("hourly-hot", **selection), pod_annotations=annotations, pod_phase=phase)
    assert reason_and_methods(objects) == expected


def test_csi_snapshots_and_the_data_mover_with_the_csi_feature() -> None:
    csi = config(velero_server=VeleroServer(features=("EnableCSI",)))
    assert reason_and_methods(one_claim(schedule("hourly-hot")), csi) == (None, (("hot", "csi-snapshot"),))
    moved = one_claim(schedule("hourly-hot", snapshotMoveData=True))
    assert reason_and_methods(moved, csi) == (None, (("hot", "data-mover"),))
    # Without the feature Velero's own AWS plugin snapshots an EBS CSI volume, but not an EFS one.
    assert reason_and_methods(one_claim(schedule("hourly-hot"), driver=EFS)) == ("snapshots_disabled", ())
    # An NFS volume is no CSI volume: the CSI plugin leaves it, and no plugin snapshots it.
    nfs = one_claim(schedule("hourly-hot"), nfs=("fs.example", "/export"))
    assert reason_and_methods(nfs, csi) == ("snapshots_disabled", ())


def test_volume_policies_decide_before_the_legacy_rules() -> None:
    policy = {"resourcePolicy": {"kind": "ConfigMap", "name": "p"}}
    fs_policy = (
        "version: v1\nvolumePolicies:\n  - conditions: {csi: {driver: ebs.csi.aws.com}}\n    action: {type: fs-backup}"
    )
    objects = one_claim(schedule("hourly-hot", snapshotVolumes=False, **policy))
    assert reason_and_methods(objects, policies={"p": fs_policy}) == (None, (("hot", "fs-backup"),))
    snap_policy = fs_policy.replace("fs-backup", "snapshot")
    assert reason_and_methods(objects, policies={"p": snap_policy}) == (None, (("hot", "snapshot"),))
    skip_policy = fs_policy.replace("fs-backup", "skip")
    assert reason_and_methods(objects, policies={"p": skip_policy}) == ("policy_skip", ())


def test_what_the_exporter_cannot_know_is_unknown_never_protected() -> None:
    named = {"resourcePolicy": {"kind": "configmap", "name": "p"}}
    objects = one_claim(schedule("hourly-hot", **named))
    unreadable = view(objects)
    unreadable = dataclasses.replace(
        unreadable, resource_policies={"p": ResourcePolicy("p", "unreadable", None, "forbidden")}
    )
    result = build_coverage(unreadable, config(), NOW, synced=True)
    assert (pvc_of(result, "team", "data").reason, pvc_of(result, "team", "data").state) == ("unknown", "unprotected")
    # A snapshot location of a provider whose plugin the exporter does not know.
    other = [obj for obj in one_claim(schedule("hourly-hot")) if obj["kind"] != "VolumeSnapshotLocation"]
    other.append(o.snapshot_location("portworx", region="", provider="portworx.io/portworx"))
    assert reason_and_methods(other) == ("unknown", ())
    # Two AWS locations and neither named: the server's default decides; configured, it is known again.
    two = [*one_claim(schedule("hourly-hot")), o.snapshot_location("dr", region="us-west-2")]
    assert reason_and_methods(two) == ("unknown", ())
    server = VeleroServer(default_volume_snapshot_locations=(("aws", "vsl-0"),))
    assert reason_and_methods(two, config(velero_server=server)) == (None, (("hot", "snapshot"),))
    # A claim bound to a volume the exporter has not seen.
    missing_pv = [obj for obj in one_claim(schedule("hourly-hot")) if obj["kind"] != "PersistentVolume"]
    assert reason_and_methods(missing_pv) == ("unknown", ())


@pytest.mark.parametrize(
    "selection",
    [
        {"labelSelector": {}, "orLabelSelectors": [{}]},
        {"includedResources": ["pods"], "includedNamespaceScopedResources": ["pods"]},
        {"includedNamespaces": ["team"], "excludedNamespaces": ["team"]},
        {"volumeSnapshotLocations": ["nowhere"]},
        {"resourcePolicy": {"kind": "configmap", "name": "missing"}},
        {"includedNamespaces": "team"},
    ],
)
def test_a_template_velero_refuses_selects_nothing(selection: dict[str, Any]) -> None:
    objects = one_claim(schedule("hourly-hot", **selection))
    policies = view(objects)
    policies = dataclasses.replace(policies, resource_policies={"missing": ResourcePolicy("missing", "missing", None)})
    result = build_coverage(policies, config(), NOW, synced=True)
    assert covered(result)["team"] == set()
    assert pvc_of(result, "team", "data").reason == "namespace_not_selected"
    assert [s.state for s in result.selections] == ["invalid"]


def test_a_read_only_storage_location_fails_every_backup() -> None:
    objects = one_claim(schedule("hourly-hot"))
    objects[0] = o.storage_location("default", bucket="primary", access_mode="ReadOnly")
    assert reason_and_methods(objects) == ("namespace_not_selected", ())


def test_namespace_patterns_per_release() -> None:
    objects = one_claim(schedule("hourly-hot", includedNamespaces=["tea?"]))
    assert covered(model(objects, config((1, 18))))["team"] == {"hot"}
    assert covered(model(objects, config((1, 17))))["team"] == set()  # `?` fails validation before 1.18


def test_the_exclude_label_on_a_namespace_from_1_14_and_on_a_claim() -> None:
    objects = one_claim(schedule("hourly-hot"))
    objects[3] = k.namespace("team", created=old(30), labels={"velero.io/exclude-from-backup": "true"})
    assert covered(model(objects, config((1, 14))))["team"] == set()
    assert covered(model(objects, config((1, 13))))["team"] == {"hot"}
    labelled = one_claim(schedule("hourly-hot"), labels={"velero.io/exclude-from-backup": "true"})
    assert reason_and_methods(labelled) == ("volume_excluded", ())


def test_a_pod_that_claims_a_volume_for_fs_backup_keeps_the_snapshot_away_from_1_14() -> None:
    # The pod that opts the volume into fs-backup is not selected by the schedule's labels; its claim is.
    objects = one_claim(
        schedule("hourly-hot", labelSelector={"matchLabels": {"backup": "yes"}}),
        labels={"backup": "yes"},
        pod_annotations={"backup.velero.io/backup-volumes": "data"},
    )
    # 1.14+ asks every pod that mounts the claim: no snapshot, and no fs-backup of a pod the labels leave out.
    assert reason_and_methods(objects, config((1, 14))) == ("labels_not_selected", ())
    # 1.12/1.13 asked only the backup's own pods.
    assert reason_and_methods(objects, config((1, 13))) == (None, (("hot", "snapshot"),))


def test_schedules_that_are_paused_or_invalid_protect_nothing_and_unassigned_ones_count() -> None:
    paused = one_claim(schedule("hourly-hot", paused=True), schedule("daily-critical", phase="FailedValidation"))
    assert reason_and_methods(paused) == ("namespace_not_selected", ())
    loose = model(one_claim(schedule("ad-hoc-nightly")))
    assert loose.tiers == ("hot", "critical", "full", "unassigned")
    assert pvc_of(loose, "team", "data").protected == (("unassigned", "snapshot"),)


def test_ignored_claims_and_namespaces() -> None:
    objects = one_claim(annotations={"velero-exporter.io/coverage": "ignore"})
    assert pvc_of(model(objects), "team", "data").state == "ignored"
    objects = one_claim()
    objects[2] = k.namespace("team", created=old(30), annotations={"velero-exporter.io/coverage": "ignore"})
    result = model(objects)
    assert [n.state for n in result.namespaces] == ["ignored"]
    assert pvc_of(result, "team", "data").state == "ignored"
    objects[2] = k.namespace("team", created=old(30), phase="Terminating")
    assert [n.state for n in model(objects).namespaces] == ["ignored"]
    # A protected claim stays protected when annotated: the annotation only keeps alerts away.
    protected = one_claim(schedule("hourly-hot"), annotations={"velero-exporter.io/coverage": "ignore"})
    assert pvc_of(model(protected), "team", "data").state == "protected"


def test_unbound_claims_are_not_judged() -> None:
    objects = [
        *velero_locations(),
        k.namespace("team", created=old(3)),
        k.persistent_volume_claim("new", "team", volume=None, storage_class="gp3"),
    ]
    assert model(objects).pvcs == ()


def test_nothing_is_said_before_the_cluster_has_been_read() -> None:
    result = build_coverage(view(seed_cluster()), config(), NOW, synced=False)
    assert not result.synced and result.namespaces == () and result.namespace_states == {}


def test_the_memo_reuses_results_of_unchanged_records_only() -> None:
    cfg = config()
    memo = CoverageMemo()
    first_view = view(seed_cluster(), policies={"volume-policy": POLICY})
    first = build_coverage(first_view, cfg, NOW, synced=True, memo=memo)
    again = build_coverage(first_view, cfg, NOW, synced=True, memo=memo)
    assert all(a is b for a, b in zip(first.pvcs, again.pvcs, strict=True))
    assert all(a is b for a, b in zip(first.namespaces, again.namespaces, strict=True))
    # One claim changes: only its result is new, and it is right.
    changed = parse_persistent_volume_claim(
        k.persistent_volume_claim(
            "uploads",
            "kailash-app",
            volume="pvc-kailash-app-uploads",
            storage_class="efs-sc",
            annotations={"velero-exporter.io/coverage": "ignore"},
        )
    ).record
    assert changed is not None
    claims = {**first_view.persistent_volume_claims, "kailash-app/uploads": changed}
    third_view = dataclasses.replace(first_view, persistent_volume_claims=claims)
    third = build_coverage(third_view, cfg, NOW, synced=True, memo=memo)
    fresh = [p for p, q in zip(first.pvcs, third.pvcs, strict=True) if p is not q]
    assert [(p.name, p.state) for p in fresh] == [("uploads", "unprotected")]
    assert pvc_of(third, "kailash-app", "uploads").state == "ignored"
    # A Schedule change recomputes everything, and hands over the previous object of every result that came out
    # equal: only what the change moved is new (and so encoded again).
    objects = [
        schedule(
            "weekly-full",
            includedNamespaces=["kailash-app", "monitoring", "ingress", "kailash-reports"],
            includeClusterResources=True,
            resourcePolicy={"kind": "configmap", "name": "volume-policy"},
        )
        if obj["kind"] == "Schedule" and obj["metadata"]["name"] == "weekly-full"
        else obj
        for obj in seed_cluster()
    ]
    widened = dataclasses.replace(third_view, schedules=view(objects, policies={"volume-policy": POLICY}).schedules)
    fourth = build_coverage(widened, cfg, NOW, synced=True, memo=memo)
    moved = {(p.namespace, p.name) for p, q in zip(third.pvcs, fourth.pvcs, strict=True) if p is not q}
    assert moved == {(p.namespace, p.name) for p in fourth.pvcs if p.namespace == "kailash-reports"} != set()
    assert [n.name for n, m in zip(third.namespaces, fourth.namespaces, strict=True) if n is not m] == [
        "kailash-reports"
    ]
    assert not memo.stale_pvcs and not memo.stale_namespaces  # the previous entries are let go after one pass
