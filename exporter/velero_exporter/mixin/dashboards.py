"""The mixin's Grafana dashboards and their reference page, docs/dashboards.md.

Panels are built from a few helpers (selectors, a stat, a table of joined instant queries, a time series ...)
so that every panel carries a title, a description, a unit and the `$datasource`/`$cluster` variables by
construction. Thresholds that mirror an alert (missed-run delay, restore-test age, ...) are read from the
mixin's configuration, so a dashboard and its alert never disagree.

Conventions: one data-source variable `datasource`; a `cluster` variable whose "All" is `.*`, so that series
without a cluster label match too; every selector carries `cluster=~"$cluster"`; no job is named anywhere (the
exporter's families have names of their own, and the recording rules aggregate the job away); rates use
`$__rate_interval`; exporter families are read through `max by (cluster, <object>)` so that two replicas or
two scrape jobs of one exporter never double a value.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from velero_exporter.mixin.config import DEFAULT as MIXIN
from velero_exporter.mixin.config import seconds
from velero_exporter.state.vocabulary import FINISHED_PHASES

Json = dict[str, Any]


# ---------------------------------------------------------------------------------------------------------
# PromQL helpers
# ---------------------------------------------------------------------------------------------------------

DATASOURCE: Json = {"type": "prometheus", "uid": "${datasource}"}
CLUSTER = 'cluster=~"$cluster"'
TIER = 'tier=~"$tier"'
FAILED = 'phase=~"Failed|FailedValidation"'
PARTIALLY_FAILED = 'phase="PartiallyFailed"'
COMPLETED = 'phase="Completed"'
FAILED_OPERATIONS = 'phase=~"Failed|Canceled"'
FINISHED = f'phase=~"{"|".join(FINISHED_PHASES)}"'
OVERVIEW_UID = "velero-exporter-overview"
TIER_UID = "velero-exporter-tier-detail"
HEALTH_UID = "velero-exporter-health"
FLEET_UID = "velero-exporter-fleet"
DR_ROLE = 'role="dr"'


def sel(metric: str, *matchers: str) -> str:
    """The metric in the selected clusters, plus further matchers."""
    return f"{metric}{{{', '.join([CLUSTER, *matchers])}}}"


def per(labels: str, metric: str, *matchers: str, op: str = "max") -> str:
    """One series per object (`labels`) and cluster, however many replicas or jobs scrape the exporter."""
    return f"{op} by (cluster, {labels}) ({sel(metric, *matchers)})"


def age(timestamp: str) -> str:
    return f"time() - {timestamp}"


def label_is(label: str, value: str) -> str:
    return f'{label}="{value}"'


def phase_is(phase: str) -> str:
    return label_is("phase", phase)


def worst_phase(by: str, metric: str, labels: str, *matchers: str) -> str:
    """The worst finished phase (see phase_code) over the objects of each `by` group."""
    return f"max by (cluster, {by}) (\n  {phase_code(metric, labels, *matchers)}\n)"


def phase_code(metric: str, labels: str, *matchers: str) -> str:
    """A state set of finished phases as one number: 0 none yet, 1 Completed, 2 PartiallyFailed, 3 Failed,
    4 FailedValidation (the worse, the higher, so `max` over a group picks the worst)."""
    terms = [f"{i} * {per(labels, metric, phase_is(p), *matchers)}" for i, p in enumerate(FINISHED_PHASES, 1)]
    return "\n  + ".join(terms)


def configured_tiers() -> str:
    return sel("velero:tier_rpo_seconds")


def schedules_of_tier() -> str:
    """`* on (cluster, schedule) group_left (tier, cron)` this: restricts a per-schedule series to the tier's
    schedules and gives every column of a schedule table the same labels."""
    return f"group by (cluster, schedule, tier, cron) ({sel('velero_schedule_info', TIER)})"


def of_tier(per_schedule: str) -> str:
    return f"({per_schedule})\n* on (cluster, schedule) group_left (tier, cron)\n{schedules_of_tier()}"


def exporter_targets(metric: str) -> str:
    """A scrape-level series (`up`, `scrape_duration_seconds`) of the targets that served the exporter lately."""
    served = f"group by (cluster, job, instance) (max_over_time({sel('velero_exporter_build_info')}[$__range]))"
    return f"{sel(metric)}\nand on (cluster, job, instance)\n{served}"


def rate(metric: str, labels: str, function: str = "rate") -> str:
    """A counter's per-second rate (or increase) over Grafana's $__rate_interval, summed per object."""
    return f"sum by (cluster, {labels}) ({function}({sel(metric)}[$__rate_interval]))"


def restore_test_age(*matchers: str, evidence: str = "velero:tier_last_restore_success_timestamp_seconds") -> str:
    """Time since the tier's restore evidence (by default a restore from it last Completed); -1 (shown as
    "never") for a configured tier without any."""
    last = sel(evidence, *matchers)
    return f"{age(last)}\nor on (cluster, tier)\n{sel('velero:tier_rpo_seconds', *matchers)} * 0 - 1"


# A tier's newest drill result as one number, the worse the higher (see DRILLS); 0: no drill.
DRILL_CODES = {"passed": 1, "unvalidated": 2, "failed": 3}


def drill_code(*matchers: str) -> str:
    """The newest drill's result of each tier as its DRILL_CODES number, 0 without a drill."""
    metric = "velero_tier_last_drill_result"
    terms = [f"{code} * {per('tier', metric, label_is('result', r), *matchers)}" for r, code in DRILL_CODES.items()]
    return "\n  + ".join(terms)


def count_or_zero(expr: str) -> str:
    return f"count({expr}) or vector(0)"


# ---------------------------------------------------------------------------------------------------------
# Field configuration helpers
# ---------------------------------------------------------------------------------------------------------


def value_map(entries: Mapping[int, tuple[str, str]]) -> list[Json]:
    options = {
        str(v): {"text": text, "color": color, "index": i} for i, (v, (text, color)) in enumerate(entries.items())
    }
    return [{"type": "value", "options": options}]


def steps(*pairs: tuple[str, float | None]) -> Json:
    return {"mode": "absolute", "steps": [{"color": color, "value": value} for color, value in pairs]}


OK_BAD = value_map({1: ("yes", "green"), 0: ("NO", "red")})
AVAILABLE = value_map({1: ("Available", "green"), 0: ("Unavailable", "red")})
UP = value_map({1: ("up", "green"), 0: ("DOWN", "red")})
VALIDATION_DISABLED = value_map({0: ("disabled", "text")})
PHASE_COLOURS = {"Completed": "green", "PartiallyFailed": "orange", "Failed": "red", "FailedValidation": "red"}
# The number each finished phase is shown as (see phase_code): its place in FINISHED_PHASES, 0 for none.
PHASES = value_map({0: ("none yet", "text"), **{i: (p, PHASE_COLOURS[p]) for i, p in enumerate(FINISHED_PHASES, 1)}})
NEVER = value_map({-1: ("never", "red")})
DRILLS = value_map(
    {
        0: ("none", "text"),
        DRILL_CODES["passed"]: ("passed", "green"),
        DRILL_CODES["unvalidated"]: ("unvalidated", "orange"),
        DRILL_CODES["failed"]: ("failed", "red"),
    }
)
GOOD_IF_ZERO = steps(("green", None), ("red", 1))
NEUTRAL = steps(("text", None))


RESTORE_TEST_AGE = steps(("green", None), ("red", seconds(MIXIN.restore_test_max_age)))


def tier_detail_link(tier_field: str = "tier") -> Json:
    return {
        "title": "Tier detail: ${__data.fields." + tier_field + "}",
        "url": f"/d/{TIER_UID}?${{datasource:queryparam}}&${{cluster:queryparam}}"
        f"&var-tier=${{__data.fields.{tier_field}}}&${{__url_time_range}}",
    }


# ---------------------------------------------------------------------------------------------------------
# Panels
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Query:
    """One panel target. In a table, `name` and `unit` describe the column the query fills."""

    expr: str
    legend: str = ""
    name: str = ""
    unit: str = ""
    mappings: Sequence[Json] = ()
    thresholds: Json | None = None
    colour: bool = False
    links: Sequence[Json] = ()


def _target(ref: str, query: Query, *, instant: bool, table: bool) -> Json:
    return {
        "datasource": DATASOURCE,
        "refId": ref,
        "expr": query.expr,
        "legendFormat": query.legend or "__auto",
        "instant": instant,
        "range": not instant,
        "format": "table" if table else "time_series",
    }


def value_field(index: int, count: int) -> str:
    """The name Grafana gives a table query's value field: "Value" alone, "Value #<refId>" among several."""
    return "Value" if count == 1 else f"Value #{chr(ord('A') + index)}"


def _targets(queries: Sequence[Query], *, instant: bool, table: bool = False) -> list[Json]:
    return [_target(chr(ord("A") + i), q, instant=instant, table=table) for i, q in enumerate(queries)]


@dataclass(frozen=True, slots=True)
class Panel:
    """A panel and what the reference page says of it; `layout` places it. `empty` says when the panel may
    rightly show nothing (the dashboard test accepts an empty answer only from a panel that says so)."""

    id: int
    title: str
    description: str
    json: Json
    explains: tuple[str, ...] = ()
    width: int = 12
    height: int = 8
    empty: str = ""


def _panel(
    kind: str,
    pid: int,
    title: str,
    description: str,
    unit: str,
    *,
    targets: list[Json],
    options: Json,
    custom: Json | None = None,
    mappings: Sequence[Json] = (),
    thresholds: Json | None = None,
    overrides: Sequence[Json] = (),
    transformations: Sequence[Json] = (),
    interval: str | None = None,
    links: Sequence[Json] = (),
) -> Json:
    defaults: Json = {
        "unit": unit,
        "color": {"mode": "thresholds" if thresholds else "palette-classic"},
        "mappings": list(mappings),
        "thresholds": thresholds or NEUTRAL,
    }
    if custom is not None:
        defaults["custom"] = custom
    panel: Json = {
        "id": pid,
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "fieldConfig": {"defaults": defaults, "overrides": list(overrides)},
        "options": options,
        "targets": targets,
    }
    if transformations:
        panel["transformations"] = list(transformations)
    if interval:
        panel["interval"] = interval
    if links:
        panel["links"] = list(links)
    return panel


def stat(
    pid: int,
    title: str,
    description: str,
    unit: str,
    queries: Sequence[Query],
    *,
    mappings: Sequence[Json] = (),
    thresholds: Json | None = None,
    text_mode: str = "auto",
    explains: tuple[str, ...] = (),
    empty: str = "",
    width: int = 6,
    height: int = 4,
    links: Sequence[Json] = (),
) -> Panel:
    options = {
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        "colorMode": "background" if thresholds or mappings else "value",
        "graphMode": "none",
        "textMode": text_mode,
        "orientation": "auto",
        "justifyMode": "auto",
        "wideLayout": True,
        "showPercentChange": False,
    }
    body = _panel(
        "stat",
        pid,
        title,
        description,
        unit,
        targets=_targets(queries, instant=True),
        options=options,
        mappings=mappings,
        thresholds=thresholds,
        links=links,
    )
    return Panel(pid, title, description, body, explains, width, height, empty)


def table(
    pid: int,
    title: str,
    description: str,
    columns: Sequence[Query],
    *,
    hide: Sequence[str] = (),
    explains: tuple[str, ...] = (),
    empty: str = "",
    label_links: Mapping[str, Sequence[Json]] | None = None,
    pivot: tuple[str, str] | None = None,
    width: int = 12,
    height: int = 8,
) -> Panel:
    """Instant queries over the same labels, merged into one row per label set; each query fills a column.

    With `pivot` (row label, column label), one query's values spread into a matrix instead: a row per value of
    the first label, a column per value of the second (so the table's unit is the query's)."""
    overrides: list[Json] = []
    for i, column in enumerate(columns):
        props: list[Json] = [{"id": "displayName", "value": column.name}, {"id": "unit", "value": column.unit}]
        if column.mappings:
            props.append({"id": "mappings", "value": list(column.mappings)})
        if column.thresholds:
            props.append({"id": "thresholds", "value": column.thresholds})
            props.append({"id": "color", "value": {"mode": "thresholds"}})
        if column.colour or column.mappings:
            props.append({"id": "custom.cellOptions", "value": {"type": "color-text"}})
        if column.links:
            props.append({"id": "links", "value": list(column.links)})
        overrides.append({"matcher": {"id": "byName", "options": value_field(i, len(columns))}, "properties": props})
    for label, links in (label_links or {}).items():
        overrides.append(
            {"matcher": {"id": "byName", "options": label}, "properties": [{"id": "links", "value": list(links)}]}
        )
    options = {"showHeader": True, "cellHeight": "sm", "footer": {"show": False, "reducer": ["sum"], "fields": ""}}
    transformations: list[Json] = [{"id": "merge", "options": {}}]
    if pivot is not None:
        row_label, column_label = pivot
        transformations.append(
            {
                "id": "groupingToMatrix",
                "options": {"rowField": row_label, "columnField": column_label, "valueField": "Value"},
            }
        )
    transformations.append(
        {"id": "organize", "options": {"excludeByName": {"Time": True, **dict.fromkeys(hide, True)}}}
    )
    # A matrix's cells are named by the column label's values, not by the query: its query's thresholds and
    # mappings colour every cell.
    cells = columns[0] if pivot is not None else None
    coloured = cells is not None and bool(cells.thresholds or cells.mappings)
    body = _panel(
        "table",
        pid,
        title,
        description,
        cells.unit if cells is not None else "none",
        targets=_targets(columns, instant=True, table=True),
        options=options,
        custom={"align": "auto", "cellOptions": {"type": "color-text" if coloured else "auto"}, "inspect": False},
        mappings=cells.mappings if cells is not None else (),
        thresholds=cells.thresholds if cells is not None else None,
        overrides=overrides,
        transformations=transformations,
    )
    return Panel(pid, title, description, body, explains, width, height, empty)


def timeseries(
    pid: int,
    title: str,
    description: str,
    unit: str,
    queries: Sequence[Query],
    *,
    stacked: bool = False,
    bars: bool = False,
    interval: str | None = None,
    explains: tuple[str, ...] = (),
    empty: str = "",
    width: int = 12,
    height: int = 8,
    min_zero: bool = True,
    overrides: Sequence[Json] = (),
) -> Panel:
    custom: Json = {
        "drawStyle": "bars" if bars else "line",
        "lineInterpolation": "stepAfter",
        "lineWidth": 1,
        "fillOpacity": 80 if bars else (20 if stacked else 10),
        "showPoints": "never",
        "spanNulls": False,
        "stacking": {"mode": "normal" if stacked else "none", "group": "A"},
        "axisPlacement": "auto",
        "axisSoftMin": 0 if min_zero else None,
    }
    options = {
        "legend": {"displayMode": "table", "placement": "bottom", "showLegend": True, "calcs": ["lastNotNull", "max"]},
        "tooltip": {"mode": "multi", "sort": "desc"},
    }
    body = _panel(
        "timeseries",
        pid,
        title,
        description,
        unit,
        targets=_targets(queries, instant=False),
        options=options,
        custom=custom,
        interval=interval,
        overrides=overrides,
    )
    return Panel(pid, title, description, body, explains, width, height, empty)


def bargauge(
    pid: int,
    title: str,
    description: str,
    unit: str,
    queries: Sequence[Query],
    *,
    thresholds: Json | None = None,
    explains: tuple[str, ...] = (),
    empty: str = "",
    width: int = 12,
    height: int = 8,
    max_value: float | None = None,
) -> Panel:
    options = {
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        "displayMode": "gradient",
        "orientation": "horizontal",
        "showUnfilled": True,
        "valueMode": "color",
        "namePlacement": "auto",
        "sizing": "auto",
        "minVizHeight": 16,
        "minVizWidth": 8,
        "maxVizHeight": 300,
    }
    body = _panel(
        "bargauge",
        pid,
        title,
        description,
        unit,
        targets=_targets(queries, instant=True),
        options=options,
        thresholds=thresholds or steps(("blue", None)),
    )
    if max_value is not None:
        body["fieldConfig"]["defaults"]["max"] = max_value
    body["fieldConfig"]["defaults"]["min"] = 0
    return Panel(pid, title, description, body, explains, width, height, empty)


def state_timeline(
    pid: int,
    title: str,
    description: str,
    queries: Sequence[Query],
    *,
    mappings: Sequence[Json],
    explains: tuple[str, ...] = (),
    empty: str = "",
    width: int = 24,
    height: int = 6,
) -> Panel:
    options = {
        "mergeValues": True,
        "showValue": "auto",
        "alignValue": "left",
        "rowHeight": 0.9,
        "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
        "tooltip": {"mode": "single", "sort": "none"},
    }
    body = _panel(
        "state-timeline",
        pid,
        title,
        description,
        "none",
        targets=_targets(queries, instant=False),
        options=options,
        custom={"fillOpacity": 80, "lineWidth": 0},
        mappings=mappings,
        thresholds=steps(("red", None), ("green", 1)),
    )
    return Panel(pid, title, description, body, explains, width, height, empty)


# ---------------------------------------------------------------------------------------------------------
# Dashboards
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Row:
    id: int
    title: str
    panels: Sequence[Panel]


@dataclass(frozen=True, slots=True)
class Dashboard:
    file: str
    uid: str
    title: str
    description: str
    rows: Sequence[Row]
    variables: Sequence[Json]
    links: Sequence[Json] = field(default_factory=tuple)

    def panels(self) -> list[Json]:
        """Rows and their panels, placed left to right and wrapped at Grafana's 24 columns."""
        out: list[Json] = []
        y = 0
        for row in self.rows:
            out.append(
                {
                    "id": row.id,
                    "type": "row",
                    "title": row.title,
                    "collapsed": False,
                    "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
                    "panels": [],
                }
            )
            y += 1
            x, line_height = 0, 0
            for panel in row.panels:
                if x + panel.width > 24:
                    y, x, line_height = y + line_height, 0, 0
                out.append({**panel.json, "gridPos": {"h": panel.height, "w": panel.width, "x": x, "y": y}})
                x += panel.width
                line_height = max(line_height, panel.height)
            y += line_height
        return out

    def queries(self) -> list[tuple[str, str]]:
        """(panel title, PromQL) of every panel's query, and ("variable <name>", query) of each variable's."""
        out = [
            (panel.title, target["expr"])
            for row in self.rows
            for panel in row.panels
            for target in panel.json.get("targets", ())
        ]
        for variable in self.variables:
            query = variable.get("query")
            if isinstance(query, dict) and "query" in query:
                out.append((f"variable {variable['name']}", str(query["query"])))
        return out

    def render(self) -> Json:
        return {
            "annotations": {
                "list": [
                    {
                        "builtIn": 1,
                        "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                        "enable": True,
                        "hide": True,
                        "iconColor": "rgba(0, 211, 255, 1)",
                        "name": "Annotations & Alerts",
                        "type": "dashboard",
                    }
                ]
            },
            "description": self.description,
            "editable": True,
            "fiscalYearStartMonth": 0,
            "graphTooltip": 1,
            "id": None,
            "links": list(self.links),
            "panels": self.panels(),
            "refresh": "1m",
            "schemaVersion": 39,
            "tags": ["velero", "velero-exporter", "backup"],
            "templating": {"list": list(self.variables)},
            "time": {"from": "now-24h", "to": "now"},
            "timepicker": {},
            "timezone": "",
            "title": self.title,
            "uid": self.uid,
            "version": 1,
            "weekStart": "",
        }


def datasource_variable() -> Json:
    return {
        "name": "datasource",
        "label": "Data source",
        "type": "datasource",
        "query": "prometheus",
        "current": {},
        "hide": 0,
        "includeAll": False,
        "multi": False,
        "options": [],
        "refresh": 1,
        "regex": "",
        "skipUrlSync": False,
    }


def query_variable(name: str, label: str, query: str, *, include_all: bool, multi: bool) -> Json:
    variable: Json = {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "definition": query,
        "query": {"query": query, "refId": f"{name}-variable"},
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]} if include_all else {},
        "hide": 0,
        "includeAll": include_all,
        "multi": multi,
        "options": [],
        "refresh": 2,
        "regex": "",
        "skipUrlSync": False,
        "sort": 1,
    }
    if include_all:
        # ".*" also matches a missing label: the dashboards work when Prometheus has no cluster label at all.
        variable["allValue"] = ".*"
    return variable


def cluster_variable() -> Json:
    return query_variable(
        "cluster", "Cluster", "label_values(velero_exporter_build_info, cluster)", include_all=True, multi=True
    )


def dashboard_link(title: str, uid: str, tooltip: str) -> Json:
    return {
        "title": title,
        "type": "link",
        "url": f"/d/{uid}",
        "tooltip": tooltip,
        "icon": "dashboard",
        "includeVars": True,
        "keepTime": True,
        "asDropdown": False,
        "targetBlank": False,
        "tags": [],
    }


# Why panels may show nothing: they read Velero's own metrics, or what the AWS sources measure.
VELERO_OWN_EMPTY = "it reads Velero's own metrics, which Prometheus holds only where it scrapes Velero's server."
AWS_EMPTY = "the AWS sources are off (aws.enabled: false) or have nothing of this kind to measure."
VELERO_OWN = (
    " Source: Velero's own metrics (its server's /metrics), not the exporter's: they restart at 0 with Velero's pod,"
    " so they show rates and durations, never the state."
)
# A DR cluster runs no schedules: its backups are its primary's, synced from the DR bucket.
NO_SCHEDULE = "the cluster has no Schedule (a DR cluster's backups are its primary's, synced from the DR bucket)."


# --- overview --------------------------------------------------------------------------------------------


def _tier_table() -> Panel:
    tiers = configured_tiers()
    columns = [
        Query(sel("velero:tier_rpo_seconds"), name="RPO objective", unit="dtdurations"),
        Query(
            f"{sel('velero:tier_recovery_point_age_seconds')}\nand on (cluster, tier)\n{tiers}",
            name="Recovery point age",
            unit="dtdurations",
        ),
        Query(sel("velero:tier_rpo_compliant"), name="RPO met", unit="none", mappings=OK_BAD),
        Query(
            worst_phase("tier", "velero_schedule_last_backup_phase", "schedule, tier"),
            name="Last backup result",
            unit="none",
            mappings=PHASES,
        ),
        Query(sel("velero:tier_rto_seconds"), name="RTO objective", unit="dtdurations"),
        Query(sel("velero:tier_restore_duration_seconds:max"), name="Newest restore took", unit="dtdurations"),
        Query(sel("velero:tier_rto_compliant"), name="RTO met", unit="none", mappings=OK_BAD),
        Query(
            restore_test_age(),
            name="Last good restore",
            unit="dtdurations",
            thresholds=RESTORE_TEST_AGE,
            mappings=NEVER,
        ),
        Query(f"({drill_code()})\nand on (cluster, tier)\n{tiers}", name="Newest drill", unit="none", mappings=DRILLS),
    ]
    return table(
        6,
        "Tiers",
        "One row per configured tier: its RPO objective, the age of its newest recovery point (the start of its"
        " newest Completed backup: velero:tier_recovery_point_age_seconds), whether that meets the RPO"
        " (velero:tier_rpo_compliant; a tier without any recovery point counts as not met), the worst last result"
        " of the tier's schedules, the RTO objective against the duration of the newest restore from the tier"
        " (velero:tier_rto_compliant), how long ago a restore from the tier last Completed (never: no"
        " restore test on record), and the result of its newest restore drill (none: no drill). Click a tier for"
        " its detail dashboard.",
        columns,
        explains=("RPOViolation", "VeleroBackupFailure", "VeleroRestoreSlowerThanRTO", "VeleroRestoreTestOverdue"),
        label_links={"tier": [tier_detail_link()]},
        width=24,
        height=8,
    )


def failing_schedules() -> str:
    """Schedules whose newest finished backup failed, failed validation, or partially failed where the tier does
    not accept it: exactly those VeleroBackupFailure fires for."""
    accepted = f"(max by (cluster, tier) ({sel('velero_tier_partially_failed_accepted')}) == 1)"
    return (
        f"(\n  {per('schedule, tier, phase', 'velero_schedule_last_backup_phase', FAILED)}"
        f" == 1\n  or\n  ({per('schedule, tier, phase', 'velero_schedule_last_backup_phase', PARTIALLY_FAILED)}"
        f" == 1\n    unless on (cluster, tier) {accepted})\n)"
    )


def _failing_schedules() -> Panel:
    failing = failing_schedules()

    def column(expr: str) -> str:
        return f"({expr})\n* on (cluster, schedule) group_left (tier, phase)\n{failing}"

    columns = [
        Query(failing, name="failing", unit="none"),
        Query(
            column(age(per("schedule", "velero_schedule_last_failure_timestamp_seconds"))),
            name="Finished",
            unit="dtdurations",
        ),
        Query(
            column(age(per("schedule", "velero_schedule_last_success_timestamp_seconds"))),
            name="Last success",
            unit="dtdurations",
        ),
        Query(column(per("schedule", "velero_schedule_last_backup_errors")), name="Errors", unit="short"),
        Query(column(per("schedule", "velero_schedule_last_backup_warnings")), name="Warnings", unit="short"),
    ]
    return table(
        11,
        "Failing schedules",
        "Schedules whose newest finished backup ended Failed, FailedValidation or PartiallyFailed (unless the tier"
        " accepts PartiallyFailed): exactly the schedules VeleroBackupFailure fires for. A new run starting does"
        " not clear a row; only a newer backup that finishes Completed does. Ages are times since.",
        columns,
        hide=("Value #A",),
        explains=("VeleroBackupFailure",),
        label_links={"tier": [tier_detail_link()]},
        empty="no schedule's newest finished backup failed.",
    )


def overview() -> Dashboard:
    missed = seconds(MIXIN.schedule_missed_after)
    objectives = Row(
        1,
        "Recovery objectives per tier",
        [
            stat(
                2,
                "Tiers violating their RPO",
                "Configured tiers whose newest recovery point is older than their RPO, or that have none"
                " (velero:tier_rpo_compliant == 0). RPOViolation pages for each after its `for`.",
                "short",
                [Query(count_or_zero(f"{sel('velero:tier_rpo_compliant')} == 0"))],
                thresholds=GOOD_IF_ZERO,
                explains=("RPOViolation",),
            ),
            stat(
                3,
                "Schedules failing",
                "Schedules whose newest finished backup did not complete, PartiallyFailed counting only where the"
                " tier does not accept it: the rows of the Failing schedules table.",
                "short",
                [Query(count_or_zero(failing_schedules()))],
                thresholds=GOOD_IF_ZERO,
                explains=("VeleroBackupFailure",),
            ),
            stat(
                4,
                "Unavailable storage locations",
                "BackupStorageLocations whose phase is not Available: backups to them fail.",
                "short",
                [Query(count_or_zero(f"{per('location', 'velero_storage_location_available')} == 0"))],
                thresholds=GOOD_IF_ZERO,
                explains=("VeleroStorageLocationUnavailable",),
            ),
            stat(
                5,
                "Newest successful backup",
                "Time since the newest Completed backup of any tier finished"
                " (velero:cluster_last_success_timestamp_seconds). VeleroBackupMissing fires past"
                f" {MIXIN.backup_missing_cluster_window}.",
                "dtdurations",
                [Query(age(sel("velero:cluster_last_success_timestamp_seconds")), legend="{{cluster}}")],
                thresholds=steps(("green", None), ("red", seconds(MIXIN.backup_missing_cluster_window))),
                explains=("VeleroBackupMissing",),
                empty="no backup of the cluster has completed yet.",
            ),
            _tier_table(),
            state_timeline(
                7,
                "RPO compliance over time",
                "For each tier, whether its recovery point met the RPO at each moment (velero:tier_rpo_compliant):"
                " the auditor's evidence that the objective held, kept by Prometheus after Velero deleted the"
                " backups.",
                [Query(sel("velero:tier_rpo_compliant"), legend="{{tier}}")],
                mappings=value_map({1: ("RPO met", "green"), 0: ("RPO violated", "red")}),
                explains=("RPOViolation",),
            ),
        ],
    )
    schedules = Row(
        10,
        "Schedules and backups",
        [
            _failing_schedules(),
            bargauge(
                12,
                "Time since each schedule's last success",
                "Time since the newest Completed backup of each schedule finished. VeleroBackupMissing fires when"
                f" it exceeds {MIXIN.backup_missing_intervals} of the schedule's intervals.",
                "dtdurations",
                [
                    Query(
                        f"{age(per('schedule', 'velero_schedule_last_success_timestamp_seconds'))}",
                        legend="{{schedule}}",
                    )
                ],
                explains=("VeleroBackupMissing",),
                empty="no schedule has a Completed backup.",
            ),
            timeseries(
                13,
                "Backup success ratio per tier",
                "Per tier, the share of the finished Backup objects still held (within retention) that Completed:"
                " Completed / (Completed + PartiallyFailed + Failed + FailedValidation), from velero_tier_backups."
                " Unlike Velero's counters it survives Velero's restarts.",
                "percentunit",
                [
                    Query(
                        f"sum by (cluster, tier) ({per('tier, phase', 'velero_tier_backups', COMPLETED)})\n/\n"
                        f"(sum by (cluster, tier) ({per('tier, phase', 'velero_tier_backups', FINISHED)}) > 0)",
                        legend="{{tier}}",
                    )
                ],
                explains=("VeleroBackupFailure",),
            ),
            timeseries(
                14,
                "Backup outcomes (Velero's counters)",
                "Backups that Velero finished per interval, by outcome and schedule."
                + VELERO_OWN
                + " The panel's minimum interval is 1h, so sparse hourly and daily runs show as bars.",
                "short",
                [
                    Query(
                        rate(f"velero_backup_{outcome}_total", "schedule", "increase"),
                        legend=f"{{{{schedule}}}} {label}",
                    )
                    for outcome, label in (
                        ("success", "completed"),
                        ("partial_failure", "partially failed"),
                        ("failure", "failed"),
                        ("validation_failure", "failed validation"),
                    )
                ],
                bars=True,
                stacked=True,
                interval="1h",
                empty=VELERO_OWN_EMPTY,
            ),
            timeseries(
                15,
                "Backup duration per schedule",
                "Duration (completion minus start) of each schedule's newest finished backup, from the exporter; the"
                " line steps when a new backup finishes, so its history is the trend of backup durations.",
                "s",
                [Query(per("schedule", "velero_schedule_last_backup_duration_seconds"), legend="{{schedule}}")],
                empty=NO_SCHEDULE,
            ),
            timeseries(
                16,
                "Backup duration p50 and p95 (Velero's histogram)",
                "Quantiles of backup durations from Velero's velero_backup_duration_seconds histogram, per schedule."
                + VELERO_OWN
                + " The panel's minimum interval is 1h, so that the rate window holds at least one backup.",
                "s",
                [
                    Query(
                        f"histogram_quantile({q}, sum by (cluster, schedule, le) "
                        f"(rate({sel('velero_backup_duration_seconds_bucket')}[$__rate_interval])))",
                        legend=f"{{{{schedule}}}} p{int(q * 100)}",
                    )
                    for q in (0.5, 0.95)
                ],
                interval="1h",
                empty=VELERO_OWN_EMPTY,
            ),
            stat(
                17,
                "Missed schedule runs",
                f"Schedules whose next run is more than {MIXIN.schedule_missed_after} overdue (not paused,"
                " not FailedValidation): Velero did not start them.",
                "short",
                [
                    Query(
                        count_or_zero(
                            f"{age(per('schedule', 'velero_schedule_next_run_timestamp_seconds'))} > {missed}"
                            f"\nunless on (cluster, schedule) ({per('schedule', 'velero_schedule_paused')} == 1)"
                        )
                    )
                ],
                thresholds=GOOD_IF_ZERO,
                explains=("VeleroScheduleMissedRun",),
            ),
            stat(
                18,
                "Unfinished backups",
                "Backups that have not finished (New, Queued, InProgress, WaitingForPluginOperations, Finalizing"
                " ...). One or two at a scheduled time is normal; the tier detail lists them with their age.",
                "short",
                [Query(count_or_zero(sel("velero_backup_unfinished_since_timestamp_seconds")))],
                thresholds=steps(("green", None), ("orange", 3)),
                explains=("VeleroBackupStuck",),
            ),
            stat(
                19,
                "Paused schedules",
                "Schedules that are paused: no backups run for them.",
                "short",
                [Query(count_or_zero(f"{per('schedule', 'velero_schedule_paused')} == 1"))],
                thresholds=GOOD_IF_ZERO,
                explains=("VeleroSchedulePaused",),
            ),
            stat(
                20,
                "Backups Velero failed to delete",
                "Backups still present longer than the GC grace after their expiration, summed over tiers.",
                "short",
                [Query(f"sum({per('tier', 'velero_tier_backups_past_expiration')})")],
                thresholds=GOOD_IF_ZERO,
                explains=("VeleroBackupGarbageCollectionFailed",),
            ),
        ],
    )
    info = per("location, provider, bucket, prefix, region, default, access_mode", "velero_storage_location_info")

    def location_column(expr: str) -> str:
        labels = "provider, bucket, prefix, region, default, access_mode"
        return f"({expr})\n* on (cluster, location) group_left ({labels})\n{info}"

    locations = Row(
        30,
        "Storage locations",
        [
            table(
                31,
                "Backup storage locations",
                "Each BackupStorageLocation with its bucket and region, whether it is Available, and how long ago"
                " Velero validated it and synced backups from it, and how often it validates it (its own"
                " validationFrequency, else the server's, every minute by default; 0: disabled). A validation"
                " older than that means Velero itself is not running.",
                [
                    Query(
                        location_column(per("location", "velero_storage_location_available")),
                        name="Phase",
                        unit="none",
                        mappings=AVAILABLE,
                    ),
                    Query(
                        location_column(
                            age(per("location", "velero_storage_location_last_validation_timestamp_seconds"))
                        ),
                        name="Validated",
                        unit="dtdurations",
                        thresholds=steps(("green", None), ("red", seconds(MIXIN.location_validation_grace))),
                    ),
                    Query(
                        location_column(per("location", "velero_storage_location_validation_frequency_seconds")),
                        name="Validated every",
                        unit="dtdurations",
                        mappings=VALIDATION_DISABLED,
                    ),
                    Query(
                        location_column(age(per("location", "velero_storage_location_last_sync_timestamp_seconds"))),
                        name="Synced",
                        unit="dtdurations",
                    ),
                ],
                explains=("VeleroStorageLocationUnavailable", "VeleroStorageLocationNotValidated"),
                width=16,
                height=6,
                empty="the cluster has no BackupStorageLocation.",
            ),
            state_timeline(
                32,
                "Storage location availability",
                "Whether each BackupStorageLocation was Available over time.",
                [Query(per("location", "velero_storage_location_available"), legend="{{location}}")],
                mappings=AVAILABLE,
                explains=("VeleroStorageLocationUnavailable",),
                width=8,
                height=6,
                empty="the cluster has no BackupStorageLocation.",
            ),
        ],
    )
    restores = Row(
        40,
        "Restores and restore tests",
        [
            _restore_table(41, "Newest restore per tier and schedule", tier_filter=()),
            bargauge(
                42,
                "Time since the last good restore per tier",
                "Per tier, how long ago a restore from one of its backups last Completed: the restore drill's"
                f" evidence. VeleroRestoreTestOverdue fires past {MIXIN.restore_test_max_age}.",
                "dtdurations",
                [Query(age(sel("velero:tier_last_restore_success_timestamp_seconds")), legend="{{tier}}")],
                thresholds=steps(("green", None), ("red", seconds(MIXIN.restore_test_max_age))),
                explains=("VeleroRestoreTestOverdue",),
                width=6,
                empty="no restore of the tier is on record, or RBAC forbids the exporter to read restores.",
            ),
            stat(
                43,
                "Tiers never restore-tested",
                "Configured tiers with no Completed restore on record: their RTO has never been shown.",
                "short",
                [
                    Query(
                        count_or_zero(
                            f"{configured_tiers()}\nunless on (cluster, tier)\n"
                            f"{sel('velero:tier_last_restore_success_timestamp_seconds')}"
                        )
                    )
                ],
                thresholds=steps(("green", None), ("orange", 1)),
                explains=("VeleroRestoreTestOverdue",),
                width=6,
                height=8,
            ),
            timeseries(
                44,
                "Restore objects by phase",
                "Restore objects that Velero holds, by phase (summed over tiers).",
                "short",
                [
                    Query(
                        f"sum by (cluster, phase) ({per('tier, phase', 'velero_restores')}) > 0",
                        legend="{{phase}}",
                    )
                ],
                stacked=True,
                width=24,
                height=6,
                empty="no restore of the tier is on record, or RBAC forbids the exporter to read restores.",
            ),
        ],
    )
    return Dashboard(
        "velero-overview.json",
        OVERVIEW_UID,
        "Velero / Overview",
        "Are the backups good enough to restore from? One row per tier against its RPO and RTO, failing schedules,"
        " storage locations, restores, what no tier protects, bucket storage, snapshots per region, DR posture,"
        " volume data operations and repositories, and the exporter's health.",
        [
            objectives,
            schedules,
            locations,
            restores,
            _coverage_row(110),
            _storage_row(60),
            _snapshot_row(70),
            _posture_row(90),
            _volume_data_row(100),
            _exporter_row(80),
        ],
        [datasource_variable(), cluster_variable()],
        [
            dashboard_link("Tier detail", TIER_UID, "One tier: schedules, newest backups, restores and storage"),
            dashboard_link("Exporter health", HEALTH_UID, "The exporter's sources and Kubernetes resources"),
        ],
    )


def _restore_table(pid: int, title: str, tier_filter: tuple[str, ...]) -> Panel:
    last = worst_phase("tier, schedule", "velero_restore_last_phase", "tier, schedule", *tier_filter)
    columns = [
        Query(last, name="Phase", unit="none", mappings=PHASES),
        Query(
            age(per("tier, schedule", "velero_restore_last_completion_timestamp_seconds", *tier_filter)),
            name="Finished",
            unit="dtdurations",
        ),
        Query(
            per("tier, schedule", "velero_restore_last_duration_seconds", *tier_filter),
            name="Took",
            unit="dtdurations",
        ),
        Query(
            f"{per('tier, schedule', 'velero_restore_last_duration_seconds', *tier_filter)}\n"
            f"<= bool on (cluster, tier) group_left ()\n{sel('velero:tier_rto_seconds')}",
            name="Within RTO",
            unit="none",
            mappings=OK_BAD,
        ),
    ]
    return table(
        pid,
        title,
        "The newest finished restore from each tier's (and schedule's: empty for ad-hoc backups) backups: its"
        " phase, when it finished, how long it took (RTO evidence) and whether that is within the tier's RTO."
        " VeleroRestoreFailure fires for a Failed or PartiallyFailed restore within"
        f" {MIXIN.restore_failure_window}.",
        columns,
        explains=("VeleroRestoreFailure", "VeleroRestoreSlowerThanRTO"),
        label_links={"tier": [tier_detail_link()]},
        empty="no restore of the tier is on record, or RBAC forbids the exporter to read restores.",
    )


UNPROTECTED = 'state="unprotected"'
COVERAGE_NOTE = (
    " Served with the exporter's coverage source on (coverage.enabled), which reads namespaces, pods, claims and"
    " volumes cluster-wide."
)
COVERAGE_EMPTY = "the coverage source is off (coverage.enabled: false)."
NO_VOLUME_DATA = (
    "no schedule's newest or previous finished backup saved a volume (no PodVolumeBackup, DataUpload or volume"
    " snapshot)."
)


def _coverage_row(rid: int) -> Row:
    namespaces_covered = f"sum by (cluster, tier) ({per('namespace, tier', 'velero_namespace_covered')})"
    volumes_protected = (
        f"count by (cluster, tier) ({per('namespace, persistentvolumeclaim, tier', 'velero_pvc_protected')})"
    )
    unprotected_volumes = per("namespace, persistentvolumeclaim, reason", "velero_pvc_unprotected")
    return Row(
        rid,
        "Coverage: what no tier protects",
        [
            stat(
                rid + 1,
                "Namespaces no tier protects",
                "Namespaces that no enabled, unpaused Schedule of any tier selects (as Velero selects: namespace"
                " filters, label selectors), not ignored by the exporter's config or annotation and older than its"
                " grace. VeleroNamespaceUnprotected fires for each." + COVERAGE_NOTE,
                "short",
                [Query(count_or_zero(f"{per('namespace', 'velero_namespace_unprotected')} == 1"))],
                thresholds=GOOD_IF_ZERO,
                explains=("VeleroNamespaceUnprotected",),
            ),
            stat(
                rid + 2,
                "Volumes no tier protects",
                "Bound PersistentVolumeClaims whose data no tier's backups carry (velero_coverage_pvcs"
                ' {state="unprotected"}). VeleroVolumeUnprotected fires for each.' + COVERAGE_NOTE,
                "short",
                [Query(f"sum({per('state', 'velero_coverage_pvcs', UNPROTECTED)})")],
                thresholds=GOOD_IF_ZERO,
                explains=("VeleroVolumeUnprotected",),
                empty=COVERAGE_EMPTY,
            ),
            table(
                rid + 3,
                "Coverage per tier",
                "Per tier, the namespaces one of its Schedules selects and the claims whose data its backups carry"
                " (by any method): what has an hourly recovery point and what only a weekly one." + COVERAGE_NOTE,
                [
                    Query(namespaces_covered, name="Namespaces covered", unit="short"),
                    Query(volumes_protected, name="Volumes protected", unit="short"),
                ],
                label_links={"tier": [tier_detail_link()]},
                width=12,
                height=6,
                empty=COVERAGE_EMPTY + " A tier that protects no claim has no Volumes protected.",
            ),
            table(
                rid + 4,
                "Unprotected volumes",
                "Each claim no tier protects, with the reason from the tier that came closest to carrying it:"
                " namespace_not_selected, labels_not_selected, resources_excluded, snapshots_disabled,"
                " volume_excluded (a pod annotation, the exclude label, a pod fs-backup cannot read), policy_skip"
                " (a volume policy), unknown (what decides it is out of the exporter's sight)." + COVERAGE_NOTE,
                [Query(f"{unprotected_volumes} == 1", name="unprotected", unit="none")],
                hide=("Value",),
                explains=("VeleroVolumeUnprotected",),
                width=12,
                height=6,
                empty="every claim is protected or ignored, or " + COVERAGE_EMPTY,
            ),
            table(
                rid + 5,
                "Unprotected namespaces",
                "The namespaces no tier selects (not ignored, past the grace)." + COVERAGE_NOTE,
                [Query(f"{per('namespace', 'velero_namespace_unprotected')} == 1", name="unprotected", unit="none")],
                hide=("Value",),
                explains=("VeleroNamespaceUnprotected",),
                width=8,
                height=6,
                empty="every namespace is protected or ignored, or " + COVERAGE_EMPTY,
            ),
            timeseries(
                rid + 6,
                "Coverage over time",
                "Namespaces and claims by state (protected, unprotected, ignored) over time: the trend of what the"
                " tiers protect as the cluster grows." + COVERAGE_NOTE,
                "short",
                [
                    Query(per("state", "velero_coverage_namespaces"), legend="namespaces {{state}}"),
                    Query(per("state", "velero_coverage_pvcs"), legend="volumes {{state}}"),
                ],
                width=16,
                height=6,
                empty=COVERAGE_EMPTY,
            ),
        ],
    )


def _storage_row(rid: int) -> Row:
    bucket = "location, bucket, region"
    return Row(
        rid,
        "Bucket storage",
        [
            timeseries(
                rid + 1,
                "Bucket size",
                "Bytes stored under each location's prefix in its bucket, as last measured by the exporter's bucket"
                " source (list or CloudWatch mode).",
                "bytes",
                [Query(per(bucket, "velero_bucket_size_bytes"), legend="{{bucket}} ({{region}})")],
                empty=AWS_EMPTY,
            ),
            timeseries(
                rid + 2,
                "Bucket growth per day",
                "Per bucket, the growth of its size over the last day as a linear trend (deriv over 1d, times"
                " 86400). VeleroBucketGrowth fires when a bucket grows by more than"
                f" {MIXIN.bucket_growth_fraction:.0%} in {MIXIN.bucket_growth_window}.",
                "bytes",
                [
                    Query(
                        f"86400 * max by (cluster, {bucket}) (deriv({sel('velero_bucket_size_bytes')}[1d]))",
                        legend="{{bucket}} ({{region}})",
                    )
                ],
                explains=("VeleroBucketGrowth",),
                min_zero=False,
                empty=AWS_EMPTY,
            ),
            bargauge(
                rid + 3,
                "Storage per tier and bucket",
                "Bytes of the backup folders of each tier in each bucket.",
                "bytes",
                [Query(per(f"{bucket}, tier", "velero_bucket_tier_size_bytes"), legend="{{tier}} in {{bucket}}")],
                empty=AWS_EMPTY,
            ),
            timeseries(
                rid + 4,
                "Storage by Velero folder",
                "Bytes per bucket by Velero's layout: backups/, restores/, kopia/, restic/ and anything else.",
                "bytes",
                [Query(per(f"{bucket}, kind", "velero_bucket_prefix_size_bytes"), legend="{{bucket}} {{kind}}")],
                stacked=True,
                empty=AWS_EMPTY,
            ),
            bargauge(
                rid + 5,
                "Newest backup in each bucket",
                "Age of the newest Completed backup found in each bucket (its velero-backup.json): the freshness of"
                " the DR copy. VeleroBucketRecoveryPointStale fires past"
                f" {MIXIN.bucket_recovery_point_max_age}.",
                "dtdurations",
                [
                    Query(
                        age(per(bucket, "velero_bucket_recovery_point_timestamp_seconds")),
                        legend="{{bucket}} ({{region}})",
                    )
                ],
                thresholds=steps(("green", None), ("red", seconds(MIXIN.bucket_recovery_point_max_age))),
                explains=("VeleroBucketRecoveryPointStale",),
                height=6,
                empty=AWS_EMPTY,
            ),
            stat(
                rid + 6,
                "Completed backups missing from their bucket",
                "Completed backups of a location whose folder the bucket source did not find: they cannot be"
                " restored, although Velero lists them.",
                "short",
                [Query(per(bucket, "velero_bucket_missing_backups"), legend="{{bucket}}")],
                thresholds=GOOD_IF_ZERO,
                width=12,
                height=6,
                empty=AWS_EMPTY,
            ),
        ],
    )


def _snapshot_row(rid: int) -> Row:
    # Encrypted and unencrypted snapshots add up; replicas of the exporter do not.
    by_state = f"sum by (cluster, region, state) (\n  {per('region, state, encrypted', 'velero_snapshots')}\n)"
    # Regions as columns: the primary's age beside the DR region's for each tier.
    freshness = table(
        rid + 1,
        "Snapshot freshness per region",
        "Per tier (rows) and region (columns, the primary beside the DR region): how old the data in the newest"
        " completed Velero EBS snapshot is (the start of its backup, which the exporter must know; a snapshot"
        " without a backup tag, from the EBS CSI driver, by its own start). VeleroSnapshotCopyStale fires when a"
        " region falls behind or holds none.",
        [
            Query(
                age(per("region, tier", "velero_snapshot_last_completed_timestamp_seconds")),
                name="age",
                unit="dtdurations",
            )
        ],
        pivot=("tier", "region"),
        explains=("VeleroSnapshotCopyStale",),
        empty=AWS_EMPTY,
    )
    return Row(
        rid,
        "Volume snapshots per region",
        [
            freshness,
            timeseries(
                rid + 2,
                "Snapshots by state per region",
                "EBS snapshots matching the exporter's tag filter, by region and state (pending, completed, error)."
                " Velero reports an EBS snapshot completed as soon as AWS accepted it: one that AWS later puts in"
                " state error is a volume its backup cannot restore (VeleroSnapshotsFailed).",
                "short",
                [Query(by_state, legend="{{region}} {{state}}")],
                stacked=True,
                explains=("VeleroSnapshotsFailed",),
                empty=AWS_EMPTY,
            ),
        ],
    )


def _posture_row(rid: int) -> Row:
    """Would the copies survive ransomware, a mistaken lifecycle rule or a lost account?"""
    bucket = "location, bucket, region"
    posture = f"group by (cluster, {bucket}) ({sel('velero_bucket_posture_measured_timestamp_seconds')})"

    def of_bucket(expr: str) -> str:
        """A column for every bucket the posture source has read, so that each row has all its cells."""
        return f"({expr})\nand on (cluster, {bucket})\n{posture}"

    retention = (
        f"max by (cluster, {bucket}) (\n  group by (cluster, {bucket}, tier) ({sel('velero_bucket_tier_size_bytes')}"
        f" > 0)\n  * on (cluster, tier) group_left ()\n  {per('tier', 'velero_tier_retention_seconds')}\n)"
    )
    expiration = per(bucket, "velero_bucket_lifecycle_expiration_seconds")
    encrypted = per(bucket, "velero_bucket_encryption", 'algorithm!="none"')
    unencrypted = per(bucket, "velero_bucket_encryption", 'algorithm="none"')
    expiring = per("tier", "velero_tier_recovery_point_expiration_timestamp_seconds")
    return Row(
        rid,
        "DR posture",
        [
            table(
                rid + 1,
                "Bucket posture",
                "How each bucket keeps its backups, as the posture source last read it: versioning, default"
                " encryption, the public access block (all four flags), Object Lock's default retention and whether"
                " the config expects Object Lock there (a DR replica), and whether a replication rule covers its"
                " backups/. A value the bucket's policy denied keeps its last reading.",
                [
                    Query(
                        of_bucket(per(bucket, "velero_bucket_versioning_enabled")),
                        name="Versioned",
                        unit="none",
                        mappings=OK_BAD,
                    ),
                    Query(
                        of_bucket(f"{encrypted}\nor\n0 * {unencrypted}"),
                        name="Encrypted",
                        unit="none",
                        mappings=OK_BAD,
                    ),
                    Query(
                        of_bucket(per(bucket, "velero_bucket_public_access_blocked")),
                        name="Public access blocked",
                        unit="none",
                        mappings=OK_BAD,
                    ),
                    Query(
                        of_bucket(per(bucket, "velero_bucket_object_lock_retention_seconds")),
                        name="Object Lock retention",
                        unit="dtdurations",
                    ),
                    Query(
                        of_bucket(per(bucket, "velero_bucket_object_lock_required")),
                        name="Object Lock required",
                        unit="none",
                        mappings=value_map({1: ("required", "blue")}),
                    ),
                    Query(
                        of_bucket(per(bucket, "velero_bucket_replication_enabled")),
                        name="Replicated",
                        unit="none",
                        mappings=OK_BAD,
                    ),
                ],
                explains=(
                    "VeleroBucketNotVersioned",
                    "VeleroBucketUnencrypted",
                    "VeleroBucketPublicAccessNotBlocked",
                    "VeleroDRBucketNotImmutable",
                ),
                width=24,
                height=7,
                empty=AWS_EMPTY + " A bucket without a default Object Lock retention has none.",
            ),
            table(
                rid + 2,
                "Lifecycle expiration against retention",
                "Per bucket: after how long the shortest lifecycle rule that reaches backups/ expires them, the"
                " longest retention of a tier stored there (velero_bucket_tier_size_bytes), and whether the rule"
                " keeps them that long. VeleroBucketLifecycleBelowRetention fires when it does not.",
                [
                    Query(expiration, name="Expires after", unit="dtdurations"),
                    Query(
                        f"{retention}\nand on (cluster, {bucket})\n{expiration}",
                        name="Longest retention stored",
                        unit="dtdurations",
                    ),
                    Query(
                        f"{expiration}\n>= bool on (cluster, {bucket}) group_left ()\n{retention}",
                        name="Keeps the retention",
                        unit="none",
                        mappings=OK_BAD,
                    ),
                ],
                explains=("VeleroBucketLifecycleBelowRetention",),
                width=12,
                height=6,
                empty=AWS_EMPTY + " Only buckets with a lifecycle rule on backups/ have a row.",
            ),
            table(
                rid + 3,
                "DR replicas",
                "Each source bucket and its replica: the Completed backup folders of the source, of backups completed"
                " longer than the replica grace before the replica was listed, that the replica does not hold."
                " VeleroReplicaIncomplete fires above 0.",
                [
                    Query(
                        per("bucket, replica_bucket", "velero_bucket_replica_missing_backups"),
                        name="Missing backups",
                        unit="short",
                        thresholds=GOOD_IF_ZERO,
                        colour=True,
                    )
                ],
                explains=("VeleroReplicaIncomplete",),
                width=12,
                height=6,
                empty=AWS_EMPTY + " Only where a bucket is a DR replica (declared, or by replication).",
            ),
            table(
                rid + 4,
                "Snapshot encryption and locks",
                "Per region and tier: completed Velero EBS snapshots that are not encrypted, and those under an EBS"
                " snapshot lock (empty where the region's DescribeLockedSnapshots does not answer).",
                [
                    Query(
                        per("region, tier", "velero_snapshot_unencrypted"),
                        name="Unencrypted",
                        unit="short",
                        thresholds=GOOD_IF_ZERO,
                        colour=True,
                    ),
                    Query(per("region, tier", "velero_snapshot_locked"), name="Locked", unit="short"),
                ],
                explains=("VeleroSnapshotUnencrypted",),
                width=8,
                height=6,
                empty=AWS_EMPTY + " Locks are read only with aws.snapshot_lock.",
            ),
            table(
                rid + 5,
                "AWS accounts",
                "The account each bucket (source buckets) and region (source snapshots) is read with, and for the"
                " DR copies, when aws.require_separate_dr_account is set, whether that is the primary's account.",
                [
                    Query(per("source, target, account_id", "velero_aws_target_info"), name="info", unit="none"),
                    Query(
                        f"{per('source, target', 'velero_aws_dr_target_in_primary_account')}\n"
                        f"* on (cluster, source, target) group_left (account_id)\n"
                        f"{per('source, target, account_id', 'velero_aws_target_info')}",
                        name="DR copy in the primary's account",
                        unit="none",
                        mappings=value_map({1: ("YES", "red"), 0: ("no", "green")}),
                    ),
                ],
                hide=("Value #A",),
                explains=("VeleroDRCopySameAccount",),
                width=8,
                height=6,
                empty=AWS_EMPTY + " The DR column only with aws.require_separate_dr_account.",
            ),
            bargauge(
                rid + 6,
                "Newest recovery point expires in",
                "Per tier, how long until Velero deletes the tier's newest recovery point (its expiration): while"
                " every later backup fails, Velero still deletes it at its TTL. VeleroLastRecoveryPointExpiring"
                f" fires within {MIXIN.recovery_point_expiring_window}.",
                "dtdurations",
                [Query(f"{expiring} - time()\nand on (cluster, tier)\n{configured_tiers()}", legend="{{tier}}")],
                thresholds=steps(("red", None), ("green", seconds(MIXIN.recovery_point_expiring_window))),
                explains=("VeleroLastRecoveryPointExpiring",),
                width=8,
                height=6,
                empty="the tier has no recovery point.",
            ),
        ],
    )


def _volume_data_row(rid: int) -> Row:
    stall = seconds(MIXIN.volume_operation_stall_threshold)
    overdue = MIXIN.repository_maintenance_overdue_factor
    repository = "repository, repository_type, location, volume_namespace"

    def of_repository(per_repository: str) -> str:
        """Gives a per-repository series the labels of velero_repository_ready, so the table's columns merge."""
        return (
            f"({per_repository})\n* on (cluster, repository) group_left ({repository.split(', ', 1)[1]})\n"
            f"group by (cluster, {repository}) ({sel('velero_repository_ready')})"
        )

    last_maintenance = per("repository", "velero_repository_last_maintenance_timestamp_seconds")
    frequency = per("repository", "velero_repository_maintenance_frequency_seconds")
    return Row(
        rid,
        "Volume data operations and repositories",
        [
            table(
                rid + 1,
                "Volume operations in flight",
                "Each PodVolumeBackup, PodVolumeRestore, DataUpload or DataDownload that has not finished, with the"
                " time since it last moved (its bytesDone or phase; the exporter's first sight of it after a restart"
                f" of the exporter, once it has moved bytes). VeleroVolumeOperationStalled fires past"
                f" {MIXIN.volume_operation_stall_threshold}.",
                [
                    Query(
                        age(per("kind, operation, backup", "velero_volume_operation_progress_timestamp_seconds")),
                        name="Last moved",
                        unit="dtdurations",
                        thresholds=steps(("green", None), ("red", stall)),
                    )
                ],
                explains=("VeleroVolumeOperationStalled",),
                empty="no volume data operation is in flight.",
            ),
            timeseries(
                rid + 2,
                "Volume operations by kind and phase",
                "PodVolumeBackups, PodVolumeRestores, DataUploads and DataDownloads that Velero holds, by kind and"
                " phase (they go with their backup or restore). Failed and Canceled ones lost their volume's data.",
                "short",
                [Query(f"{per('kind, phase', 'velero_volume_operations')} > 0", legend="{{kind}} {{phase}}")],
                stacked=True,
                empty="Velero holds no PodVolumeBackup, PodVolumeRestore, DataUpload or DataDownload.",
            ),
            table(
                rid + 3,
                "Backup repositories",
                "Each BackupRepository (the kopia or restic repository of one namespace's volumes in one location):"
                " ready or not, time since its last successful maintenance, its maintenance frequency, and the"
                " result of its newest maintenance (Velero 1.16+). VeleroRepositoryMaintenanceOverdue fires past"
                f" {overdue} frequencies (never for a ReadOnly location's, which Velero does not maintain).",
                [
                    Query(
                        per(repository, "velero_repository_ready"),
                        name="Ready",
                        unit="none",
                        mappings=value_map({1: ("Ready", "green"), 0: ("NOT READY", "red")}),
                    ),
                    Query(of_repository(age(last_maintenance)), name="Last maintained", unit="dtdurations"),
                    Query(of_repository(frequency), name="Frequency", unit="dtdurations"),
                    Query(
                        of_repository(f"({age(last_maintenance)})\n/\n{frequency}"),
                        name="Age in frequencies",
                        unit="none",
                        thresholds=steps(("green", None), ("red", overdue)),
                    ),
                    Query(
                        of_repository(
                            per("repository", "velero_repository_last_maintenance_result", 'result="Failed"')
                        ),
                        name="Newest maintenance",
                        unit="none",
                        mappings=value_map({0: ("Succeeded", "green"), 1: ("FAILED", "red")}),
                    ),
                ],
                explains=(
                    "VeleroRepositoryNotReady",
                    "VeleroRepositoryMaintenanceOverdue",
                    "VeleroRepositoryMaintenanceFailed",
                ),
                width=24,
                empty="Velero holds no BackupRepository (no file-system backup or data mover has run).",
            ),
        ],
    )


def _exporter_row(rid: int) -> Row:
    return Row(
        rid,
        "Exporter and sources",
        [
            _exporter_up(rid + 1),
            _sources_down(rid + 2),
            _forbidden(rid + 3),
            _version(rid + 4),
            _source_timeline(rid + 5),
        ],
    )


def _exporter_up(pid: int) -> Panel:
    return stat(
        pid,
        "Exporter scrape",
        "Whether Prometheus scrapes each exporter target that served velero_exporter_build_info within the time"
        " range (up). A down exporter silences every Velero alert; VeleroExporterDown pages for it.",
        "none",
        [Query(exporter_targets("up"), legend="{{instance}}")],
        mappings=UP,
        thresholds=steps(("red", None), ("green", 1)),
        explains=("VeleroExporterDown",),
        links=[
            {"title": "Exporter health", "url": f"/d/{HEALTH_UID}?${{datasource:queryparam}}&${{cluster:queryparam}}"}
        ],
    )


def _sources_down(pid: int) -> Panel:
    return stat(
        pid,
        "Sources down",
        "Exporter sources (kube, buckets, snapshots) whose last refresh or watch failed: what they report is stale.",
        "short",
        [Query(count_or_zero(f"{per('source', 'velero_exporter_source_up')} == 0"))],
        thresholds=GOOD_IF_ZERO,
        explains=("VeleroExporterSourceDown",),
    )


def _forbidden(pid: int) -> Panel:
    return stat(
        pid,
        "Kubernetes resources forbidden",
        "Velero resources the Kubernetes API forbids the exporter to list (RBAC): their metrics are missing.",
        "short",
        [Query(count_or_zero(f"{per('resource', 'velero_exporter_resource_forbidden')} == 1"))],
        thresholds=GOOD_IF_ZERO,
        explains=("VeleroExporterResourceForbidden",),
    )


def _version(pid: int) -> Panel:
    return stat(
        pid,
        "Exporter version",
        "The version each exporter reports (velero_exporter_build_info).",
        "none",
        [Query(per("version", "velero_exporter_build_info"), legend="{{version}}")],
        text_mode="name",
    )


def _source_timeline(pid: int) -> Panel:
    return state_timeline(
        pid,
        "Source health",
        "Whether each exporter source (kube: the Velero objects; buckets; snapshots) was healthy over time.",
        [Query(per("source", "velero_exporter_source_up"), legend="{{source}}")],
        mappings=UP,
        explains=("VeleroExporterSourceDown",),
        height=5,
    )


# --- tier detail -----------------------------------------------------------------------------------------


def tier_detail() -> Dashboard:
    t = TIER
    stats = [
        stat(
            2,
            "RPO objective",
            "The tier's recovery point objective, from the exporter's config.",
            "dtdurations",
            [Query(sel("velero:tier_rpo_seconds", t), legend="{{tier}}")],
            width=4,
        ),
        stat(
            3,
            "Recovery point age",
            "Age of the tier's newest recovery point: the start of its newest Completed backup (or PartiallyFailed,"
            " where the tier accepts it). RPO is measured from it.",
            "dtdurations",
            [Query(sel("velero:tier_recovery_point_age_seconds", t), legend="{{tier}}")],
            explains=("RPOViolation",),
            width=4,
            empty="the tier has no recovery point.",
        ),
        stat(
            4,
            "RPO met",
            "Whether the recovery point is within the RPO (velero:tier_rpo_compliant); no recovery point is not met.",
            "none",
            [Query(sel("velero:tier_rpo_compliant", t), legend="{{tier}}")],
            mappings=OK_BAD,
            thresholds=steps(("red", None), ("green", 1)),
            explains=("RPOViolation",),
            width=4,
        ),
        stat(
            5,
            "RTO objective",
            "The tier's recovery time objective, from the exporter's config.",
            "dtdurations",
            [Query(sel("velero:tier_rto_seconds", t), legend="{{tier}}")],
            width=4,
        ),
        stat(
            6,
            "Newest restore took",
            "Duration of the newest finished restore from the tier's backups (the longest over its schedules): RTO"
            " evidence.",
            "dtdurations",
            [Query(sel("velero:tier_restore_duration_seconds:max", t), legend="{{tier}}")],
            explains=("VeleroRestoreSlowerThanRTO",),
            width=4,
            empty="no restore of the tier is on record, or RBAC forbids the exporter to read restores.",
        ),
        stat(
            7,
            "Retention objective",
            "How long the tier promises to keep its backups, from the exporter's config.",
            "dtdurations",
            [Query(per("tier", "velero_tier_retention_seconds", t), legend="{{tier}}")],
            width=4,
        ),
        stat(
            8,
            "Oldest recovery point held",
            "Age of the oldest Completed backup of the tier still held: retention evidence (it should approach the"
            " retention objective). Far younger once the tier is older than its retention: history was lost (a"
            " bucket lifecycle rule, or TTLs shorter than the retention).",
            "dtdurations",
            [Query(age(per("tier", "velero_tier_oldest_recovery_point_timestamp_seconds", t)), legend="{{tier}}")],
            explains=("VeleroRecoveryPointHistoryLost",),
            empty="the tier has no recovery point.",
        ),
        stat(
            9,
            "Backups with TTL below retention",
            "Completed backups of the tier whose TTL is shorter than the tier's retention: Velero will delete them"
            " before the promised time.",
            "short",
            [Query(per("tier", "velero_tier_backups_ttl_below_retention", t), legend="{{tier}}")],
            thresholds=GOOD_IF_ZERO,
            explains=("VeleroRetentionBelowObjective",),
        ),
        stat(
            10,
            "Backups past expiration",
            "Backups of the tier still present longer than the GC grace after their expiration: Velero failed to"
            " garbage-collect them.",
            "short",
            [Query(per("tier", "velero_tier_backups_past_expiration", t), legend="{{tier}}")],
            thresholds=GOOD_IF_ZERO,
            explains=("VeleroBackupGarbageCollectionFailed",),
        ),
        stat(
            11,
            "Last good restore",
            "How long ago a restore from the tier's backups last Completed (velero:tier_last_restore_success"
            "_timestamp_seconds); never, when none is on record.",
            "dtdurations",
            [Query(restore_test_age(t), legend="{{tier}}")],
            thresholds=RESTORE_TEST_AGE,
            mappings=NEVER,
            explains=("VeleroRestoreTestOverdue",),
        ),
        stat(
            12,
            "Newest restore drill",
            "The result of the tier's newest finished restore drill (velero_tier_last_drill_result): passed,"
            " unvalidated (Completed, its validation has not reported yet) or failed (the restore did not complete"
            " or its validation failed); none without a drill.",
            "none",
            [Query(drill_code(t), legend="{{tier}}")],
            mappings=DRILLS,
            explains=("VeleroRestoreTestOverdue",),
            width=8,
        ),
        stat(
            13,
            "Last verified restore",
            "How long ago the tier's newest drill that Completed and passed its validation completed"
            " (velero:tier_last_verified_restore_timestamp_seconds, kept after Velero deletes the Restore); never,"
            " when none is on record. Once the tier has one, it is the restore test VeleroRestoreTestOverdue measures.",
            "dtdurations",
            [
                Query(
                    restore_test_age(t, evidence="velero:tier_last_verified_restore_timestamp_seconds"),
                    legend="{{tier}}",
                )
            ],
            thresholds=RESTORE_TEST_AGE,
            mappings=NEVER,
            explains=("VeleroRestoreTestOverdue",),
            width=8,
        ),
        stat(
            14,
            "Drill validation required",
            "Whether only drills that passed validation count as the tier's restore test (the tier's"
            " require_validation): then a Completed restore alone does not.",
            "none",
            [Query(per("tier", "velero_tier_drill_validation_required", t), legend="{{tier}}")],
            mappings=value_map({1: ("required", "text"), 0: ("not required", "text")}),
            width=8,
        ),
    ]
    schedules = Row(
        20,
        "Schedules of the tier",
        [
            table(
                21,
                "Schedules",
                "The tier's Schedules with their cron: the result of the newest finished backup, time since the last"
                " success, time to the next run (negative: overdue), the cron's longest interval, the Schedule's"
                " phase (Enabled, FailedValidation) and whether it is paused.",
                [
                    Query(
                        of_tier(worst_phase("schedule", "velero_schedule_last_backup_phase", "schedule")),
                        name="Last result",
                        unit="none",
                        mappings=PHASES,
                    ),
                    Query(
                        of_tier(age(per("schedule", "velero_schedule_last_success_timestamp_seconds"))),
                        name="Last success",
                        unit="dtdurations",
                    ),
                    Query(
                        of_tier(f"{per('schedule', 'velero_schedule_next_run_timestamp_seconds')} - time()"),
                        name="Next run in",
                        unit="dtdurations",
                        thresholds=steps(("red", None), ("green", -seconds(MIXIN.schedule_missed_after))),
                    ),
                    Query(
                        of_tier(per("schedule", "velero_schedule_interval_seconds")),
                        name="Interval",
                        unit="dtdurations",
                    ),
                    Query(
                        of_tier(f"{per('schedule', 'velero_schedule_phase', phase_is('FailedValidation'))}"),
                        name="Schedule valid",
                        unit="none",
                        mappings=value_map({0: ("valid", "green"), 1: ("FailedValidation", "red")}),
                    ),
                    Query(
                        of_tier(per("schedule", "velero_schedule_paused")),
                        name="Paused",
                        unit="none",
                        mappings=value_map({0: ("no", "green"), 1: ("PAUSED", "orange")}),
                    ),
                ],
                explains=(
                    "VeleroBackupFailure",
                    "VeleroBackupMissing",
                    "VeleroScheduleMissedRun",
                    "VeleroSchedulePaused",
                    "VeleroScheduleFailedValidation",
                ),
                width=24,
                height=6,
                empty=NO_SCHEDULE,
            ),
            timeseries(
                22,
                "Backup duration per schedule",
                "Duration of each of the tier's schedules' newest finished backup; the line steps when a new backup"
                " finishes.",
                "s",
                [
                    Query(
                        of_tier(per("schedule", "velero_schedule_last_backup_duration_seconds")), legend="{{schedule}}"
                    )
                ],
                empty=NO_SCHEDULE,
            ),
            timeseries(
                23,
                "Backup duration p95 (Velero's histogram)",
                "The 95th percentile of the tier's schedules' backup durations from Velero's"
                " velero_backup_duration_seconds histogram." + VELERO_OWN,
                "s",
                [
                    Query(
                        "histogram_quantile(0.95, sum by (cluster, schedule, le) "
                        f"(rate({sel('velero_backup_duration_seconds_bucket')}[$__rate_interval])))\n"
                        f"and on (cluster, schedule)\n{schedules_of_tier()}",
                        legend="{{schedule}}",
                    )
                ],
                interval="1h",
                empty=VELERO_OWN_EMPTY,
            ),
        ],
    )

    def snapshots(kind: str) -> str:
        metric = f"velero_schedule_last_backup_volume_snapshots_{kind}"
        return f"sum by (cluster, schedule) ({per('schedule, method', metric)})"

    newest = Row(
        30,
        "Newest finished backup per schedule",
        [
            table(
                31,
                "Newest finished backup",
                "For each of the tier's schedules, its newest finished backup: when it started, its duration, items"
                " backed up against expected, errors, warnings, hooks, volume snapshots (native and CSI) and"
                " asynchronous item operations (a data mover's uploads: with snapshotMoveData the CSI counts stay"
                " 0) completed against attempted. A Completed backup with 0 items is empty.",
                [
                    Query(
                        of_tier(age(per("schedule", "velero_schedule_last_backup_start_timestamp_seconds"))),
                        name="Started",
                        unit="dtdurations",
                    ),
                    Query(
                        of_tier(per("schedule", "velero_schedule_last_backup_duration_seconds")),
                        name="Duration",
                        unit="dtdurations",
                    ),
                    Query(
                        of_tier(per("schedule", "velero_schedule_last_backup_items_backed_up")),
                        name="Items backed up",
                        unit="short",
                    ),
                    Query(
                        of_tier(per("schedule", "velero_schedule_last_backup_items_expected")),
                        name="Items expected",
                        unit="short",
                    ),
                    Query(
                        of_tier(per("schedule", "velero_schedule_last_backup_errors")),
                        name="Errors",
                        unit="short",
                        thresholds=GOOD_IF_ZERO,
                    ),
                    Query(
                        of_tier(per("schedule", "velero_schedule_last_backup_warnings")),
                        name="Warnings",
                        unit="short",
                        thresholds=steps(("green", None), ("orange", 1)),
                    ),
                    Query(
                        of_tier(per("schedule", "velero_schedule_last_backup_hooks_attempted")),
                        name="Hooks run",
                        unit="short",
                    ),
                    Query(
                        of_tier(per("schedule", "velero_schedule_last_backup_hooks_failed")),
                        name="Hooks failed",
                        unit="short",
                        thresholds=GOOD_IF_ZERO,
                    ),
                    Query(of_tier(snapshots("attempted")), name="Snapshots attempted", unit="short"),
                    Query(of_tier(snapshots("completed")), name="Snapshots completed", unit="short"),
                    Query(
                        of_tier(per("schedule", "velero_schedule_last_backup_item_operations_attempted")),
                        name="Item operations",
                        unit="short",
                    ),
                    Query(
                        of_tier(per("schedule", "velero_schedule_last_backup_item_operations_completed")),
                        name="Item operations completed",
                        unit="short",
                    ),
                ],
                explains=(
                    "VeleroBackupEmpty",
                    "VeleroBackupWarnings",
                    "VeleroBackupHooksFailed",
                    "VeleroBackupVolumeSnapshotsIncomplete",
                ),
                width=24,
                height=6,
                empty=NO_SCHEDULE,
            ),
            bargauge(
                32,
                "Items backed up vs expected",
                "Per schedule, the share of the items its newest finished backup expected that it backed up.",
                "percentunit",
                [
                    Query(
                        of_tier(
                            f"{per('schedule', 'velero_schedule_last_backup_items_backed_up')}\n/\n"
                            f"({per('schedule', 'velero_schedule_last_backup_items_expected')} > 0)"
                        ),
                        legend="{{schedule}}",
                    )
                ],
                thresholds=steps(("red", None), ("orange", 0.5), ("green", 1)),
                max_value=1,
                explains=("VeleroBackupEmpty",),
                height=6,
                empty=NO_SCHEDULE,
            ),
            bargauge(
                33,
                "Volume snapshots completed vs attempted",
                "Per schedule that snapshots volumes, the share of its newest finished backup's attempted volume"
                " snapshots that completed.",
                "percentunit",
                [Query(of_tier(f"{snapshots('completed')}\n/\n({snapshots('attempted')} > 0)"), legend="{{schedule}}")],
                thresholds=steps(("red", None), ("green", 1)),
                max_value=1,
                explains=("VeleroBackupVolumeSnapshotsIncomplete",),
                height=6,
                empty="no schedule's newest backup attempted a volume snapshot.",
            ),
        ],
    )
    since = per("backup, schedule, tier, phase", "velero_backup_unfinished_since_timestamp_seconds", t)
    inflight = Row(
        40,
        "Backups in flight and held",
        [
            table(
                41,
                "Unfinished backups",
                "Each backup of the tier that has not finished, its phase and for how long: since its start, or"
                " since its creation while it has not started. VeleroBackupStuck fires past"
                f" {MIXIN.backup_queued_threshold} queued, {MIXIN.backup_in_progress_threshold}"
                f" in progress, and waiting for plugin operations past the backup's own item operation timeout"
                f" plus {MIXIN.backup_plugin_operations_grace}.",
                [Query(age(since), name="For", unit="dtdurations")],
                explains=("VeleroBackupStuck",),
                height=7,
                empty="no backup is in flight.",
            ),
            timeseries(
                42,
                "Backups held by phase",
                "Backup objects of the tier that Velero holds, by phase; the Completed count follows retention.",
                "short",
                [Query(f"{per('tier, phase', 'velero_tier_backups', t)} > 0", legend="{{phase}}")],
                stacked=True,
                height=7,
            ),
            table(
                43,
                "Backups being deleted",
                "Each backup of the tier in phase Deleting and for how long (since Velero marked it so)."
                f" VeleroBackupDeletionStuck fires past {MIXIN.backup_deleting_threshold}: a failed deletion leaves"
                " the backup Deleting, its data possibly half deleted.",
                [
                    Query(
                        age(per("backup, schedule, tier", "velero_backup_deleting_since_timestamp_seconds", t)),
                        name="For",
                        unit="dtdurations",
                        thresholds=steps(("green", None), ("red", seconds(MIXIN.backup_deleting_threshold))),
                    )
                ],
                explains=("VeleroBackupDeletionStuck",),
                width=24,
                height=6,
                empty="no backup is being deleted.",
            ),
        ],
    )
    restores = Row(
        50,
        "Restores from the tier",
        [
            _restore_table(51, "Newest restore per schedule", (t,)),
            timeseries(
                52,
                "Restores by phase",
                "Restore objects that Velero holds for the tier's backups, by phase.",
                "short",
                [Query(f"{per('tier, phase', 'velero_restores', t)} > 0", legend="{{phase}}")],
                stacked=True,
                empty="no restore of the tier is on record, or RBAC forbids the exporter to read restores.",
            ),
        ],
    )
    storage = Row(
        60,
        "Storage of the tier",
        [
            timeseries(
                61,
                "Tier storage per bucket",
                "Bytes of the tier's backup folders in each bucket.",
                "bytes",
                [
                    Query(
                        per("location, bucket, region, tier", "velero_bucket_tier_size_bytes", t),
                        legend="{{bucket}} ({{region}})",
                    )
                ],
                empty=AWS_EMPTY,
            ),
            bargauge(
                62,
                "Snapshot freshness per region",
                "Per region, how old the data in the newest completed Velero EBS snapshot of the tier is: the primary"
                " beside the DR region. VeleroSnapshotCopyStale fires when a region falls behind or holds none.",
                "dtdurations",
                [
                    Query(
                        age(per("region, tier", "velero_snapshot_last_completed_timestamp_seconds", t)),
                        legend="{{region}}",
                    )
                ],
                explains=("VeleroSnapshotCopyStale",),
                empty=AWS_EMPTY,
            ),
        ],
    )
    return Dashboard(
        "velero-tier-detail.json",
        TIER_UID,
        "Velero / Tier detail",
        "One backup tier in depth: its objectives, its schedules and their newest backups, the volume data they"
        " hold against the backups before them, backups in flight, restores from it and its storage.",
        [Row(1, "Objectives", stats), schedules, newest, _tier_volume_row(70), inflight, restores, storage],
        [
            datasource_variable(),
            cluster_variable(),
            query_variable(
                "tier", "Tier", f"label_values({sel('velero_tier_rpo_seconds')}, tier)", include_all=False, multi=False
            ),
        ],
        [
            dashboard_link("Overview", OVERVIEW_UID, "Every tier at a glance"),
            dashboard_link("Exporter health", HEALTH_UID, "The exporter's sources and Kubernetes resources"),
        ],
    )


def _tier_volume_row(rid: int) -> Row:
    """The tier's schedules' newest finished backups against the ones before them: volumes, bytes and size."""
    fraction = MIXIN.backup_shrink_fraction
    method = "schedule, method"
    by_phase = "schedule, method, phase"
    newest = f"sum by (cluster, {method}) ({per(by_phase, 'velero_schedule_last_backup_volumes')})"
    previous = per(method, "velero_schedule_previous_backup_volumes")
    failed = f"sum by (cluster, {method}) ({per(by_phase, 'velero_schedule_last_backup_volumes', FAILED_OPERATIONS)})"
    used = f"({newest}\n+ on (cluster, {method})\n{previous}) > 0"

    def of_used(per_method: str) -> str:
        """A per-schedule-and-method series of the tier's schedules, for the methods they use."""
        return of_tier(f"({per_method})\nand on (cluster, {method})\n{used}")

    last_bytes = per(method, "velero_schedule_last_backup_volume_bytes")
    previous_bytes = per(method, "velero_schedule_previous_backup_volume_bytes")
    last_size = per("schedule", "velero_schedule_last_backup_size_bytes")
    previous_size = per("schedule", "velero_schedule_previous_backup_size_bytes")
    shrink = steps(("red", None), ("green", fraction))
    return Row(
        rid,
        "Volume data of the newest backups",
        [
            table(
                rid + 1,
                "Volumes: newest backup vs the one before",
                "For each of the tier's schedules and each way it saves volumes (fs-backup: PodVolumeBackups;"
                " data-mover: DataUploads; snapshot, csi-snapshot: the Backup's own counts), the volumes of its"
                " newest finished backup against the finished backup before it, the newest's failed ones (Failed,"
                " Canceled) and the bytes each moved. Fewer volumes than before means something was left out.",
                [
                    Query(of_used(newest), name="Volumes", unit="short"),
                    Query(of_used(previous), name="Volumes before", unit="short"),
                    Query(of_used(failed), name="Failed", unit="short", thresholds=GOOD_IF_ZERO),
                    Query(of_used(last_bytes), name="Bytes", unit="bytes"),
                    Query(of_used(previous_bytes), name="Bytes before", unit="bytes"),
                ],
                explains=("VeleroBackupVolumeDataMissing", "VeleroVolumeOperationFailed"),
                width=24,
                height=7,
                empty=NO_VOLUME_DATA,
            ),
            bargauge(
                rid + 2,
                "Newest backup against the one before",
                "Per schedule, the newest finished backup's size as a share of the finished backup before it: its"
                " folder in the bucket, and the volume bytes of each method that moves data. VeleroBackupShrank"
                f" fires below {fraction:.0%}.",
                "percentunit",
                [
                    Query(of_tier(f"{last_size}\n/\n({previous_size} > 0)"), legend="{{schedule}} folder"),
                    Query(
                        of_tier(f"{last_bytes}\n/\n({previous_bytes} > 0)"),
                        legend="{{schedule}} {{method}} bytes",
                    ),
                ],
                thresholds=shrink,
                explains=("VeleroBackupShrank", "VeleroBackupVolumeDataMissing"),
                height=7,
                empty="no schedule has two finished backups with a measured folder or moved bytes.",
            ),
            timeseries(
                rid + 3,
                "Volume bytes of the newest backup",
                "The bytes of volume data each of the tier's schedules' newest finished backup moved, by method; the"
                " line steps when a new backup finishes. A drop is a volume left out, or emptied.",
                "bytes",
                [Query(of_tier(f"{last_bytes} > 0"), legend="{{schedule}} {{method}}")],
                height=7,
                empty="no schedule's newest finished backup moved volume data (fs-backup or data mover).",
            ),
        ],
    )


# --- exporter health -------------------------------------------------------------------------------------


def exporter_health() -> Dashboard:
    resource = "resource"

    def resource_column(metric: str, name: str, unit: str, mappings: Sequence[Json] = ()) -> Query:
        return Query(per(resource, metric), name=name, unit=unit, mappings=mappings)

    top = Row(
        1,
        "Exporter",
        [
            _exporter_up(2),
            _version(3),
            _sources_down(4),
            _forbidden(5),
            _source_timeline(6),
        ],
    )
    sources = Row(
        10,
        "Sources",
        [
            table(
                11,
                "Sources",
                "Each exporter source: healthy or not, and how long ago its last refresh or watch was healthy.",
                [
                    Query(per("source", "velero_exporter_source_up"), name="State", unit="none", mappings=UP),
                    Query(
                        age(per("source", "velero_exporter_source_last_success_timestamp_seconds")),
                        name="Last healthy",
                        unit="dtdurations",
                    ),
                ],
                explains=("VeleroExporterSourceDown",),
            ),
            timeseries(
                12,
                "Source errors by kind",
                "Errors per second of each source, by kind (forbidden, expired, throttled, server_error,"
                " unreachable, timeout, bad_response ...).",
                "ops",
                [
                    Query(
                        rate("velero_exporter_source_errors_total", "source, kind"),
                        legend="{{source}} {{kind}}",
                    )
                ],
                explains=("VeleroExporterSourceDown",),
            ),
        ],
    )
    kube = Row(
        20,
        "Kubernetes resources",
        [
            table(
                21,
                "Kubernetes resources",
                "Each Velero resource the exporter lists and watches: healthy, synced (first list done), forbidden"
                " by RBAC, served by the API (the data movers' DataUploads and DataDownloads are not before Velero"
                " 1.12: no error, nothing to count), and how many objects it holds.",
                [
                    resource_column("velero_exporter_resource_up", "Watch", "none", UP),
                    resource_column(
                        "velero_exporter_resource_synced",
                        "Synced",
                        "none",
                        value_map({1: ("synced", "green"), 0: ("NOT SYNCED", "red")}),
                    ),
                    resource_column(
                        "velero_exporter_resource_forbidden",
                        "RBAC",
                        "none",
                        value_map({0: ("allowed", "green"), 1: ("FORBIDDEN", "red")}),
                    ),
                    resource_column(
                        "velero_exporter_resource_served",
                        "API",
                        "none",
                        value_map({1: ("served", "green"), 0: ("not served", "orange")}),
                    ),
                    resource_column("velero_exporter_resource_objects", "Objects", "short"),
                ],
                explains=("VeleroExporterResourceForbidden", "VeleroExporterSourceDown"),
            ),
            timeseries(
                22,
                "Relists and watch restarts",
                "Full lists after the first (410 Expired, errors) and watches restarted, per second and resource. A"
                " steady trickle of watch restarts is normal (server timeouts); relists are not.",
                "ops",
                [
                    Query(
                        rate("velero_exporter_relists_total", "resource"),
                        legend="{{resource}} relists",
                    ),
                    Query(
                        rate("velero_exporter_watch_restarts_total", "resource"),
                        legend="{{resource}} watch restarts",
                    ),
                ],
            ),
            table(
                23,
                "Invalid objects",
                "Objects the exporter holds with a problem (skipped or degraded), by resource and reason; 0 for"
                " every known reason when all is well.",
                [
                    Query(
                        per("resource, reason", "velero_exporter_invalid_objects"),
                        name="Objects",
                        unit="short",
                        thresholds=GOOD_IF_ZERO,
                    )
                ],
            ),
            timeseries(
                24,
                "Scrape duration and size",
                "How long Prometheus takes to scrape each exporter target, and how many samples it gets: the series"
                " count must stay bounded as backups accumulate.",
                "s",
                [
                    Query(exporter_targets("scrape_duration_seconds"), legend="{{instance}} duration"),
                    Query(exporter_targets("scrape_samples_scraped"), legend="{{instance}} samples"),
                ],
                # The samples count is no duration: its own unit, on its own axis.
                overrides=[
                    {
                        "matcher": {"id": "byFrameRefID", "options": "B"},
                        "properties": [
                            {"id": "unit", "value": "short"},
                            {"id": "custom.axisPlacement", "value": "right"},
                        ],
                    }
                ],
            ),
        ],
    )
    window = MIXIN.render_errors_window
    # Failing at some point within the alert's window: a persistent failure is retried only once a minute.
    errors = sel("velero_exporter_render_errors_total")
    failing = f"max_over_time((increase({errors}[$__rate_interval]) > 0)[{window}:])"
    renders = Row(
        30,
        "Renders",
        [
            stat(
                31,
                "Render stages failing",
                f"Stages of the exporter's render (model, metrics, status_page, encoding) that failed within the last"
                f" {window}: the exporter serves their last good output, so what it reports is frozen (the status"
                " page's alone: the page). A bug of the exporter's, with a traceback in its log.",
                "short",
                [Query(count_or_zero(f"max by (cluster, stage) ({failing})"))],
                thresholds=GOOD_IF_ZERO,
                explains=("VeleroExporterRenderFailing",),
            ),
            timeseries(
                32,
                "Render errors by stage",
                "Failed renders per second, by stage; a failing stage is retried with backoff (1 s doubling to"
                " 60 s), so a persistent failure shows as a slow, steady rate.",
                "ops",
                [Query(rate("velero_exporter_render_errors_total", "stage"), legend="{{stage}}")],
                explains=("VeleroExporterRenderFailing",),
                width=18,
            ),
        ],
    )
    return Dashboard(
        "velero-exporter-health.json",
        HEALTH_UID,
        "Velero / Exporter health",
        "Is the velero-exporter itself telling the truth? Its scrape, its sources, the Kubernetes resources it"
        " watches, the objects it had to skip and its own renders.",
        [top, sources, kube, renders],
        [datasource_variable(), cluster_variable()],
        [dashboard_link("Overview", OVERVIEW_UID, "Every tier at a glance")],
    )


# --- fleet ------------------------------------------------------------------------------------------------


def absent_exporters() -> str:
    """Seconds since each cluster's exporter last reported, for the clusters that reported within the absence
    lookback and no longer do (VeleroExporterDown's cluster_gone)."""
    build = sel("velero_exporter_build_info")
    lookback = MIXIN.exporter_absent_lookback
    return (
        f"time() - max by (cluster) (max_over_time(timestamp({build})[{lookback}:1m]))\n"
        f"unless on (cluster)\ngroup by (cluster) ({build})"
    )


NO_DR_CLUSTER = "the cluster is no DR cluster (its exporter's config says no `cluster.role: dr`)"


def on_dr_pair(expr: str) -> str:
    """A per (cluster, tier) series of a DR cluster, restricted to its DR tiers and labelled with its primary."""
    return f"({expr})\n* on (cluster, tier) group_left (dr_of)\n{sel('velero:dr_tier_info')}"


def fleet() -> Dashboard:
    lag = sel("velero:dr_tier_recovery_point_lag_seconds")
    rpo = sel("velero:tier_rpo_seconds")
    behind = f"{lag} > on (cluster, tier) group_left () {rpo}"
    clusters = Row(
        1,
        "Clusters",
        [
            stat(
                2,
                "Clusters reporting",
                "Clusters whose exporter reports now (one per value of the `cluster` label that Prometheus,"
                " Thanos or Mimir adds).",
                "short",
                [Query(count_or_zero(f"group by (cluster) ({sel('velero_exporter_build_info')})"))],
            ),
            stat(
                3,
                "Absent exporters",
                f"Clusters whose exporter reported within the last {MIXIN.exporter_absent_lookback} and no longer"
                " does: no Velero alert can fire for them. VeleroExporterDown pages for each.",
                "short",
                [Query(count_or_zero(absent_exporters()))],
                thresholds=GOOD_IF_ZERO,
                explains=("VeleroExporterDown",),
            ),
            stat(
                4,
                "DR clusters",
                "Clusters whose exporter says it is the DR cluster of a primary (cluster.role: dr).",
                "short",
                [Query(count_or_zero(f"group by (cluster) ({sel('velero_cluster_info', DR_ROLE)})"))],
            ),
            stat(
                5,
                "DR tiers behind their primary",
                "DR tiers whose newest recovery point in the DR cluster lags the primary's by more than the tier's"
                " RPO, or that the DR cluster holds none of while the primary has one: what VeleroDRClusterBehind"
                " fires for.",
                "short",
                [
                    Query(
                        count_or_zero(
                            f"{behind}\nor\n{sel('velero:dr_tier_primary_recovery_point_timestamp_seconds')}"
                            f"\nunless on (cluster, tier)\n{sel('velero_tier_recovery_point_timestamp_seconds')}"
                        )
                    )
                ],
                thresholds=GOOD_IF_ZERO,
                explains=("VeleroDRClusterBehind",),
            ),
            table(
                6,
                "Recovery point age against RPO",
                "Every cluster (rows) and tier (columns): the age of the tier's newest recovery point in that"
                " cluster as a share of the tier's RPO there (velero:tier_recovery_point_age_seconds /"
                " velero:tier_rpo_seconds). Up to 100% the objective holds; above it RPOViolation fires; none: the"
                " tier has no recovery point at all. A DR cluster's row shows what it can restore from. An empty"
                " cell is a tier the cluster does not configure.",
                [
                    Query(
                        f"{sel('velero:tier_recovery_point_age_seconds')}\n/ on (cluster, tier)\n{rpo}\n"
                        f"or on (cluster, tier)\n{rpo} * 0 - 1",
                        name="age / RPO",
                        unit="percentunit",
                        thresholds=steps(("green", None), ("orange", 0.8), ("red", 1.0)),
                        mappings=value_map({-1: ("none", "red")}),
                    )
                ],
                pivot=("cluster", "tier"),
                explains=("RPOViolation",),
                width=24,
                height=9,
            ),
        ],
    )
    last_phase = "velero_cluster_dr_tier_last_backup_phase"
    pairs = Row(
        10,
        "DR clusters and their primaries",
        [
            table(
                11,
                "DR pairs and their lag",
                "One row per DR cluster (cluster) and DR tier, with the primary it restores for (dr_of): how far its"
                " newest recovery point is behind the primary's (velero:dr_tier_recovery_point_lag_seconds) and"
                " that lag as a share of the tier's RPO (VeleroDRClusterBehind fires above 100%, or when the DR"
                " cluster holds no point while the primary has one), the age of each side's newest point, and the"
                " newest copy the DR cluster holds: its phase and whether its location is Available"
                " (VeleroDRClusterCannotRestore fires when it is not Completed, or the location is unavailable).",
                [
                    Query(sel("velero:dr_tier_info"), name="pair", unit="none"),
                    Query(lag, name="Behind the primary by", unit="dtdurations"),
                    Query(
                        f"{lag}\n/ on (cluster, tier) group_left ()\n{rpo}",
                        name="Lag against RPO",
                        unit="percentunit",
                        thresholds=steps(("green", None), ("red", 1.0)),
                    ),
                    Query(
                        age(sel("velero:dr_tier_primary_recovery_point_timestamp_seconds")),
                        name="Primary's newest point",
                        unit="dtdurations",
                    ),
                    Query(
                        on_dr_pair(age(per("tier", "velero_tier_recovery_point_timestamp_seconds"))),
                        name="DR cluster's newest point",
                        unit="dtdurations",
                    ),
                    Query(
                        on_dr_pair(worst_phase("tier", last_phase, "tier, location")),
                        name="Newest copy",
                        unit="none",
                        mappings=PHASES,
                    ),
                    Query(
                        on_dr_pair(
                            f"max by (cluster, tier) (\n  group by (cluster, tier, location) ({sel(last_phase)})\n"
                            f"  * on (cluster, location) group_left ()\n"
                            f"  {per('location', 'velero_storage_location_available')}\n)"
                        ),
                        name="Its location",
                        unit="none",
                        mappings=AVAILABLE,
                    ),
                ],
                hide=("Value #A",),
                explains=("VeleroDRClusterBehind", "VeleroDRClusterCannotRestore"),
                width=24,
                height=8,
                empty=NO_DR_CLUSTER + ".",
            ),
            timeseries(
                12,
                "DR lag over time",
                "How far each DR cluster's newest recovery point of each DR tier was behind its primary's, over"
                " time: it drops to 0 when the DR cluster syncs the primary's newest backup, and grows while copies"
                " or syncs stop.",
                "s",
                [Query(lag, legend="{{cluster}} {{tier}} (DR of {{dr_of}})")],
                explains=("VeleroDRClusterBehind",),
                width=24,
                empty=NO_DR_CLUSTER + ", or the primary it names does not report.",
            ),
        ],
    )
    exporters = Row(
        20,
        "Exporters",
        [
            table(
                21,
                "Clusters whose exporter is absent",
                f"Each cluster whose exporter reported within the last {MIXIN.exporter_absent_lookback} and no"
                " longer does, with the time since its last report. VeleroExporterDown (cluster_gone) pages for"
                " each; the other clusters keep being watched.",
                [Query(absent_exporters(), name="Last report", unit="dtdurations")],
                explains=("VeleroExporterDown",),
                empty="the cluster's exporter reports.",
            ),
            table(
                22,
                "Cluster names and roles",
                "What each exporter says of its cluster (velero_cluster_info: its configured name, its role, and for"
                " a DR cluster its primary's name) beside the `cluster` label Prometheus gives its series. The fleet"
                " rules pair a DR cluster with the cluster whose exporter's name its dr_of gives.",
                [
                    Query(
                        f"max by (cluster, cluster_name, role, dr_of) ({sel('velero_cluster_info')})",
                        name="reported",
                        unit="none",
                    )
                ],
                hide=("Value",),
                empty="the cluster's exporter has no `cluster:` section in its config.",
            ),
        ],
    )
    return Dashboard(
        "velero-fleet.json",
        FLEET_UID,
        "Velero / Fleet",
        "Every cluster in one view, as a central Prometheus, Thanos or Mimir sees them: each cluster's tiers"
        " against their RPO, each DR cluster against its primary, and the clusters whose exporter is gone.",
        [clusters, pairs, exporters],
        [datasource_variable(), cluster_variable()],
        [
            dashboard_link("Overview", OVERVIEW_UID, "Every tier at a glance"),
            dashboard_link("Exporter health", HEALTH_UID, "The exporter's sources and Kubernetes resources"),
        ],
    )


DASHBOARD_BUILDERS: tuple[Callable[[], Dashboard], ...] = (overview, tier_detail, exporter_health, fleet)


# ---------------------------------------------------------------------------------------------------------
# Reference page
# ---------------------------------------------------------------------------------------------------------

DOC_INTRO = """\
# Dashboards

Generated from `velero_exporter/mixin`: do not edit; run `python -m velero_exporter.mixin`.

Four Grafana dashboards in `dashboards/`, for Grafana 10 and later (schemaVersion 39). Import them (Dashboards →
New → Import) or provision the folder. Each has a `datasource` variable (any Prometheus) and a `cluster` variable
whose "All" is `.*`, which also matches series without a cluster label, so the dashboards work on a single
Prometheus and on Thanos or Mimir alike. No job is named: the exporter's families have names of their own, and the
panels that read recording rules (`velero:*`) need `rules/velero-exporter.rules.yml` loaded. Panels that read
Velero's own metrics (its server's /metrics, scraped by your Prometheus) say so in their description; they stay
empty where Velero is not scraped.

The panel ids are stable: link to a panel with `/d/<uid>?viewPanel=<id>` (the runbooks can link to the panel that
explains their alert: see the table at the end).

How they are built: plain Python dicts from a few builders in `mixin/dashboards.py`, not Grafana's
`grafana-foundation-sdk`. We looked at the SDK (its wheel on PyPI, 10.1.0) and left it out: it is marked Alpha, its
releases are tied to Grafana versions (the version carries an epoch per build), and it would be a build-time
dependency for JSON that the tests already hold to account: every panel's query is parsed by a real PromQL parser
and checked against the declared families (tests/test_contract.py), and its result in real Prometheus is compared
with what its scenario implies (tests/test_dashboards.py). We did not port the dashboards to it to compare their
length; that would be the test of "shorter and clearer" if its status changes.
"""


# The panel that best explains each alert, for the runbooks to link to: (dashboard uid, panel id). Every other
# panel that names the alert in `explains` is listed in its dashboard's table.
ALERT_PANELS: dict[str, tuple[str, int]] = {
    "RPOViolation": (OVERVIEW_UID, 6),
    "VeleroBackupFailure": (OVERVIEW_UID, 11),
    "VeleroBackupMissing": (OVERVIEW_UID, 12),
    "VeleroRestoreFailure": (OVERVIEW_UID, 41),
    "VeleroRestoreSlowerThanRTO": (OVERVIEW_UID, 41),
    "VeleroRestoreTestOverdue": (OVERVIEW_UID, 42),
    "VeleroStorageLocationUnavailable": (OVERVIEW_UID, 31),
    "VeleroStorageLocationNotValidated": (OVERVIEW_UID, 31),
    "VeleroScheduleFailedValidation": (TIER_UID, 21),
    "VeleroScheduleMissedRun": (TIER_UID, 21),
    "VeleroSchedulePaused": (TIER_UID, 21),
    "VeleroBackupStuck": (TIER_UID, 41),
    "VeleroBackupDeletionStuck": (TIER_UID, 43),
    "VeleroBackupEmpty": (TIER_UID, 32),
    "VeleroBackupVolumeSnapshotsIncomplete": (TIER_UID, 33),
    "VeleroBackupHooksFailed": (TIER_UID, 31),
    "VeleroBackupWarnings": (TIER_UID, 31),
    "VeleroRetentionBelowObjective": (TIER_UID, 9),
    "VeleroRecoveryPointHistoryLost": (TIER_UID, 8),
    "VeleroBackupGarbageCollectionFailed": (TIER_UID, 10),
    "VeleroSnapshotCopyStale": (OVERVIEW_UID, 71),
    "VeleroSnapshotsFailed": (OVERVIEW_UID, 72),
    "VeleroBucketRecoveryPointStale": (OVERVIEW_UID, 65),
    "VeleroBucketGrowth": (OVERVIEW_UID, 62),
    "VeleroBucketNotVersioned": (OVERVIEW_UID, 91),
    "VeleroBucketUnencrypted": (OVERVIEW_UID, 91),
    "VeleroBucketPublicAccessNotBlocked": (OVERVIEW_UID, 91),
    "VeleroDRBucketNotImmutable": (OVERVIEW_UID, 91),
    "VeleroBucketLifecycleBelowRetention": (OVERVIEW_UID, 92),
    "VeleroReplicaIncomplete": (OVERVIEW_UID, 93),
    "VeleroSnapshotUnencrypted": (OVERVIEW_UID, 94),
    "VeleroDRCopySameAccount": (OVERVIEW_UID, 95),
    "VeleroLastRecoveryPointExpiring": (OVERVIEW_UID, 96),
    "VeleroBackupVolumeDataMissing": (TIER_UID, 71),
    "VeleroVolumeOperationFailed": (TIER_UID, 71),
    "VeleroBackupShrank": (TIER_UID, 72),
    "VeleroVolumeOperationStalled": (OVERVIEW_UID, 101),
    "VeleroRepositoryNotReady": (OVERVIEW_UID, 103),
    "VeleroRepositoryMaintenanceOverdue": (OVERVIEW_UID, 103),
    "VeleroRepositoryMaintenanceFailed": (OVERVIEW_UID, 103),
    "VeleroNamespaceUnprotected": (OVERVIEW_UID, 115),
    "VeleroVolumeUnprotected": (OVERVIEW_UID, 114),
    "VeleroExporterDown": (HEALTH_UID, 2),
    "VeleroExporterSourceDown": (HEALTH_UID, 11),
    "VeleroExporterResourceForbidden": (HEALTH_UID, 21),
    "VeleroExporterRenderFailing": (HEALTH_UID, 31),
    "VeleroDRClusterBehind": (FLEET_UID, 11),
    "VeleroDRClusterCannotRestore": (FLEET_UID, 11),
}


def render_docs(dashboards: Sequence[Dashboard]) -> str:
    out = [DOC_INTRO]
    panels: dict[tuple[str, int], tuple[Dashboard, Panel]] = {}
    for board in dashboards:
        out.append(f"\n## {board.title}\n\n`dashboards/{board.file}`, uid `{board.uid}`. {board.description}\n")
        variables = ", ".join(f"`{v['name']}`" for v in board.variables)
        out.append(f"Variables: {variables}.\n")
        for row in board.rows:
            out.append(f"\n### {row.title}\n\n| id | panel | explains | what it shows |\n|---|---|---|---|")
            for panel in row.panels:
                empty = f" Shows nothing when {panel.empty}" if panel.empty else ""
                out.append(f"| {panel.id} | {panel.title} | {', '.join(panel.explains)} | {panel.description}{empty} |")
                panels[board.uid, panel.id] = (board, panel)
    out.append(
        "\n## Alerts and their panels\n\nThe panel that best explains each alert, for its runbook to link to; the"
        " tables above name every panel that helps. A tier-detail link takes `&var-tier=<tier>` from the alert's"
        " labels.\n\n| alert | dashboard | panel | link |\n|---|---|---|---|"
    )
    for alert, key in sorted(ALERT_PANELS.items()):
        board, panel = panels[key]
        if alert not in panel.explains:
            raise ValueError(f"ALERT_PANELS: {board.uid} panel {panel.id} does not explain {alert}")
        out.append(f"| {alert} | {board.title} | {panel.title} | `/d/{board.uid}?viewPanel={panel.id}` |")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------------------
# Outputs
# ---------------------------------------------------------------------------------------------------------


def dashboards() -> list[Dashboard]:
    return [build() for build in DASHBOARD_BUILDERS]


def render_dashboard(board: Dashboard) -> str:
    return json.dumps(board.render(), indent=2, ensure_ascii=False) + "\n"
