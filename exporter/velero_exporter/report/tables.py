"""The report's preamble and tables as text, shared by the Markdown and HTML renderers (which only lay them out)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from velero_exporter.report.document import Freshness, Report, days_since
from velero_exporter.report.wording import NOT_KNOWN, days, percent, span, when


@dataclass(slots=True, frozen=True)
class Table:
    caption: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    empty: str  # what to say instead of an empty table


def preamble(report: Report) -> str:
    """One sentence on what the report covers and how it was measured."""
    w = report.window
    return (
        f"From {when(w.start)} to {when(w.end)} ({span(w.seconds)}, in steps of {span(w.step)}), from the "
        f"velero-exporter's series in {report.source}; generated {when(report.generated_at)} by {report.generator}. "
        "Time without data from the exporter is unknown, never compliant; a tier's compliance is its compliant time "
        "over its known time."
    )


def has_clusters(report: Report) -> bool:
    """Whether any series carried the cluster label (else every table drops its cluster column)."""
    return any(s.cluster for group in (report.tiers, report.buckets, report.snapshots, report.alerts) for s in group)


def _table(report: Report, caption: str, headers: Sequence[str], rows: Sequence[tuple[str, ...]], empty: str) -> Table:
    """Rows start with the cluster, which is shown only where clusters are told apart."""
    if has_clusters(report):
        return Table(caption, (report.cluster_label, *headers), tuple(rows), empty)
    return Table(caption, tuple(headers), tuple(row[1:] for row in rows), empty)


def tier_table(report: Report) -> Table:
    rows = []
    for t in report.tiers:
        c = t.compliance
        restores = t.restores
        within = sum(1 for r in restores if r.within_rto)
        rows.append(
            (
                t.cluster,
                t.tier,
                span(t.rpo),
                percent(c.ratio if c else None),
                str(len(c.violations)) if c else NOT_KNOWN,
                span(report.window.seconds - c.known_seconds) if c else NOT_KNOWN,
                f"{len(restores)} ({within} within RTO {span(t.rto)})" if restores else "0",
                when(t.last_verified_restore),
                days(days_since(report, t.last_verified_restore)),
                t.last_drill_result or NOT_KNOWN,
            )
        )
    headers = (
        "tier",
        "RPO",
        "RPO met",
        "violations",
        "unknown",
        "restores",
        "last verified drill",
        "days since",
        "last drill",
    )
    return _table(report, "Tiers", headers, rows, "No tier reported in the window.")


def violation_table(report: Report) -> Table:
    rows = [
        (
            t.cluster,
            t.tier,
            when(v.start),
            when(v.end),
            span(v.seconds),
            span(v.worst_age) if v.worst_age is not None else "no recovery point",
        )
        for t in report.tiers
        for v in (t.compliance.violations if t.compliance else ())
    ]
    headers = ("tier", "start", "end", "duration", "worst age")
    return _table(report, "RPO violations", headers, rows, "No violation: every known step met its RPO.")


def unknown_table(report: Report) -> Table:
    rows = [
        (t.cluster, t.tier, when(i.start), when(i.end), span(i.seconds))
        for t in report.tiers
        for i in (t.compliance.unknown if t.compliance else ())
    ]
    headers = ("tier", "start", "end", "duration")
    return _table(report, "Unknown time (no data from the exporter)", headers, rows, "None: every step has data.")


def restore_table(report: Report) -> Table:
    rows = []
    for t in report.tiers:
        for r in t.restores:
            within = NOT_KNOWN if r.within_rto is None else ("yes" if r.within_rto else "no")
            rows.append(
                (
                    t.cluster,
                    t.tier,
                    r.schedule or "(ad-hoc backup)",
                    r.phase or NOT_KNOWN,
                    when(r.started),
                    when(r.completed),
                    span(r.duration),
                    span(r.rto),
                    within,
                )
            )
    headers = ("source tier", "schedule", "phase", "started", "completed", "duration", "RTO", "within RTO")
    return _table(report, "Restores", headers, rows, "No restore finished in the window.")


def _freshness_rows(
    items: Sequence[Freshness], report: Report, subject: Callable[[Freshness], tuple[str, ...]]
) -> list[tuple[str, ...]]:
    return [
        (
            f.cluster,
            *subject(f),
            span(f.staleness.worst),
            when(f.staleness.worst_at),
            span(f.staleness.final),
            span(report.window.seconds - f.staleness.known_seconds),
        )
        for f in items
    ]


_FRESHNESS_HEADERS = ("worst staleness", "worst at", "at the end", "unknown")


def bucket_table(report: Report) -> Table:
    rows = _freshness_rows(report.buckets, report, lambda f: (f.location, f.bucket, f.region))
    headers = ("location", "bucket", "region", *_FRESHNESS_HEADERS)
    return _table(report, "DR freshness: newest backup in each bucket", headers, rows, "No bucket was measured.")


def snapshot_table(report: Report) -> Table:
    rows = _freshness_rows(report.snapshots, report, lambda f: (f.tier, f.region))
    headers = ("tier", "region", *_FRESHNESS_HEADERS)
    return _table(report, "DR freshness: newest snapshot per region", headers, rows, "No snapshot was measured.")


def alert_table(report: Report) -> Table:
    rows = [
        (
            a.cluster,
            a.alertname,
            a.severity,
            a.tier or NOT_KNOWN,
            " ".join(f"{k}={v}" for k, v in a.labels) or NOT_KNOWN,
            ("before " if a.firing_at_start else "") + when(a.start),
            ("still firing at " if a.firing_at_end else "") + when(a.end),
            span(a.seconds),
        )
        for a in report.alerts
    ]
    headers = ("alert", "severity", "tier", "labels", "firing from", "to", "duration")
    return _table(report, "Alerts that fired", headers, rows, "No alert of the bundle fired in the window.")


def tables(report: Report) -> tuple[Table, ...]:
    return (
        tier_table(report),
        violation_table(report),
        unknown_table(report),
        restore_table(report),
        bucket_table(report),
        snapshot_table(report),
        alert_table(report),
    )
