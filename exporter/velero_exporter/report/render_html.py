"""The report as one printable HTML page: the compliance bars, each tier's age plot, then the tables.

Self-contained: inline CSS and SVG, no script, no external asset, so that it can be archived as evidence and
printed (or saved as PDF) by any browser.
"""

from __future__ import annotations

import html

from velero_exporter.report.document import Report
from velero_exporter.report.plots import AGE, COMPLIANT, UNKNOWN, VIOLATED, age_plot, compliance_bars
from velero_exporter.report.tables import Table, preamble, tables

STYLE = """
@page{size:A4 landscape;margin:12mm}
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#1b1f24;background:#fff}
h1{font-size:1.4rem;margin:0 0 .3rem} h2{font-size:1.15rem;margin:1.4rem 0 .4rem}
h3{font-size:1rem;margin:.8rem 0 .2rem}
p.meta{color:#57606a;margin:0 0 1rem;max-width:60rem}
table{border-collapse:collapse;margin:0 0 1rem}
caption{text-align:left;font-weight:600;font-size:1.05rem;padding:.3rem 0}
th,td{border:1px solid #d0d7de;padding:.25rem .5rem;text-align:left;font-size:.85rem;white-space:nowrap}
th{background:#f6f8fa}
section.tier{break-inside:avoid;page-break-inside:avoid}
table{break-inside:auto} tr{break-inside:avoid}
.key span{display:inline-block;width:.8rem;height:.8rem;margin:0 .3rem 0 .8rem;vertical-align:middle}
@media print{body{margin:0}}
"""


def _e(text: str) -> str:
    return html.escape(text)


def _table(table: Table) -> str:
    if not table.rows:
        return f"<h2>{_e(table.caption)}</h2><p>{_e(table.empty)}</p>"
    head = "".join(f"<th>{_e(h)}</th>" for h in table.headers)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in table.rows)
    return f"<table><caption>{_e(table.caption)}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _key(*entries: tuple[str, str]) -> str:
    return '<p class="key">' + "".join(f'<span style="background:{c}"></span>{_e(t)}' for c, t in entries) + "</p>"


def _tier_sections(report: Report) -> str:
    sections = []
    for tier in report.tiers:
        if tier.compliance is None:
            continue
        name = f"{tier.cluster} / {tier.tier}" if tier.cluster else tier.tier
        sections.append(
            f'<section class="tier"><h3>{_e(name)}: recovery point age against the RPO</h3>'
            f"{age_plot(report.window, tier, tier.compliance)}</section>"
        )
    return "".join(sections)


def render_html(report: Report) -> str:
    all_tables = tables(report)
    title = "Velero backup compliance report"
    return "".join(
        [
            '<!doctype html><html lang="en"><head><meta charset="utf-8">',
            f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>",
            f'<h1>{_e(title)}</h1><p class="meta">{_e(preamble(report))}</p>',
            "<h2>RPO compliance</h2>",
            compliance_bars(report),
            _key((COMPLIANT, "met the RPO"), (VIOLATED, "violated it"), (UNKNOWN, "unknown (no data)")),
            _table(all_tables[0]),
            "<h2>Recovery point age per tier</h2>",
            _key((AGE, "worst age in each slice"), (VIOLATED, "RPO (dashed); violations shaded")),
            _tier_sections(report),
            *(_table(t) for t in all_tables[1:]),
            "</body></html>\n",
        ]
    )
