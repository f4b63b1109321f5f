"""Velero's resource policies: the ConfigMap a Backup names in spec.resourcePolicy, whose volume policies skip a
volume or choose fs-backup or a snapshot for it, and (1.17+) whose include/exclude policy adds resource filters.

As internal/resourcepolicies (resource_policies.go, volume_resources.go, volume_resources_validator.go) reads it:
the ConfigMap holds exactly one key; its YAML is decoded strictly (an unknown key is an error, so a condition a
release does not know makes the policy, and every backup naming it, fail validation); the first policy whose
conditions all match a volume decides its action. What each release knows:

| release | conditions | actions |
|---|---|---|
| 1.12 | capacity, storageClass, nfs, csi.driver | skip |
| 1.13 | + volumeTypes | skip |
| 1.14, 1.15 | the same | skip, fs-backup, snapshot |
| 1.16 | + pvcLabels, csi.volumeAttributes | the same |
| 1.17 | + includeExcludePolicy (resource filters) | the same |
| 1.18 | + pvcPhase | the same |
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import yaml

from velero_exporter.velero.version import VeleroVersion

SKIP = "skip"
FS_BACKUP = "fs-backup"
SNAPSHOT = "snapshot"

_POLICY_VERSION = "v1"


class PolicyError(ValueError):
    """A resource policy Velero cannot use: every backup that names it fails validation."""


@dataclass(frozen=True, slots=True)
class VolumeFacts:
    """What a volume policy can see of one volume (structuredVolume): from its PV and its PVC."""

    capacity: Fraction
    storage_class: str
    nfs: tuple[str, str] | None  # (server, path)
    csi_driver: str | None
    csi_attributes: Mapping[str, str]
    volume_type: str
    pvc_labels: Mapping[str, str]
    pvc_phase: str


@dataclass(frozen=True, slots=True)
class VolumeConditions:
    lower: Fraction  # capacity range; 0 for an open end
    upper: Fraction
    storage_classes: tuple[str, ...] = ()
    nfs: tuple[str, str] | None = None  # (server, path), "" for any
    csi: tuple[str, tuple[tuple[str, str], ...]] | None = None  # (driver, attributes), driver "" for any CSI volume
    volume_types: tuple[str, ...] = ()
    pvc_labels: tuple[tuple[str, str], ...] = ()
    pvc_phases: tuple[str, ...] = ()

    def match(self, v: VolumeFacts) -> bool:
        return (
            self._capacity(v.capacity)
            and (not self.storage_classes or (v.storage_class != "" and v.storage_class in self.storage_classes))
            and self._nfs(v.nfs)
            and self._csi(v)
            and (not self.volume_types or v.volume_type in self.volume_types)
            and all(v.pvc_labels.get(k) == value for k, value in self.pvc_labels)
            and (not self.pvc_phases or (v.pvc_phase != "" and v.pvc_phase in self.pvc_phases))
        )

    def _capacity(self, y: Fraction) -> bool:
        # capacity.isInRange: "[0, a]", "[b, 0]" (open ends) and "[a, b]"; an empty capacity is "0,0".
        if not self.lower and not self.upper:
            return y >= 0  # no capacity condition (the common case): no Fraction arithmetic
        if self.lower == 0 and self.upper >= y:
            return True
        if self.upper == 0 and self.lower <= y:
            return True
        return self.lower != 0 and self.upper != 0 and self.lower <= y <= self.upper

    def _nfs(self, nfs: tuple[str, str] | None) -> bool:
        if self.nfs is None:
            return True
        if nfs is None:
            return False
        server, path = self.nfs
        return (not path or path == nfs[1]) and (not server or server == nfs[0])

    def _csi(self, v: VolumeFacts) -> bool:
        if self.csi is None:
            return True
        driver, attributes = self.csi
        if v.csi_driver is None:
            return False
        if not driver:
            return True
        if driver != v.csi_driver:
            return False
        return all(v.csi_attributes.get(k) == value for k, value in attributes)


@dataclass(frozen=True, slots=True)
class VolumePolicy:
    conditions: VolumeConditions
    action: str


@dataclass(frozen=True, slots=True)
class ResourcePolicies:
    volume_policies: tuple[VolumePolicy, ...]
    # includeExcludePolicy (1.17+): keys as in the YAML (includedNamespaceScopedResources ...).
    resource_scopes: Mapping[str, tuple[str, ...]] | None = None

    def action_for(self, volume: VolumeFacts) -> str | None:
        """The action of the first volume policy whose every condition matches; None when none does."""
        for policy in self.volume_policies:
            if policy.conditions.match(volume):
                return policy.action
        return None


def _condition_keys(version: VeleroVersion) -> frozenset[str]:
    keys = {"capacity", "storageClass", "nfs", "csi"}
    if version >= (1, 13):
        keys.add("volumeTypes")
    if version >= (1, 16):
        keys.add("pvcLabels")
    if version >= (1, 18):
        keys.add("pvcPhase")
    return frozenset(keys)


def _actions(version: VeleroVersion) -> tuple[str, ...]:
    return (SKIP, FS_BACKUP, SNAPSHOT) if version >= (1, 14) else (SKIP,)


_SCOPE_KEYS = (
    "includedClusterScopedResources",
    "excludedClusterScopedResources",
    "includedNamespaceScopedResources",
    "excludedNamespaceScopedResources",
)


def parse_resource_policies(data: Mapping[str, str], version: VeleroVersion) -> ResourcePolicies:
    """A ConfigMap's data as the given Velero release reads it; PolicyError says why Velero would refuse it."""
    if len(data) != 1:
        raise PolicyError(f"the ConfigMap must hold exactly one key, it holds {len(data)}")
    (text,) = data.values()
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyError(f"invalid YAML: {getattr(exc, 'problem', None) or exc}") from None
    top = _mapping(document, "the policy")
    known = {"version", "volumePolicies", *(("includeExcludePolicy",) if version >= (1, 17) else ())}
    _known_fields(top, known, "the policy")
    if top.get("version") != _POLICY_VERSION:
        raise PolicyError(f"incompatible version number {top.get('version')!r} with supported version v1")
    raw_policies = top.get("volumePolicies") or []
    if not isinstance(raw_policies, list):
        raise PolicyError("volumePolicies is not a list")
    policies = tuple(_volume_policy(p, version) for p in raw_policies)
    scopes = None
    if top.get("includeExcludePolicy") is not None:
        scopes = _scopes(top["includeExcludePolicy"])
    return ResourcePolicies(policies, scopes)


def _volume_policy(raw: object, version: VeleroVersion) -> VolumePolicy:
    policy = _mapping(raw, "a volume policy")
    _known_fields(policy, {"conditions", "action"}, "a volume policy")
    action = _mapping(policy.get("action") or {}, "action")
    _known_fields(action, {"type", "parameters"}, "action")
    kind = action.get("type")
    if kind not in _actions(version):
        raise PolicyError(f"invalid action type {kind!r}")
    conditions = _mapping(policy.get("conditions") or {}, "conditions")
    _known_fields(conditions, _condition_keys(version), "conditions")
    return VolumePolicy(_conditions(conditions, version), str(kind))


def _conditions(raw: Mapping[str, Any], version: VeleroVersion) -> VolumeConditions:
    lower, upper = _capacity(raw.get("capacity"))
    if not (upper >= lower or (lower != 0 and upper == 0)):
        raise PolicyError(f"illegal values for capacity {raw.get('capacity')!r}")
    nfs = None
    if "nfs" in raw and raw["nfs"] is not None:
        fields = _mapping(raw["nfs"], "nfs")
        _known_fields(fields, {"server", "path"}, "nfs")
        nfs = (_scalar(fields.get("server", "")), _scalar(fields.get("path", "")))
    csi = None
    if "csi" in raw and raw["csi"] is not None:
        fields = _mapping(raw["csi"], "csi")
        _known_fields(fields, {"driver", *(("volumeAttributes",) if version >= (1, 16) else ())}, "csi")
        attributes = _string_map(fields.get("volumeAttributes") or {}, "csi.volumeAttributes")
        driver = _scalar(fields.get("driver", ""))
        if not driver and "volumeAttributes" in fields:
            raise PolicyError("csi driver should not be empty when filtering by volume attributes")
        csi = (driver, tuple(sorted(attributes.items())))
    return VolumeConditions(
        lower=lower,
        upper=upper,
        storage_classes=_strings(raw.get("storageClass"), "storageClass"),
        nfs=nfs,
        csi=csi,
        volume_types=_strings(raw.get("volumeTypes"), "volumeTypes"),
        pvc_labels=tuple(sorted(_string_map(raw.get("pvcLabels") or {}, "pvcLabels").items())),
        pvc_phases=_strings(raw.get("pvcPhase"), "pvcPhase"),
    )


def _capacity(raw: object) -> tuple[Fraction, Fraction]:
    text = "," if raw is None or raw == "" else _scalar(raw)
    parts = text.split(",")
    if len(parts) != 2:
        raise PolicyError(f"wrong format of Capacity {text!r}")
    bounds = []
    for part in (p.strip() for p in parts):
        try:
            bounds.append(parse_quantity(part) if part else Fraction(0))
        except ValueError:
            raise PolicyError(f"wrong format of Capacity {part!r}") from None
    return bounds[0], bounds[1]


def _scopes(raw: object) -> dict[str, tuple[str, ...]]:
    scopes = _mapping(raw, "includeExcludePolicy")
    _known_fields(scopes, set(_SCOPE_KEYS), "includeExcludePolicy")
    out = {key: _strings(scopes.get(key), key) for key in _SCOPE_KEYS}
    for scope in ("ClusterScoped", "NamespaceScoped"):
        includes, excludes = out[f"included{scope}Resources"], out[f"excluded{scope}Resources"]
        if "*" in includes or "*" in excludes:
            raise PolicyError("cannot use '*' in includes or excludes filters in the policy")
        both = sorted(set(includes) & set(excludes))
        if both:
            raise PolicyError(f"excludes list cannot contain an item in the includes list: {both[0]}")
    return out


def _mapping(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise PolicyError(f"{what} is not a mapping")
    return value


def _known_fields(fields: Mapping[str, Any], known: set[str] | frozenset[str], what: str) -> None:
    unknown = sorted(set(fields) - set(known))
    if unknown:
        raise PolicyError(f"{what}: field {unknown[0]} not found in this Velero release")


def _scalar(value: object) -> str:
    # yaml.v3 decodes any scalar into a string field by its text.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise PolicyError(f"expected a string, got {type(value).__name__}")


def _strings(value: object, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise PolicyError(f"{what} is not a list")
    return tuple(_scalar(v) for v in value)


def _string_map(value: object, what: str) -> dict[str, str]:
    return {k: _scalar(v) for k, v in _mapping(value, what).items()}


# --- quantities (k8s.io/apimachinery/pkg/api/resource) ------------------------------------------------------

_QUANTITY = re.compile(r"([+-]?)(\d+(?:\.\d*)?|\.\d+)([A-Za-z]*)([+-]?\d*)")
_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}


def parse_quantity(text: str) -> Fraction:
    """A Kubernetes quantity ("10Gi", "500M", "1.5e3") as an exact number; ValueError when malformed."""
    match = _QUANTITY.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a quantity")
    sign, number, suffix, exponent = match.groups()
    value = Fraction(number) * (-1 if sign == "-" else 1)
    if suffix in ("e", "E") and exponent.lstrip("+-"):
        return value * Fraction(10) ** int(exponent)
    if exponent:
        raise ValueError(f"{text!r} is not a quantity")
    if suffix in _BINARY:
        return value * Fraction(1024) ** _BINARY[suffix]
    if suffix in _DECIMAL:
        return value * Fraction(10) ** _DECIMAL[suffix]
    raise ValueError(f"{text!r} is not a quantity")
