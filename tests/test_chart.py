"""The Helm chart, rendered and linted by the Helm engine itself, its manifests checked against real schemas.

- Rendering and linting: the `helm-python-sdk` package (Helm's Go SDK through a C ABI, offline: no cluster).
- Kubernetes objects: the `kubernetes-validate` package's JSON schemas, strict (unknown fields are errors), for the
  oldest Kubernetes the chart supports and the newest the package knows.
- ServiceMonitor and PrometheusRule: the `cloudcoil-models-prometheus-operator` package's models, generated from the
  Prometheus Operator's CRD schemas (types, enums, patterns, required fields), validated with unknown fields
  forbidden.

Each case renders the default values and every file under chart/velero-exporter/ci/.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import bcrypt
import cloudcoil.models.prometheus_operator.v1 as prometheus_operator
import helm_python as helm
import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from tests.test_web_config import make_cert
from velero_exporter.config.file import _LIMIT_COUNTS as LIMIT_COUNTS
from velero_exporter.config.file import _LIMIT_DURATIONS as LIMIT_DURATIONS
from velero_exporter.config.file import _SECTIONS as CONFIG_SECTIONS
from velero_exporter.config.file import _TIER_KEYS as TIER_KEYS
from velero_exporter.config.file import parse_config
from velero_exporter.config.settings import Config
from velero_exporter.exposition.web_config import load_web_config
from velero_exporter.mixin.config import DEFAULT as MIXIN
from velero_exporter.mixin.outputs import CHART as CHART_IN_REPOSITORY
from velero_exporter.mixin.outputs import outputs
from velero_exporter.sources.kube.source import RESOURCES

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "chart" / "velero-exporter"
RULE_FILE = ROOT / "rules" / "velero-exporter.rules.yml"
CHART_RULES = CHART / "files" / "rules.yaml"
DASHBOARDS = ROOT / "dashboards"
RELEASE = "vx"
NAMESPACE = "monitoring"
# The chart's kubeVersion floor, and the newest Kubernetes whose schemas kubernetes-validate ships.
KUBE_VERSIONS = ("1.25", kubernetes_validate.utils.latest_version())
CI_FILES = sorted((CHART / "ci").glob("*.yaml"))
CASES = {"default": {}, **{path.stem: yaml.safe_load(path.read_text()) for path in CI_FILES}}

OPERATOR_MODELS: dict[str, type[Any]] = {
    "ServiceMonitor": prometheus_operator.ServiceMonitor,
    "PrometheusRule": prometheus_operator.PrometheusRule,
}
POD_SECURITY_CONTEXT = {
    "runAsNonRoot": True,
    "runAsUser": 65532,
    "runAsGroup": 65532,
    "fsGroup": 65532,
    "seccompProfile": {"type": "RuntimeDefault"},
}
CONTAINER_SECURITY_CONTEXT = {
    "runAsNonRoot": True,
    "runAsUser": 65532,
    "runAsGroup": 65532,
    "allowPrivilegeEscalation": False,
    "privileged": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}
# Exactly what the exporter's kube source watches: the Role and the exporter cannot drift apart.
ROLE_RULES = [
    {
        "apiGroups": ["velero.io"],
        "resources": [resource.plural for resource in RESOURCES],
        "verbs": ["get", "list", "watch"],
    }
]


CHART_DASHBOARDS = CHART_IN_REPOSITORY / "dashboards"


def chart_dashboards() -> dict[str, str]:
    """The dashboards the chart must ship, by file name: what the mixin generates into its folder."""
    return {path.name: text for path, text in outputs().items() if path.parent == CHART_DASHBOARDS}


# --- rendering ----------------------------------------------------------------------------------------------


@cache
def _chart() -> helm.Chart:
    return helm.Chart.load(CHART)


def _render_text(values: Mapping[str, Any]) -> dict[str, str]:
    return _chart().render(dict(values), name=RELEASE, namespace=NAMESPACE)


def render(values: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every object the chart renders for values (merged over the defaults by Helm), NOTES.txt left out."""
    objects: list[dict[str, Any]] = []
    for path, text in sorted(_render_text(values or {}).items()):
        if path.endswith("NOTES.txt"):
            continue
        objects.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return objects


def notes(values: Mapping[str, Any] | None = None) -> str:
    return _render_text(values or {})["velero-exporter/templates/NOTES.txt"]


def of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [obj for obj in objects if obj["kind"] == kind]


def one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = of_kind(objects, kind)
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    containers = one(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    result: dict[str, Any] = containers[0]
    return result


def config_map(objects: list[dict[str, Any]]) -> dict[str, Any]:
    """The exporter's configuration ConfigMap (the others hold dashboards)."""
    (found,) = [cm for cm in of_kind(objects, "ConfigMap") if "config.yaml" in cm.get("data", {})]
    return found


def alerts(rule: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for group in rule["spec"]["groups"]:
        yield from (r for r in group["rules"] if "alert" in r)


# --- Helm itself ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_lint_is_clean(case: str) -> None:
    report = helm.lint(CHART, CASES[case], strict=True, namespace=NAMESPACE)
    findings = [m for m in report["messages"] if m["severity"] >= 2]  # 2 warning, 3 error; 1 is info
    assert findings == [], findings
    assert report["errors"] == []


@pytest.mark.parametrize("case", CASES)
def test_manifests_validate_against_kubernetes_and_crd_schemas(case: str) -> None:
    objects = render(CASES[case])
    assert {obj["kind"] for obj in objects} >= {"Deployment", "Service", "ConfigMap"}
    for obj in objects:
        name = f"{obj['kind']}/{obj['metadata']['name']}"
        if obj["apiVersion"].startswith("monitoring.coreos.com/"):
            OPERATOR_MODELS[obj["kind"]].model_validate(obj, extra="forbid")
            continue
        for version in KUBE_VERSIONS:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                pytest.fail(f"{case}: {name} is invalid for Kubernetes {version}: {exc.message}")


def test_crd_validation_is_not_vacuous() -> None:
    """The operator models reject a wrong field, a wrong type and a wrong pattern, as the CRDs would."""
    monitor = one(render(), "ServiceMonitor")
    for path, value in (
        (("spec", "endpoints", 0, "intervall"), "30s"),
        (("spec", "endpoints", 0, "interval"), "1 min"),
    ):
        broken = json.loads(json.dumps(monitor))
        target = broken
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        with pytest.raises(ValueError, match=str(path[-1])):
            prometheus_operator.ServiceMonitor.model_validate(broken, extra="forbid")


# --- the Deployment ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_security_context_is_hardened(case: str) -> None:
    objects = render(CASES[case])
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"] == POD_SECURITY_CONTEXT
    assert container(objects)["securityContext"] == CONTAINER_SECURITY_CONTEXT
    assert "hostNetwork" not in pod and "hostPID" not in pod


def test_deployment_runs_the_exporter_with_probes_resources_and_config() -> None:
    objects = render()
    c = container(objects)
    assert "command" not in c  # the image's ENTRYPOINT (velero-exporter) runs; tests/test_dockerfile.py pins it
    assert c["args"] == [
        "--config=/etc/velero-exporter/config.yaml",
        "--namespace=velero",
        "--web.listen-address=:9898",
        "--web.telemetry-path=/metrics",
        "--web.health-address=:9899",
        "--log.level=info",
        "--log.format=logfmt",
    ]
    assert c["ports"] == [
        {"name": "http", "containerPort": 9898, "protocol": "TCP"},
        {"name": "health", "containerPort": 9899, "protocol": "TCP"},
    ]
    # The probes on the health port: plain HTTP without auth, whatever the web config asks of scrapers.
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
    assert c["resources"] == {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "384Mi"}}
    assert {"name": "config", "mountPath": "/etc/velero-exporter", "readOnly": True} in c["volumeMounts"]
    assert {"name": "tmp", "mountPath": "/tmp"} in c["volumeMounts"]  # readOnlyRootFilesystem: scratch space
    pod = one(objects, "Deployment")["spec"]["template"]
    config = config_map(objects)
    assert {"name": "config", "configMap": {"name": config["metadata"]["name"]}} in pod["spec"]["volumes"]
    assert len(pod["metadata"]["annotations"]["checksum/config"]) == 64


def test_changed_config_rolls_the_pods() -> None:
    def checksum(values: dict[str, Any]) -> str:
        pod = one(render(values), "Deployment")["spec"]["template"]
        return str(pod["metadata"]["annotations"]["checksum/config"])

    assert checksum({}) != checksum({"config": {"gc_grace": "3h"}})


@pytest.mark.parametrize("case", CASES)
def test_rendered_config_is_accepted_by_the_exporter(case: str) -> None:
    values = CASES[case]
    data = yaml.safe_load(config_map(render(values))["data"]["config.yaml"])
    config = parse_config(data, f"{case}: config.yaml")
    expected = dict(values.get("config") or {})
    if values.get("coverage", {}).get("enabled"):
        expected["coverage"] = {**expected.get("coverage", {}), "enabled": True}
    assert data == expected
    assert config.coverage.enabled == bool(values.get("coverage", {}).get("enabled"))
    if "tiers" not in expected:
        assert config.tier_names == Config().tier_names  # none given: the built-in tiers
    else:
        # Helm writes mappings with sorted keys: the tiers' order in the file is not kept.
        assert sorted(config.tier_names) == sorted(expected["tiers"])


def test_image_by_digest_wins_over_tag() -> None:
    assert container(render())["image"] == "velero-exporter:0.1.0"
    digest = "sha256:" + "0" * 64
    values = {"image": {"repository": "r.example/ve", "tag": "9.9", "digest": digest}}
    assert container(render(values))["image"] == f"r.example/ve@{digest}"


# --- RBAC -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_rbac_is_one_namespaced_read_only_role(case: str) -> None:
    values = CASES[case]
    objects = render(values)
    kinds = {obj["kind"] for obj in objects}
    coverage = values.get("coverage", {}).get("enabled", False)
    assert bool(kinds & {"ClusterRole", "ClusterRoleBinding"}) == (
        coverage and values.get("rbac", {}).get("create", True)
    )
    if not values.get("rbac", {}).get("create", True):
        assert not kinds & {"Role", "RoleBinding"}
        return
    velero_namespace = values.get("veleroNamespace", "velero")
    role, binding = one(objects, "Role"), one(objects, "RoleBinding")
    assert role["rules"][: len(ROLE_RULES)] == ROLE_RULES
    assert role["metadata"]["namespace"] == velero_namespace
    assert binding["metadata"]["namespace"] == velero_namespace
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": role["metadata"]["name"],
    }
    account = one(objects, "ServiceAccount")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account["metadata"]["name"], "namespace": NAMESPACE}
    ]
    assert one(objects, "Deployment")["spec"]["template"]["spec"]["serviceAccountName"] == account["metadata"]["name"]


def test_coverage_adds_a_cluster_read_only_role_and_the_named_policies_only() -> None:
    values = {"coverage": {"enabled": True, "resourcePolicies": ["velero-volume-policy"]}}
    objects = render(values)
    cluster_role, cluster_binding = one(objects, "ClusterRole"), one(objects, "ClusterRoleBinding")
    assert cluster_role["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["namespaces", "pods", "persistentvolumeclaims", "persistentvolumes"],
            "verbs": ["get", "list", "watch"],
        }
    ]
    account = one(objects, "ServiceAccount")["metadata"]["name"]
    assert cluster_binding["roleRef"]["name"] == cluster_role["metadata"]["name"]
    assert cluster_binding["subjects"] == [{"kind": "ServiceAccount", "name": account, "namespace": NAMESPACE}]
    assert one(objects, "Role")["rules"] == [
        *ROLE_RULES,
        {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["velero-volume-policy"], "verbs": ["get"]},
    ]
    config = yaml.safe_load(config_map(objects)["data"]["config.yaml"])
    assert config == {"coverage": {"enabled": True}}
    assert parse_config(config, "chart").coverage.enabled
    # Without policies to read, no ConfigMap at all; without rbac.create, no role of any kind.
    assert one(render({"coverage": {"enabled": True}}), "Role")["rules"] == ROLE_RULES
    assert not {o["kind"] for o in render({"coverage": {"enabled": True}, "rbac": {"create": False}})} & {
        "ClusterRole",
        "Role",
    }


def test_coverage_settings_keep_the_chart_switch() -> None:
    objects = render({"coverage": {"enabled": True}, "config": {"coverage": {"grace": "2h", "enabled": False}}})
    assert yaml.safe_load(config_map(objects)["data"]["config.yaml"]) == {"coverage": {"enabled": True, "grace": "2h"}}
    with pytest.raises(helm.HelmRenderError, match=r"set coverage\.enabled"):
        render({"config": {"coverage": {"enabled": True}}})


def test_role_goes_to_velero_namespace_not_the_release_namespace() -> None:
    objects = render({"veleroNamespace": "backup-system"})
    assert one(objects, "Role")["metadata"]["namespace"] == "backup-system"
    assert one(objects, "RoleBinding")["metadata"]["namespace"] == "backup-system"
    assert one(objects, "Deployment")["metadata"]["namespace"] == NAMESPACE
    assert "--namespace=backup-system" in container(objects)["args"]


def test_service_account_annotations_carry_irsa() -> None:
    arn = "arn:aws:iam::123456789012:role/velero-exporter"
    objects = render({"serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": arn}}})
    assert one(objects, "ServiceAccount")["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": arn}
    assert "docs/iam-policy.json" in notes({"serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": arn}}})


def test_existing_service_account_must_be_named() -> None:
    with pytest.raises(helm.HelmRenderError, match=r"serviceAccount\.name"):
        render({"serviceAccount": {"create": False}})


# --- PrometheusRule -------------------------------------------------------------------------------------------


def test_chart_rules_are_generated_without_drift() -> None:
    assert CHART_RULES.read_text() == RULE_FILE.read_text()
    assert CHART_RULES.relative_to(ROOT) in outputs()


def test_prometheusrule_groups_equal_the_rule_file() -> None:
    rule = one(render(), "PrometheusRule")
    assert rule["spec"]["groups"] == yaml.safe_load(RULE_FILE.read_text())["groups"]


def test_prometheusrule_disables_alerts_and_adds_labels() -> None:
    source = yaml.safe_load(RULE_FILE.read_text())["groups"]
    values = {
        "prometheusRule": {
            "disabledAlerts": ["VeleroBucketGrowth", "VeleroBackupMissing"],
            "additionalRuleLabels": {"team": "platform"},
            "alertLabels": {"VeleroBackupWarnings": {"severity": "info", "page": "no"}},
        }
    }
    rule = one(render(values), "PrometheusRule")
    names = [r["alert"] for r in alerts(rule)]
    source_alerts = [r for g in source for r in g["rules"] if "alert" in r]
    kept = [r for r in source_alerts if r["alert"] not in {"VeleroBucketGrowth", "VeleroBackupMissing"}]
    assert names == [r["alert"] for r in kept]
    for got, want in zip(alerts(rule), kept, strict=True):
        extra = {"team": "platform"}
        if want["alert"] == "VeleroBackupWarnings":
            extra = {"team": "platform", "severity": "info", "page": "no"}
        assert got == {**want, "labels": {**want["labels"], **extra}}
    recording = [r for g in rule["spec"]["groups"] for r in g["rules"] if "record" in r]
    assert recording == [r for g in source for r in g["rules"] if "record" in r]  # unchanged: no extra labels


def test_prometheusrule_drops_a_group_left_empty() -> None:
    source = yaml.safe_load(RULE_FILE.read_text())["groups"]
    group = next(g for g in source if all("alert" in r for r in g["rules"]))
    values = {"prometheusRule": {"disabledAlerts": sorted({r["alert"] for r in group["rules"]})}}
    groups = one(render(values), "PrometheusRule")["spec"]["groups"]
    assert [g["name"] for g in groups] == [g["name"] for g in source if g["name"] != group["name"]]


@pytest.mark.parametrize("key", ["disabledAlerts", "alertLabels"])
def test_prometheusrule_refuses_an_unknown_alert_name(key: str) -> None:
    value: Any = ["VeleroBakupFailure"] if key == "disabledAlerts" else {"VeleroBakupFailure": {"a": "b"}}
    with pytest.raises(helm.HelmRenderError, match="no alert is named VeleroBakupFailure"):
        render({"prometheusRule": {key: value}})


def test_prometheusrule_and_servicemonitor_carry_the_release_selector() -> None:
    values = CASES["kube-prometheus-stack-values"]
    objects = render(values)
    monitor, rule = one(objects, "ServiceMonitor"), one(objects, "PrometheusRule")
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    endpoint = monitor["spec"]["endpoints"][0]
    assert endpoint["interval"] == "1m" and endpoint["scrapeTimeout"] == "20s"
    assert endpoint["relabelings"] == values["serviceMonitor"]["relabelings"]
    assert endpoint["metricRelabelings"] == values["serviceMonitor"]["metricRelabelings"]
    assert "release=" not in notes(values)
    assert "serviceMonitor.additionalLabels.release" in notes()


def test_servicemonitor_selects_the_service_and_names_the_job_as_the_rules_expect() -> None:
    objects = render({"fullnameOverride": "backup-metrics"})
    monitor, service = one(objects, "ServiceMonitor"), one(objects, "Service")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    # The rules select job=~"velero-exporter.*": the job comes from the Service label, not the Service's name.
    job = service["metadata"]["labels"][monitor["spec"]["jobLabel"]]
    assert job == "velero-exporter"
    assert 'job=~"velero-exporter.*"' in MIXIN.exporter_selector
    assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"] == "http"


# --- toggles --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "kinds"),
    [
        ({"serviceMonitor": {"enabled": False}}, {"ServiceMonitor"}),
        ({"prometheusRule": {"enabled": False}}, {"PrometheusRule"}),
        ({"rbac": {"create": False}}, {"Role", "RoleBinding"}),
        ({"serviceAccount": {"create": False, "name": "existing"}}, {"ServiceAccount"}),
    ],
    ids=["serviceMonitor", "prometheusRule", "rbac", "serviceAccount"],
)
def test_toggle_off_removes_its_objects(values: dict[str, Any], kinds: set[str]) -> None:
    before = {obj["kind"] for obj in render()}
    after = {obj["kind"] for obj in render(values)}
    assert kinds <= before
    assert before - after == kinds


def test_dashboards_toggle_off_removes_every_dashboard() -> None:
    def dashboards(values: dict[str, Any]) -> list[dict[str, Any]]:
        return [cm for cm in of_kind(render(values), "ConfigMap") if "grafana_dashboard" in cm["metadata"]["labels"]]

    assert len(dashboards({})) == len(chart_dashboards())
    assert dashboards({"dashboards": {"enabled": False}}) == []


def test_network_policy_is_on_and_lets_only_prometheus_scrape() -> None:
    """Off by default once: backup, schedule and bucket names were readable from any pod."""
    policy = one(render(), "NetworkPolicy")
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    monitoring = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    assert policy["spec"]["ingress"] == [
        {"ports": [{"port": "http", "protocol": "TCP"}], "from": [monitoring]},
        {"ports": [{"port": "health", "protocol": "TCP"}]},
    ]
    egress_ports = [p["port"] for rule in policy["spec"]["egress"] for p in rule["ports"]]
    assert egress_ports == [53, 53, 443, 6443]
    peers = [{"podSelector": {"matchLabels": {"app": "prometheus"}}}]
    custom = one(render({"networkPolicy": {"ingressFrom": peers}}), "NetworkPolicy")
    assert custom["spec"]["ingress"][0]["from"] == peers
    ingress_only = one(render({"networkPolicy": {"egress": {"enabled": False}}}), "NetworkPolicy")
    assert ingress_only["spec"]["policyTypes"] == ["Ingress"] and "egress" not in ingress_only["spec"]
    assert of_kind(render({"networkPolicy": {"enabled": False}}), "NetworkPolicy") == []


def test_tls_and_basic_auth_deploy_as_a_whole() -> None:
    """The chart once could not mount a web config or certificates, hard-coded `scheme: http` in the
    ServiceMonitor, and its probes would have got 401 under basic auth."""
    values = CASES["tls-basic-auth-values"]
    objects = render(values)
    c = container(objects)
    assert "--web.config.file=/etc/velero-exporter/web/web-config.yml" in c["args"]
    assert "--web.health-address=:9899" in c["args"]
    assert {"name": "web-config", "mountPath": "/etc/velero-exporter/web", "readOnly": True} in c["volumeMounts"]
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    assert {"name": "web-config", "secret": {"secretName": "velero-exporter-web", "defaultMode": 0o440}} in pod[
        "volumes"
    ]
    assert c["readinessProbe"]["httpGet"]["port"] == c["livenessProbe"]["httpGet"]["port"] == "health"
    (endpoint,) = one(objects, "ServiceMonitor")["spec"]["endpoints"]
    assert endpoint["scheme"] == "https"
    assert endpoint["tlsConfig"] == values["serviceMonitor"]["tlsConfig"]
    assert endpoint["basicAuth"] == values["serviceMonitor"]["basicAuth"]
    prometheus_operator.ServiceMonitor.model_validate(one(objects, "ServiceMonitor"), extra="forbid")
    policy = one(objects, "NetworkPolicy")
    assert policy["spec"]["ingress"][0]["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "observability"}}}
    ]
    # the service exposes the metrics port only
    assert [p["name"] for p in one(objects, "Service")["spec"]["ports"]] == ["http"]


def test_the_chart_web_config_mount_is_what_the_exporter_loads(tmp_path: Path) -> None:
    """The Secret's files as the chart mounts them (web-config.yml beside tls.crt and tls.key) load as a whole:
    TLS and basic auth, relative paths resolved from the file's folder."""
    make_cert(tmp_path)
    hashed = bcrypt.hashpw(b"scrape", bcrypt.gensalt(rounds=4)).decode()
    (tmp_path / "web-config.yml").write_text(
        f"tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\nbasic_auth_users:\n  prometheus: '{hashed}'\n"
    )
    args = container(render(CASES["tls-basic-auth-values"]))["args"]
    (flag,) = [a for a in args if a.startswith("--web.config.file=")]
    assert flag.rsplit("/", 1)[1] == "web-config.yml"
    config = load_web_config(tmp_path / "web-config.yml")
    assert config.ssl_context is not None and config.basic_auth is not None
    config.basic_auth.close()


def test_servicemonitor_scheme_follows_the_web_config() -> None:
    def scheme(values: dict[str, Any]) -> str:
        (endpoint,) = one(render(values), "ServiceMonitor")["spec"]["endpoints"]
        assert "tlsConfig" not in endpoint and "basicAuth" not in endpoint
        return str(endpoint["scheme"])

    assert scheme({}) == "http"
    assert scheme({"webConfig": {"secretName": "w", "tls": True}}) == "https"
    assert scheme({"webConfig": {"secretName": "w", "tls": True}, "serviceMonitor": {"scheme": "http"}}) == "http"


@pytest.mark.parametrize("where", ["service", "pod"])
def test_scrape_annotations_for_prometheus_without_the_operator(where: str) -> None:
    expected = {"prometheus.io/scrape": "true", "prometheus.io/port": "9898", "prometheus.io/path": "/metrics"}

    def annotations(objects: list[dict[str, Any]]) -> dict[str, str]:
        if where == "service":
            return dict(one(objects, "Service")["metadata"].get("annotations", {}))
        return dict(one(objects, "Deployment")["spec"]["template"]["metadata"]["annotations"])

    assert not expected.keys() & annotations(render()).keys()
    assert annotations(render({"scrapeAnnotations": {where: True}})).items() >= expected.items()


# --- dashboards -----------------------------------------------------------------------------------------------


def test_dashboards_become_sidecar_config_maps() -> None:
    expected = chart_dashboards()
    values = {"dashboards": {"namespace": "grafana", "folder": "Backups", "label": "my_dash", "labelValue": "yes"}}
    maps = [cm for cm in of_kind(render(values), "ConfigMap") if "my_dash" in cm["metadata"]["labels"]]
    shipped = {name: cm for cm in maps for name in cm["data"]}
    assert sorted(shipped) == sorted(expected), f"dashboards/ holds {sorted(expected)}"
    for name, cm in shipped.items():
        assert cm["metadata"]["namespace"] == "grafana"
        assert cm["metadata"]["labels"]["my_dash"] == "yes"
        assert cm["metadata"]["annotations"]["grafana_folder"] == "Backups"
        assert json.loads(cm["data"][name]) == json.loads(expected[name])
    assert sorted(expected) == [
        "velero-exporter-health.json",
        "velero-fleet.json",
        "velero-overview.json",
        "velero-tier-detail.json",
    ]


# --- values.schema.json ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "where"),
    [
        ({"replicaCount": "two"}, "/replicaCount"),
        ({"serviceMonitor": {"enabled": "yes"}}, "/serviceMonitor/enabled"),
        ({"prometheusRule": {"disabledAlerts": "VeleroBackupFailure"}}, "/prometheusRule/disabledAlerts"),
        ({"serviceMonitor": {"interval": "30 seconds"}}, "/serviceMonitor/interval"),
        ({"image": {"pullPolicy": "Sometimes"}}, "/image/pullPolicy"),
        ({"service": {"port": 98980}}, "/service/port"),
        ({"config": {"tiers": {"hot": {"rpo": "1 hour", "rto": "1h", "retention": "7d"}}}}, "/config/tiers/hot/rpo"),
        ({"config": {"tiers": {"hot": {"rpo": "1h"}}}}, "/config/tiers/hot"),
        ({"config": {"teirs": {}}}, "/config"),
        ({"config": {"cluster": {"role": "dr"}}}, "/config/cluster"),
        ({"config": {"cluster": {"name": "a", "role": "standby"}}}, "/config/cluster/role"),
        ({"replicas": 2}, "additional properties 'replicas'"),
        ({"coverage": {"enabled": "yes"}}, "/coverage/enabled"),
        ({"coverage": {"resourcePolicies": ["Bad Name"]}}, "/coverage/resourcePolicies"),
        ({"config": {"velero_version": "1.11"}}, "/config/velero_version"),
    ],
)
def test_schema_rejects_a_wrong_value(values: dict[str, Any], where: str) -> None:
    with pytest.raises(helm.HelmValuesError, match=where):
        _chart().validate_schema(values)
    with pytest.raises(helm.HelmValuesError):
        render(values)


@pytest.mark.parametrize("case", CASES)
def test_schema_accepts_the_ci_values(case: str) -> None:
    _chart().validate_schema(CASES[case])


# --- documentation --------------------------------------------------------------------------------------------


def _leaf_keys(values: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value and path not in {"resources", "livenessProbe", "readinessProbe"}:
            if path.endswith("SecurityContext") or path == "securityContext":
                yield path
                continue
            yield from _leaf_keys(value, f"{path}.")
        else:
            yield path


def test_readme_documents_every_value() -> None:
    readme = (CHART / "README.md").read_text()
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    missing = [key for key in _leaf_keys(values) if f"`{key}`" not in readme]
    assert missing == []


def test_schema_knows_every_key_of_the_exporters_config() -> None:
    """The config value is the exporter's file: its schema must accept every top-level key the exporter reads."""
    schema = json.loads((CHART / "values.schema.json").read_text())
    config = schema["properties"]["config"]["properties"]
    assert list(config) == list(CONFIG_SECTIONS)
    tier = config["tiers"]["additionalProperties"]["properties"]
    assert list(tier) == list(TIER_KEYS)
    assert list(config["limits"]["properties"]) == [*LIMIT_COUNTS, *LIMIT_DURATIONS]


def test_schema_covers_every_value() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert sorted(schema["properties"]) == sorted(["global", *values])
