"""The scenarios (velero_exporter/sandbox/scenarios) against the shipped rules: every alert and every `reason` of an
alert has a scenario where it fires end to end (tests/test_e2e.py runs them), every alert a scenario declares is
exactly one rule's, and every trouble that makes alerts fire says how it is repaired."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from tests.scenario_run import Variant, rule_variants, variants_of
from velero_exporter.sandbox.scenario import Scenario
from velero_exporter.sandbox.scenarios import all_scenarios

SCENARIOS = all_scenarios()


def uncovered(scenarios: Sequence[Scenario]) -> list[Variant]:
    """The rules (alert and its own labels: severity, reason) that no scenario makes fire."""
    covered = {v for s in scenarios for t in s.troubles for a in t.alerts for v in variants_of(a)}
    return [v for v in rule_variants() if v not in covered]


def test_every_alert_and_reason_of_the_rules_has_a_scenario() -> None:
    assert [f"{v.name} {dict(v.labels)}" for v in uncovered(SCENARIOS)] == []


def test_an_alert_without_a_scenario_is_found() -> None:
    without_buckets = [s for s in SCENARIOS if s.name != "buckets"]
    assert {(v.name, dict(v.labels).get("reason")) for v in uncovered(without_buckets)} == {
        ("VeleroBucketGrowth", None),
        ("VeleroBucketRecoveryPointStale", "stale"),
        ("VeleroBucketRecoveryPointStale", "none"),
    }


def test_every_declared_alert_is_exactly_one_rules() -> None:
    for scenario in SCENARIOS:
        for trouble in scenario.troubles:
            for alert in trouble.alerts:
                found = variants_of(alert)
                assert len(found) == 1, f"{scenario.name}: {trouble.what}: {alert} is raised by {found}"


def test_every_trouble_that_fires_has_a_repair_and_each_alert_one_trouble() -> None:
    for scenario in SCENARIOS:
        for trouble in scenario.troubles:
            assert trouble.repair is not None or not trouble.alerts, f"{scenario.name}: {trouble.what}"
        declared = Counter(a for trouble in scenario.troubles for a in trouble.alerts)
        assert [a for a, n in declared.items() if n > 1] == [], scenario.name


def test_scenario_names_are_cluster_label_values_and_unique() -> None:
    names = [scenario.name for scenario in SCENARIOS]
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"[a-z][a-z0-9-]*", name) for name in names), names
