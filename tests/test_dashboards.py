"""The Grafana dashboards: generated without drift, built to the conventions, and every panel query answered by a
real Prometheus that scrapes the exporter running on the demo sandbox, with the values the sandbox's story implies.

Prometheus is the Debian package's binary (`prometheus`): a missing binary fails these tests rather than skipping
them, since the panels are only proven by it.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
import yaml

from velero_exporter.app import Exporter, Options
from velero_exporter.config.file import load_config
from velero_exporter.mixin import dashboards as generate
from velero_exporter.sandbox.aws_story import backup_folder
from velero_exporter.sandbox.demo import DEMO_CONFIG, running_sandbox
from velero_exporter.sandbox.monitoring import query, running_prometheus
from velero_exporter.sandbox.story import story
from velero_exporter.sandbox.volume_story import STALLED_BACKUP, STALLED_FOR, VOLUMES

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD_DIR = ROOT / "dashboards"
RULE_FILE = ROOT / "rules" / "velero-exporter.rules.yml"
DOCS = ROOT / "docs" / "dashboards.md"
PANEL_TYPES = {"stat", "table", "timeseries", "bargauge", "state-timeline"}
HOUR, DAY = 3600.0, 86400.0


def _dashboards() -> dict[str, dict[str, Any]]:
    return {path.name: json.loads(path.read_text()) for path in sorted(DASHBOARD_DIR.glob("*.json"))}


DASHBOARDS = _dashboards()


def _panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in board["panels"] if p["type"] != "row"]


def _all_panels() -> Iterator[tuple[str, dict[str, Any]]]:
    for name, board in DASHBOARDS.items():
        for panel in _panels(board):
            yield name, panel


def _variable(board: dict[str, Any], name: str) -> dict[str, Any]:
    matches = [v for v in board["templating"]["list"] if v["name"] == name]
    assert len(matches) == 1, f"{board['uid']}: variable {name} defined {len(matches)} times"
    found: dict[str, Any] = matches[0]
    return found


def _panel(file: str, title: str) -> dict[str, Any]:
    (panel,) = [p for p in _panels(DASHBOARDS[file]) if p["title"] == title]
    return panel


# --- generation and structure ----------------------------------------------------------------------------


def test_the_expected_dashboards_exist_with_stable_uids() -> None:
    uids = {name: board["uid"] for name, board in DASHBOARDS.items()}
    assert uids == {
        "velero-overview.json": "velero-exporter-overview",
        "velero-tier-detail.json": "velero-exporter-tier-detail",
        "velero-exporter-health.json": "velero-exporter-health",
        "velero-fleet.json": "velero-exporter-fleet",
    }
    for board in DASHBOARDS.values():
        assert re.fullmatch(r"[a-z0-9-]{1,40}", board["uid"])
        assert board["schemaVersion"] >= 36
        assert board["title"] and board["description"]
        assert board["id"] is None  # importable into any Grafana


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_datasource_and_cluster_variables(name: str) -> None:
    board = DASHBOARDS[name]
    datasource = _variable(board, "datasource")
    assert (datasource["type"], datasource["query"]) == ("datasource", "prometheus")
    cluster = _variable(board, "cluster")
    assert cluster["type"] == "query"
    assert cluster["includeAll"] is True
    assert cluster["allValue"] == ".*"  # also matches series without a cluster label
    assert "label_values(velero_exporter_build_info, cluster)" in json.dumps(cluster["query"])
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            assert variable["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert "job" not in json.dumps(variable["query"])


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_panel_ids_are_unique_and_the_grid_is_valid(name: str) -> None:
    panels = DASHBOARDS[name]["panels"]
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), f"duplicate panel ids in {name}"
    titles = [p["title"] for p in panels if p["type"] != "row"]
    assert len(titles) == len(set(titles)), f"duplicate panel titles in {name}"
    occupied: set[tuple[int, int]] = set()
    for panel in panels:
        grid = panel["gridPos"]
        assert set(grid) == {"h", "w", "x", "y"}
        assert grid["h"] >= 1 and 1 <= grid["w"] <= 24 and grid["x"] >= 0 and grid["y"] >= 0
        assert grid["x"] + grid["w"] <= 24, f"{panel['title']} overflows the grid"
        cells = {(grid["x"] + dx, grid["y"] + dy) for dx in range(grid["w"]) for dy in range(grid["h"])}
        assert not cells & occupied, f"{panel['title']} overlaps another panel"
        occupied |= cells


@pytest.mark.parametrize(("name", "panel"), list(_all_panels()), ids=lambda v: v if isinstance(v, str) else v["title"])
def test_every_panel_has_title_description_unit_and_the_variables(name: str, panel: dict[str, Any]) -> None:
    assert panel["type"] in PANEL_TYPES
    assert panel["title"].strip()
    assert len(panel["description"]) >= 30
    assert panel["fieldConfig"]["defaults"]["unit"]
    assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
    refs = [t["refId"] for t in panel["targets"]]
    assert refs and len(refs) == len(set(refs))
    for target in panel["targets"]:
        expr = target["expr"]
        assert target["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert not re.search(r"\bjob\s*=", expr), f"{panel['title']} hard-codes a job"
        # Every selector is restricted to the chosen clusters.
        selectors = re.findall(r"\{([^{}]*)\}", expr)
        assert selectors, f"{panel['title']}: a query without a selector"
        for selector in selectors:
            assert 'cluster=~"$cluster"' in selector, f"{panel['title']}: {{{selector}}} ignores $cluster"
        for window in re.findall(r"\b(?:rate|irate|increase)\((?:[^()]|\([^()]*\))*?\[([^\]]+)\]", expr):
            assert window == "$__rate_interval", f"{panel['title']}: rate window {window}"
    if panel["type"] == "table":
        for override in panel["fieldConfig"]["overrides"]:
            names = [p["value"] for p in override["properties"] if p["id"] == "displayName"]
            units = [p["value"] for p in override["properties"] if p["id"] == "unit"]
            if names:
                assert units and units[0], f"{panel['title']}: column {names[0]} has no unit"


def test_every_variable_used_is_defined() -> None:
    builtin = {"__rate_interval", "__range", "__interval", "__data", "__url_time_range"}
    for name, board in DASHBOARDS.items():
        defined = {v["name"] for v in board["templating"]["list"]} | builtin
        used = set(re.findall(r"\$\{?(\w+)", json.dumps(board["panels"]) + json.dumps(board["links"])))
        assert used <= defined, f"{name} uses undefined variables {used - defined}"


def test_the_overview_links_to_the_tier_detail_and_each_tier_row_too() -> None:
    overview = DASHBOARDS["velero-overview.json"]
    assert {link["url"] for link in overview["links"]} >= {
        "/d/velero-exporter-tier-detail",
        "/d/velero-exporter-health",
    }
    assert all(link["includeVars"] and link["keepTime"] for link in overview["links"])
    tiers = _panel("velero-overview.json", "Tiers")
    links = [
        link
        for override in tiers["fieldConfig"]["overrides"]
        if override["matcher"]["options"] == "tier"
        for prop in override["properties"]
        if prop["id"] == "links"
        for link in prop["value"]
    ]
    assert links and links[0]["url"].startswith("/d/velero-exporter-tier-detail?")
    assert "var-tier=${__data.fields.tier}" in links[0]["url"]
    assert "${cluster:queryparam}" in links[0]["url"] and "${datasource:queryparam}" in links[0]["url"]
    assert _variable(DASHBOARDS["velero-tier-detail.json"], "tier")["type"] == "query"


def test_the_seeds_panels_are_there() -> None:
    titles = {panel["title"] for _, panel in _all_panels()}
    assert {
        "Backup success ratio per tier",  # success rates
        "Backup duration per schedule",  # duration trends
        "Bucket size",  # storage usage
        "Tiers",  # RPO/RTO compliance
        "RPO compliance over time",
        "Newest restore per tier and schedule",  # recovery status
        "Snapshot freshness per region",
        "Backup storage locations",
        "Source health",
    } <= titles


def _alert_names() -> set[str]:
    groups = yaml.safe_load(RULE_FILE.read_text())["groups"]
    return {rule["alert"] for group in groups for rule in group["rules"] if "alert" in rule}


def test_every_alert_is_explained_by_a_panel_and_the_docs_link_it() -> None:
    explained: set[str] = set()
    for board in generate.dashboards():
        for row in board.rows:
            for panel in row.panels:
                explained |= set(panel.explains)
    alerts = _alert_names()
    assert explained <= alerts, f"panels name unknown alerts: {explained - alerts}"
    assert alerts <= explained, f"alerts no panel explains: {alerts - explained}"
    assert set(generate.ALERT_PANELS) == alerts, "every alert has the one panel its runbook links to"
    docs = DOCS.read_text()
    for alert in alerts:
        assert re.search(rf"^\| {alert} \| .* \| `/d/[\w-]+\?viewPanel=\d+` \|$", docs, re.M), alert


def test_docs_list_every_panel_with_its_id() -> None:
    docs = DOCS.read_text()
    for _, panel in _all_panels():
        assert f"| {panel['id']} | {panel['title']} |" in docs


# --- every query against a real Prometheus scraping the sandbox ------------------------------------------

# Panels that legitimately show nothing in the sandbox, with the reason. The test still runs their queries.
VELERO_OWN = "reads Velero's own metrics (its server's /metrics); the sandbox runs no Velero server"
EXPECTED_EMPTY: dict[str, str] = {
    "Backup outcomes (Velero's counters)": VELERO_OWN,
    "Backup duration p50 and p95 (Velero's histogram)": VELERO_OWN,
    "Backup duration p95 (Velero's histogram)": VELERO_OWN,
    "Backups being deleted": "the story deletes nothing (tests/test_e2e_fidelity.py holds a stuck deletion)",
    # The fleet dashboard's DR and absence panels: tests/test_fleet.py checks them on the two-cluster sandbox.
    "DR pairs and their lag": "the sandbox is one cluster, a primary: it has no DR cluster",
    "DR lag over time": "the sandbox is one cluster, a primary: it has no DR cluster",
    "Clusters whose exporter is absent": "the sandbox's exporter keeps reporting",
}
AWS_PANELS = (
    "Bucket size",
    "Bucket growth per day",
    "Storage per tier and bucket",
    "Storage by Velero folder",
    "Newest backup in each bucket",
    "Completed backups missing from their bucket",
    "Snapshot freshness per region",
    "Snapshots by state per region",
    "Tier storage per bucket",
    "Bucket posture",
    "Lifecycle expiration against retention",
    "DR replicas",
    "Snapshot encryption and locks",
    "AWS accounts",
)
SOURCES = ("kube", "buckets", "repositories", "snapshots", "posture", "accounts")
TIER_UNDER_TEST = "critical"  # has schedules, a failed backup, snapshots and restores: every tier panel has data


@dataclass
class Sandbox:
    prometheus: str
    metrics: str
    expected_empty: dict[str, str]


async def _until(check: Any, what: str, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sandbox() -> AsyncIterator[Sandbox]:
    async with running_sandbox(time.time()) as world:
        options = Options(listen_host="127.0.0.1", listen_port=0, kubeconfig=str(world.kubeconfig), namespace="velero")
        async with Exporter(load_config(DEMO_CONFIG), options) as exporter, aiohttp.ClientSession() as http:
            metrics = ""

            async def rendered() -> bool:
                nonlocal metrics
                async with http.get(f"{exporter.url}/metrics") as resp:
                    metrics = await resp.text()
                up = re.findall(r"^velero_exporter_source_up\{[^}]*\} 1(?:\.0)?$", metrics, re.M)
                return resp.status == 200 and len(up) == len(SOURCES)

            await _until(rendered, f"every source's first refresh ({', '.join(SOURCES)})")
            target = exporter.url.removeprefix("http://")
            async with running_prometheus(
                [target], [RULE_FILE], scrape_interval="1s", evaluation_interval="1s"
            ) as prometheus:

                async def ready() -> bool:
                    compliant = await query(prometheus.url, "velero:tier_rpo_compliant")
                    rates = await query(prometheus.url, "rate(velero_exporter_source_errors_total[1m])")
                    restores = await query(prometheus.url, "velero:tier_last_restore_success_timestamp_seconds")
                    return len(compliant) == 5 and bool(rates) and bool(restores)

                await _until(ready, "the recording rules and two scrapes")
                await rendered()  # what Prometheus scrapes now
                yield Sandbox(prometheus.url, metrics, dict(EXPECTED_EMPTY))


def substitute(expr: str, tier: str = TIER_UNDER_TEST) -> str:
    """What Grafana sends for the dashboards' variables (the cluster variable at "All")."""
    values = {
        "__rate_interval": "1m",
        "__range": "1h",
        "__interval": "15s",
        "cluster": ".*",
        "tier": tier,
    }
    for name, value in values.items():
        expr = expr.replace("${" + name + "}", value)
        expr = re.sub(rf"\${name}\b", value, expr)
    assert "$" not in expr, f"unsubstituted variable in {expr}"
    return expr


def _targets() -> list[tuple[str, str, str, str]]:
    return [
        (name, panel["title"], target["refId"], target["expr"])
        for name, panel in _all_panels()
        for target in panel["targets"]
    ]


def _panel_ids() -> list[tuple[str, int, str]]:
    return [(name, panel["id"], panel["title"]) for name, panel in _all_panels()]


@pytest.mark.slow
@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize(("name", "pid", "title"), _panel_ids(), ids=[f"{n}:{t}" for n, _, t in _panel_ids()])
async def test_every_panel_query_runs_and_has_data(sandbox: Sandbox, name: str, pid: int, title: str) -> None:
    (panel,) = [p for p in _panels(DASHBOARDS[name]) if p["id"] == pid]
    answers = [await query(sandbox.prometheus, substitute(t["expr"])) for t in panel["targets"]]
    if title in sandbox.expected_empty:
        return  # it ran without an error; no data is expected (see EXPECTED_EMPTY for why)
    empty = [t["refId"] for t, answer in zip(panel["targets"], answers, strict=True) if not answer]
    if panel["type"] == "table" and len(panel["targets"]) > 1:
        # A table's column may be empty where the sandbox has no such value (a location never synced); the
        # table as a whole must have rows.
        assert len(empty) < len(panel["targets"]), f"{title}: every column is empty"
    else:
        assert not empty, f"{title}: no data for {empty}"


def test_expected_empty_names_real_panels() -> None:
    titles = {panel["title"] for _, panel in _all_panels()}
    assert set(EXPECTED_EMPTY) <= titles
    assert set(AWS_PANELS) <= titles


async def _column_series(sandbox: Sandbox, panel: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """One column of a table panel (the query whose override names it): its series."""
    field = next(
        o["matcher"]["options"]
        for o in panel["fieldConfig"]["overrides"]
        if {"id": "displayName", "value": name} in o["properties"]
    )
    ref = "A" if field == "Value" else field.removeprefix("Value #")
    (target,) = [t for t in panel["targets"] if t["refId"] == ref]
    return await query(sandbox.prometheus, substitute(target["expr"]))


async def _column(sandbox: Sandbox, panel: dict[str, Any], name: str, key: str = "tier") -> dict[str, float]:
    """One column of a table panel, as {the `key` label: value}."""
    return {series["metric"][key]: float(series["value"][1]) for series in await _column_series(sandbox, panel, name)}


TIERS = ("hot", "critical", "full", "config", "dr")


@pytest.mark.slow
@pytest.mark.asyncio(loop_scope="module")
async def test_the_tier_table_shows_the_sandboxs_objectives_ages_and_states(sandbox: Sandbox) -> None:
    tiers = _panel("velero-overview.json", "Tiers")
    rpo = await _column(sandbox, tiers, "RPO objective")
    assert rpo == {"hot": 2 * HOUR, "critical": 26 * HOUR, "full": 8 * DAY, "config": 1 * HOUR, "dr": 32 * DAY}
    rto = await _column(sandbox, tiers, "RTO objective")
    assert rto == {"hot": 15 * 60, "critical": HOUR, "full": 4 * HOUR, "config": 30 * 60, "dr": 2 * HOUR}

    met = await _column(sandbox, tiers, "RPO met")
    assert met == {"hot": 1, "critical": 1, "full": 0, "config": 1, "dr": 1}

    ages = await _column(sandbox, tiers, "Recovery point age")
    assert set(ages) == set(TIERS)  # the unassigned backups are no row of their own
    slack = 120.0  # the time since the story was written, and Prometheus' evaluation
    assert 120 <= ages["hot"] <= HOUR + 120 + slack  # the newest hourly run before now-2m
    assert 60 <= ages["config"] <= 30 * 60 + 60 + slack  # the newest half-hourly run before now-1m
    assert abs(ages["critical"] - 3 * HOUR) <= slack  # the ad-hoc backup after the failed daily run
    assert 14 * DAY + 4 * HOUR <= ages["full"] <= 21 * DAY + 4 * HOUR + slack  # two weeks and more: RPO violated
    assert 5 * HOUR <= ages["dr"] <= 31 * DAY + 5 * HOUR + slack
    for tier, limit in rpo.items():
        assert (ages[tier] <= limit) == bool(met[tier]), tier

    last = await _column(sandbox, tiers, "Last backup result")
    assert last == {"hot": 1, "critical": 3, "full": 2, "config": 1, "dr": 1}  # Completed, Failed, PartiallyFailed

    restored = await _column(sandbox, tiers, "Newest restore took")
    assert restored == {"hot": 540, "critical": 300}
    rto_met = await _column(sandbox, tiers, "RTO met")
    assert rto_met == {"hot": 1, "critical": 1}
    drill = await _column(sandbox, tiers, "Last good restore")
    assert abs(drill.pop("hot") - (DAY - 540)) <= slack  # the drill a day ago
    assert drill == {"critical": -1, "full": -1, "config": -1, "dr": -1}  # "never"
    newest_drill = await _column(sandbox, tiers, "Newest drill")
    assert newest_drill == {"hot": 1, "critical": 0, "full": 0, "config": 0, "dr": 0}  # passed; none


@pytest.mark.slow
@pytest.mark.asyncio(loop_scope="module")
async def test_the_drill_panels_show_the_sandboxs_verified_drill(sandbox: Sandbox) -> None:
    """The story's one drill (hot, passed its validation a day less nine minutes ago), and the demo's dr tier that
    requires validation, in the tier detail's drill panels (every tier at once)."""

    async def per_tier(title: str) -> dict[str, float]:
        (target,) = _panel("velero-tier-detail.json", title)["targets"]
        answer = await query(sandbox.prometheus, substitute(target["expr"], tier=".*"))
        return {series["metric"]["tier"]: float(series["value"][1]) for series in answer}

    results = await per_tier("Newest restore drill")
    assert results.pop("hot") == 1  # passed
    assert set(results.values()) == {0}  # none
    assert set(results) >= {"critical", "full", "config", "dr"}
    verified = await per_tier("Last verified restore")
    slack = 120.0  # the time since the story was written, and Prometheus' evaluation
    assert abs(verified.pop("hot") - (DAY - 540)) <= slack
    assert verified == {"critical": -1, "full": -1, "config": -1, "dr": -1}  # "never"
    required = await per_tier("Drill validation required")
    assert required == {"hot": 0, "critical": 0, "full": 0, "config": 0, "dr": 1}


@pytest.mark.slow
@pytest.mark.asyncio(loop_scope="module")
async def test_the_key_panels_show_the_sandboxs_trouble(sandbox: Sandbox) -> None:
    async def values(file: str, title: str, ref: str = "A") -> list[dict[str, Any]]:
        (target,) = [t for t in _panel(file, title)["targets"] if t["refId"] == ref]
        return await query(sandbox.prometheus, substitute(target["expr"]))

    def only(answer: list[dict[str, Any]]) -> float:
        (series,) = answer
        return float(series["value"][1])

    overview = "velero-overview.json"
    assert only(await values(overview, "Tiers violating their RPO")) == 1  # full
    assert only(await values(overview, "Schedules failing")) == 2  # daily-critical, weekly-full
    assert only(await values(overview, "Unavailable storage locations")) == 1  # dr
    assert only(await values(overview, "Tiers never restore-tested")) == 4  # only hot was drilled
    assert only(await values(overview, "Missed schedule runs")) == 0
    sources = {s["metric"]["source"]: float(s["value"][1]) for s in await values(overview, "Source health")}
    assert sources["kube"] == 1
    assert only(await values(overview, "Sources down")) == 0
    assert only(await values(overview, "Exporter scrape")) == 1
    failing = {(s["metric"]["schedule"], s["metric"]["phase"]) for s in await values(overview, "Failing schedules")}
    assert failing == {("daily-critical", "Failed"), ("weekly-full", "PartiallyFailed")}
    locations = {
        s["metric"]["location"]: float(s["value"][1]) for s in await values(overview, "Backup storage locations")
    }
    assert locations == {"default": 1, "dr": 0}

    detail = "velero-tier-detail.json"
    schedules = await values(detail, "Schedules")
    assert [(s["metric"]["schedule"], s["metric"]["cron"], float(s["value"][1])) for s in schedules] == [
        ("daily-critical", "0 2 * * *", 3)  # Failed
    ]
    snapshots = await values(detail, "Volume snapshots completed vs attempted")
    assert [round(float(s["value"][1]), 3) for s in snapshots] == [round(2 / 6, 3)]
    restores = {
        s["metric"]["schedule"]: float(s["value"][1]) for s in await values(detail, "Newest restore per schedule")
    }
    assert restores == {"daily-critical": 3}  # Failed


@pytest.mark.slow
@pytest.mark.asyncio(loop_scope="module")
async def test_the_posture_row_shows_the_sandboxs_posture(sandbox: Sandbox) -> None:
    """What moto holds (sandbox/aws_story.py) and the demo's config, panel by panel."""
    overview = "velero-overview.json"
    buckets = _panel(overview, "Bucket posture")

    async def bucket(name: str) -> dict[str, float]:
        return await _column(sandbox, buckets, name, key="location")

    assert await bucket("Versioned") == {"default": 1, "dr": 1}
    assert await bucket("Encrypted") == {"default": 1, "dr": 1}
    assert await bucket("Public access blocked") == {"default": 1, "dr": 1}
    assert await bucket("Object Lock retention") == {}  # neither carries it
    assert await bucket("Object Lock required") == {"dr": 1}  # the demo requires it of the DR replica
    assert await bucket("Replicated") == {"default": 1, "dr": 0}

    lifecycle = _panel(overview, "Lifecycle expiration against retention")
    assert await _column(sandbox, lifecycle, "Expires after", key="location") == {"default": 30 * DAY}
    # The dr tier (1y) is stored in the primary: the longest retention there.
    assert await _column(sandbox, lifecycle, "Longest retention stored", key="location") == {"default": 365 * DAY}
    assert await _column(sandbox, lifecycle, "Keeps the retention", key="location") == {"default": 0}

    replicas = _panel(overview, "DR replicas")
    missing = await _column(sandbox, replicas, "Missing backups", key="replica_bucket")
    assert missing == {"kailash-velero-dr-backups": 1}

    snapshots = _panel(overview, "Snapshot encryption and locks")
    unencrypted = await query(sandbox.prometheus, substitute(snapshots["targets"][0]["expr"]))
    assert {(s["metric"]["region"], s["metric"]["tier"]): float(s["value"][1]) for s in unencrypted} == {
        (region, tier): 0 for region in ("us-east-1", "us-west-2") for tier in ("critical", "full", "dr")
    }
    assert await query(sandbox.prometheus, substitute(snapshots["targets"][1]["expr"])) == []  # locks not asked
    states = _panel(overview, "Snapshots by state per region")
    answer = await query(sandbox.prometheus, substitute(states["targets"][0]["expr"]))
    completed = {s["metric"]["region"]: float(s["value"][1]) for s in answer if s["metric"]["state"] == "completed"}
    # One snapshot per backup that snapshots volumes (30 daily, 13 weekly, 13 monthly), all encrypted; the DR
    # region has copies of all but the daily runs of the last two and a half days (2 or 3 by the time of day).
    assert completed["us-east-1"] == 56 and completed["us-west-2"] in (53, 54)

    accounts = _panel(overview, "AWS accounts")
    info = await query(sandbox.prometheus, substitute(accounts["targets"][0]["expr"]))
    assert {(s["metric"]["source"], s["metric"]["target"], s["metric"]["account_id"]) for s in info} == {
        ("buckets", "default", "123456789012"),
        ("buckets", "dr", "123456789012"),
        ("snapshots", "us-east-1", "123456789012"),
        ("snapshots", "us-west-2", "123456789012"),
    }
    assert await query(sandbox.prometheus, substitute(accounts["targets"][1]["expr"])) == []  # not required

    expiring = _panel(overview, "Newest recovery point expires in")
    answer = await query(sandbox.prometheus, substitute(expiring["targets"][0]["expr"]))
    left = {s["metric"]["tier"]: float(s["value"][1]) for s in answer}
    slack = 300.0
    # Each tier's newest good backup expires at its start plus its TTL (sandbox/story.py).
    assert 7 * DAY - HOUR - 2 * 60 - slack <= left["hot"] <= 7 * DAY
    assert 3 * DAY - 30 * 60 - 60 - slack <= left["config"] <= 3 * DAY
    assert abs(left["critical"] - (30 * DAY - 3 * HOUR)) <= slack  # the ad-hoc backup after the failed daily run
    assert 90 * DAY - 21 * DAY - 4 * HOUR - slack <= left["full"] <= 90 * DAY - 14 * DAY
    assert 365 * DAY - 31 * DAY - 4 * HOUR - slack <= left["dr"] <= 365 * DAY
    assert set(left) == set(TIERS)


async def _table(sandbox: Sandbox, file: str, title: str, column: str, *keys: str) -> dict[tuple[str, ...], float]:
    """One column of a table panel, keyed by the given labels."""
    answer = await _column_series(sandbox, _panel(file, title), column)
    return {tuple(s["metric"][k] for k in keys): float(s["value"][1]) for s in answer}


@pytest.mark.slow
@pytest.mark.asyncio(loop_scope="module")
async def test_the_volume_panels_show_the_sandboxs_volume_data(sandbox: Sandbox) -> None:
    """The story's volume data (sandbox/volume_story.py) as the tier detail (tier critical) and overview show it."""
    volumes = VOLUMES["daily-critical"][1]
    moved_before = sum(v.bytes for v in volumes)
    moved = moved_before - volumes[-1].bytes + volumes[-1].bytes // 3  # the failed run's last upload failed

    detail, keys = "velero-tier-detail.json", ("schedule", "method")
    title = "Volumes: newest backup vs the one before"
    assert await _table(sandbox, detail, title, "Volumes", *keys) == {
        ("daily-critical", "data-mover"): 3,
        ("daily-critical", "snapshot"): 6,  # the failed run completed 2 of its 6 native snapshots
    }
    assert await _table(sandbox, detail, title, "Volumes before", *keys) == {
        ("daily-critical", "data-mover"): 3,
        ("daily-critical", "snapshot"): 6,
    }
    assert await _table(sandbox, detail, title, "Failed", *keys) == {
        ("daily-critical", "data-mover"): 1,
        ("daily-critical", "snapshot"): 4,
    }
    assert await _table(sandbox, detail, title, "Bytes", *keys) == {("daily-critical", "data-mover"): moved}
    assert await _table(sandbox, detail, title, "Bytes before", *keys) == {
        ("daily-critical", "data-mover"): moved_before
    }
    ratios = _panel(detail, "Newest backup against the one before")["targets"]
    bytes_ratio = await query(sandbox.prometheus, substitute(ratios[1]["expr"]))
    assert [(s["metric"]["method"], round(float(s["value"][1]), 4)) for s in bytes_ratio] == [
        ("data-mover", round(moved / moved_before, 4))
    ]
    folders = await query(sandbox.prometheus, substitute(ratios[0]["expr"]))
    (failed_run, previous_run) = [b for b in _story_backups() if _schedule_of(b) == "daily-critical"][:2]
    assert [round(float(s["value"][1]), 4) for s in folders] == [
        round(_folder_bytes(failed_run) / _folder_bytes(previous_run), 4)
    ]

    overview = "velero-overview.json"
    in_flight = await _table(sandbox, overview, "Volume operations in flight", "Last moved", "kind", "operation")
    (((kind, operation), since),) = in_flight.items()
    assert kind == "DataUpload" and operation.startswith(STALLED_BACKUP)
    assert STALLED_FOR <= since <= STALLED_FOR + 180  # the time since the sandbox was written, and the scrape
    repositories = "Backup repositories"
    ready = await _table(sandbox, overview, repositories, "Ready", "repository")
    assert ready == dict.fromkeys(
        [
            ("kailash-app-default-kopia",),
            ("logging-default-kopia",),
            ("monitoring-default-kopia",),
            ("vault-default-kopia",),
        ],
        1.0,
    )
    failed = await _table(sandbox, overview, repositories, "Newest maintenance", "repository")
    assert failed == {**dict.fromkeys(ready, 0.0), ("vault-default-kopia",): 1.0}
    ages = await _table(sandbox, overview, repositories, "Age in frequencies", "repository")
    expected = {"kailash-app": 15, "logging": 25, "monitoring": 35, "vault": 90}  # minutes since, of an hour
    assert {k: round(v, 1) for k, v in ages.items()} == pytest.approx(
        {(f"{ns}-default-kopia",): round(m / 60, 1) for ns, m in expected.items()}, abs=0.1
    )
    counted = await query(
        sandbox.prometheus, substitute(_panel(overview, "Volume operations by kind and phase")["targets"][0]["expr"])
    )
    shown = {(s["metric"]["kind"], s["metric"]["phase"]): float(s["value"][1]) for s in counted}
    assert shown == {k: float(v) for k, v in _operation_counts().items()}


def _story_backups() -> list[dict[str, Any]]:
    """The story's finished backups, newest first (the story at this moment: their sizes do not depend on it)."""
    backups = [o for o in story(time.time()) if o["kind"] == "Backup" and o["status"].get("completionTimestamp")]
    return sorted(backups, key=lambda b: b["status"]["startTimestamp"], reverse=True)


def _schedule_of(backup: dict[str, Any]) -> str:
    return str(backup["metadata"].get("labels", {}).get("velero.io/schedule-name", ""))


def _folder_bytes(backup: dict[str, Any]) -> int:
    return sum(len(content) for content in backup_folder(backup).values())


def _operation_counts() -> dict[tuple[str, str], int]:
    counts: dict[tuple[str, str], int] = {}
    operation_kinds = {"PodVolumeBackup", "PodVolumeRestore", "DataUpload", "DataDownload"}
    for obj in story(time.time()):
        if obj["kind"] in operation_kinds:
            key = (obj["kind"], obj["status"]["phase"])
            counts[key] = counts.get(key, 0) + 1
    return counts


def test_every_runbook_links_the_panel_that_explains_its_alert() -> None:
    table = dict(re.findall(r"^\| (\w+) \| [^|]+ \| [^|]+ \| `([^`]+)` \|$", DOCS.read_text(), re.M))
    runbooks = (ROOT / "docs" / "runbooks.md").read_text()
    linked = dict(
        re.findall(r"^## (\w+)\n\nSeverity:[^\n]*\n\n\*\*Dashboard\.\*\* [^`]*`<grafana>([^`]+)`", runbooks, re.M)
    )
    assert table, "docs/dashboards.md lists no alert panels"
    assert linked == table


@pytest.mark.slow
@pytest.mark.asyncio(loop_scope="module")
async def test_the_coverage_row_shows_the_sandboxs_truth(sandbox: Sandbox) -> None:
    """sandbox/cluster_story.py: 13 namespaces, kailash-reports in no schedule; three volumes no tier protects."""

    async def answer(title: str, ref: str = "A") -> list[dict[str, Any]]:
        (target,) = [t for t in _panel("velero-overview.json", title)["targets"] if t["refId"] == ref]
        return await query(sandbox.prometheus, substitute(target["expr"]))

    (namespaces,) = await answer("Namespaces no tier protects")
    assert float(namespaces["value"][1]) == 1
    (volumes,) = await answer("Volumes no tier protects")
    assert float(volumes["value"][1]) == 3
    assert [s["metric"]["namespace"] for s in await answer("Unprotected namespaces")] == ["kailash-reports"]
    unprotected = {
        (s["metric"]["namespace"], s["metric"]["persistentvolumeclaim"], s["metric"]["reason"])
        for s in await answer("Unprotected volumes")
    }
    assert unprotected == {
        ("kailash-app", "media", "volume_excluded"),
        ("monitoring", "grafana-data", "policy_skip"),
        ("kailash-reports", "reports-db-data", "namespace_not_selected"),
    }
    tiers = _panel("velero-overview.json", "Coverage per tier")
    assert await _column(sandbox, tiers, "Namespaces covered") == {
        "hot": 1,
        "critical": 4,
        "full": 6,
        "config": 6,
        "dr": 6,
    }
    # hot carries postgres, redis and uploads by fs-backup; config carries no volume (no row); the others snapshot
    # eight (not uploads: EFS).
    assert await _column(sandbox, tiers, "Volumes protected") == {"hot": 3, "critical": 8, "full": 8, "dr": 8}
    # The trend's queries, answered now: namespaces and volumes by state.
    namespaces_now = {s["metric"]["state"]: float(s["value"][1]) for s in await answer("Coverage over time", "A")}
    assert namespaces_now == {"protected": 6, "unprotected": 1, "ignored": 6}
    volumes_now = {s["metric"]["state"]: float(s["value"][1]) for s in await answer("Coverage over time", "B")}
    assert volumes_now == {"protected": 9, "unprotected": 3, "ignored": 2}
