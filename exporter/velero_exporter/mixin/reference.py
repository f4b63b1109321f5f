"""docs/metrics.md: every family the exporter serves, from the family tables, with what uses it (the alerts, the
dashboard panels and the status page sections), found in what the mixin generates."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from velero_exporter.exposition.status_page import SECTION_FAMILIES
from velero_exporter.metrics.catalog import SUBJECTS
from velero_exporter.mixin import rules
from velero_exporter.mixin.config import MixinConfig
from velero_exporter.mixin.dashboards import Dashboard

NAME = re.compile(r"\bvelero(?:_[a-z0-9]+|:[a-z0-9_:]+)+\b")


def names_in(text: str) -> set[str]:
    """The exporter's metric names and the mixin's recording rules that a PromQL expression reads."""
    return set(NAME.findall(text))


def _expand(names: Iterable[str], recorded: Mapping[str, set[str]]) -> set[str]:
    """The families behind recording rules, transitively."""
    out: set[str] = set()
    pending = list(names)
    while pending:
        name = pending.pop()
        if name in out:
            continue
        out.add(name)
        pending.extend(recorded.get(name, ()))
    return out


def usage(cfg: MixinConfig, boards: Sequence[Dashboard]) -> dict[str, dict[str, set[str]]]:
    """For each metric name: {"alerts": {...}, "panels": {...}, "status page": {...}} that read it."""
    found: dict[str, dict[str, set[str]]] = {}

    counters = {f.name for subject in SUBJECTS for f in subject.families if f.type == "counter"}

    def note(names: Iterable[str], kind: str, user: str) -> None:
        for name in names:
            # A counter is served (and queried) with `_total`; its table names it without.
            base = name.removesuffix("_total")
            family = base if base != name and base in counters else name
            found.setdefault(family, {}).setdefault(kind, set()).add(user)

    groups = rules.groups(cfg)
    recorded = {
        rule["record"]: names_in(rule["expr"]) for group in groups for rule in group["rules"] if "record" in rule
    }
    for group in groups:
        for rule in group["rules"]:
            if "alert" in rule:
                note(_expand(names_in(rule["expr"]), recorded), "alerts", rule["alert"])
    for board in boards:
        for panel, expr in board.queries():
            note(_expand(names_in(expr), recorded), "panels", f"{board.title}: {panel}")
    for section, names in SECTION_FAMILIES.items():
        note(names, "status page", section)
    return found


INTRO = """\
# Metrics

Generated from the family tables in `exporter/velero_exporter/metrics/`: do not edit; run
`python -m velero_exporter.mixin`.

Every family the exporter serves, its labels and its meaning. Object-state families start with `velero_`, the
exporter's own health with `velero_exporter_`; no name is one that Velero exports itself (a test enforces it).
A timestamp is POSIX seconds; an unknown timestamp is absent, never 0. Counts and state sets are initialised to
0 for every known label value. Series are bounded: per tier, schedule, location, bucket and region, never one
per Backup object, except the unfinished backups of `velero_backup_unfinished_since_timestamp_seconds`.
A counter's name is shown with the `_total` suffix it is served with.

`tier` is a configured tier name or `unassigned` (a backup that neither a tier's schedule nor its own tier label
places). `schedule` is a Velero Schedule name.

"Used by" names the alerts, dashboard panels and status page sections that read the family (directly or
through a recording rule); a family that none reads says what it is there for.
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _used_by(name: str, uses: Mapping[str, set[str]] | None, ad_hoc: str) -> str:
    parts = []
    for kind in ("alerts", "panels", "status page"):
        users = sorted((uses or {}).get(kind, ()))
        if users:
            parts.append(f"{kind}: " + ", ".join(users))
    if ad_hoc:
        parts.append(f"ad-hoc: {ad_hoc}")
    return "; ".join(parts)


def render_metrics_reference(cfg: MixinConfig, boards: Sequence[Dashboard]) -> str:
    found = usage(cfg, boards)
    out = [INTRO]
    for subject in SUBJECTS:
        out.append(f"\n## {subject.name}\n")
        if subject.notes:
            out.append(f"{subject.notes}\n")
        out.append("| family | type | labels | meaning | used by |\n|---|---|---|---|---|")
        for family in subject.families:
            shown = f"{family.name}_total" if family.type == "counter" else family.name
            out.append(
                f"| `{shown}` | {family.type} | {', '.join(family.labels)} | {_cell(family.help)} | "
                f"{_cell(_used_by(family.name, found.get(family.name), family.ad_hoc))} |"
            )
    return "\n".join(out) + "\n"
