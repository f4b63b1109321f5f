"""The report as JSON: the versioned document that docs/reports.md describes (schema 1).

Times are RFC 3339 in UTC, durations are seconds, a value that is not known is null (never 0).
"""

from __future__ import annotations

import json
from typing import Any

from velero_exporter.report.document import (
    SCHEMA,
    AlertInterval,
    Freshness,
    Report,
    RestoreEvidence,
    TierEvidence,
    days_since,
)
from velero_exporter.report.intervals import Interval
from velero_exporter.report.window import rfc3339


def _time(t: float | None) -> str | None:
    return None if t is None else rfc3339(t)


def _interval(interval: Interval) -> dict[str, Any]:
    return {"start": rfc3339(interval.start), "end": rfc3339(interval.end), "duration_seconds": interval.seconds}


def _restore(restore: RestoreEvidence) -> dict[str, Any]:
    return {
        "schedule": restore.schedule,
        "phase": restore.phase,
        "started": _time(restore.started),
        "completed": rfc3339(restore.completed),
        "duration_seconds": restore.duration,
        "rto_seconds": restore.rto,
        "within_rto": restore.within_rto,
    }


def _event(report: Report, t: float | None) -> dict[str, Any] | None:
    return None if t is None else {"completed": rfc3339(t), "days_since": days_since(report, t)}


def _tier(report: Report, tier: TierEvidence) -> dict[str, Any]:
    compliance = tier.compliance
    return {
        "cluster": tier.cluster,
        "tier": tier.tier,
        "rpo_seconds": tier.rpo,
        "rto_seconds": tier.rto,
        "rpo_compliance_ratio": compliance.ratio if compliance else None,
        "compliant_seconds": compliance.compliant_seconds if compliance else None,
        "known_seconds": compliance.known_seconds if compliance else None,
        "unknown_seconds": report.window.seconds - compliance.known_seconds if compliance else None,
        "violations": [
            {
                "start": rfc3339(v.start),
                "end": rfc3339(v.end),
                "duration_seconds": v.seconds,
                "worst_age_seconds": v.worst_age,
                "without_recovery_point_seconds": v.without_recovery_point,
            }
            for v in (compliance.violations if compliance else ())
        ],
        "unknown_intervals": [_interval(i) for i in (compliance.unknown if compliance else ())],
        "restores": [_restore(r) for r in tier.restores],
        "last_verified_restore": _event(report, tier.last_verified_restore),
        "last_drill_result": tier.last_drill_result,
        "last_successful_restore": _event(report, tier.last_successful_restore),
    }


def _freshness(freshness: Freshness, keys: tuple[str, ...]) -> dict[str, Any]:
    s = freshness.staleness
    return {
        "cluster": freshness.cluster,
        **{key: getattr(freshness, key) for key in keys},
        "worst_staleness_seconds": s.worst,
        "worst_at": _time(s.worst_at),
        "final_staleness_seconds": s.final,
        "known_seconds": s.known_seconds,
        "unknown_intervals": [_interval(i) for i in freshness.unknown],
    }


def _alert(alert: AlertInterval) -> dict[str, Any]:
    return {
        "cluster": alert.cluster,
        "alertname": alert.alertname,
        "severity": alert.severity,
        "tier": alert.tier or None,
        "labels": dict(alert.labels),
        "start": rfc3339(alert.start),
        "end": rfc3339(alert.end),
        "duration_seconds": alert.seconds,
        "firing_at_start": alert.firing_at_start,
        "firing_at_end": alert.firing_at_end,
        "active_since": _time(alert.active_since),
    }


def to_document(report: Report) -> dict[str, Any]:
    window = report.window
    return {
        "schema": SCHEMA,
        "generator": report.generator,
        "generated_at": rfc3339(report.generated_at),
        "prometheus": report.source,
        "cluster_label": report.cluster_label,
        "window": {"from": rfc3339(window.start), "to": rfc3339(window.end), "step_seconds": window.step},
        "tiers": [_tier(report, t) for t in report.tiers],
        "buckets": [_freshness(b, ("location", "bucket", "region")) for b in report.buckets],
        "snapshots": [_freshness(s, ("region", "tier")) for s in report.snapshots],
        "alerts": [_alert(a) for a in report.alerts],
    }


def render_json(report: Report) -> str:
    return json.dumps(to_document(report), indent=2) + "\n"
