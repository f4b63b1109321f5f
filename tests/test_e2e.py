"""End to end, every scenario of the sandbox (velero_exporter/sandbox/scenarios): the real exporter on each
scenario's cluster, a real Prometheus with the shipped rules (only `for` shortened, through the mixin's
configuration), a real Alertmanager with the shipped inhibitions, a webhook. For each scenario, exactly the alerts
its troubles declare fire, with their labels, and reach the webhook; then each trouble's repair resolves exactly
its alerts (tests/scenario_run.py runs them all at once)."""

from __future__ import annotations

import pytest

from tests.scenario_run import Run
from velero_exporter.sandbox.scenarios import all_scenarios

SCENARIOS = [scenario.name for scenario in all_scenarios()]


@pytest.mark.slow
@pytest.mark.parametrize("name", SCENARIOS)
def test_the_scenario_fires_exactly_its_alerts_and_each_repair_resolves_them(scenario_run: Run, name: str) -> None:
    assert scenario_run.outcomes[name].problems == []
