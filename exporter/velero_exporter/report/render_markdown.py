"""The report as Markdown: a heading that says what was measured, then the tables."""

from __future__ import annotations

from velero_exporter.report.document import Report
from velero_exporter.report.tables import Table, preamble, tables


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


def render_markdown(report: Report) -> str:
    lines = ["# Velero backup compliance report", "", preamble(report), ""]
    for table in tables(report):
        lines.extend(_table(table))
    return "\n".join(lines)
