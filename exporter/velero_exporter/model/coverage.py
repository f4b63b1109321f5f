"""Coverage: which namespaces and claims each tier's Schedules protect, and why none protects the others.

Velero's selection, computed as Velero computes it for a backup of each enabled, unpaused Schedule's template:

- Validation first (pkg/controller/backup_controller.go prepareBackupRequest): a template Velero would refuse
  (a namespace pattern the release rejects, both label selector fields, old and scoped resource filters
  together, a resource policy that is missing or invalid, an ambiguous or missing snapshot location, a read-only
  storage location) fails every backup: such a Schedule selects nothing.
- A namespace is covered when the namespace filter includes it (1.14+: namespaces labelled
  velero.io/exclude-from-backup=true are added to the excludes) and, with a label selector and a filter that
  includes every namespace, its labels or those of one of its claims or pods match (item_collector.go nsTracker).
- A claim is protected by a tier when a restore from the tier's backups brings back the claim with its data: the
  claim is backed up (listed by its labels, or as an additional item of a backed-up pod that mounts it,
  pkg/util/actionhelpers/pod_helper.go; resource filters re-checked, item_backupper.go itemInclusionChecks)
  and its data is carried by fs-backup of a backed-up running pod, a CSI snapshot or the data mover (CSI feature
  on, CSI volume), or a native snapshot of its backed-up PV by a snapshot location's plugin. Which of them, with
  the volume policy and the pod annotations, follows internal/volumehelper/volume_policy_helper.go (1.14+) and
  the tracker-based item_backupper.go of 1.12 and 1.13.

A claim no tier protects gets the reason of the tier that came closest (vocabulary.COVERAGE_REASONS, farthest
first). The exporter knows one snapshot plugin, AWS's (velero-plugin-for-aws GetVolumeID: EBS volumes, in-tree
or through ebs.csi.aws.com); a location of another provider makes what it would do `unknown`, never protected.
Whether a backup then succeeds is not coverage: the backup alerts say that.

Pure functions of the store's view, the configuration and the clock. CoverageMemo lets a render reuse the
result of every namespace and claim whose inputs are the very same records as in the previous render, so a
change in a large cluster costs a pass of identity checks, not a recomputation.
"""

from __future__ import annotations

import fnmatch
import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from typing import Any, Literal, TypeVar, cast

from velero_exporter.config.settings import Config
from velero_exporter.model.velero import UNASSIGNED, TierResolver
from velero_exporter.state.coverage_records import (
    Labels,
    Namespace,
    PersistentVolume,
    PersistentVolumeClaim,
    Pod,
    PodVolume,
)
from velero_exporter.state.records import Schedule
from velero_exporter.state.store import StoreView
from velero_exporter.state.vocabulary import COVERAGE_METHODS, COVERAGE_REASONS, COVERAGE_STATES
from velero_exporter.velero.selection import (
    EXCLUDE_FROM_BACKUP_LABEL,
    PERSISTENT_VOLUME_CLAIMS,
    PERSISTENT_VOLUMES,
    PODS,
    NamespaceFilter,
    ObjectSelector,
    ResourceFilter,
    SelectionError,
)
from velero_exporter.velero.version import VeleroVersion
from velero_exporter.velero.volume_policy import (
    FS_BACKUP,
    SKIP,
    SNAPSHOT,
    ResourcePolicies,
    VolumeFacts,
    parse_quantity,
)

# The one snapshot plugin the exporter knows (velero-plugin-for-aws), and which volumes it snapshots.
AWS = "aws"
EBS_CSI_DRIVER = "ebs.csi.aws.com"
_RANK: dict[str, int] = {reason: rank for rank, reason in enumerate(COVERAGE_REASONS)}
_PREFERENCE: dict[str, int] = {method: rank for rank, method in enumerate(COVERAGE_METHODS)}

SelectionState = Literal["valid", "invalid", "unknown"]
T = TypeVar("T")
R = TypeVar("R")


# --- a Schedule's selection ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScheduleSelection:
    """What one enabled, unpaused Schedule's backups select, compiled from its template.

    state: valid; invalid (Velero fails every backup: it selects nothing); unknown (the exporter cannot tell what
    it selects: its template is unreadable, or its validity depends on something out of sight).
    """

    schedule: str
    tier: str
    state: SelectionState
    detail: str = ""
    namespaces: NamespaceFilter | None = None
    objects: ObjectSelector | None = None
    # What the resource filters answer for the three resources that decide a claim's fate.
    lists_pods: bool = True  # listed, and kept as additional items
    lists_claims: bool = True
    lists_volumes: bool = True  # listed on their own (a whole-cluster backup)
    excludes_volumes: bool = False  # dropped even as a claim's additional item
    snapshot_volumes: bool = True
    fs_by_default: bool = False
    move_data: bool = False
    policy: ResourcePolicies | None = None
    policy_unknown: bool = False  # named, but not readable: its volume decisions are unknown
    snapshot_providers: frozenset[str] = frozenset()  # the providers of the snapshot locations a backup uses
    csi: bool = False
    version: VeleroVersion = (1, 18)


def _provider(name: str) -> str:
    return name.removeprefix("velero.io/")


def compile_selection(
    schedule: Schedule, tier: str, view: StoreView, config: Config, excluded_by_label: Sequence[str]
) -> ScheduleSelection:
    """The Schedule's template as Velero would validate and apply it; `excluded_by_label` are the namespaces
    labelled velero.io/exclude-from-backup=true (1.14+ adds them to every backup's excludes)."""
    version = config.velero_version
    server = config.coverage.velero_server
    try:
        spec = json.loads(schedule.selection)
    except ValueError:
        spec = None
    if not isinstance(spec, dict):
        return ScheduleSelection(schedule.name, tier, "unknown", "the template cannot be read")
    try:
        includes, excludes = _strings(spec, "includedNamespaces"), _strings(spec, "excludedNamespaces")
        if version >= (1, 14):
            excludes = [*excludes, *excluded_by_label]
        namespaces = NamespaceFilter.build(includes, excludes, version)
        objects = ObjectSelector.build(_selector(spec, "labelSelector"), _selectors(spec, "orLabelSelectors"))
        policy, policy_unknown = _policy(spec, view)
        scopes = policy.resource_scopes if policy is not None and version >= (1, 17) else None
        resources = ResourceFilter.build(spec, namespaces, scopes)
        providers = _snapshot_providers(spec, view, server.default_volume_snapshot_locations)
        _check_storage_location(schedule, view)
        restic = _flag(spec, "defaultVolumesToRestic")
        fs = _flag(spec, "defaultVolumesToFsBackup")
        move = _flag(spec, "snapshotMoveData")
        snapshot_volumes = _flag(spec, "snapshotVolumes")
    except SelectionError as exc:
        return ScheduleSelection(schedule.name, tier, "invalid", str(exc))
    except _OutOfSightError as exc:
        return ScheduleSelection(schedule.name, tier, "unknown", str(exc))
    return ScheduleSelection(
        schedule=schedule.name,
        tier=tier,
        state="valid",
        namespaces=namespaces,
        objects=objects,
        lists_pods=resources.lists_namespaced(PODS),
        lists_claims=resources.lists_namespaced(PERSISTENT_VOLUME_CLAIMS),
        lists_volumes=resources.lists_cluster(PERSISTENT_VOLUMES),
        excludes_volumes=resources.excludes_cluster(PERSISTENT_VOLUMES),
        snapshot_volumes=snapshot_volumes is not False,
        # An old template's defaultVolumesToRestic: true wins (the backup controller remaps it), then the field,
        # then the server's default.
        fs_by_default=True if restic else (fs if fs is not None else server.default_volumes_to_fs_backup),
        move_data=move if move is not None else server.default_snapshot_move_data,
        policy=policy,
        policy_unknown=policy_unknown,
        snapshot_providers=providers,
        csi=server.csi,
        version=version,
    )


class _OutOfSightError(Exception):
    """What the template selects depends on something the exporter cannot see."""


def _strings(spec: Mapping[str, object], key: str) -> list[str]:
    value = spec.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SelectionError(f"{key} is not a list of strings")
    return value


def _flag(spec: Mapping[str, object], key: str) -> bool | None:
    value = spec.get(key)
    if value is not None and not isinstance(value, bool):
        raise SelectionError(f"{key} is not a boolean")
    return value


def _selector(spec: Mapping[str, object], key: str) -> Mapping[str, object] | None:
    value = spec.get(key)
    if value is not None and not isinstance(value, dict):
        raise SelectionError(f"{key} is not a mapping")
    return value


def _selectors(spec: Mapping[str, object], key: str) -> list[Mapping[str, object]] | None:
    value = spec.get(key)
    if value is not None and (not isinstance(value, list) or not all(isinstance(v, dict) for v in value)):
        raise SelectionError(f"{key} is not a list of mappings")
    return value


def _policy(spec: Mapping[str, object], view: StoreView) -> tuple[ResourcePolicies | None, bool]:
    """The resource policy the template names: (policies, unknown). internal/resourcepolicies
    GetResourcePoliciesFromBackup: a missing or invalid ConfigMap fails the backup."""
    ref = spec.get("resourcePolicy")
    if not isinstance(ref, dict) or str(ref.get("kind", "")).lower() != "configmap":
        return None, False
    name = str(ref.get("name") or "")
    record = view.resource_policies.get(name)
    if record is None or record.state == "unreadable":
        return None, True
    if record.state != "loaded":
        raise SelectionError(f"resource policy {name}: {record.state}: {record.detail}")
    return record.policies, False


def _snapshot_providers(
    spec: Mapping[str, object], view: StoreView, defaults: Sequence[tuple[str, str]]
) -> frozenset[str]:
    """backup_controller.go validateAndGetSnapshotLocations: one location per provider, named by the spec, or the
    only one of its provider, or the server's default for it; anything else fails validation."""
    named = _strings(spec, "volumeSnapshotLocations")
    chosen: dict[str, str] = {}
    for name in named:
        location = view.snapshot_locations.get(name)
        if location is None:
            raise SelectionError(f"VolumeSnapshotLocation {name} does not exist")
        if chosen.setdefault(location.provider, name) != name:
            raise SelectionError(f"more than one VolumeSnapshotLocation named for provider {location.provider}")
    by_provider: dict[str, list[str]] = defaultdict(list)
    for location in view.snapshot_locations.values():
        by_provider[location.provider].append(location.name)
    server_defaults = dict(defaults)
    for provider, names in by_provider.items():
        if provider in chosen or len(names) == 1:
            continue
        default = server_defaults.get(provider)
        if default is None:
            raise _OutOfSightError(
                f"provider {provider} has several VolumeSnapshotLocations and the template names none: Velero's "
                "--default-volume-snapshot-locations decides (coverage.velero_server in the exporter's config)"
            )
        if default not in names:
            raise SelectionError(f"the server's default VolumeSnapshotLocation {default} does not exist")
    return frozenset(_provider(p) for p in by_provider)


def _check_storage_location(schedule: Schedule, view: StoreView) -> None:
    name = schedule.storage_location
    if not name:
        return  # the default location: its outage is the location alerts' business
    location = view.storage_locations.get(name)
    if location is None:
        raise SelectionError(f"BackupStorageLocation {name} does not exist")
    if location.access_mode == "ReadOnly":
        raise SelectionError(f"BackupStorageLocation {name} is read-only")


# --- namespaces ----------------------------------------------------------------------------------------------


def _label(labels: Labels, key: str) -> str | None:
    for k, v in labels:
        if k == key:
            return v
    return None


def _labels(labels: Labels) -> dict[str, str]:
    return dict(labels)


def covers_namespace(selection: ScheduleSelection, namespace: Namespace, content_matches: bool) -> bool:
    """Whether the Schedule's backups hold the namespace: its filter includes it and, with a label selector and
    a filter of every namespace, the namespace's labels or those of an object in it (`content_matches`) match."""
    if selection.state != "valid":
        return False
    assert selection.namespaces is not None and selection.objects is not None
    if not selection.namespaces.includes_namespace(namespace.name):
        return False
    if selection.objects.selects_everything or not selection.namespaces.include_everything:
        return True
    return content_matches or _selected(selection.objects, namespace.labels)


# --- claims --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Carried:
    """One Schedule's answer for one claim: the method that carries its data, or the reason none does."""

    method: str | None
    reason: str | None


def _reason(reasons: Iterable[str | None]) -> Carried:
    found = [r for r in reasons if r is not None]
    return Carried(None, max(found, key=_RANK.__getitem__) if found else "unknown")


@lru_cache(maxsize=1024)
def _capacity(text: str) -> Fraction:
    try:
        return parse_quantity(text) if text else Fraction(0)
    except ValueError:
        return Fraction(0)


def _selected(objects: ObjectSelector, labels: Labels) -> bool:
    return objects.selects_everything or objects.matches(_labels(labels))


class ClaimInputs:
    """One claim's inputs to carry(), with what several Schedules ask of them computed once per claim."""

    __slots__ = ("_actions", "_facts", "namespace", "pods", "pv", "pvc")

    def __init__(
        self, namespace: Namespace, pvc: PersistentVolumeClaim, pv: PersistentVolume | None, pods: Sequence[Pod]
    ) -> None:
        self.namespace = namespace
        self.pvc = pvc
        self.pv = pv
        self.pods = pods
        self._facts: VolumeFacts | None = None
        self._actions: dict[int, str | None] = {}

    def action(self, policies: ResourcePolicies) -> str | None:
        """The volume policy's action for the claim's volume (several Schedules often name one policy)."""
        assert self.pv is not None
        key = id(policies)
        if key not in self._actions:
            if self._facts is None:
                self._facts = volume_facts(self.pv, self.pvc)
            self._actions[key] = policies.action_for(self._facts)
        return self._actions[key]


def volume_facts(pv: PersistentVolume, pvc: PersistentVolumeClaim) -> VolumeFacts:
    return VolumeFacts(
        capacity=_capacity(pv.capacity),
        storage_class=pv.storage_class,
        nfs=pv.nfs,
        csi_driver=pv.csi_driver,
        csi_attributes=_labels(pv.csi_attributes),
        volume_type=pv.volume_type,
        pvc_labels=_labels(pvc.labels),
        pvc_phase=pvc.phase,
    )


def _fs_opted(selection: ScheduleSelection, pod: Pod, volume: PodVolume) -> bool:
    """The opt-in/opt-out rule (shouldPerformFSBackupLegacy; GetVolumesByPod before 1.14)."""
    if selection.fs_by_default:
        return volume.name not in pod.opted_out
    return volume.name in pod.opted_in


def _fs_carries(
    selection: ScheduleSelection, pod: Pod, volume: PodVolume, pv: PersistentVolume, action: str | None
) -> Carried:
    """Whether fs-backup of this backed-up pod copies the claim's volume."""
    # (The volume helper's backupExcludePVC is "claims excluded by the resource filters" on this path,
    # pkg/backup/backup.go; carry() has returned resources_excluded before asking.)
    if volume.name.startswith("default-token"):
        return Carried(None, None)
    if selection.version >= (1, 14) and action is not None:
        if action != FS_BACKUP:
            return Carried(None, "policy_skip" if action == SKIP else None)
    elif not _fs_opted(selection, pod, volume):
        opted_out = selection.fs_by_default and volume.name in pod.opted_out
        return Carried(None, "volume_excluded" if opted_out else None)
    elif action == SKIP:  # 1.12, 1.13: BackupPodVolumes skips what the policy skips
        return Carried(None, "policy_skip")
    # pkg/podvolume/backupper.go: only running pods, mounted file-system volumes, never hostPath.
    if not pod.running or not volume.mounted or volume.block or pv.volume_type == "hostPath":
        return Carried(None, "volume_excluded")
    return Carried("fs-backup", None)


def _snapshot_wanted(selection: ScheduleSelection, action: str | None, fs_claimed: bool) -> Carried:
    """ShouldPerformSnapshot (1.14+), or the checks of 1.12/1.13's takePVSnapshot, for the claim's volume."""
    if selection.version >= (1, 14):
        if action is not None:
            return (
                Carried("wanted", None)
                if action == SNAPSHOT
                else Carried(None, "policy_skip" if action == SKIP else None)
            )
        if fs_claimed:
            return Carried(None, None)  # left to fs-backup; the fs path says why, if it does not carry it
        return Carried("wanted", None) if selection.snapshot_volumes else Carried(None, "snapshots_disabled")
    if not selection.snapshot_volumes:
        return Carried(None, "snapshots_disabled")
    if fs_claimed:
        return Carried(None, None)
    return Carried(None, "policy_skip") if action == SKIP else Carried("wanted", None)


def _native_snapshot(selection: ScheduleSelection, pv: PersistentVolume) -> Carried:
    """takePVSnapshot: the first snapshot location whose plugin returns a volume ID."""
    if selection.csi and pv.csi_driver is not None:
        return Carried(None, None)  # #4758: the CSI plugin handles CSI volumes
    if AWS in selection.snapshot_providers and (
        pv.volume_type == "awsElasticBlockStore" or pv.csi_driver == EBS_CSI_DRIVER
    ):
        return Carried("snapshot", None)
    if selection.snapshot_providers - {AWS}:
        return Carried(None, "unknown")  # another provider's plugin: what it snapshots is out of sight
    return Carried(None, "snapshots_disabled")  # no location, or none whose plugin handles the volume


def carry(selection: ScheduleSelection, claim: ClaimInputs, *, included: bool | None = None) -> Carried:
    """Whether a restore from this Schedule's backups brings back the claim with its data, and how.
    `included`: whether the Schedule's namespace filter includes the claim's namespace, when already known."""
    if selection.state == "invalid":
        return Carried(None, "namespace_not_selected")  # every backup fails: it selects nothing
    if selection.state == "unknown":
        return Carried(None, "unknown")
    assert selection.namespaces is not None and selection.objects is not None
    if included is None:
        included = selection.namespaces.includes_namespace(claim.namespace.name)
    if not included:
        return Carried(None, "namespace_not_selected")
    pvc, pv, objects = claim.pvc, claim.pv, selection.objects
    if _label(pvc.labels, EXCLUDE_FROM_BACKUP_LABEL) == "true":
        return Carried(None, "volume_excluded")
    pods_backed = [
        pod
        for pod in claim.pods
        if selection.lists_pods
        and _label(pod.labels, EXCLUDE_FROM_BACKUP_LABEL) != "true"
        and _selected(objects, pod.labels)
    ]
    if not selection.lists_claims:
        return Carried(None, "resources_excluded")
    if not (pods_backed or _selected(objects, pvc.labels)):
        return Carried(None, "labels_not_selected")
    if pv is None:
        return Carried(None, "unknown")  # bound to a volume the exporter has not seen
    if selection.policy_unknown:
        return Carried(None, "unknown")
    action = claim.action(selection.policy) if selection.policy is not None else None
    return _methods(selection, pvc=pvc, pv=pv, pods=claim.pods, pods_backed=pods_backed, action=action)


def _methods(
    selection: ScheduleSelection,
    *,
    pvc: PersistentVolumeClaim,
    pv: PersistentVolume,
    pods: Sequence[Pod],
    pods_backed: Sequence[Pod],
    action: str | None,
) -> Carried:
    reasons: list[str | None] = []
    for pod in pods_backed:
        for volume in pod.volumes:
            if volume.claim == pvc.name:
                fs = _fs_carries(selection, pod, volume, pv, action)
                if fs.method is not None:
                    return fs
                reasons.append(fs.reason)
    # Which pods keep a snapshot away by claiming the volume for fs-backup: 1.14+ asks every pod that mounts it
    # (volume_policy_helper.go), 1.12/1.13 the tracker of the backup's own pods.
    claimants = pods if selection.version >= (1, 14) else pods_backed
    fs_claimed = any(
        _fs_opted(selection, pod, volume) for pod in claimants for volume in pod.volumes if volume.claim == pvc.name
    )
    wanted = _snapshot_wanted(selection, action, fs_claimed)
    if wanted.method is None:
        if fs_claimed and not pods_backed:
            # Left to the fs-backup of a pod this backup does not hold.
            reasons.append("labels_not_selected" if selection.lists_pods else "resources_excluded")
        return _reason([*reasons, wanted.reason])
    if selection.csi and pv.csi_driver is not None:
        # The CSI plugin's PVC action: a VolumeSnapshot of the claim, its data moved with snapshotMoveData.
        return Carried("data-mover" if selection.move_data else "csi-snapshot", None)
    assert selection.objects is not None
    pv_kept = _label(pv.labels, EXCLUDE_FROM_BACKUP_LABEL) != "true"
    pv_listed = selection.lists_volumes and _selected(selection.objects, pv.labels)
    if not pv_kept:
        return _reason([*reasons, "volume_excluded"])
    if selection.excludes_volumes and not pv_listed:
        return _reason([*reasons, "resources_excluded"])
    native = _native_snapshot(selection, pv)
    return native if native.method is not None else _reason([*reasons, native.reason])


# --- the model -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NamespaceCoverage:
    name: str
    covered: tuple[tuple[str, bool], ...]  # (tier, covered) for every tier of the model
    state: str


@dataclass(frozen=True, slots=True)
class PvcCoverage:
    namespace: str
    name: str
    storage_class: str
    protected: tuple[tuple[str, str], ...]  # (tier, method) of each tier whose backups carry its data
    reason: str | None  # the closest tier's, when no tier protects it
    state: str


@dataclass(frozen=True, slots=True)
class TierCoverage:
    tier: str
    namespaces: int  # covered
    pvcs_by_method: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class CoverageModel:
    synced: bool
    tiers: tuple[str, ...] = ()
    namespaces: tuple[NamespaceCoverage, ...] = ()
    pvcs: tuple[PvcCoverage, ...] = ()
    namespace_states: Mapping[str, int] = field(default_factory=dict)
    pvc_states: Mapping[str, int] = field(default_factory=dict)
    selections: tuple[ScheduleSelection, ...] = ()
    per_tier: tuple[TierCoverage, ...] = ()
    valid_until: float = math.inf


NOT_SYNCED = CoverageModel(synced=False)


@dataclass(slots=True)
class CoverageMemo:
    """Results of the previous render, reused while their inputs are the same records (held by the renderer)."""

    epoch: object = None
    # By name: (the namespace, ignored, matched, its result); by key: (claim, volume, pods, namespace, ignored,
    # its result). One tuple each: at 50,000 claims a second tuple per entry is megabytes.
    namespaces: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    pvcs: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    # The entries of the previous selections, for one pass after they changed: a result equal to the previous one
    # is handed over as the previous object, so that its encoded lines are reused (metrics/large.py) and the new
    # one is garbage at once. A Schedule change leaves most results as they were.
    stale_namespaces: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    stale_pvcs: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    pods_source: Mapping[str, Pod] | None = None
    pods_by_claim: dict[tuple[str, str], tuple[Pod, ...]] = field(default_factory=dict)
    # The last claim pass, reused whole while its inputs are the same snapshots and no namespace that holds a
    # claim changed (a new namespace costs a pass over the namespaces, not over 50,000 claims).
    claims: _Claims | None = None
    claims_source: tuple[object, ...] = ()
    claim_namespaces: frozenset[str] = frozenset()
    # One object per distinct (tier, covered) or (tier, method) tuple: a few dozen shapes for 60,000 results.
    shapes: dict[tuple[tuple[str, object], ...], tuple[tuple[str, object], ...]] = field(default_factory=dict)

    def shape(self, value: tuple[tuple[str, T], ...]) -> tuple[tuple[str, T], ...]:
        return self.shapes.setdefault(value, value)  # type: ignore[return-value]


def _active(view: StoreView, config: Config) -> list[tuple[Schedule, str]]:
    resolver = TierResolver(config, view.schedules)
    return [
        (schedule, resolver.schedule_tier(schedule.name) or UNASSIGNED)
        for _, schedule in sorted(view.schedules.items())
        if schedule.phase == "Enabled" and not schedule.paused
    ]


def _previous_if_equal(entry: tuple[Any, ...] | None, result: R) -> R:
    """The previous selections' result (an entry's last element) when the new one equals it."""
    if entry is not None and entry[-1] == result:
        return cast("R", entry[-1])
    return result


def _ignored(namespace: Namespace, globs: Sequence[str], now: float, grace: float) -> bool:
    if namespace.ignored or namespace.terminating or any(fnmatch.fnmatchcase(namespace.name, g) for g in globs):
        return True
    return namespace.created is not None and now - namespace.created < grace


def _pods_by_claim(pods: Mapping[str, Pod], memo: CoverageMemo) -> dict[tuple[str, str], tuple[Pod, ...]]:
    if memo.pods_source is not pods:
        index: dict[tuple[str, str], list[Pod]] = defaultdict(list)
        for pod in pods.values():
            for volume in pod.volumes:
                index[pod.namespace, volume.claim].append(pod)
        memo.pods_by_claim = {key: tuple(found) for key, found in index.items()}
        memo.pods_source = pods
    return memo.pods_by_claim


def build_coverage(
    view: StoreView, config: Config, now: float, *, synced: bool, memo: CoverageMemo | None = None
) -> CoverageModel:
    if not synced:
        return NOT_SYNCED
    memo = memo if memo is not None else CoverageMemo()
    coverage = config.coverage
    excluded_by_label = sorted(
        ns.name for ns in view.namespaces.values() if _label(ns.labels, EXCLUDE_FROM_BACKUP_LABEL) == "true"
    )
    selections = tuple(
        compile_selection(schedule, tier, view, config, excluded_by_label) for schedule, tier in _active(view, config)
    )
    tiers = (*config.tier_names, *((UNASSIGNED,) if any(s.tier == UNASSIGNED for s in selections) else ()))
    epoch = (selections, tiers, coverage)
    if memo.epoch != epoch:
        memo.stale_namespaces, memo.stale_pvcs = memo.namespaces, memo.pvcs
        memo.epoch, memo.namespaces, memo.pvcs, memo.claims = epoch, {}, {}, None
    namespaces, ignored_namespaces, changed, valid_until = _namespace_pass(
        view, config, now, selections, tiers, memo=memo
    )
    claims_source = (view.persistent_volume_claims, view.persistent_volumes, view.pods)
    if memo.claims is None or memo.claims_source != claims_source or changed & memo.claim_namespaces:
        memo.claims = _claim_pass(view, selections, tiers, ignored_namespaces, memo)
        memo.claims_source = claims_source
        memo.claim_namespaces = frozenset(p.namespace for p in memo.claims.pvcs)
    claims = memo.claims
    memo.stale_namespaces, memo.stale_pvcs = {}, {}
    return CoverageModel(
        synced=True,
        tiers=tiers,
        namespaces=namespaces,
        pvcs=claims.pvcs,
        namespace_states=_states(n.state for n in namespaces),
        pvc_states=claims.states,
        selections=selections,
        per_tier=_per_tier(tiers, namespaces, claims.methods),
        valid_until=valid_until,
    )


def _namespace_pass(
    view: StoreView,
    config: Config,
    now: float,
    selections: Sequence[ScheduleSelection],
    tiers: Sequence[str],
    *,
    memo: CoverageMemo,
) -> tuple[tuple[NamespaceCoverage, ...], set[str], set[str], float]:
    """Every namespace's coverage; the ignored ones, the ones whose inputs changed since the last pass, and when
    the next namespace leaves its grace."""
    coverage = config.coverage
    content = _content_labels(view, selections)
    namespaces: list[NamespaceCoverage] = []
    ignored_namespaces: set[str] = set()
    changed: set[str] = set()
    valid_until = math.inf
    for name, namespace in view.namespaces.items():
        ignored = _ignored(namespace, coverage.ignore_namespaces, now, coverage.grace_seconds)
        if ignored:
            ignored_namespaces.add(name)
        if namespace.created is not None and now < namespace.created + coverage.grace_seconds:
            valid_until = min(valid_until, namespace.created + coverage.grace_seconds)
        matched = tuple(_content_matches(s, content.get(name, ())) for s in selections) if content else ()
        cached = memo.namespaces.get(name)
        if cached is not None and cached[0] is namespace and cached[1] == ignored and cached[2] == matched:
            namespaces.append(cached[3])
            continue
        changed.add(name)
        result = _previous_if_equal(
            memo.stale_namespaces.get(name),
            _namespace_coverage(namespace, selections, tiers, ignored, matched, memo=memo),
        )
        memo.namespaces[name] = (namespace, ignored, matched, result)
        namespaces.append(result)
    if len(memo.namespaces) > len(view.namespaces):
        gone = [name for name in memo.namespaces if name not in view.namespaces]
        changed.update(gone)
        for name in gone:
            del memo.namespaces[name]
    return tuple(namespaces), ignored_namespaces, changed, valid_until


@dataclass(frozen=True, slots=True)
class _Claims:
    """The claims' coverage of one pass, and what the model sums of it."""

    pvcs: tuple[PvcCoverage, ...]
    states: Mapping[str, int]
    methods: Mapping[str, Mapping[str, int]]  # tier -> method -> claims


def _claim_pass(
    view: StoreView,
    selections: Sequence[ScheduleSelection],
    tiers: Sequence[str],
    ignored_namespaces: set[str],
    memo: CoverageMemo,
) -> _Claims:
    pods_by_claim = _pods_by_claim(view.pods, memo)
    pvcs: list[PvcCoverage] = []
    included: dict[str, tuple[bool, ...]] = {}  # namespace -> whether each Schedule's filter includes it
    for key_name, pvc in view.persistent_volume_claims.items():
        if not pvc.volume_name:
            continue  # unbound: no data to protect yet
        namespace = view.namespaces.get(pvc.namespace) or Namespace(pvc.namespace, (), None, False, False)
        pv = view.persistent_volumes.get(pvc.volume_name)
        pods = pods_by_claim.get((pvc.namespace, pvc.name), ())
        ignored = pvc.ignored or pvc.namespace in ignored_namespaces
        cached = memo.pvcs.get(key_name)
        if (
            cached is not None
            and cached[0] is pvc
            and cached[1] is pv
            and cached[2] == pods
            and cached[3] is namespace
            and cached[4] == ignored
        ):
            pvcs.append(cached[5])
            continue
        if pvc.namespace not in included:
            included[pvc.namespace] = tuple(_includes(s, pvc.namespace) for s in selections)
        claim = ClaimInputs(namespace, pvc, pv, pods)
        result = _previous_if_equal(
            memo.stale_pvcs.get(key_name),
            _pvc_coverage(
                claim, ignored=ignored, selections=selections, included=included[pvc.namespace], tiers=tiers, memo=memo
            ),
        )
        memo.pvcs[key_name] = (pvc, pv, pods, namespace, ignored, result)
        pvcs.append(result)
    _forget(memo.pvcs, view.persistent_volume_claims)
    methods: dict[str, Counter[str]] = {t: Counter() for t in tiers}
    for claim_coverage in pvcs:
        for tier, method in claim_coverage.protected:
            methods[tier][method] += 1
    return _Claims(tuple(pvcs), _states(p.state for p in pvcs), methods)


def _forget(cache: dict[str, T], current: Mapping[str, object]) -> None:
    if len(cache) > len(current):
        for gone in [k for k in cache if k not in current]:
            del cache[gone]


def _states(states: Iterable[str]) -> dict[str, int]:
    counted = Counter(states)
    return {state: counted.get(state, 0) for state in COVERAGE_STATES}


def _content_labels(view: StoreView, selections: Sequence[ScheduleSelection]) -> dict[str, list[dict[str, str]]]:
    """The labels of the claims and pods in each namespace, when a Schedule needs them to decide whether it holds
    a namespace (a label selector over every namespace); empty otherwise."""
    needed = any(
        s.state == "valid"
        and s.objects is not None
        and not s.objects.selects_everything
        and s.namespaces is not None
        and s.namespaces.include_everything
        for s in selections
    )
    if not needed:
        return {}
    out: dict[str, list[dict[str, str]]] = defaultdict(list)
    for pvc in view.persistent_volume_claims.values():
        out[pvc.namespace].append(_labels(pvc.labels))
    for pod in view.pods.values():
        out[pod.namespace].append(_labels(pod.labels))
    return out


def _content_matches(selection: ScheduleSelection, labels: Sequence[Mapping[str, str]]) -> bool:
    if selection.state != "valid" or selection.objects is None:
        return False
    return any(selection.objects.matches(item) for item in labels)


def _namespace_coverage(
    namespace: Namespace,
    selections: Sequence[ScheduleSelection],
    tiers: Sequence[str],
    ignored: bool,
    matched: Sequence[bool],
    *,
    memo: CoverageMemo,
) -> NamespaceCoverage:
    covered_tiers = {
        s.tier for i, s in enumerate(selections) if covers_namespace(s, namespace, bool(matched) and matched[i])
    }
    state = "protected" if covered_tiers else ("ignored" if ignored else "unprotected")
    return NamespaceCoverage(namespace.name, memo.shape(tuple((t, t in covered_tiers) for t in tiers)), state)


def _includes(selection: ScheduleSelection, namespace: str) -> bool:
    return selection.namespaces is not None and selection.namespaces.includes_namespace(namespace)


def _pvc_coverage(
    claim: ClaimInputs,
    *,
    ignored: bool,
    selections: Sequence[ScheduleSelection],
    included: Sequence[bool],
    tiers: Sequence[str],
    memo: CoverageMemo,
) -> PvcCoverage:
    methods: dict[str, str] = {}
    closest: str | None = None
    for selection, includes in zip(selections, included, strict=True):
        answer = carry(selection, claim, included=includes)
        if answer.method is not None:
            held = methods.get(selection.tier)
            if held is None or _PREFERENCE[answer.method] < _PREFERENCE[held]:
                methods[selection.tier] = answer.method
        elif answer.reason is not None and (closest is None or _RANK[answer.reason] > _RANK[closest]):
            closest = answer.reason
    protected = memo.shape(tuple((t, methods[t]) for t in tiers if t in methods))
    if protected:
        state, reason = "protected", None
    else:
        state = "ignored" if ignored else "unprotected"
        reason = closest or "namespace_not_selected"  # no enabled Schedule at all
    pvc = claim.pvc
    return PvcCoverage(pvc.namespace, pvc.name, pvc.storage_class, protected, reason, state)


def _per_tier(
    tiers: Sequence[str], namespaces: Sequence[NamespaceCoverage], methods: Mapping[str, Mapping[str, int]]
) -> tuple[TierCoverage, ...]:
    covered: Counter[str] = Counter()
    for namespace in namespaces:
        covered.update(t for t, yes in namespace.covered if yes)
    return tuple(TierCoverage(t, covered[t], {m: methods[t].get(m, 0) for m in COVERAGE_METHODS}) for t in tiers)
