"""The report as CSV for a spreadsheet: one row per tier, then one row per violation.

The `record` column tells the two apart; a column that does not apply to a record is empty, as is a value that
is not known. Times are RFC 3339 in UTC, durations seconds.
"""

from __future__ import annotations

import csv
import io

from velero_exporter.report.document import Report
from velero_exporter.report.window import rfc3339

COLUMNS = (
    "record",
    "cluster",
    "tier",
    "rpo_seconds",
    "rto_seconds",
    "rpo_compliance_ratio",
    "known_seconds",
    "unknown_seconds",
    "violations",
    "restores",
    "restores_within_rto",
    "last_verified_restore",
    "last_drill_result",
    "start",
    "end",
    "duration_seconds",
    "worst_age_seconds",
)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}" if not value.is_integer() else str(int(value))
    return str(value)


def render_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for tier in report.tiers:
        c = tier.compliance
        writer.writerow(
            {
                "record": "tier",
                "cluster": tier.cluster,
                "tier": tier.tier,
                "rpo_seconds": _cell(tier.rpo),
                "rto_seconds": _cell(tier.rto),
                "rpo_compliance_ratio": _cell(c.ratio if c else None),
                "known_seconds": _cell(c.known_seconds if c else None),
                "unknown_seconds": _cell(report.window.seconds - c.known_seconds if c else None),
                "violations": _cell(len(c.violations) if c else None),
                "restores": len(tier.restores),
                "restores_within_rto": sum(1 for r in tier.restores if r.within_rto),
                "last_verified_restore": rfc3339(tier.last_verified_restore) if tier.last_verified_restore else "",
                "last_drill_result": tier.last_drill_result or "",
            }
        )
    for tier in report.tiers:
        for v in tier.compliance.violations if tier.compliance else ():
            writer.writerow(
                {
                    "record": "violation",
                    "cluster": tier.cluster,
                    "tier": tier.tier,
                    "start": rfc3339(v.start),
                    "end": rfc3339(v.end),
                    "duration_seconds": _cell(v.seconds),
                    "worst_age_seconds": _cell(v.worst_age),
                }
            )
    return out.getvalue()
