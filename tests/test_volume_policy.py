"""Velero's resource policies (velero/volume_policy.py) as each release reads and applies them
(internal/resourcepolicies): the grammar per release, the first matching policy, each condition's edge."""

from __future__ import annotations

from fractions import Fraction

import pytest

from velero_exporter.velero.volume_policy import (
    FS_BACKUP,
    SKIP,
    SNAPSHOT,
    PolicyError,
    ResourcePolicies,
    VolumeFacts,
    parse_quantity,
    parse_resource_policies,
)

GI = 1024**3
V112, V113, V114, V116, V117, V118 = (1, 12), (1, 13), (1, 14), (1, 16), (1, 17), (1, 18)


def volume(**changes: object) -> VolumeFacts:
    facts: dict[str, object] = {
        "capacity": Fraction(20 * GI),
        "storage_class": "gp3",
        "nfs": None,
        "csi_driver": "ebs.csi.aws.com",
        "csi_attributes": {"type": "gp3"},
        "volume_type": "csi",
        "pvc_labels": {"app": "db"},
        "pvc_phase": "Bound",
    }
    facts.update(changes)
    return VolumeFacts(**facts)  # type: ignore[arg-type]


def policies(yaml_text: str, version: tuple[int, int] = V118) -> ResourcePolicies:
    return parse_resource_policies({"policy.yaml": yaml_text}, version)


SEED_POLICY = """
version: v1
volumePolicies:
  - conditions:
      storageClass: [gp2-ephemeral]
    action:
      type: skip
  - conditions:
      nfs: {}
    action:
      type: fs-backup
  - conditions:
      capacity: "0,10Gi"
      csi:
        driver: ebs.csi.aws.com
    action:
      type: snapshot
"""


def test_the_first_matching_policy_decides() -> None:
    parsed = policies(SEED_POLICY)
    assert parsed.action_for(volume(storage_class="gp2-ephemeral")) == SKIP
    assert parsed.action_for(volume(nfs=("fs.example", "/export"), csi_driver=None, volume_type="nfs")) == FS_BACKUP
    assert parsed.action_for(volume(capacity=Fraction(5 * GI))) == SNAPSHOT
    assert parsed.action_for(volume()) is None  # 20Gi: no policy matches, the legacy rules decide
    assert parsed.resource_scopes is None


@pytest.mark.parametrize(
    ("capacity", "inside", "outside"),
    [
        ("10Gi,100Gi", [10 * GI, 100 * GI, 50 * GI], [9 * GI, 101 * GI]),
        (",10Gi", [0, 10 * GI], [11 * GI]),  # an open lower end
        ("10Gi,", [10 * GI, 10**15], [GI]),  # an open upper end
        ("", [0, 10**15], []),  # no capacity condition
    ],
)
def test_capacity_ranges(capacity: str, inside: list[int], outside: list[int]) -> None:
    parsed = policies(
        f'version: v1\nvolumePolicies:\n  - conditions: {{capacity: "{capacity}"}}\n    action: {{type: skip}}'
    )
    assert all(parsed.action_for(volume(capacity=Fraction(c))) == SKIP for c in inside)
    assert all(parsed.action_for(volume(capacity=Fraction(c))) is None for c in outside)


def test_conditions() -> None:
    def action(conditions: str, **facts: object) -> str | None:
        text = f"version: v1\nvolumePolicies:\n  - conditions: {conditions}\n    action: {{type: skip}}"
        return policies(text).action_for(volume(**facts))

    assert action("{storageClass: [gp3]}") == SKIP
    assert action("{storageClass: [gp3]}", storage_class="") is None
    assert action("{csi: {}}") == SKIP and action("{csi: {}}", csi_driver=None) is None
    assert action("{csi: {driver: efs.csi.aws.com}}") is None
    assert action("{csi: {driver: ebs.csi.aws.com, volumeAttributes: {type: gp3}}}") == SKIP
    assert action("{csi: {driver: ebs.csi.aws.com, volumeAttributes: {type: io2}}}") is None
    assert action("{nfs: {server: fs.example}}", nfs=("fs.example", "/a")) == SKIP
    assert action("{nfs: {path: /b}}", nfs=("fs.example", "/a")) is None
    assert action("{volumeTypes: [csi, nfs]}") == SKIP and action("{volumeTypes: [local]}") is None
    assert action("{pvcLabels: {app: db}}") == SKIP and action("{pvcLabels: {app: web}}") is None
    assert action("{pvcLabels: {app: db}}", pvc_labels={}) is None
    assert action("{pvcPhase: [Bound]}") == SKIP and action("{pvcPhase: [Pending]}") is None
    assert action("{storageClass: [gp3], capacity: '0,1Gi'}") is None  # every condition must hold


@pytest.mark.parametrize(
    ("text", "version", "message"),
    [
        ("version: v2\nvolumePolicies: []", V118, "incompatible version"),
        ("version: v1\nvolumePolicies:\n  - action: {type: snapshot}", V113, "invalid action type 'snapshot'"),
        ("version: v1\nvolumePolicies:\n  - action: {type: copy}", V118, "invalid action type 'copy'"),
        (
            "version: v1\nvolumePolicies:\n  - conditions: {volumeTypes: [nfs]}\n    action: {type: skip}",
            V112,
            "volumeTypes",
        ),
        (
            "version: v1\nvolumePolicies:\n  - conditions: {pvcLabels: {a: b}}\n    action: {type: skip}",
            V114,
            "pvcLabels",
        ),
        (
            "version: v1\nvolumePolicies:\n  - conditions: {pvcPhase: [Bound]}\n    action: {type: skip}",
            V117,
            "pvcPhase",
        ),
        ("version: v1\nincludeExcludePolicy: {}", V116, "includeExcludePolicy"),
        ("version: v1\nvolumePolicies:\n  - conditions: {size: 1}\n    action: {type: skip}", V118, "size"),
        (
            "version: v1\nvolumePolicies:\n  - conditions: {capacity: '10Gi,1Gi'}\n    action: {type: skip}",
            V118,
            "illegal",
        ),
        (
            "version: v1\nvolumePolicies:\n  - conditions: {capacity: 'lots'}\n    action: {type: skip}",
            V118,
            "Capacity",
        ),
        (
            "version: v1\nvolumePolicies:\n  - conditions: {csi: {volumeAttributes: {a: b}}}\n    action: {type: skip}",
            V118,
            "driver",
        ),
        (
            "version: v1\nvolumePolicies:\n  - conditions: {storageClass: gp3}\n    action: {type: skip}",
            V118,
            "not a list",
        ),
        ("version: v1\nincludeExcludePolicy: {includedNamespaceScopedResources: ['*']}", V118, "cannot use"),
        ("version: [v1", V118, "invalid YAML"),
        ("- just a list", V118, "not a mapping"),
    ],
)
def test_policies_velero_refuses(text: str, version: tuple[int, int], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        policies(text, version)


def test_a_configmap_must_hold_exactly_one_key() -> None:
    with pytest.raises(PolicyError, match="exactly one key"):
        parse_resource_policies({"a": "version: v1", "b": "version: v1"}, V118)
    with pytest.raises(PolicyError, match="exactly one key"):
        parse_resource_policies({}, V118)


def test_release_grammar_accepts_what_it_knows() -> None:
    assert policies("version: v1\nvolumePolicies:\n  - conditions: {storageClass: [a]}\n    action: {type: skip}", V112)
    assert policies("version: v1\nvolumePolicies:\n  - action: {type: fs-backup}", V114)
    scoped = policies("version: v1\nincludeExcludePolicy:\n  excludedNamespaceScopedResources: [pvc]", V117)
    assert scoped.resource_scopes is not None
    assert scoped.resource_scopes["excludedNamespaceScopedResources"] == ("pvc",)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("10Gi", 10 * GI),
        ("1.5Gi", 3 * GI // 2),
        ("500M", 500 * 10**6),
        ("1k", 1000),
        ("100m", Fraction(1, 10)),
        ("1e3", 1000),
        ("2E2", 200),
        ("1E", 10**18),
        ("0", 0),
    ],
)
def test_quantities(text: str, value: int | Fraction) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "Gi", "10 Gi", "10Gb", "1e", "ten"])
def test_bad_quantities(text: str) -> None:
    with pytest.raises(ValueError, match="quantity"):
        parse_quantity(text)
