"""The cluster objects of the DR plan's cluster (plan.py), shaped like the seed's: kailash-app (the application:
API, PostgreSQL, Redis, uploads, the shared media volume), monitoring, logging, vault, ingress and cert-manager,
the system namespaces, and Velero. Its pods and claims are the ones whose volume data sandbox/volume_story.py
moves (postgres-0's pgdata, uploads-7c9f4's uploads, vault-0's data-vault-0 ...).

Healthy: every namespace and volume is protected by a tier or rightly ignored. What must not alert: logging's
Fluentd aggregator buffer (on the gp2-ephemeral class that the volume policy of critical, full and dr skips,
annotated velero-exporter.io/coverage: ignore), a preview namespace created ten minutes ago (within the grace),
the system namespaces (ignored by the demo config's globs) and velero (annotated). The uploads volume is on EFS,
which no snapshot plugin copies: hot's fs-backup alone protects it, as it does the media volume. The coverage
trouble is sandbox/scenarios/coverage.py's.
"""

from __future__ import annotations

from velero_exporter.sandbox import cluster_objects as k
from velero_exporter.sandbox.cluster_objects import EBS_CSI, EFS_CSI, Obj

DAY = 86400.0
VELERO_NAMESPACE = "velero"
EFS = "efs-sc"
VOLUME_POLICY = "velero-volume-policy"
EPHEMERAL_CLASS = "gp2-ephemeral"
IGNORE = {"velero-exporter.io/coverage": "ignore"}
# The policy that critical, full and dr name: caches and buffers on the ephemeral class are not worth a copy.
VOLUME_POLICY_YAML = f"""\
version: v1
volumePolicies:
  - conditions:
      storageClass: [{EPHEMERAL_CLASS}]
    action:
      type: skip
"""
# The namespaces the Schedules were written for (all but the system ones and Velero's own).
PLATFORM_NAMESPACES = ["kailash-app", "monitoring", "logging", "vault", "ingress-nginx", "cert-manager"]
PREVIEW_NAMESPACE = "kailash-preview-1234"
APP = {"app.kubernetes.io/part-of": "kailash"}


def claimed(
    namespace: str,
    pod: str,
    claim: str,
    *,
    volume_name: str = "data",
    storage_class: str = "gp3",
    size: str = "20Gi",
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    claim_annotations: dict[str, str] | None = None,
) -> list[Obj]:
    """A pod with one claim volume (`volume_name`), the claim and its bound volume (pvc-<namespace>-<claim>)."""
    volume = f"pvc-{namespace}-{claim}"
    driver = EFS_CSI if storage_class == EFS else EBS_CSI
    return [
        k.pod(pod, namespace, claims={volume_name: claim}, labels=labels, annotations=annotations),
        k.persistent_volume_claim(
            claim,
            namespace,
            volume=volume,
            storage_class=storage_class,
            size=size,
            annotations=claim_annotations,
            access_mode="ReadWriteMany" if driver == EFS_CSI else "ReadWriteOnce",
        ),
        k.persistent_volume(volume, claim=(namespace, claim), storage_class=storage_class, driver=driver, size=size),
    ]


def media_volume(pod_annotations: dict[str, str] | None = None) -> list[Obj]:
    """The shared media volume (EFS) and the two API pods that mount it."""
    objs = claimed(
        "kailash-app",
        "kailash-api-0",
        "media",
        volume_name="media",
        storage_class=EFS,
        size="500Gi",
        labels=APP,
        annotations=pod_annotations,
    )
    objs.append(
        k.pod("kailash-api-1", "kailash-app", claims={"media": "media"}, labels=APP, annotations=pod_annotations)
    )
    return objs


def grafana(storage_class: str = "gp3", claim_annotations: dict[str, str] | None = None) -> list[Obj]:
    """Grafana's pod, its claim and volume."""
    return claimed(
        "monitoring",
        "grafana-7f6d8c9b4-qr2zt",
        "grafana-data",
        storage_class=storage_class,
        claim_annotations=claim_annotations,
    )


def cluster_objects(now: float) -> list[Obj]:
    """Every cluster object of the healthy cluster at time `now` (POSIX seconds)."""
    year_ago = now - 400 * DAY
    out: list[Obj] = [
        k.storage_class("gp3", default=True, parameters={"type": "gp3"}),
        k.storage_class(EPHEMERAL_CLASS, parameters={"type": "gp2"}),
        k.storage_class(EFS, provisioner=EFS_CSI, parameters={"provisioningMode": "efs-ap"}),
        k.config_map(VOLUME_POLICY, VELERO_NAMESPACE, {"policy.yaml": VOLUME_POLICY_YAML}, created=year_ago),
    ]
    for name in ("default", "kube-system", "kube-public", "kube-node-lease", *PLATFORM_NAMESPACES):
        out.append(k.namespace(name, created=year_ago))
    out.append(k.namespace(VELERO_NAMESPACE, created=year_ago, annotations=IGNORE))
    out.append(k.namespace(PREVIEW_NAMESPACE, created=now - 600, labels={"preview": "true"}))

    # Pods without claims: the coverage source keeps none of them.
    for namespace, pod in (
        ("kube-system", "coredns-5d78c9869d-4xk2p"),
        ("kube-system", "aws-node-7bq9s"),
        ("kailash-app", "kailash-web-6f9c7d8b5-2lq8w"),
        ("kailash-app", "kailash-web-6f9c7d8b5-x7v4n"),
        ("ingress-nginx", "ingress-nginx-controller-7d9f8b6c5-kk2m4"),
        ("cert-manager", "cert-manager-6c69f9f796-9wz7q"),
        ("kailash-app", "reports-0"),  # its NFS volume is inline, no claim (weekly-full fs-backs it up)
        ("logging", "fluentd-2xk8p"),  # a DaemonSet's pod: its buffer is a hostPath
        ("monitoring", "node-exporter-5mz2q"),
        (VELERO_NAMESPACE, "velero-7c8f9d6b54-p2kqs"),
        (VELERO_NAMESPACE, "node-agent-9xq8t"),
    ):
        out.append(k.pod(pod, namespace, created=year_ago))

    out += claimed("kailash-app", "postgres-0", "pgdata-postgres-0", volume_name="pgdata", size="100Gi", labels=APP)
    out += claimed("kailash-app", "redis-0", "redis-data-redis-0", volume_name="redis-data", size="10Gi", labels=APP)
    out += claimed("kailash-app", "uploads-7c9f4", "uploads", volume_name="uploads", storage_class=EFS, labels=APP)
    out += media_volume()
    out += claimed("monitoring", "prometheus-0", "prometheus-db-prometheus-0", size="200Gi")
    out += claimed("monitoring", "alertmanager-0", "alertmanager-data", size="5Gi")
    out += grafana()
    for i in range(3):
        out += claimed("logging", f"elasticsearch-{i}", f"elasticsearch-data-{i}", size="300Gi")
    out += claimed(
        "logging", "fluentd-aggregator-0", "fluentd-buffer", storage_class=EPHEMERAL_CLASS, claim_annotations=IGNORE
    )
    out += claimed("vault", "vault-0", "data-vault-0", size="10Gi")
    out += claimed(PREVIEW_NAMESPACE, "preview-db-0", "preview-db")
    return out
