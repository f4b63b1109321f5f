"""What a compliance report says: typed, immutable, independent of any output format.

The JSON rendering (render_json.py) is the versioned contract documented in docs/reports.md; the other formats
render the same values.
"""

from __future__ import annotations

from dataclasses import dataclass

from velero_exporter.report.intervals import Compliance, Interval, Staleness
from velero_exporter.report.window import Window

SCHEMA = 1
DAY = 86400.0


@dataclass(slots=True, frozen=True)
class RestoreEvidence:
    """A restore that finished in the window, as the newest-restore series of its tier and schedule showed it."""

    tier: str
    schedule: str  # "" for a restore of an ad-hoc backup
    phase: str | None
    completed: float
    duration: float | None
    rto: float | None  # the tier's RTO when the restore finished

    @property
    def started(self) -> float | None:
        return None if self.duration is None else self.completed - self.duration

    @property
    def within_rto(self) -> bool | None:
        """Only a Completed restore demonstrates the RTO; None for the others, and where a value is unknown."""
        if self.phase != "Completed" or self.duration is None or self.rto is None:
            return None
        return self.duration <= self.rto


@dataclass(slots=True, frozen=True)
class TierEvidence:
    cluster: str
    tier: str
    rpo: float | None  # in force at the window's end (violations use the RPO in force at each step)
    rto: float | None
    compliance: Compliance | None  # None for a tier without objectives (unassigned)
    restores: tuple[RestoreEvidence, ...]
    last_verified_restore: float | None  # completion of the newest drill that Completed and passed validation
    last_drill_result: str | None  # passed, failed or unvalidated: the newest drill's, at the window's end
    last_successful_restore: float | None  # completion of the newest Completed restore of any kind
    # For plots: the worst age and the RPO in equal slices of the window (see intervals.age_profile).
    age_profile: tuple[float | None, ...]
    rpo_profile: tuple[float | None, ...]


@dataclass(slots=True, frozen=True)
class Freshness:
    """A DR copy's freshness: a bucket's newest backup, or a region's newest snapshot of a tier."""

    cluster: str
    location: str  # buckets: the location label; snapshots: ""
    bucket: str  # buckets only
    region: str
    tier: str  # snapshots only
    staleness: Staleness
    unknown: tuple[Interval, ...]


@dataclass(slots=True, frozen=True)
class AlertInterval:
    cluster: str
    alertname: str
    severity: str
    tier: str
    labels: tuple[tuple[str, str], ...]  # every other label of the alert
    start: float
    end: float
    firing_at_start: bool  # it was already firing when the window began
    firing_at_end: bool  # it was still firing when the window ended
    active_since: float | None  # when its condition began (ALERTS_FOR_STATE), before `for` elapsed

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass(slots=True, frozen=True)
class Report:
    window: Window
    generated_at: float
    source: str  # the Prometheus URL asked
    generator: str  # "velero-exporter <version>"
    cluster_label: str
    tiers: tuple[TierEvidence, ...]
    buckets: tuple[Freshness, ...]
    snapshots: tuple[Freshness, ...]
    alerts: tuple[AlertInterval, ...]


def days_since(report: Report, t: float | None) -> float | None:
    return None if t is None else (report.window.end - t) / DAY
