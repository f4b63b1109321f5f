"""The report as Markdown: a heading that says what was measured, then the tables."""

from __future__ import annotations

from velero_exporter.report.document import Report
from velero_exporter.report.tables import Table, tables
from velero_exporter.report.wording import span, when


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _table(table: Table) -> list[str]:
    lines = [f"## {table.caption}", ""]
    if not table.rows:
        return [*lines, table.empty, ""]
    lines.append("| " + " | ".join(table.headers) + " |")
    lines.append("|" + "---|" * len(table.headers))
    lines.extend("| " + " | ".join(_cell(c) for c in row) + " |" for row in table.rows)
    return [*lines, ""]


def preamble(report: Report) -> str:
    """One sentence on what the report covers and how it was measured."""
    w = report.window
    return (
        f"From {when(w.start)} to {when(w.end)} ({span(w.seconds)}, in steps of {span(w.step)}), from the "
        f"velero-exporter's series in {report.source}; generated {when(report.generated_at)} by {report.generator}. "
        "Time without data from the exporter is unknown, never compliant; a tier's compliance is its compliant time "
        "over its known time."
    )


def render_markdown(report: Report) -> str:
    lines = ["# Velero backup compliance report", "", preamble(report), ""]
    for table in tables(report):
        lines.extend(_table(table))
    return "\n".join(lines)
