"""Builders of the cluster's own objects (core/v1 and storage.k8s.io/v1) in the API's shape: namespaces, pods,
PersistentVolumeClaims, PersistentVolumes, StorageClasses and ConfigMaps, for the sandbox, tests and benchmarks."""

from __future__ import annotations

import hashlib
from typing import Any

from velero_exporter.sandbox.objects import rfc3339

Obj = dict[str, Any]
EBS_CSI = "ebs.csi.aws.com"
EFS_CSI = "efs.csi.aws.com"


def _metadata(
    name: str,
    namespace: str | None,
    created: float | None,
    labels: dict[str, str] | None,
    annotations: dict[str, str] | None,
) -> Obj:
    meta: Obj = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    if created is not None:
        meta["creationTimestamp"] = rfc3339(created)
    if labels:
        meta["labels"] = dict(labels)
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def namespace(
    name: str,
    *,
    created: float | None = None,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    phase: str = "Active",
) -> Obj:
    all_labels = {"kubernetes.io/metadata.name": name, **(labels or {})}
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": _metadata(name, None, created, all_labels, annotations),
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": phase},
    }


def pod(
    name: str,
    namespace: str,
    *,
    claims: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    created: float | None = None,
    phase: str = "Running",
    node: str = "ip-10-0-1-17.ec2.internal",
    image: str = "registry.example/app:1.0",
) -> Obj:
    """A pod whose one container mounts each claim volume (volume name -> claim name) under /data/<volume>."""
    volumes: list[Obj] = [{"name": v, "persistentVolumeClaim": {"claimName": c}} for v, c in (claims or {}).items()]
    volumes.append(
        {
            "name": "kube-api-access",
            "projected": {"sources": [{"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}}]},
        }
    )
    mounts = [{"name": v, "mountPath": f"/data/{v}"} for v in claims or {}]
    mounts.append({"name": "kube-api-access", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"})
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": _metadata(name, namespace, created, labels, annotations),
        "spec": {
            "containers": [
                {
                    "name": "main",
                    "image": image,
                    "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
                    "volumeMounts": mounts,
                }
            ],
            "volumes": volumes,
            "nodeName": node,
            "restartPolicy": "Always",
            "serviceAccountName": "default",
        },
        "status": {"phase": phase, "podIP": "10.0.1.23", "qosClass": "Burstable"},
    }


def persistent_volume_claim(
    name: str,
    namespace: str,
    *,
    volume: str | None,
    storage_class: str,
    size: str = "10Gi",
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    created: float | None = None,
    access_mode: str = "ReadWriteOnce",
) -> Obj:
    spec: Obj = {
        "accessModes": [access_mode],
        "resources": {"requests": {"storage": size}},
        "storageClassName": storage_class,
        "volumeMode": "Filesystem",
    }
    if volume is not None:
        spec["volumeName"] = volume
    status: Obj = {"phase": "Bound" if volume is not None else "Pending"}
    if volume is not None:
        status.update({"accessModes": [access_mode], "capacity": {"storage": size}})
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": _metadata(name, namespace, created, labels, annotations),
        "spec": spec,
        "status": status,
    }


def persistent_volume(
    name: str,
    *,
    claim: tuple[str, str],
    storage_class: str,
    driver: str = EBS_CSI,
    handle: str | None = None,
    size: str = "10Gi",
    labels: dict[str, str] | None = None,
    created: float | None = None,
    nfs: tuple[str, str] | None = None,
) -> Obj:
    """A bound volume: a CSI volume of `driver`, or an NFS one when `nfs` (server, path) is given."""
    spec: Obj = {
        "capacity": {"storage": size},
        "accessModes": ["ReadWriteOnce"],
        "claimRef": {"kind": "PersistentVolumeClaim", "namespace": claim[0], "name": claim[1]},
        "persistentVolumeReclaimPolicy": "Delete",
        "storageClassName": storage_class,
        "volumeMode": "Filesystem",
    }
    if nfs is not None:
        spec["nfs"] = {"server": nfs[0], "path": nfs[1]}
    else:
        spec["csi"] = {
            "driver": driver,
            "volumeHandle": handle or f"vol-{hashlib.sha256(name.encode()).hexdigest()[:17]}",
            "fsType": "ext4",
            "volumeAttributes": {"storage.kubernetes.io/csiProvisionerIdentity": f"1700000000000-{driver}"},
        }
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": _metadata(name, None, created, labels, None),
        "spec": spec,
        "status": {"phase": "Bound"},
    }


def storage_class(
    name: str, *, provisioner: str = EBS_CSI, parameters: dict[str, str] | None = None, default: bool = False
) -> Obj:
    annotations = {"storageclass.kubernetes.io/is-default-class": "true"} if default else None
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": _metadata(name, None, None, None, annotations),
        "provisioner": provisioner,
        "parameters": dict(parameters or {}),
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer",
        "allowVolumeExpansion": True,
    }


def config_map(name: str, namespace: str, data: dict[str, str], *, created: float | None = None) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(name, namespace, created, None, None),
        "data": dict(data),
    }
