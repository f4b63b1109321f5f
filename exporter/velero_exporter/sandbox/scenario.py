"""Scenarios: sandbox clusters where chosen things go wrong, each trouble declared with the exact alerts it implies
and the repair after which they resolve.

Each scenario is one cluster: its name is the `cluster` label that Prometheus gives its exporter's series. The
end-to-end test (tests/test_e2e.py) runs every scenario at once: a fake Kubernetes API and moto hold its World
(sandbox/world.py), a real exporter reads them, a real Prometheus evaluates the shipped rules (only `for` is
shortened, through the mixin's configuration) and a real Alertmanager notifies a webhook. Per scenario it asserts
that exactly the declared alerts fire, with their labels, then applies each trouble's repair in turn and asserts
that exactly that trouble's alerts resolve. The dashboards' panels are checked against the same clusters
(tests/test_dashboards.py).

Adding an alert means adding the trouble that makes it fire (README, Development):
- in the themed module of sandbox/scenarios/ (backups, schedules, restores, locations, buckets, snapshots,
  exporter, fleet ...; a new theme is a new module there, found without registration);
- where it can happen in the demo's cluster beside the other troubles, also in story.DEMO's troubles, so that
  the demo shows it;
- where it cannot (a cluster-wide condition, an exporter that is gone, a forbidden resource, a need for history),
  in a Scenario of its own in the module's SCENARIOS, built from the same builders (sandbox/objects.py,
  sandbox/scenarios/base.py).
Alerts that join clusters (the fleet rules) are the DR cluster's: its scenario's World is built from its
primary's (another scenario, in the same Prometheus, paired through the exporters' `cluster:` config).
Alert labels are the rule's labels except `severity` (taken from the rule; give it only where one alert's rules
differ in severity and not in `reason`) and `cluster` (the scenario's). tests/test_scenarios.py fails when an
alert or a `reason` of the shipped rules has no scenario, or when a scenario declares an alert no rule raises.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from velero_exporter.sandbox.world import World

# A change to a cluster: what a trouble does to it, or what repairs it. It changes the World in place.
Change = Callable[[World], None]


@dataclass(frozen=True, slots=True)
class Alert:
    """An alert that must fire: its name and labels, as the rule raises them (see the module's docstring).
    An inhibited one fires in Prometheus and Alertmanager's inhibitions (rules/alertmanager-inhibit.yml) keep it
    from the receiver."""

    name: str
    labels: tuple[tuple[str, str], ...]
    inhibited: bool = False
    # Inhibited only once it has reached the receiver: its `for` ends before its inhibitor's does, as in production.
    notified_first: bool = False


def alert(name: str, **labels: str) -> Alert:
    return Alert(name, tuple(sorted(labels.items())))


def inhibited(fired: Alert) -> Alert:
    """The alert fires, and Alertmanager's inhibitions keep it from the receiver."""
    return dataclasses.replace(fired, inhibited=True)


def notified_then_inhibited(fired: Alert) -> Alert:
    """The alert fires and reaches the receiver; then the alert that inhibits it fires (its `for` is longer), and
    Alertmanager inhibits it from then on: it is not notified again."""
    return dataclasses.replace(fired, inhibited=True, notified_first=True)


@dataclass(frozen=True, slots=True)
class Trouble:
    """Something wrong in a cluster: how the World shows it, the alerts it implies, and the repair."""

    what: str
    alerts: tuple[Alert, ...]
    change: Change | None = None
    # The change after which every alert of this trouble resolves (and no other alert changes).
    repair: Change | None = None
    # Applied once Prometheus has scraped the exporter, for troubles that need a past: an exporter that goes away
    # must have been seen first.
    later: Change | None = None
    # It happened within the last day: Prometheus's history of a day ago is the exporter's real output on the
    # World without it (for rules that compare with `offset 1d`).
    recent: bool = False


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    summary: str
    # The exporter's configuration file, as data (config/file.py parses it).
    config: Mapping[str, Any]
    # The cluster at a time (POSIX seconds) before anything goes wrong.
    world: Callable[[float], World]
    troubles: tuple[Trouble, ...]
    # Its alerts are about a Prometheus that sees no exporter at all: it cannot share one with other clusters.
    own_prometheus: bool = False

    def build(self, now: float, *, without: tuple[Trouble, ...] = ()) -> World:
        """The World at `now` with every trouble's change, except those left out."""
        world = self.world(now)
        world.config = copy.deepcopy(dict(self.config))
        for trouble in self.troubles:
            if trouble.change is not None and trouble not in without:
                trouble.change(world)
        return world

    def alerts(self) -> set[Alert]:
        return {a for trouble in self.troubles for a in trouble.alerts}
