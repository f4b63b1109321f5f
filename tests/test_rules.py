"""The alerting and recording rules: generated without drift, valid for promtool and amtool, documented, tested.

promtool (Debian package `prometheus`) must be on PATH: a missing promtool fails these tests rather than skipping
them, since the rules are only proven by it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from velero_exporter.mixin import rules as generate
from velero_exporter.mixin.config import DEFAULT as MIXIN

ROOT = Path(__file__).resolve().parent.parent
RULES_DIR = ROOT / "rules"
RULE_FILE = RULES_DIR / "velero-exporter.rules.yml"
PROMETHEUS_RULE = RULES_DIR / "velero-exporter.prometheusrule.yaml"
INHIBIT_FILE = RULES_DIR / "alertmanager-inhibit.yml"
RUNBOOKS = ROOT / "docs" / "runbooks.md"
UNIT_TESTS = sorted((RULES_DIR / "tests").glob("*.yml"))


def _tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found on PATH: install the Debian package {package} (apt-get install {package})")
    return path


@pytest.fixture(scope="module")
def promtool() -> str:
    return _tool("promtool", "prometheus")


def _rule_groups() -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = yaml.safe_load(RULE_FILE.read_text())["groups"]
    return groups


def _rules() -> Iterator[dict[str, Any]]:
    for group in _rule_groups():
        yield from group["rules"]


def _alerts() -> list[dict[str, Any]]:
    return [rule for rule in _rules() if "alert" in rule]


def _github_anchor(heading: str) -> str:
    """GitHub's anchor for a Markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return slug.replace(" ", "-")


# --- generation -------------------------------------------------------------------------------------------


def test_prometheusrule_holds_the_same_groups_as_the_rule_file() -> None:
    manifest = yaml.safe_load(PROMETHEUS_RULE.read_text())
    assert manifest["apiVersion"] == "monitoring.coreos.com/v1"
    assert manifest["kind"] == "PrometheusRule"
    assert manifest["metadata"]["name"]
    assert manifest["spec"]["groups"] == _rule_groups()


# --- promtool ---------------------------------------------------------------------------------------------


def test_promtool_accepts_the_rule_file(promtool: str) -> None:
    result = subprocess.run([promtool, "check", "rules", str(RULE_FILE)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_accepts_the_prometheusrule_groups(promtool: str, tmp_path: Path) -> None:
    groups = yaml.safe_load(PROMETHEUS_RULE.read_text())["spec"]["groups"]
    extracted = tmp_path / "prometheusrule-groups.yml"
    extracted.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    result = subprocess.run([promtool, "check", "rules", str(extracted)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def unit_test_results(promtool: str) -> dict[str, subprocess.CompletedProcess[str]]:
    """Every promtool unit-test file, run in parallel (each evaluates the whole rule set step by step)."""

    def run(path: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [promtool, "test", "rules", path.name], cwd=path.parent, capture_output=True, text=True, check=False
        )

    with ThreadPoolExecutor(max_workers=len(UNIT_TESTS)) as pool:
        return dict(zip([p.name for p in UNIT_TESTS], pool.map(run, UNIT_TESTS), strict=True))


@pytest.mark.parametrize("name", [p.name for p in UNIT_TESTS])
def test_promtool_unit_tests_pass(name: str, unit_test_results: dict[str, subprocess.CompletedProcess[str]]) -> None:
    result = unit_test_results[name]
    assert result.returncode == 0, result.stdout + result.stderr


def _unit_test_cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    for path in UNIT_TESTS:
        for test in yaml.safe_load(path.read_text())["tests"]:
            cases.extend(test.get("alert_rule_test", []))
    return cases


def test_every_alert_and_case_is_unit_tested_firing_and_quiet() -> None:
    cases = _unit_test_cases()
    firing = {(case["alertname"], alert["exp_labels"].get("reason")) for case in cases for alert in case["exp_alerts"]}
    quiet = {case["alertname"] for case in cases if not case["exp_alerts"]}
    for alert in _alerts():
        name, reason = alert["alert"], alert["labels"].get("reason")
        # A rule without a reason of its own may fire with its series' `reason` (VeleroVolumeUnprotected's).
        shown = (name, reason) in firing or (reason is None and any(n == name for n, _ in firing))
        assert shown, f"no unit test shows {name} (reason={reason}) firing"
        assert name in quiet, f"no unit test shows {name} quiet"


def test_every_firing_expectation_checks_the_annotations() -> None:
    for case in _unit_test_cases():
        for alert in case["exp_alerts"]:
            assert set(alert["exp_annotations"]) == {"summary", "description", "runbook_url"}, case["alertname"]


# --- conventions ------------------------------------------------------------------------------------------


def test_every_alert_has_severity_summary_description_and_runbook() -> None:
    anchors = {_github_anchor(line.lstrip("#")) for line in RUNBOOKS.read_text().splitlines() if line.startswith("## ")}
    base = MIXIN.runbook_base_url
    for alert in _alerts():
        name = alert["alert"]
        assert alert["labels"]["severity"] in {"critical", "warning"}, name
        annotations = alert["annotations"]
        assert annotations["summary"] and "{{" not in annotations["summary"], f"{name}: summary must be static"
        if not alert["expr"].startswith("absent("):  # absent() has no labels to name
            assert "{{" in annotations["description"], f"{name}: description must be templated"
        url = annotations["runbook_url"]
        assert url.startswith(base + "#"), name
        assert url.split("#", 1)[1] in anchors, f"{name}: no section for {url} in docs/runbooks.md"


def test_every_runbook_section_explains_its_alert() -> None:
    sections = re.split(r"^## ", RUNBOOKS.read_text(), flags=re.MULTILINE)[1:]
    by_name = {section.splitlines()[0].strip(): section for section in sections}
    for name in {alert["alert"] for alert in _alerts()}:
        section = by_name.get(name)
        assert section is not None, f"docs/runbooks.md has no section for {name}"
        for part in ("**Meaning.**", "**Check.**", "**Fix.**", "**Verify.**", "`for`"):
            assert part in section, f"{name}'s runbook lacks {part}"


_MATCHER = re.compile(r"\b(job|cluster)\s*(=~|!~|!=|=)")


def test_no_rule_hard_codes_a_job_or_cluster_matcher() -> None:
    selector = MIXIN.exporter_selector
    for rule in _rules():
        expr = rule["expr"].replace(selector, "")
        assert not _MATCHER.search(expr), f"{rule.get('alert') or rule.get('record')}: {expr}"


def test_selector_and_cluster_label_are_parameters() -> None:
    config = replace(MIXIN, exporter_selector='namespace="backup-monitoring"', cluster_label="k8s")
    text = generate.render_rule_file(config)
    exprs = [rule["expr"] for group in yaml.safe_load(text)["groups"] for rule in group["rules"]]
    for expr in exprs:
        assert not re.search(r"\bjob\b", expr), expr
        assert not re.search(r"(?<![\w:])cluster\b", expr), expr
    assert any("by (k8s, tier)" in expr for expr in exprs)
    assert "equal:\n  - k8s" in generate.render_inhibit_rules(config)


def test_aggregations_keep_the_cluster_label() -> None:
    """Every aggregation and join keeps the cluster label, except the fleet rules' cross-cluster join: a DR
    cluster meets its primary on (dr_of, tier), and "only where clusters meet" is a count over all of them."""
    cluster = MIXIN.cluster_label
    meet = f"and on ()\ncount(group by ({cluster}) "
    for rule in _rules():
        expr = rule["expr"].replace(meet, "")
        for labels in re.findall(r"\b(?:by|on)\s*\(([^)]*)\)", expr):
            names = [label.strip() for label in labels.split(",")]
            assert cluster in names or "dr_of" in names, (rule, labels)


def test_rules_use_nothing_newer_than_prometheus_2_42() -> None:
    newer = re.compile(
        r"holt_winters|double_exponential_smoothing|\binfo\(|limitk|limit_ratio|\bstep\(\)|\d[smhdwy]\s*[*/+-]"
    )
    for rule in _rules():
        assert not newer.search(rule["expr"]), rule["expr"]


def test_recording_rules_follow_level_metric_operations() -> None:
    for rule in _rules():
        if "record" in rule:
            assert re.fullmatch(r"velero:[a-z_]+(:[a-z_]+)?", rule["record"]), rule["record"]


def test_rpo_compliance_keeps_tier_and_cluster() -> None:
    records = {rule["record"]: rule["expr"] for rule in _rules() if "record" in rule}
    assert "velero:tier_rpo_compliant" in records
    assert "velero:tier_recovery_point_age_seconds" in records
    assert "velero_tier_rpo_seconds" in records["velero:tier_rpo_seconds"]


# --- Alertmanager -----------------------------------------------------------------------------------------


def _alert_names_matched(matcher: str, names: set[str]) -> set[str]:
    match = re.fullmatch(r'alertname(=~|!~|=|!=)"(.*)"', matcher)
    if match is None:
        return names
    op, value = match.groups()
    hit = {name for name in names if re.fullmatch(value, name)}
    return hit if op in ("=", "=~") else names - hit


def test_inhibit_rules_name_real_alerts_and_keep_the_cluster_equal() -> None:
    names = {alert["alert"] for alert in _alerts()}
    rules = yaml.safe_load(INHIBIT_FILE.read_text())["inhibit_rules"]
    assert rules
    for rule in rules:
        # The same cluster always; a rule may also require the same object (a repository).
        assert rule["equal"][0] == MIXIN.cluster_label
        for side in ("source_matchers", "target_matchers"):
            matched = set(names)
            for matcher in rule[side]:
                matched &= _alert_names_matched(matcher, names)
            assert matched, f"{side} {rule[side]} match no alert"
        for matcher in rule["target_matchers"]:
            if matcher.startswith('alertname=~"'):
                for name in matcher[len('alertname=~"') : -1].split("|"):
                    assert name in names or name.endswith(".+"), name


def test_alertmanager_accepts_the_inhibit_rules(tmp_path: Path) -> None:
    inhibit = yaml.safe_load(INHIBIT_FILE.read_text())["inhibit_rules"]
    config = {
        "route": {"receiver": "null", "group_by": ["alertname", MIXIN.cluster_label]},
        "receivers": [{"name": "null"}],
        "inhibit_rules": inhibit,
    }
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    amtool = shutil.which("amtool")
    if amtool is not None:
        result = subprocess.run([amtool, "check-config", str(path)], capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"{len(inhibit)} inhibit rules" in result.stdout
        return
    # No amtool: check the shape Alertmanager expects.
    for rule in inhibit:
        assert set(rule) <= {"source_matchers", "target_matchers", "equal"}
        for matcher in rule["source_matchers"] + rule["target_matchers"]:
            assert re.fullmatch(r'[a-zA-Z_]\w*(=~|!~|=|!=)".*"', matcher), matcher
