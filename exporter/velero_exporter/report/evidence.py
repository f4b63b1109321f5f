"""From the exporter's raw series in Prometheus to a Report: which expressions to ask, and how the answers
(rows of step values) become evidence.

Only the exporter's own series are read, never the bundle's recording rules, so that history from before the
rules were installed counts too. Every expression takes the last value in each step (`last_over_time` over one
step), so a step in which the exporter reported nothing is unknown, and aggregates by the labels that identify
a subject (`max by (cluster, tier)`), so that two exporter replicas count once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from velero_exporter.config.durations import format_duration
from velero_exporter.mixin.config import DEFAULT as MIXIN
from velero_exporter.report.document import AlertInterval, Freshness, Report, RestoreEvidence, TierEvidence
from velero_exporter.report.intervals import (
    age_profile,
    column_max,
    first_seen,
    known,
    last_known,
    newest,
    rpo_compliance,
    run_interval,
    runs,
    staleness,
    unknown_intervals,
)
from velero_exporter.report.prometheus import Rows, label
from velero_exporter.report.window import Window

# The mixin's alerts, by name (an alert of another bundle is not this report's business).
ALERT_NAMES = "|".join(sorted(MIXIN.alert_for))
# Slices of the window in the plots' data: finer than a printed page resolves.
PROFILE_COLUMNS = 480


@dataclass(slots=True, frozen=True)
class Selection:
    """Which series: the label that tells clusters apart, and one cluster (None: every cluster)."""

    cluster_label: str = MIXIN.cluster_label
    cluster: str | None = None

    def matchers(self, *extra: str) -> str:
        own = [f'{self.cluster_label}="{_escape(self.cluster)}"'] if self.cluster is not None else []
        return "{" + ", ".join([*extra, *own]) + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


# name -> (metric, labels that identify the subject)
_LAST_VALUES: dict[str, tuple[str, tuple[str, ...]]] = {
    "rpo": ("velero_tier_rpo_seconds", ("tier",)),
    "rto": ("velero_tier_rto_seconds", ("tier",)),
    "recovery_point": ("velero_tier_recovery_point_timestamp_seconds", ("tier",)),
    "verified_restore": ("velero_tier_last_verified_restore_timestamp_seconds", ("tier",)),
    "restore_success": ("velero_tier_last_restore_success_timestamp_seconds", ("tier",)),
    "restore_completion": ("velero_restore_last_completion_timestamp_seconds", ("tier", "schedule")),
    "restore_duration": ("velero_restore_last_duration_seconds", ("tier", "schedule")),
    "bucket_recovery_point": ("velero_bucket_recovery_point_timestamp_seconds", ("location", "bucket", "region")),
    "snapshot": ("velero_snapshot_last_completed_timestamp_seconds", ("region", "tier")),
}
# State sets: only the state that is 1 is asked for.
_STATES: dict[str, tuple[str, tuple[str, ...]]] = {
    "restore_phase": ("velero_restore_last_phase", ("tier", "schedule", "phase")),
    "drill_result": ("velero_tier_last_drill_result", ("tier", "result")),
}


def expressions(selection: Selection, window: Window) -> dict[str, str]:
    step = format_duration(window.step)
    c = selection.cluster_label

    def last(metric: str, by: Sequence[str], *matchers: str) -> str:
        return f"max by ({', '.join([c, *by])}) (last_over_time({metric}{selection.matchers(*matchers)}[{step}]))"

    exprs = {name: last(metric, by) for name, (metric, by) in _LAST_VALUES.items()}
    exprs |= {name: f"{last(metric, by)} == 1" for name, (metric, by) in _STATES.items()}
    names = f'alertname=~"{ALERT_NAMES}"'
    firing = selection.matchers('alertstate="firing"', names)
    exprs["alerts"] = f"max without (alertstate) (last_over_time(ALERTS{firing}[{step}]))"
    # `max without ()` drops the metric name (last_over_time keeps it on some versions), so that the labels
    # equal the firing alert's.
    exprs["alerts_active_since"] = (
        f"max without () (last_over_time(ALERTS_FOR_STATE{selection.matchers(names)}[{step}]))"
    )
    return exprs


def _nan_row(window: Window) -> list[float]:
    return [math.nan] * window.steps


def _by(rows: Rows, keys: Sequence[str]) -> dict[tuple[str, ...], list[float]]:
    return {tuple(label(labels, k) for k in keys): row for labels, row in rows.items()}


def _value_at(row: Sequence[float] | None, step: int) -> float | None:
    if row is None or not known(row[step - 1]):
        return None
    return row[step - 1]


def _last_value(row: Sequence[float] | None) -> float | None:
    found = last_known(row) if row is not None else None
    return found[1] if found is not None else None


@dataclass(slots=True, frozen=True)
class _RestoreRows:
    """The newest-restore series, by (cluster, tier, schedule); phases by their name."""

    completions: Mapping[tuple[str, ...], list[float]]
    durations: Mapping[tuple[str, ...], list[float]]
    phases: Mapping[tuple[str, ...], Mapping[str, list[float]]]

    @classmethod
    def of(cls, rows: Mapping[str, Rows], c: str) -> _RestoreRows:
        phases: dict[tuple[str, ...], dict[str, list[float]]] = {}
        for (cluster, tier, schedule, phase), row in _by(
            rows["restore_phase"], (c, "tier", "schedule", "phase")
        ).items():
            phases.setdefault((cluster, tier, schedule), {})[phase] = row
        return cls(
            completions=_by(rows["restore_completion"], (c, "tier", "schedule")),
            durations=_by(rows["restore_duration"], (c, "tier", "schedule")),
            phases=phases,
        )

    def tiers(self) -> set[tuple[str, str]]:
        return {(cluster, tier) for cluster, tier, _ in self.completions}

    def of_tier(self, window: Window, cluster: str, tier: str, rto: Sequence[float]) -> tuple[RestoreEvidence, ...]:
        """Each restore that finished in the window: a new value of its group's newest completion time, with
        the phase and duration shown at the same step."""
        found = []
        for (c, t, schedule), row in self.completions.items():
            if (c, t) != (cluster, tier):
                continue
            phases = self.phases.get((c, t, schedule), {})
            for completed, step in first_seen(row, window.start, window.end).items():
                found.append(
                    RestoreEvidence(
                        tier=tier,
                        schedule=schedule,
                        phase=next((p for p, prow in phases.items() if prow[step - 1] == 1), None),
                        completed=completed,
                        duration=_value_at(self.durations.get((c, t, schedule)), step),
                        rto=_last_value(rto[:step]),  # in force at the step, else the last one before it
                    )
                )
        return tuple(sorted(found, key=lambda r: (r.completed, r.schedule)))


def _last_state(states: Mapping[tuple[str, ...], list[float]], cluster: str, tier: str) -> str | None:
    """The state that was 1 at the last step that showed any."""
    best: tuple[int, str] | None = None
    for (c, t, state), row in states.items():
        found = last_known(row) if (c, t) == (cluster, tier) else None
        if found is not None and (best is None or found[0] > best[0]):
            best = (found[0], state)
    return best[1] if best is not None else None


def _tiers(window: Window, rows: Mapping[str, Rows], c: str) -> tuple[TierEvidence, ...]:
    names = ("rpo", "rto", "recovery_point", "verified_restore", "restore_success")
    per = {name: _by(rows[name], (c, "tier")) for name in names}
    restores = _RestoreRows.of(rows, c)
    drills = _by(rows["drill_result"], (c, "tier", "result"))
    keys = sorted({*per["rpo"], *per["recovery_point"], *restores.tiers()})
    tiers = []
    for cluster, tier in keys:
        rpo = per["rpo"].get((cluster, tier)) or _nan_row(window)
        rto = per["rto"].get((cluster, tier)) or _nan_row(window)
        point = per["recovery_point"].get((cluster, tier)) or _nan_row(window)
        has_objective = any(known(v) for v in rpo)
        tiers.append(
            TierEvidence(
                cluster=cluster,
                tier=tier,
                rpo=_last_value(rpo),
                rto=_last_value(rto),
                compliance=rpo_compliance(window, point, rpo) if has_objective else None,
                restores=restores.of_tier(window, cluster, tier, rto),
                last_verified_restore=newest(per["verified_restore"].get((cluster, tier), []), window.end),
                last_drill_result=_last_state(drills, cluster, tier),
                last_successful_restore=newest(per["restore_success"].get((cluster, tier), []), window.end),
                age_profile=tuple(age_profile(window, point, rpo, PROFILE_COLUMNS)) if has_objective else (),
                rpo_profile=tuple(column_max(rpo, PROFILE_COLUMNS)) if has_objective else (),
            )
        )
    return tuple(tiers)


def _freshness(window: Window, rows: Rows, c: str, keys: Sequence[str]) -> tuple[Freshness, ...]:
    found = []
    for labels, row in sorted(rows.items()):
        value = dict(labels)
        found.append(
            Freshness(
                cluster=value.get(c, ""),
                location=value.get("location", ""),
                bucket=value.get("bucket", ""),
                region=value.get("region", ""),
                tier=value.get("tier", ""),
                staleness=staleness(window, row),
                unknown=unknown_intervals(window, row),
            )
        )
    return tuple(sorted(found, key=lambda f: tuple(getattr(f, k) for k in ("cluster", *keys))))


_ALERT_OWN_LABELS = ("alertname", "severity", "tier")


def _alerts(window: Window, rows: Mapping[str, Rows], c: str) -> tuple[AlertInterval, ...]:
    active_since = rows["alerts_active_since"]
    found = []
    for labels, row in rows["alerts"].items():
        since_row = active_since.get(labels)
        others = tuple((k, v) for k, v in labels if k not in (c, *_ALERT_OWN_LABELS))
        for first, last in runs(row):
            interval = run_interval(window, first, last)
            found.append(
                AlertInterval(
                    cluster=label(labels, c),
                    alertname=label(labels, "alertname"),
                    severity=label(labels, "severity"),
                    tier=label(labels, "tier"),
                    labels=others,
                    start=interval.start,
                    end=interval.end,
                    firing_at_start=first == 1,
                    firing_at_end=last == window.steps,
                    active_since=_value_at(since_row, first),
                )
            )
    return tuple(sorted(found, key=lambda a: (a.cluster, a.start, a.alertname, a.tier, a.labels)))


def assemble(
    rows: Mapping[str, Rows], window: Window, selection: Selection, *, generated_at: float, source: str, generator: str
) -> Report:
    """The report from the answers to expressions(): a pure function of the rows."""
    c = selection.cluster_label
    return Report(
        window=window,
        generated_at=generated_at,
        source=source,
        generator=generator,
        cluster_label=c,
        tiers=_tiers(window, rows, c),
        buckets=_freshness(window, rows["bucket_recovery_point"], c, ("location", "bucket", "region")),
        snapshots=_freshness(window, rows["snapshot"], c, ("tier", "region")),
        alerts=_alerts(window, rows, c),
    )
