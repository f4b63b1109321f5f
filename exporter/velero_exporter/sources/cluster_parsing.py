"""The cluster's objects (JSON as the API serves them) into the coverage source's slim records.

As for Velero's objects (sources/parsing.py): a field of the wrong type is ignored and reported, an object that
cannot be identified is skipped. A pod that mounts no claim is not kept at all (Parsed without a record and
without a problem): in a large cluster most pods are such, and only the ones with claims decide a volume's fate.
Namespaced objects are keyed "namespace/name".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from velero_exporter.sources.parsing import BAD_FIELD_TYPE, MISSING_NAME, NOT_AN_OBJECT, Parsed, SharedValues
from velero_exporter.sources.parsing import _Reader as Reader  # the same typed access as Velero's objects get
from velero_exporter.state.coverage_records import (
    COVERAGE_ANNOTATION,
    COVERAGE_IGNORE,
    Labels,
    Namespace,
    PersistentVolume,
    PersistentVolumeClaim,
    Pod,
    PodVolume,
    object_key,
)
from velero_exporter.state.vocabulary import Problem

BAD_ANNOTATION: Problem = "bad_annotation"

# pkg/apis/velero/v1/labels_annotations.go: the fs-backup opt-in and opt-out annotations of a pod.
VOLUMES_TO_BACKUP = "backup.velero.io/backup-volumes"
VOLUMES_TO_EXCLUDE = "backup.velero.io/backup-volumes-excludes"

# internal/resourcepolicies/volume_types_conditions.go getVolumeTypeFromPV: the first source set names the type,
# in this order (JSON field, Velero's name for it).
_VOLUME_TYPES = (
    ("awsElasticBlockStore", "awsElasticBlockStore"),
    ("azureDisk", "azureDisk"),
    ("azureFile", "azureFile"),
    ("cephfs", "cephfs"),
    ("cinder", "cinder"),
    ("csi", "csi"),
    ("fc", "fc"),
    ("flocker", "flocker"),
    ("flexVolume", "flexVolume"),
    ("gcePersistentDisk", "gcePersistentDisk"),
    ("glusterfs", "glusterfs"),
    ("hostPath", "hostPath"),
    ("iscsi", "iscsi"),
    ("local", "local"),
    ("nfs", "nfs"),
    ("photonPersistentDisk", "photonPersistentDisk"),
    ("portworxVolume", "portworxVolume"),
    ("quobyte", "quobyte"),
    ("rbd", "rbd"),
    ("scaleIO", "scaleIO"),
    ("storageos", "storageOS"),
    ("vsphereVolume", "vsphereVolume"),
)


def _identify(obj: object, namespaced: bool) -> tuple[Mapping[str, Any] | None, str, str, tuple[str, ...]]:
    """The object, its name and namespace, or the problem that makes it unusable."""
    if type(obj) is not dict and not isinstance(obj, Mapping):
        return None, "", "", (NOT_AN_OBJECT,)
    metadata = obj.get("metadata")
    if type(metadata) is not dict and not isinstance(metadata, Mapping):
        return None, "", "", (MISSING_NAME,)
    name, namespace = metadata.get("name"), metadata.get("namespace")
    if type(name) is not str or not name:
        return None, "", "", (MISSING_NAME,)
    if not namespaced:
        return obj, name, "", ()
    if type(namespace) is not str or not namespace:
        return None, "", "", (MISSING_NAME,)
    return obj, name, namespace, ()


def _unique(r: Reader, parent: Mapping[str, Any], key: str) -> str:
    """A string field whose values differ object by object (a claim's or a volume's name): not interned, which for
    values that are never shared would only add an entry to the interpreter's table per object."""
    value = parent.get(key)
    if value is None:
        return ""
    if type(value) is not str:
        r.note(BAD_FIELD_TYPE)
        return ""
    return value


def _ignored(r: Reader, meta: Mapping[str, Any]) -> bool:
    annotations = r.mapping(meta, "annotations")
    value = annotations.get(COVERAGE_ANNOTATION)
    if value is None:
        return False
    if value != COVERAGE_IGNORE:
        r.note(BAD_ANNOTATION)  # a typo must not silently leave an object counted, nor silently ignore it
        return False
    return True


def parse_namespace(obj: object, shared: SharedValues | None = None) -> Parsed[Namespace]:
    checked, name, _, problems = _identify(obj, namespaced=False)
    if checked is None:
        return Parsed(None, None, problems)
    r = Reader(shared or SharedValues())
    meta = r.mapping(checked, "metadata")
    status = r.mapping(checked, "status")
    record = Namespace(
        name=name,
        labels=r.labels(meta),
        created=r.timestamp(meta, "creationTimestamp"),
        terminating=r.string(status, "phase") == "Terminating",
        ignored=_ignored(r, meta),
    )
    return Parsed(name, record, tuple(r.problems))


def parse_pod(obj: object, shared: SharedValues | None = None) -> Parsed[Pod]:
    checked, name, namespace, problems = _identify(obj, namespaced=True)
    if checked is None:
        return Parsed(None, None, problems)
    key = object_key(namespace, name)
    spec = checked.get("spec")
    raw_volumes = spec.get("volumes") if type(spec) is dict or isinstance(spec, Mapping) else None
    if type(raw_volumes) is not list or not any(
        type(v) is dict and type(v.get("persistentVolumeClaim")) is dict for v in raw_volumes
    ):
        return Parsed(key, None, ())  # no claim: not kept (the common case, decided before anything else is read)
    r = Reader(shared or SharedValues())
    assert isinstance(spec, Mapping)
    mounts, devices = _container_volume_names(r, spec)
    volumes = []
    for raw in raw_volumes:
        if not isinstance(raw, Mapping):
            r.note(BAD_FIELD_TYPE)
            continue
        claim = _unique(r, r.mapping(raw, "persistentVolumeClaim"), "claimName")
        volume = r.string(raw, "name")
        if claim and volume:
            volumes.append(PodVolume(volume, claim, volume in mounts, volume in devices))
    meta = r.mapping(checked, "metadata")
    annotations = r.mapping(meta, "annotations")
    status = r.mapping(checked, "status")
    record = Pod(
        namespace=r.string(meta, "namespace"),
        name=name,
        labels=r.labels(meta),
        volumes=tuple(volumes),
        opted_in=_volume_list(r, annotations, VOLUMES_TO_BACKUP),
        opted_out=_volume_list(r, annotations, VOLUMES_TO_EXCLUDE),
        # kube.IsPodRunning: scheduled to a node and in phase Running.
        running=r.string(status, "phase") == "Running" and bool(r.string(spec, "nodeName")),
    )
    return Parsed(key, record, tuple(r.problems))


def _container_volume_names(r: Reader, spec: Mapping[str, Any]) -> tuple[set[str], set[str]]:
    """Volumes mounted, and attached as block devices, by the pod's containers (init containers do not count:
    pkg/podvolume/backupper.go looks at spec.containers only)."""
    mounts: set[str] = set()
    devices: set[str] = set()
    containers = spec.get("containers") or []
    if not isinstance(containers, list):
        r.note(BAD_FIELD_TYPE)
        return mounts, devices
    for container in containers:
        if not isinstance(container, Mapping):
            continue
        for field, names in (("volumeMounts", mounts), ("volumeDevices", devices)):
            for entry in container.get(field) or []:
                if isinstance(entry, Mapping) and isinstance(entry.get("name"), str):
                    names.add(entry["name"])
    return mounts, devices


def _volume_list(r: Reader, annotations: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = r.string(annotations, key)
    return tuple(value.split(",")) if value else ()


def parse_persistent_volume_claim(obj: object, shared: SharedValues | None = None) -> Parsed[PersistentVolumeClaim]:
    checked, name, namespace, problems = _identify(obj, namespaced=True)
    if checked is None:
        return Parsed(None, None, problems)
    r = Reader(shared or SharedValues())
    meta = r.mapping(checked, "metadata")
    spec = r.mapping(checked, "spec")
    status = r.mapping(checked, "status")
    record = PersistentVolumeClaim(
        namespace=r.string(meta, "namespace"),
        name=name,
        labels=r.labels(meta),
        volume_name=_unique(r, spec, "volumeName"),
        storage_class=r.string(spec, "storageClassName"),
        phase=r.string(status, "phase"),
        created=r.timestamp(meta, "creationTimestamp"),
        ignored=_ignored(r, meta),
    )
    return Parsed(object_key(namespace, name), record, tuple(r.problems))


def parse_persistent_volume(obj: object, shared: SharedValues | None = None) -> Parsed[PersistentVolume]:
    checked, name, _, problems = _identify(obj, namespaced=False)
    if checked is None:
        return Parsed(None, None, problems)
    r = Reader(shared or SharedValues())
    meta = r.mapping(checked, "metadata")
    spec = r.mapping(checked, "spec")
    volume_type = next((kind for field, kind in _VOLUME_TYPES if isinstance(spec.get(field), Mapping)), "")
    csi = r.mapping(spec, "csi") if "csi" in spec else None
    nfs = r.mapping(spec, "nfs") if "nfs" in spec else None
    record = PersistentVolume(
        name=name,
        labels=r.labels(meta),
        storage_class=r.string(spec, "storageClassName"),
        capacity=r.string(r.mapping(spec, "capacity"), "storage"),
        volume_type=volume_type,
        csi_driver=r.string(csi, "driver") if csi is not None else None,
        csi_attributes=_attributes(r, csi) if csi is not None else (),
        nfs=(r.string(nfs, "server"), r.string(nfs, "path")) if nfs is not None else None,
    )
    return Parsed(name, record, tuple(r.problems))


def _attributes(r: Reader, csi: Mapping[str, Any]) -> Labels:
    return r.labels(csi, "volumeAttributes")
