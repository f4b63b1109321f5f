"""The Grafana dashboards: generated without drift, built to the conventions, and every panel query answered by a
real Prometheus that scrapes the exporter of every scenario's cluster, with what each cluster holds
(tests/panel_truth.py says what that is; tests/scenario_run.py asks the queries).

Prometheus is the Debian package's binary (`prometheus`): a missing binary fails these tests rather than skipping
them, since the panels are only proven by it.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.panel_truth import (
    AGE_SLACK,
    ANY,
    BACKUP_OPERATION_METHODS,
    EMPTY,
    FINISHED,
    PHASE_CODE,
    PLURALS,
    SCHEDULE_LABEL,
    UNASSIGNED,
    UNFINISHED,
    Answer,
    Facts,
    Truth,
    TruthOf,
    Value,
    ages,
    exact,
    expiration,
    finished_at,
    one,
    per,
    phase,
    started,
    ts,
    ttl,
)
from tests.scenario_run import PanelKey, Run
from velero_exporter import __version__
from velero_exporter.config.durations import parse_duration
from velero_exporter.mixin import dashboards as generate
from velero_exporter.mixin.config import DEFAULT as MIXIN
from velero_exporter.sandbox.cloud import BucketSetup
from velero_exporter.sandbox.cluster_objects import EBS_CSI
from velero_exporter.sandbox.objects import Obj, name_of
from velero_exporter.sandbox.scenarios import all_scenarios
from velero_exporter.sandbox.world import Snapshot
from velero_exporter.sources.cluster_parsing import VOLUMES_TO_EXCLUDE as EXCLUDES_ANNOTATION
from velero_exporter.sources.kube.coverage import POLICIES as POLICY_RESOURCE
from velero_exporter.sources.kube.coverage import RESOURCES as CLUSTER_RESOURCES
from velero_exporter.sources.kube.source import RESOURCES as VELERO_RESOURCES
from velero_exporter.state.aws_records import PREFIX_KINDS
from velero_exporter.state.coverage_records import COVERAGE_ANNOTATION
from velero_exporter.state.vocabulary import (
    BACKUP_NAME_LABEL,
    ERROR_KINDS,
    PROBLEMS,
    RENDER_STAGES,
    RESTORE_NAME_LABEL,
    VALIDATION_ANNOTATION,
)
from velero_exporter.velero.cron import CronError, parse_cron
from velero_exporter.velero.duration import go_duration_seconds
from velero_exporter.velero.labels import label_value

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


# --- every panel against the truth of every scenario's cluster ---------------------------------------------------
#
# tests/scenario_run.py asks every panel query of every cluster (Grafana's `cluster` variable at that cluster, the
# tier detail's `tier` at every tier at once: its queries keep the tier label) when every scenario is in trouble.
# Each panel query's answer must be what the cluster's World and declared alerts imply (tests/panel_truth.py).

BOARDS = {
    "overview": "velero-overview.json",
    "tier": "velero-tier-detail.json",
    "health": "velero-exporter-health.json",
    "fleet": "velero-fleet.json",
}
SOURCES_AWS = ("accounts", "buckets", "posture", "repositories", "snapshots")


def _sources(f: Facts) -> list[str]:
    return ["kube", *(SOURCES_AWS if f.aws else ()), *(["coverage"] if f.config.coverage.enabled else [])]


def _ever_up(f: Facts) -> list[str]:
    """The sources that have had a success: all but an AWS source down from the start (a trouble's change, not a
    later one). The kube source's success is any list's: one resource forbidden leaves the others'."""
    never = {
        a["source"]
        for trouble in f.scenario.troubles
        if trouble.change is not None
        for a in (dict(alert.labels) for alert in trouble.alerts if alert.name == "VeleroExporterSourceDown")
    }
    return [s for s in _sources(f) if s == "kube" or s not in never]


def _down(f: Facts) -> set[str]:
    return {a["source"] for a in f.alerts("VeleroExporterSourceDown")}


def _newest_success(f: Facts) -> Truth:
    done = [finished_at(b) for b in f.backups if phase(b) == "Completed"]
    return one(f.at - max(done), AGE_SLACK) if done else EMPTY


def _recovery_point_ages(f: Facts, *, unassigned: bool = False) -> Truth:
    """Per configured tier; with `unassigned`, the backups of no tier too (the tier detail asked for every tier)."""
    tiers = [*f.tiers, UNASSIGNED] if unassigned else f.tiers
    points = {t: started(rp) for t in tiers if (rp := f.recovery_point(t)) is not None}
    return ages("tier", points, f.at)


def _rpo_met(f: Facts) -> Truth:
    violated = {a["tier"] for a in f.alerts("RPOViolation")}
    return per("tier", {t: 0.0 if t in violated else 1.0 for t in f.tiers})


def _schedules_with_runs(f: Facts) -> dict[str, Obj]:
    return {s: b for s in f.schedules if (b := f.newest_finished(s)) is not None}


def _worst_phase(f: Facts) -> Truth:
    worst: dict[str, float] = {}
    for schedule, newest in _schedules_with_runs(f).items():
        tier = f.schedule_tier(schedule)
        worst[tier] = max(worst.get(tier, 0.0), float(PHASE_CODE[phase(newest)]))
    return per("tier", worst)


def _restore_durations(f: Facts) -> dict[tuple[str, str], float]:
    return {k: finished_at(r) - started(r) for k, r in f.newest_restores().items()}


def _tier_restore_took(f: Facts) -> Truth:
    took: dict[str, float] = {}
    for (tier, _), seconds in _restore_durations(f).items():
        took[tier] = max(took.get(tier, 0.0), seconds)
    return per("tier", took)


def _tier_rto_met(f: Facts) -> Truth:
    rto = f.objective("rto")
    took = _tier_restore_took(f).values
    return per("tier", {tier: float((t := exact(v)) is not None and t <= rto[tier]) for (tier,), v in took.items()})


def _last_good_restore(f: Facts, *, never: bool) -> Truth:
    good = f.last_good_restore()
    values = {t: f.at - good[t] for t in f.tiers if t in good}
    if never:
        values.update({t: -1.0 for t in f.tiers if t not in good})
    return Truth(("tier",), {(t,): v for t, v in values.items()}, AGE_SLACK)


def _failing(f: Facts) -> list[dict[str, str]]:
    return [a for a in f.alerts("VeleroBackupFailure") if "schedule" in a]


def _failing_column(f: Facts, value: Callable[[str], float | None]) -> Truth:
    values = {(a["phase"], a["schedule"], a["tier"]): value(a["schedule"]) for a in _failing(f)}
    return per("phase, schedule, tier", {k: v for k, v in values.items() if v is not None}, AGE_SLACK)


def _last(f: Facts, schedule: str, phases: tuple[str, ...]) -> Obj | None:
    runs = [b for b in f.runs(schedule) if phase(b) in phases]
    return max(runs, key=finished_at, default=None)


def _age_of_last(f: Facts, schedule: str, phases: tuple[str, ...]) -> float | None:
    last = _last(f, schedule, phases)
    return f.at - finished_at(last) if last is not None else None


def _newest_field(f: Facts, schedule: str, status: str) -> float | None:
    newest = f.newest_finished(schedule)
    return _status(newest, status) if newest is not None else None


def _success_ratio(f: Facts) -> Truth:
    finished: dict[str, int] = {}
    completed: dict[str, int] = {}
    for backup in f.backups:
        if phase(backup) in FINISHED:
            tier = f.tier(backup)
            finished[tier] = finished.get(tier, 0) + 1
            completed[tier] = completed.get(tier, 0) + (phase(backup) == "Completed")
    return per("tier", {t: completed[t] / n for t, n in finished.items()})


def _durations(f: Facts) -> dict[str, float]:
    return {s: finished_at(b) - started(b) for s, b in _schedules_with_runs(f).items()}


def _locations(f: Facts) -> list[Obj]:
    return f.objects("BackupStorageLocation")


def _location_status(f: Facts, field: str) -> Truth:
    times = {name_of(b): t for b in _locations(f) if (t := ts(b.get("status", {}).get(field))) is not None}
    return ages("location", times, f.at)


def _restore_table(f: Facts, value: Callable[[tuple[str, str], Obj], float], within: float = 0.0) -> Truth:
    return per("tier, schedule", {k: value(k, r) for k, r in f.newest_restores().items()}, within)


def _restores_by(f: Facts, keys: Callable[[Obj], tuple[str, ...]], names: str) -> Truth:
    counts: dict[tuple[str, ...], float] = {}
    for restore in f.objects("Restore"):
        key = keys(restore)
        counts[key] = counts.get(key, 0.0) + 1
    return per(names, counts)


def _per_schedule_of_tier(f: Facts, value: Callable[[str], float | None], within: float = 0.0) -> Truth:
    """A tier-detail schedule table's column: per schedule that has a Schedule object, with its tier and cron."""
    values = {}
    for name, schedule in f.schedules.items():
        v = value(name)
        if v is not None:
            values[name, f.schedule_tier(name), schedule["spec"]["schedule"]] = v
    return per("schedule, tier, cron", values, within)


# -- AWS


def _aws(truth: Callable[[Facts], Truth]) -> TruthOf:
    """The truth of an AWS panel: nothing where the AWS sources are off."""
    return lambda f: truth(f) if f.aws else EMPTY


def _where(f: Facts) -> dict[str, tuple[str, str, str]]:
    """location -> (location, bucket, region), for the measured buckets."""
    return {location: (location, bucket, region) for location, (bucket, region, _) in f.measured_buckets().items()}


def _keys_of(f: Facts, location: str) -> dict[str, bytes]:
    bucket, _, prefix = f.measured_buckets()[location]
    root = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
    return {k.removeprefix(root): v for k, v in f.world.buckets[bucket].keys.items() if k.startswith(root)}


def _bucket_sizes(f: Facts) -> Truth:
    sizes = {where: float(sum(map(len, _keys_of(f, location).values()))) for location, where in _where(f).items()}
    return per("location, bucket, region", sizes)


def _manifests(f: Facts, location: str) -> list[Obj]:
    """The velero-backup.json of each backup folder, in the order the folders were written."""
    return [json.loads(v) for k, v in _keys_of(f, location).items() if k.endswith("/velero-backup.json")]


def _tier_sizes(f: Facts) -> Truth:
    """Per bucket and tier (every configured tier, and unassigned), the bytes of the tier's backup folders."""
    sizes: dict[tuple[str, ...], float] = {}
    for location, where in _where(f).items():
        sizes |= {(*where, tier): 0.0 for tier in (*f.tiers, UNASSIGNED)}
        keys = _keys_of(f, location)
        for manifest in _manifests(f, location):
            folder = f"backups/{name_of(manifest)}/"
            size = sum(len(v) for k, v in keys.items() if k.startswith(folder))
            key = (*where, f.tier(manifest))
            sizes[key] = sizes.get(key, 0.0) + size
    return per("location, bucket, region, tier", sizes)


def _folder_sizes(f: Facts) -> Truth:
    """Per bucket and Velero folder kind (every kind), the bytes under it."""
    sizes: dict[tuple[str, ...], float] = {}
    for location, where in _where(f).items():
        sizes |= {(*where, kind): 0.0 for kind in PREFIX_KINDS}
        for key, data in _keys_of(f, location).items():
            top = key.split("/", 1)[0] if "/" in key else ""
            kind = top if top in ("backups", "restores", "kopia", "restic") else "other"
            sizes[(*where, kind)] = sizes.get((*where, kind), 0.0) + len(data)
    return per("location, bucket, region, kind", sizes)


def _bucket_recovery_points(f: Facts) -> Truth:
    """The age of the start of the newest Completed backup in the bucket, its newest folder first
    (sources/aws/buckets.py). The sandbox writes a World's folders in one go, each second's worth sharing their
    LastModified, which the backups' start then orders: it is the Completed backup written last, or one started
    later in the same second; between those two."""
    points: dict[tuple[str, ...], Value] = {}
    for location, where in _where(f).items():
        completed = [m for m in _manifests(f, location) if phase(m) == "Completed"]
        if completed:
            written_last, newest = started(completed[-1]), max(map(started, completed))
            points[where] = (f.at - newest, f.at - written_last)
    return per("location, bucket, region", points, AGE_SLACK)


def _missing_from_buckets(f: Facts) -> Truth:
    measured = f.measured_buckets()
    missing = {}
    for bsl in _locations(f):
        location = name_of(bsl)
        if location not in measured:
            continue
        held = {name_of(m) for m in _manifests(f, location)}
        completed = [
            b for b in f.backups if phase(b) == "Completed" and b["spec"].get("storageLocation", "default") == location
        ]
        missing[_where(f)[location]] = float(sum(name_of(b) not in held for b in completed))
    return per("location, bucket, region", missing)


def _visible_snapshots(f: Facts) -> list[Snapshot]:
    """The snapshots the exporter sees: in each region with the role the config gives it, or its own account."""
    roles = {region: settings.role_arn or "" for region, settings in f.config.aws.regions}
    return [s for s in f.world.snapshots if s.role == roles.get(s.region, "")]


def _snapshots_by_tier(f: Facts) -> Iterator[tuple[tuple[str, str], Snapshot, Obj]]:
    """(region, tier), snapshot and its backup, of the visible snapshots of backups the cluster holds."""
    for snapshot in _visible_snapshots(f):
        backup = f.world.objects.get(("Backup", snapshot.backup))
        if backup is not None:
            yield (snapshot.region, f.tier(backup)), snapshot, backup


def _snapshot_points(f: Facts) -> Truth:
    newest: dict[tuple[str, str], float] = {}
    for key, _, backup in _snapshots_by_tier(f):
        newest[key] = max(newest.get(key, 0.0), started(backup))
    return ages("region, tier", newest, f.at)


def _snapshot_states(f: Facts) -> Truth:
    counts = {}
    for region in _snapshot_regions(f):
        visible = [s for s in _visible_snapshots(f) if s.region == region]
        for state in ("pending", "completed", "error", "recoverable", "recovering"):
            counts[region, state] = float(sum(s.state == state for s in visible))
    return per("region, state", counts)


def _snapshot_regions(f: Facts) -> set[str]:
    vsl = {b["spec"]["config"]["region"] for b in f.objects("VolumeSnapshotLocation")}
    return vsl | set(f.config.aws.extra_regions)


# -- posture


def _setup(f: Facts, location: str) -> BucketSetup:
    bucket, _, _ = f.measured_buckets()[location]
    return f.world.buckets[bucket].setup


def _per_bucket(f: Facts, value: Callable[[BucketSetup], float | None]) -> Truth:
    values = {where: v for location, where in _where(f).items() if (v := value(_setup(f, location))) is not None}
    return per("location, bucket, region", values)


def _replicas(f: Facts) -> dict[str, str]:
    """replica location -> source location: declared (`replica_of`), or the destination of a measured bucket's
    replication, unless Velero writes to it (a ReadWrite location)."""
    measured = f.measured_buckets()
    pairs = {e.name: e.replica_of for e in f.config.aws.extra_buckets if e.replica_of and e.name in measured}
    for source, (bucket, _, _) in measured.items():
        destination = f.world.buckets[bucket].setup.replicate_to
        pairs.update({replica: source for replica, (b, _, _) in measured.items() if b == destination})
    writable = {name_of(b) for b in _locations(f) if b["spec"].get("accessMode", "ReadWrite") == "ReadWrite"}
    return {replica: source for replica, source in pairs.items() if replica not in writable}


def _lock_required(f: Facts) -> Truth:
    replicas = _replicas(f) if f.config.aws.require_dr_object_lock else {}
    return per("location, bucket, region", {_where(f)[r]: 1.0 for r in replicas})


def _lifecycles(f: Facts) -> dict[str, float]:
    return {
        location: float(days * 86400)
        for location in _where(f)
        if (days := _setup(f, location).expire_backups_after_days) is not None
    }


def _longest_retention(f: Facts) -> dict[str, float]:
    retention = f.objective("retention")
    stored = _tier_sizes(f).values
    where = _where(f)
    return {
        location: max(
            retention[tier]
            for (*place, tier), size in stored.items()
            if tuple(place) == where[location] and (exact(size) or 0) > 0 and tier in retention
        )
        for location in _lifecycles(f)
    }


def _replica_missing(f: Facts) -> Truth:
    measured = f.measured_buckets()
    grace = f.config.aws.replica_grace
    missing = {}
    for replica, source in _replicas(f).items():
        held = {name_of(m) for m in _manifests(f, replica)}
        completed = [m for m in _manifests(f, source) if phase(m) == "Completed" and finished_at(m) < f.at - grace]
        missing[measured[source][0], measured[replica][0]] = float(sum(name_of(m) not in held for m in completed))
    return per("bucket, replica_bucket", missing)


def _unencrypted(f: Facts) -> Truth:
    counts: dict[tuple[str, str], float] = {}
    for key, snapshot, _ in _snapshots_by_tier(f):
        counts[key] = counts.get(key, 0.0) + (not snapshot.encrypted)
    return per("region, tier", counts)


def _account(role: str | None) -> str:
    return role.split(":")[4] if role else PRIMARY_ACCOUNT


def _accounts(f: Facts) -> Truth:
    """The account each AWS target is read with: a bucket's (through its role), a region's (its role)."""
    roles = {e.name: e.settings.role_arn for e in f.config.aws.extra_buckets}
    targets = [name_of(b) for b in _locations(f) if b["spec"].get("provider") == "aws"] + list(roles)
    info = {("buckets", target, _account(roles.get(target))): 1.0 for target in targets}
    regions = dict(f.config.aws.regions)
    for region in _snapshot_regions(f):
        settings = regions.get(region)
        info["snapshots", region, _account(settings.role_arn if settings else None)] = 1.0
    return per("source, target, account_id", info)


def _same_account(f: Facts) -> Truth:
    if not f.config.aws.require_separate_dr_account:
        return EMPTY
    flagged = {(a["source"], a["target"]) for a in f.alerts("VeleroDRCopySameAccount")}
    accounts = {(s, t): a for s, t, a in _accounts(f).values}
    targets = [("buckets", r) for r in _replicas(f)] + [("snapshots", r) for r in f.config.aws.extra_regions]
    return per("source, target, account_id", {(*t, accounts[t]): float(t in flagged) for t in targets})


def _expires_in(f: Facts) -> Truth:
    left = {}
    for tier in f.tiers:
        point = f.recovery_point(tier)
        if point is not None and (expires := expiration(point)) is not None:
            left[tier] = expires - f.at
    return per("tier", left, AGE_SLACK)


# -- the exporter's own health


def _resources(f: Facts, value: Callable[[str], float]) -> Truth:
    return per("resource", {r: value(r) for r in _kinds(f)})


def _resource_up(f: Facts, resource: str) -> float:
    return float(f.world.api_up and resource not in f.world.forbidden)


def _objects_of(f: Facts, resource: str) -> float:
    """What the exporter holds of the resource: of the cluster's pods only those with a claim, of the ConfigMaps
    only the resource policies the Schedules name."""
    if resource in f.world.forbidden:
        return 0.0
    held = f.objects(_kinds(f)[resource])
    if resource == "pods":
        held = [p for p in held if any("persistentVolumeClaim" in v for v in p["spec"]["volumes"])]
    elif resource == "configmaps":
        named = {s["spec"]["template"].get("resourcePolicy", {}).get("name") for s in f.schedules.values()}
        held = [c for c in held if name_of(c) in named]
    return float(len(held))


def _kinds(f: Facts) -> dict[str, str]:
    """The resources the exporter watches (the cluster's own where the coverage source runs), by plural."""
    return {**KINDS, **(COVERAGE_KINDS if f.config.coverage.enabled else {})}


PRIMARY_ACCOUNT = "123456789012"  # moto's own account
# The resources the exporter watches: Velero's, and the cluster's own (with the policy ConfigMaps it gets) where
# the coverage source runs.
KINDS = {plural: kind for kind, plural in PLURALS.items() if plural in {r.plural for r in VELERO_RESOURCES}}
COVERAGE_KINDS = {
    plural: kind
    for kind, plural in PLURALS.items()
    if plural in {*(r.plural for r in CLUSTER_RESOURCES), POLICY_RESOURCE}
}


# -- volume data and repositories


def _operation_counts(f: Facts) -> Truth:
    """Operations held, by kind and phase (a phase with none is no series of the panel)."""
    counts: dict[tuple[str, str], float] = {}
    for kind in ("PodVolumeBackup", "PodVolumeRestore", "DataUpload", "DataDownload"):
        for op in f.objects(kind):
            counts[kind, phase(op)] = counts.get((kind, phase(op)), 0.0) + 1
    return per("kind, phase", counts)


def _in_flight(f: Facts) -> Truth:
    """Unfinished operations and how long since they last moved. None here has moved a byte since the exporter
    first saw it: the newest of its creation, acceptance and start."""
    since: dict[tuple[str, ...], Value] = {}
    for kind in ("PodVolumeBackup", "PodVolumeRestore", "DataUpload", "DataDownload"):
        for op in f.objects(kind):
            if phase(op) in ("Completed", "Failed", "Canceled"):
                continue
            labels = op["metadata"].get("labels", {})
            backup = labels.get(BACKUP_NAME_LABEL)
            if backup is None:  # a restore's: the restored backup
                restore = next(
                    (r for r in f.objects("Restore") if label_value(name_of(r)) == labels.get(RESTORE_NAME_LABEL)), None
                )
                backup = restore["spec"]["backupName"] if restore is not None else ""
            times = [
                ts(op["metadata"].get("creationTimestamp")),
                ts(op["status"].get("acceptedTimestamp")),
                started(op),
            ]
            since[kind, name_of(op), backup] = f.at - max(t for t in times if t is not None)
    return per("kind, operation, backup", since, AGE_SLACK)


def _repositories(f: Facts, value: Callable[[Obj], float | None], within: float = 0.0) -> Truth:
    """A Backup repositories column: per repository, with its type, location and volume namespace."""
    values = {}
    for repository in f.objects("BackupRepository"):
        spec = repository["spec"]
        v = value(repository)
        if v is not None:
            key = (name_of(repository), spec["repositoryType"], spec["backupStorageLocation"], spec["volumeNamespace"])
            values[key] = v
    return per("repository, repository_type, location, volume_namespace", values, within)


def _frequency(repository: Obj) -> float:
    return go_duration_seconds(repository["spec"]["maintenanceFrequency"]) or 0.0


def _maintained_ago(f: Facts, repository: Obj) -> float | None:
    last = ts(repository.get("status", {}).get("lastMaintenanceTime"))
    return f.at - last if last is not None else None


def _newest_maintenance_failed(repository: Obj) -> float | None:
    history = repository.get("status", {}).get("recentMaintenance", [])
    if not history:
        return None
    newest = max(history, key=lambda m: ts(m.get("completeTimestamp")) or 0.0)
    return float(newest["result"] == "Failed")


VOLUME_METHODS = ("fs-backup", "data-mover")
SNAPSHOT_METHODS = {
    "snapshot": ("volumeSnapshotsAttempted", "volumeSnapshotsCompleted"),
    "csi-snapshot": ("csiVolumeSnapshotsAttempted", "csiVolumeSnapshotsCompleted"),
}


def _volumes(f: Facts, backup: Obj | None) -> dict[str, dict[str, float]]:
    """method -> {"volumes", "failed", "bytes"} of one finished backup: its operations by method, and its volume
    snapshots (those attempted and not completed failed)."""
    if backup is None:
        return {}
    out = {m: {"volumes": 0.0, "failed": 0.0, "bytes": 0.0} for m in VOLUME_METHODS}
    for op in f.operations_of(backup):
        counted = out[BACKUP_OPERATION_METHODS[op["kind"]]]
        counted["volumes"] += 1
        counted["failed"] += phase(op) in ("Failed", "Canceled")
        counted["bytes"] += op.get("status", {}).get("progress", {}).get("bytesDone", 0)
    status = backup.get("status", {})
    for method, (attempted, completed) in SNAPSHOT_METHODS.items():
        tried, done = status.get(attempted, 0), status.get(completed, 0)
        out[method] = {"volumes": float(max(tried, done)), "failed": float(max(0, tried - done))}
    return out


def _last_and_previous(f: Facts, schedule: str) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    finished = f.finished(schedule)
    return _volumes(f, finished[0] if finished else None), _volumes(f, finished[1] if len(finished) > 1 else None)


def _volume_table(f: Facts, column: Callable[[dict[str, float], dict[str, float]], float | None]) -> Truth:
    """A Volumes: newest backup vs the one before column: per schedule and method with a volume in either."""
    values = {}
    for schedule in f.schedules:
        last, previous = _last_and_previous(f, schedule)
        for method, now in last.items():
            before = previous.get(method, {"volumes": 0.0})
            if now["volumes"] + before["volumes"] > 0 and (v := column(now, before)) is not None:
                values[schedule, method] = v
    return per("schedule, method", values)


def _volume_bytes_ratio(f: Facts) -> Truth:
    values = {}
    for schedule in f.schedules:
        last, previous = _last_and_previous(f, schedule)
        for method in VOLUME_METHODS:
            if method in previous and previous[method]["bytes"] > 0:
                values[schedule, method] = last[method]["bytes"] / previous[method]["bytes"]
    return per("schedule, method", values, 0.0001)


def _folder_bytes(f: Facts, backup: Obj) -> float | None:
    """The backup's folder in its location's bucket, if the exporter lists that bucket and the folder is there."""
    location = backup["spec"].get("storageLocation", "default")
    if not f.aws or location not in f.measured_buckets():
        return None
    folder = f"backups/{name_of(backup)}/"
    sizes = [len(v) for k, v in _keys_of(f, location).items() if k.startswith(folder)]
    return float(sum(sizes)) if sizes else None


def _folder_ratio(f: Facts) -> Truth:
    values = {}
    for schedule in f.schedules:
        finished = f.finished(schedule)
        if len(finished) > 1:
            last, previous = _folder_bytes(f, finished[0]), _folder_bytes(f, finished[1])
            if last is not None and previous:
                values[schedule] = last / previous
    return per("schedule", values, 0.0001)


# -- coverage: the namespaces and claims of the World, as Velero's selection of each tier's Schedules reads them


def _coverage(truth: Callable[[Facts], Truth]) -> TruthOf:
    """The truth of a coverage panel: nothing where the coverage source is off."""
    return lambda f: truth(f) if f.config.coverage.enabled else EMPTY


def _namespace_ignored(f: Facts, namespace: Obj) -> bool:
    name, meta = name_of(namespace), namespace["metadata"]
    created = ts(meta.get("creationTimestamp"))
    return (
        meta.get("annotations", {}).get(COVERAGE_ANNOTATION) == "ignore"
        or any(fnmatch.fnmatchcase(name, glob) for glob in f.config.coverage.ignore_namespaces)
        or (created is not None and f.at - created < f.config.coverage.grace_seconds)
    )


def _namespace_states(f: Facts) -> dict[str, str]:
    unprotected = {a["namespace"] for a in f.alerts("VeleroNamespaceUnprotected")}
    states = {}
    for namespace in f.objects("Namespace"):
        name = name_of(namespace)
        ignored = _namespace_ignored(f, namespace)
        states[name] = "ignored" if ignored else "unprotected" if name in unprotected else "protected"
    return states


def _claim_states(f: Facts) -> dict[tuple[str, str], str]:
    namespaces = _namespace_states(f)
    unprotected = {(a["namespace"], a["persistentvolumeclaim"]) for a in f.alerts("VeleroVolumeUnprotected")}
    states = {}
    for claim in f.objects("PersistentVolumeClaim"):
        key = (claim["metadata"]["namespace"], name_of(claim))
        ignored = claim["metadata"].get("annotations", {}).get(COVERAGE_ANNOTATION) == "ignore"
        if ignored or namespaces.get(key[0]) == "ignored":
            states[key] = "ignored"
        else:
            states[key] = "unprotected" if key in unprotected else "protected"
    return states


def _by_state(states: dict[Any, str]) -> Truth:
    counts = dict.fromkeys(("protected", "unprotected", "ignored"), 0.0)
    for state in states.values():
        counts[state] += 1
    return per("state", counts)


def _tier_schedules(f: Facts, tier: str) -> list[Obj]:
    """The tier's Schedules that run (not paused)."""
    return [s for name, s in f.schedules.items() if f.schedule_tier(name) == tier and not s["spec"].get("paused")]


def _selected(f: Facts, schedule: Obj) -> set[str]:
    """The namespaces a Schedule selects: its includedNamespaces (all when empty or *) less its
    excludedNamespaces."""
    everything = {name_of(n) for n in f.objects("Namespace")}
    template = schedule["spec"]["template"]
    included = set(template.get("includedNamespaces") or ["*"])
    chosen = everything if "*" in included else included & everything
    return chosen - set(template.get("excludedNamespaces", []))


def _covered(f: Facts, tier: str) -> set[str]:
    return {n for schedule in _tier_schedules(f, tier) for n in _selected(f, schedule)}


def _protected_claims(f: Facts, tier: str) -> set[tuple[str, str]]:
    """The claims whose data the tier's Schedules carry: by file-system backup (every pod volume by default, less
    those the claim's pods exclude by annotation), or by a snapshot (EBS only: no plugin copies EFS) unless a
    resource policy the Schedule names skips the claim's storage class."""
    out: set[tuple[str, str]] = set()
    pods = f.objects("Pod")
    for schedule in _tier_schedules(f, tier):
        template = schedule["spec"]["template"]
        if template.get("includedResources") and "persistentvolumeclaims" not in template["includedResources"]:
            continue
        skipped, selected = _skipped_classes(f, template), _selected(f, schedule)
        for claim in f.objects("PersistentVolumeClaim"):
            namespace, claim_name = claim["metadata"]["namespace"], name_of(claim)
            if namespace not in selected:
                continue
            mounting = [
                (p, v["name"])
                for p in pods
                if p["metadata"]["namespace"] == namespace
                for v in p["spec"]["volumes"]
                if v.get("persistentVolumeClaim", {}).get("claimName") == claim_name
            ]
            excluded = all(
                volume in p["metadata"].get("annotations", {}).get(EXCLUDES_ANNOTATION, "").split(",")
                for p, volume in mounting
            )
            fs_backup = template.get("defaultVolumesToFsBackup") and mounting and not excluded
            snapshot = (
                template.get("snapshotVolumes")
                and _driver(f, claim) == EBS_CSI
                and claim["spec"].get("storageClassName") not in skipped
            )
            if fs_backup or snapshot:
                out.add((namespace, claim_name))
    return out


def _driver(f: Facts, claim: Obj) -> str | None:
    volume = f.world.objects.get(("PersistentVolume", claim["spec"].get("volumeName", "")))
    return volume["spec"].get("csi", {}).get("driver") if volume is not None else None


def _skipped_classes(f: Facts, template: Obj) -> set[str]:
    """The storage classes the Schedule's resource policy (a ConfigMap in Velero's namespace) skips."""
    policy = template.get("resourcePolicy")
    config_map = f.world.objects.get(("ConfigMap", policy["name"])) if policy is not None else None
    if config_map is None:
        return set()
    document = yaml.safe_load(next(iter(config_map["data"].values())))
    return {
        storage_class
        for rule in document.get("volumePolicies", [])
        if rule["action"]["type"] == "skip"
        for storage_class in rule["conditions"].get("storageClass", [])
    }


# -- restore drills


DRILL_CODES = {"passed": 1.0, "unvalidated": 2.0, "failed": 3.0}  # the dashboards' drill_code


def _drills(f: Facts) -> dict[str, list[Obj]]:
    """Per configured tier, its finished restore drills (Restores labelled with the config's drill label)."""
    out: dict[str, list[Obj]] = {t: [] for t in f.tiers}
    for restore in f.objects("Restore"):
        labelled = restore["metadata"].get("labels", {}).get(f.config.drill_label, "").lower() == "true"
        if labelled and phase(restore) in FINISHED and f.restore_tier(restore) in out:
            out[f.restore_tier(restore)].append(restore)
    return out


def _drill_result(restore: Obj) -> str:
    """A drill that did not complete failed, whatever its validation says; a Completed one is its validation."""
    if phase(restore) != "Completed":
        return "failed"
    return str(restore["metadata"].get("annotations", {}).get(VALIDATION_ANNOTATION, "unvalidated"))


def _newest_drill(f: Facts, *, unassigned: bool = False) -> Truth:
    """Per tier, the code of its newest drill's result (by start, then name), 0 without one; with `unassigned`,
    the backups of no tier too (the tier detail asked for every tier), which no drill counts for."""
    newest = {t: max(d, key=lambda r: (started(r), name_of(r)), default=None) for t, d in _drills(f).items()}
    codes = {t: DRILL_CODES[_drill_result(r)] if r is not None else 0.0 for t, r in newest.items()}
    return per("tier", {**codes, **({UNASSIGNED: 0.0} if unassigned else {})})


def _last_verified(f: Facts) -> Truth:
    """Per tier, how long ago its newest drill that passed completed; -1 (never) without one."""
    values = {}
    for tier, drills in _drills(f).items():
        passed = [finished_at(r) for r in drills if _drill_result(r) == "passed"]
        values[tier] = f.at - max(passed) if passed else -1.0
    return per("tier", values, AGE_SLACK)


# --- the fleet: every cluster of the run that Prometheus scrapes, a DR cluster against its primary ---------------


def _newest_copy(f: Facts, tier: str) -> Obj | None:
    """The DR cluster's newest finished backup of the tier (by start, then name, as the exporter orders runs)."""
    done = [b for b in f.backups if f.tier(b) == tier and phase(b) in FINISHED]
    return max(done, key=lambda b: (started(b), name_of(b)), default=None)


def _location_available(f: Facts, backup: Obj) -> float:
    location = f.world.objects.get(("BackupStorageLocation", backup["spec"]["storageLocation"]))
    return float(location is not None and location.get("status", {}).get("phase") == "Available")


def _on_pairs(f: Facts, value: Callable[[str], Value | None], within: float = 0.0) -> Truth:
    """A DR cluster's series per DR tier, labelled with the primary it names (none for another cluster)."""
    if f.dr is None:
        return EMPTY
    dr_of = f.dr.dr_of or ""
    return per("tier, dr_of", {(t, dr_of): v for t in f.dr_tiers if (v := value(t)) is not None}, within)


def _lag(f: Facts) -> Truth:
    return _on_pairs(f, f.lag)


def _lag_ratio(f: Facts) -> Truth:
    rpo = f.objective("rpo")
    return _on_pairs(f, lambda t: lag / rpo[t] if (lag := f.lag(t)) is not None else None)


def _primary_age(f: Facts) -> Truth:
    primary = f.primary
    return _on_pairs(
        f,
        lambda t: f.at - point if primary is not None and (point := primary.point(t)) is not None else None,
        AGE_SLACK,
    )


def _age_against_rpo(f: Facts) -> Truth:
    """Each tier's recovery point age as a share of its RPO (a range: the age is known within AGE_SLACK), or -1."""
    rpo = f.objective("rpo")
    values: dict[str, Value] = {}
    for tier in f.tiers:
        point = f.point(tier)
        age = f.at - point if point is not None else None
        values[tier] = -1.0 if age is None else ((age - AGE_SLACK) / rpo[tier], (age + AGE_SLACK) / rpo[tier])
    return per("tier", values)


def _absent_for(f: Facts) -> Truth:
    """How long ago the exporter of a cluster that is gone reported (within the absence lookback)."""
    return EMPTY if f.reporting else one((0.0, parse_duration(MIXIN.exporter_absent_lookback)))


def _identity(f: Facts) -> Truth:
    cluster = f.config.cluster
    if cluster is None:
        return EMPTY
    return per("cluster_name, role, dr_of", {(cluster.name, cluster.role, cluster.dr_of or ""): 1.0})


def _reporting(truth: TruthOf) -> TruthOf:
    """Where the cluster's exporter reports: a gone one's series are stale, and nothing is checked there."""
    return lambda f: truth(f) if f.reporting else None


TRUTHS: dict[tuple[str, str, str], TruthOf] = {
    # overview: recovery objectives per tier
    ("overview", "Tiers violating their RPO", "A"): lambda f: one(len({a["tier"] for a in f.alerts("RPOViolation")})),
    ("overview", "Schedules failing", "A"): lambda f: one(len(_failing(f))),
    ("overview", "Unavailable storage locations", "A"): lambda f: one(
        sum(b.get("status", {}).get("phase") != "Available" for b in _locations(f))
    ),
    ("overview", "Newest successful backup", "A"): _newest_success,
    ("overview", "Tiers", "RPO objective"): lambda f: per("tier", f.objective("rpo")),
    ("overview", "Tiers", "Recovery point age"): _recovery_point_ages,
    ("overview", "Tiers", "RPO met"): _rpo_met,
    ("overview", "Tiers", "Last backup result"): _worst_phase,
    ("overview", "Tiers", "RTO objective"): lambda f: per("tier", f.objective("rto")),
    ("overview", "Tiers", "Newest restore took"): _tier_restore_took,
    ("overview", "Tiers", "RTO met"): _tier_rto_met,
    ("overview", "Tiers", "Last good restore"): lambda f: _last_good_restore(f, never=True),
    ("overview", "Tiers", "Newest drill"): _newest_drill,
    ("overview", "RPO compliance over time", "A"): _rpo_met,
    # schedules and backups
    ("overview", "Failing schedules", "failing"): lambda f: _failing_column(f, lambda _: 1.0),
    ("overview", "Failing schedules", "Finished"): lambda f: _failing_column(
        f, lambda s: _age_of_last(f, s, ("PartiallyFailed", "Failed", "FailedValidation"))
    ),
    ("overview", "Failing schedules", "Last success"): lambda f: _failing_column(
        f, lambda s: _age_of_last(f, s, ("Completed",))
    ),
    ("overview", "Failing schedules", "Errors"): lambda f: _failing_column(f, lambda s: _newest_field(f, s, "errors")),
    ("overview", "Failing schedules", "Warnings"): lambda f: _failing_column(
        f, lambda s: _newest_field(f, s, "warnings")
    ),
    ("overview", "Time since each schedule's last success", "A"): lambda f: per(
        "schedule", {s: a for s in f.schedules if (a := _age_of_last(f, s, ("Completed",))) is not None}, AGE_SLACK
    ),
    ("overview", "Backup success ratio per tier", "A"): _success_ratio,
    **{("overview", "Backup outcomes (Velero's counters)", ref): lambda _: EMPTY for ref in "ABCD"},
    ("overview", "Backup duration per schedule", "A"): lambda f: per("schedule", _durations(f)),
    **{("overview", "Backup duration p50 and p95 (Velero's histogram)", ref): lambda _: EMPTY for ref in "AB"},
    ("overview", "Missed schedule runs", "A"): lambda f: one(
        len(f.alerts("VeleroScheduleMissedRun", reason="overdue"))
    ),
    ("overview", "Unfinished backups", "A"): lambda f: one(sum(phase(b) in UNFINISHED for b in f.backups)),
    ("overview", "Paused schedules", "A"): lambda f: one(
        sum(bool(s["spec"].get("paused")) for s in f.schedules.values())
    ),
    ("overview", "Backups Velero failed to delete", "A"): lambda f: one(
        sum((e := expiration(b)) is not None and e + f.config.gc_grace_seconds < f.at for b in f.backups)
    ),
    # storage locations
    ("overview", "Backup storage locations", "Phase"): lambda f: per(
        "location", {name_of(b): float(b.get("status", {}).get("phase") == "Available") for b in _locations(f)}
    ),
    ("overview", "Backup storage locations", "Validated"): lambda f: _location_status(f, "lastValidationTime"),
    ("overview", "Backup storage locations", "Synced"): lambda f: _location_status(f, "lastSyncedTime"),
    ("overview", "Backup storage locations", "Validated every"): lambda f: per(
        "location",
        {
            name_of(b): go_duration_seconds(b["spec"].get("validationFrequency", ""))
            or f.config.store_validation_frequency_seconds
            for b in _locations(f)
        },
    ),
    ("overview", "Storage location availability", "A"): lambda f: per(
        "location", {name_of(b): float(b.get("status", {}).get("phase") == "Available") for b in _locations(f)}
    ),
    # restores
    ("overview", "Newest restore per tier and schedule", "Phase"): lambda f: _restore_table(
        f, lambda _, r: float(PHASE_CODE[phase(r)])
    ),
    ("overview", "Newest restore per tier and schedule", "Finished"): lambda f: _restore_table(
        f, lambda _, r: f.at - finished_at(r), AGE_SLACK
    ),
    ("overview", "Newest restore per tier and schedule", "Took"): lambda f: _restore_table(
        f, lambda _, r: finished_at(r) - started(r)
    ),
    ("overview", "Newest restore per tier and schedule", "Within RTO"): lambda f: _restore_table(
        f, lambda k, r: float(finished_at(r) - started(r) <= f.objective("rto")[k[0]])
    ),
    ("overview", "Time since the last good restore per tier", "A"): lambda f: _last_good_restore(f, never=False),
    ("overview", "Tiers never restore-tested", "A"): lambda f: one(
        sum(t not in f.last_good_restore() for t in f.tiers)
    ),
    ("overview", "Restore objects by phase", "A"): lambda f: _restores_by(f, lambda r: (phase(r),), "phase"),
    # bucket storage
    ("overview", "Bucket size", "A"): _aws(_bucket_sizes),
    ("overview", "Bucket growth per day", "A"): _aws(
        lambda f: per("location, bucket, region", dict.fromkeys(_bucket_sizes(f).values, ANY))
    ),
    ("overview", "Storage per tier and bucket", "A"): _aws(_tier_sizes),
    ("overview", "Storage by Velero folder", "A"): _aws(_folder_sizes),
    ("overview", "Newest backup in each bucket", "A"): _aws(_bucket_recovery_points),
    ("overview", "Completed backups missing from their bucket", "A"): _aws(_missing_from_buckets),
    # snapshots
    ("overview", "Snapshot freshness per region", "age"): _aws(_snapshot_points),
    ("overview", "Snapshots by state per region", "A"): _aws(_snapshot_states),
    # posture
    ("overview", "Bucket posture", "Versioned"): _aws(
        lambda f: _per_bucket(f, lambda s: float(s.versioning == "Enabled"))
    ),
    ("overview", "Bucket posture", "Encrypted"): _aws(lambda f: _per_bucket(f, lambda s: float(bool(s.encryption)))),
    ("overview", "Bucket posture", "Public access blocked"): _aws(
        lambda f: _per_bucket(f, lambda s: float(s.public_access_blocked))
    ),
    ("overview", "Bucket posture", "Object Lock retention"): _aws(
        lambda f: _per_bucket(f, lambda s: s.object_lock_days * 86400.0 if s.object_lock_days else None)
    ),
    ("overview", "Bucket posture", "Object Lock required"): _aws(_lock_required),
    ("overview", "Bucket posture", "Replicated"): _aws(lambda f: _per_bucket(f, lambda s: float(bool(s.replicate_to)))),
    ("overview", "Lifecycle expiration against retention", "Expires after"): _aws(
        lambda f: per("location, bucket, region", {_where(f)[k]: v for k, v in _lifecycles(f).items()})
    ),
    ("overview", "Lifecycle expiration against retention", "Longest retention stored"): _aws(
        lambda f: per("location, bucket, region", {_where(f)[k]: v for k, v in _longest_retention(f).items()})
    ),
    ("overview", "Lifecycle expiration against retention", "Keeps the retention"): _aws(
        lambda f: per(
            "location, bucket, region",
            {_where(f)[k]: float(v >= _longest_retention(f)[k]) for k, v in _lifecycles(f).items()},
        )
    ),
    ("overview", "DR replicas", "Missing backups"): _aws(_replica_missing),
    ("overview", "Snapshot encryption and locks", "Unencrypted"): _aws(_unencrypted),
    ("overview", "Snapshot encryption and locks", "Locked"): lambda _: EMPTY,  # the sandbox's moto has no locks
    ("overview", "AWS accounts", "info"): _aws(_accounts),
    ("overview", "AWS accounts", "DR copy in the primary's account"): _aws(_same_account),
    ("overview", "Newest recovery point expires in", "A"): _expires_in,
    # volume data and repositories
    ("overview", "Volume operations by kind and phase", "A"): _operation_counts,
    ("overview", "Volume operations in flight", "Last moved"): _in_flight,
    ("overview", "Backup repositories", "Ready"): lambda f: _repositories(
        f, lambda r: float(r.get("status", {}).get("phase") == "Ready")
    ),
    ("overview", "Backup repositories", "Frequency"): lambda f: _repositories(f, _frequency),
    ("overview", "Backup repositories", "Last maintained"): lambda f: _repositories(
        f, lambda r: _maintained_ago(f, r), AGE_SLACK
    ),
    ("overview", "Backup repositories", "Age in frequencies"): lambda f: _repositories(
        f, lambda r: ago / _frequency(r) if (ago := _maintained_ago(f, r)) is not None else None, 0.01
    ),
    ("overview", "Backup repositories", "Newest maintenance"): lambda f: _repositories(f, _newest_maintenance_failed),
    # coverage
    ("overview", "Namespaces no tier protects", "A"): lambda f: one(len(f.alerts("VeleroNamespaceUnprotected"))),
    ("overview", "Volumes no tier protects", "A"): _coverage(lambda f: one(len(f.alerts("VeleroVolumeUnprotected")))),
    ("overview", "Unprotected namespaces", "unprotected"): lambda f: per(
        "namespace", {a["namespace"]: 1.0 for a in f.alerts("VeleroNamespaceUnprotected")}
    ),
    ("overview", "Unprotected volumes", "unprotected"): lambda f: per(
        "namespace, persistentvolumeclaim, reason",
        {(a["namespace"], a["persistentvolumeclaim"], a["reason"]): 1.0 for a in f.alerts("VeleroVolumeUnprotected")},
    ),
    ("overview", "Coverage per tier", "Namespaces covered"): _coverage(
        lambda f: per("tier", {t: float(len(_covered(f, t))) for t in f.tiers})
    ),
    ("overview", "Coverage per tier", "Volumes protected"): _coverage(
        lambda f: per("tier", {t: float(n) for t in f.tiers if (n := len(_protected_claims(f, t)))})
    ),
    ("overview", "Coverage over time", "A"): _coverage(lambda f: _by_state(_namespace_states(f))),
    ("overview", "Coverage over time", "B"): _coverage(lambda f: _by_state(_claim_states(f))),
}


def _completed_of(f: Facts, tier: str) -> list[Obj]:
    return [b for b in f.backups if f.tier(b) == tier and phase(b) == "Completed"]


def _past_expiration(f: Facts) -> Truth:
    late = dict.fromkeys((*f.tiers, UNASSIGNED), 0.0)
    for backup in f.backups:
        expires = expiration(backup)
        if expires is not None and expires + f.config.gc_grace_seconds < f.at:
            late[f.tier(backup)] = late.get(f.tier(backup), 0.0) + 1
    return per("tier", late)


def _interval(f: Facts, schedule: str) -> float | None:
    cron = f.schedules[schedule]["spec"]["schedule"]
    try:
        parsed = parse_cron(cron, f.config.velero_timezone)
    except CronError:
        return None
    return parsed.max_interval(f.at)


def _next_run_in(f: Facts, schedule: str) -> float | None:
    obj = f.schedules[schedule]
    try:
        parsed = parse_cron(obj["spec"]["schedule"], f.config.velero_timezone)
    except CronError:
        return None
    last = ts(obj.get("status", {}).get("lastBackup")) or ts(obj["metadata"].get("creationTimestamp"))
    return parsed.next_after(last) - f.at if last is not None else None


def _status(backup: Obj, path: str) -> float:
    """A status count of the backup by dotted path; `a+b` sums two."""
    values = []
    for part in path.split("+"):
        node: Any = backup.get("status", {})
        for key in part.split("."):
            node = node.get(key) if isinstance(node, dict) else None
        values.append(node)
    return float(sum(v or 0 for v in values))  # the exporter counts an absent count as 0


def _newest_column(path: str) -> TruthOf:
    def truth(f: Facts) -> Truth:
        return _per_schedule_of_tier(f, lambda s: _status(b, path) if (b := f.newest_finished(s)) is not None else None)

    return truth


def _ratio(f: Facts, done: str, wanted: str) -> Truth:
    def ratio(schedule: str) -> float | None:
        newest = f.newest_finished(schedule)
        if newest is None:
            return None
        top, bottom = _status(newest, done), _status(newest, wanted)
        return top / bottom if top is not None and bottom else None

    return _per_schedule_of_tier(f, ratio, 0.001)


def _unfinished(f: Facts) -> Truth:
    since = {}
    for backup in f.backups:
        if phase(backup) in UNFINISHED:
            queued = phase(backup) in ("New", "Queued", "ReadyToStart") or not started(backup)
            start = ts(backup["metadata"].get("creationTimestamp")) if queued else started(backup)
            schedule = backup["metadata"].get("labels", {}).get(SCHEDULE_LABEL, "")
            since[name_of(backup), schedule, f.tier(backup), phase(backup)] = f.at - (start or 0.0)
    return per("backup, schedule, tier, phase", since, AGE_SLACK)


def _deleting(f: Facts) -> Truth:
    """Backups Deleting, since Velero marked them so (the newest managedFields time)."""
    since = {}
    for backup in f.backups:
        changed = [t for e in backup["metadata"].get("managedFields", []) if (t := ts(e.get("time"))) is not None]
        if phase(backup) == "Deleting" and changed:
            schedule = backup["metadata"].get("labels", {}).get(SCHEDULE_LABEL, "")
            since[name_of(backup), schedule, f.tier(backup)] = f.at - max(changed)
    return per("backup, schedule, tier", since, AGE_SLACK)


def _backups_by(f: Facts) -> Truth:
    counts: dict[tuple[str, str], float] = {}
    for backup in f.backups:
        key = (f.tier(backup), phase(backup))
        counts[key] = counts.get(key, 0.0) + 1
    return per("tier, phase", counts)


EXPORTER_ROW: dict[tuple[str, str], TruthOf] = {
    ("Exporter scrape", "A"): lambda _: per("job", {"velero-exporter": 1.0}),
    ("Exporter version", "A"): lambda _: per("version", {__version__: 1.0}),
    ("Sources down", "A"): lambda f: one(len(_down(f))),
    ("Kubernetes resources forbidden", "A"): lambda f: one(len(f.world.forbidden)),
    ("Source health", "A"): lambda f: per("source", {s: float(s not in _down(f)) for s in _sources(f)}),
}
TRUTHS |= {(board, *key): truth for board in ("overview", "health") for key, truth in EXPORTER_ROW.items()}
TRUTHS |= {
    # the exporter's health
    ("health", "Render errors by stage", "A"): lambda _: per("stage", dict.fromkeys(RENDER_STAGES, ANY)),
    ("health", "Render stages failing", "A"): lambda f: one(len(f.world.broken_render_stages)),
    ("health", "Sources", "State"): lambda f: per("source", {s: float(s not in _down(f)) for s in _sources(f)}),
    ("health", "Sources", "Last healthy"): lambda f: per("source", dict.fromkeys(_ever_up(f), ANY)),
    ("health", "Source errors by kind", "A"): lambda f: per(
        "source, kind", {(s, k): ANY for s in _sources(f) for k in ERROR_KINDS}
    ),
    ("health", "Kubernetes resources", "Watch"): lambda f: _resources(f, lambda r: _resource_up(f, r)),
    ("health", "Kubernetes resources", "Synced"): lambda f: _resources(f, lambda r: float(r not in f.world.forbidden)),
    ("health", "Kubernetes resources", "RBAC"): lambda f: _resources(f, lambda r: float(r in f.world.forbidden)),
    ("health", "Kubernetes resources", "Objects"): lambda f: _resources(f, lambda r: _objects_of(f, r)),
    ("health", "Kubernetes resources", "API"): lambda f: _resources(f, lambda _: 1.0),
    **{
        ("health", "Relists and watch restarts", ref): lambda f: per("resource", dict.fromkeys(_kinds(f), ANY))
        for ref in "AB"
    },
    ("health", "Invalid objects", "Objects"): lambda f: per(
        "resource, reason", {(r, p): ANY for r in _kinds(f) for p in PROBLEMS}
    ),
    **{("health", "Scrape duration and size", ref): lambda _: per("job", {"velero-exporter": ANY}) for ref in "AB"},
    # the tier detail: every tier at once
    ("tier", "RPO objective", "A"): lambda f: per("tier", f.objective("rpo")),
    ("tier", "Recovery point age", "A"): lambda f: _recovery_point_ages(f, unassigned=True),
    ("tier", "RPO met", "A"): _rpo_met,
    ("tier", "RTO objective", "A"): lambda f: per("tier", f.objective("rto")),
    ("tier", "Newest restore took", "A"): _tier_restore_took,
    ("tier", "Retention objective", "A"): lambda f: per("tier", f.objective("retention")),
    ("tier", "Oldest recovery point held", "A"): lambda f: ages(
        "tier",
        {t: min(started(b) for b in good) for t in (*f.tiers, UNASSIGNED) if (good := _completed_of(f, t))},
        f.at,
    ),
    ("tier", "Backups with TTL below retention", "A"): lambda f: per(
        "tier", {t: float(sum(ttl(b) < f.objective("retention")[t] for b in _completed_of(f, t))) for t in f.tiers}
    ),
    ("tier", "Backups past expiration", "A"): _past_expiration,
    ("tier", "Last good restore", "A"): lambda f: _last_good_restore(f, never=True),
    ("tier", "Newest restore drill", "A"): lambda f: _newest_drill(f, unassigned=True),
    ("tier", "Last verified restore", "A"): _last_verified,
    ("tier", "Drill validation required", "A"): lambda f: per(
        "tier", {t.name: float(t.require_validation) for t in f.config.tiers}
    ),
    ("tier", "Schedules", "Last result"): lambda f: _per_schedule_of_tier(
        f, lambda s: float(PHASE_CODE[phase(b)]) if (b := f.newest_finished(s)) is not None else 0.0
    ),
    ("tier", "Schedules", "Last success"): lambda f: _per_schedule_of_tier(
        f, lambda s: _age_of_last(f, s, ("Completed",)), AGE_SLACK
    ),
    ("tier", "Schedules", "Next run in"): lambda f: _per_schedule_of_tier(f, lambda s: _next_run_in(f, s), AGE_SLACK),
    ("tier", "Schedules", "Interval"): lambda f: _per_schedule_of_tier(f, lambda s: _interval(f, s)),
    ("tier", "Schedules", "Schedule valid"): lambda f: _per_schedule_of_tier(
        f, lambda s: float(f.schedules[s].get("status", {}).get("phase") == "FailedValidation")
    ),
    ("tier", "Schedules", "Paused"): lambda f: _per_schedule_of_tier(
        f, lambda s: float(bool(f.schedules[s]["spec"].get("paused")))
    ),
    ("tier", "Backup duration per schedule", "A"): lambda f: _per_schedule_of_tier(f, _durations(f).get),
    ("tier", "Backup duration p95 (Velero's histogram)", "A"): lambda _: EMPTY,
    ("tier", "Newest finished backup", "Started"): lambda f: _per_schedule_of_tier(
        f, lambda s: f.at - started(b) if (b := f.newest_finished(s)) is not None else None, AGE_SLACK
    ),
    ("tier", "Newest finished backup", "Duration"): lambda f: _per_schedule_of_tier(f, _durations(f).get),
    ("tier", "Newest finished backup", "Item operations"): _newest_column("backupItemOperationsAttempted"),
    ("tier", "Newest finished backup", "Item operations completed"): _newest_column("backupItemOperationsCompleted"),
    ("tier", "Backups being deleted", "For"): _deleting,
    **{
        ("tier", "Newest finished backup", column): _newest_column(status)
        for column, status in (
            ("Items backed up", "progress.itemsBackedUp"),
            ("Items expected", "progress.totalItems"),
            ("Errors", "errors"),
            ("Warnings", "warnings"),
            ("Hooks run", "hookStatus.hooksAttempted"),
            ("Hooks failed", "hookStatus.hooksFailed"),
            ("Snapshots attempted", "volumeSnapshotsAttempted+csiVolumeSnapshotsAttempted"),
            ("Snapshots completed", "volumeSnapshotsCompleted+csiVolumeSnapshotsCompleted"),
        )
    },
    ("tier", "Items backed up vs expected", "A"): lambda f: _ratio(f, "progress.itemsBackedUp", "progress.totalItems"),
    ("tier", "Volume snapshots completed vs attempted", "A"): lambda f: _ratio(
        f,
        "volumeSnapshotsCompleted+csiVolumeSnapshotsCompleted",
        "volumeSnapshotsAttempted+csiVolumeSnapshotsAttempted",
    ),
    ("tier", "Unfinished backups", "For"): _unfinished,
    ("tier", "Backups held by phase", "A"): _backups_by,
    ("tier", "Newest restore per schedule", "Phase"): TRUTHS[
        ("overview", "Newest restore per tier and schedule", "Phase")
    ],
    ("tier", "Newest restore per schedule", "Finished"): TRUTHS[
        ("overview", "Newest restore per tier and schedule", "Finished")
    ],
    ("tier", "Newest restore per schedule", "Took"): TRUTHS[
        ("overview", "Newest restore per tier and schedule", "Took")
    ],
    ("tier", "Newest restore per schedule", "Within RTO"): TRUTHS[
        ("overview", "Newest restore per tier and schedule", "Within RTO")
    ],
    ("tier", "Restores by phase", "A"): lambda f: _restores_by(
        f, lambda r: (f.restore_tier(r), phase(r)), "tier, phase"
    ),
    ("tier", "Tier storage per bucket", "A"): _aws(_tier_sizes),
    ("tier", "Snapshot freshness per region", "A"): _aws(_snapshot_points),
    ("tier", "Volume bytes of the newest backup", "A"): lambda f: _volume_table(
        f, lambda now, _: now["bytes"] if now.get("bytes") else None
    ),
    ("tier", "Newest backup against the one before", "A"): _folder_ratio,
    ("tier", "Newest backup against the one before", "B"): _volume_bytes_ratio,
    ("tier", "Volumes: newest backup vs the one before", "Volumes"): lambda f: _volume_table(
        f, lambda now, _: now["volumes"]
    ),
    ("tier", "Volumes: newest backup vs the one before", "Volumes before"): lambda f: _volume_table(
        f, lambda _, before: before["volumes"]
    ),
    ("tier", "Volumes: newest backup vs the one before", "Failed"): lambda f: _volume_table(
        f, lambda now, _: now["failed"]
    ),
    ("tier", "Volumes: newest backup vs the one before", "Bytes"): lambda f: _volume_table(
        f, lambda now, _: now.get("bytes")
    ),
    ("tier", "Volumes: newest backup vs the one before", "Bytes before"): lambda f: _volume_table(
        f, lambda now, before: before.get("bytes", 0.0 if "bytes" in now else None)
    ),
}


FLEET = {
    # Asked with the `cluster` variable at each cluster: its own exporter, whether it reports.
    ("Clusters reporting", "A"): lambda f: one(float(f.reporting)),
    ("Absent exporters", "A"): lambda f: one(float(not f.reporting)),
    ("Clusters whose exporter is absent", "Last report"): _absent_for,
    ("DR clusters", "A"): lambda f: one(float(f.reporting and f.dr is not None)),
    ("DR tiers behind their primary", "A"): lambda f: one(float(f.reporting and sum(map(f.behind, f.dr_tiers)))),
    ("Recovery point age against RPO", "age / RPO"): _reporting(_age_against_rpo),
    ("DR pairs and their lag", "pair"): _reporting(lambda f: _on_pairs(f, lambda _: 1.0)),
    ("DR pairs and their lag", "Behind the primary by"): _reporting(_lag),
    ("DR pairs and their lag", "Lag against RPO"): _reporting(_lag_ratio),
    ("DR pairs and their lag", "Primary's newest point"): _reporting(_primary_age),
    ("DR pairs and their lag", "DR cluster's newest point"): _reporting(
        lambda f: _on_pairs(f, lambda t: f.at - point if (point := f.point(t)) is not None else None, AGE_SLACK)
    ),
    ("DR pairs and their lag", "Newest copy"): _reporting(
        lambda f: _on_pairs(f, lambda t: float(PHASE_CODE[phase(b)]) if (b := _newest_copy(f, t)) else None)
    ),
    ("DR pairs and their lag", "Its location"): _reporting(
        lambda f: _on_pairs(f, lambda t: _location_available(f, b) if (b := _newest_copy(f, t)) else None)
    ),
    ("DR lag over time", "A"): _reporting(_lag),
    ("Cluster names and roles", "reported"): _reporting(_identity),
}
TRUTHS |= {("fleet", *key): truth for key, truth in FLEET.items()}


def _column_names(panel: generate.Panel) -> dict[str, str]:
    """refId -> the column a table's query fills (its override's displayName), else the refId itself."""
    names = {
        o["matcher"]["options"]: prop["value"]
        for o in panel.json["fieldConfig"]["overrides"]
        for prop in o["properties"]
        if prop["id"] == "displayName"
    }
    targets = panel.json["targets"]
    return {t["refId"]: names.get(generate.value_field(i, len(targets)), t["refId"]) for i, t in enumerate(targets)}


def _panel_targets() -> dict[tuple[str, str, str], tuple[PanelKey, generate.Panel]]:
    """(board, title, column or refId) -> ((file, panel id, refId), panel), for every panel query."""
    short = {file: board for board, file in BOARDS.items()}
    out = {}
    for board in generate.dashboards():
        for row in board.rows:
            for panel in row.panels:
                for ref, column in _column_names(panel).items():
                    out[short[board.file], panel.title, column] = ((board.file, panel.id, ref), panel)
    return out


TARGETS = _panel_targets()


def _facts(run: Run) -> dict[str, Facts]:
    """The clusters of the Prometheus that the panels were asked, each with the others beside it."""
    fleet: dict[str, Facts] = {}
    for s in all_scenarios():
        if not s.own_prometheus:
            fleet[s.name] = Facts(s, run.worlds[s.name], run.panels_at, fleet)
    return fleet


def _truths(run: Run, key: tuple[str, str, str]) -> dict[str, Truth]:
    """The truth of the panel query in each cluster: on the fleet board in every cluster (a gone exporter is part
    of what it shows), elsewhere in the clusters whose exporter Prometheus was scraping."""
    return {
        name: truth
        for name, facts in _facts(run).items()
        if (facts.reporting or key[0] == "fleet") and (truth := TRUTHS[key](facts)) is not None
    }


def test_every_panel_query_has_its_truth() -> None:
    assert sorted(set(TARGETS) - set(TRUTHS)) == []
    assert sorted(set(TRUTHS) - set(TARGETS)) == []


@pytest.mark.slow
@pytest.mark.parametrize("key", sorted(TRUTHS), ids="/".join)
def test_the_panel_shows_what_each_cluster_holds(scenario_run: Run, key: tuple[str, str, str]) -> None:
    where, _ = TARGETS[key]
    problems = {
        cluster: found
        for cluster, truth in _truths(scenario_run, key).items()
        if (found := truth.check(scenario_run.panels[where][cluster]))
    }
    assert problems == {}


@pytest.mark.slow
def test_a_panel_shows_nothing_only_where_it_says_it_may(scenario_run: Run) -> None:
    panels = {(where[0], panel.id): panel for where, panel in TARGETS.values()}
    silent = set()
    for (board, _), panel in panels.items():
        title = f"{board}: {panel.title}"
        keys = [k for k, (_, p) in TARGETS.items() if p is panel]
        for cluster in _facts(scenario_run):
            truths = [_truths(scenario_run, k).get(cluster) for k in keys]
            if all(t is not None and not t.values for t in truths) and not panel.empty:
                silent.add(f"{title} in {cluster}")
    assert sorted(silent) == []


@pytest.mark.slow
def test_a_query_changed_to_a_constant_fails_somewhere(scenario_run: Run) -> None:
    """No constant answer (an unlabelled series, or nothing at all) satisfies a panel's truth in every cluster,
    except for a panel that says why it may show nothing everywhere (Velero's own metrics)."""
    constant = []
    for key, (_, panel) in TARGETS.items():
        truths = list(_truths(scenario_run, key).values())
        candidates = {0.0, 1.0} | {
            v for t in truths if t.keys == () for v in t.values.values() if isinstance(v, int | float)
        }
        answers: list[Answer] = [[({}, c)] for c in candidates]
        if not panel.empty:
            answers.append([])
        constant += [f"{'/'.join(key)}: {a}" for a in answers if all(not t.check(a) for t in truths)]
    assert constant == []


@pytest.mark.slow
def test_a_success_ratio_of_always_100_percent_fails(scenario_run: Run) -> None:
    truth = TRUTHS["overview", "Backup success ratio per tier", "A"](_facts(scenario_run)["demo"])
    assert truth is not None
    always = [(dict(zip(truth.keys, key, strict=True)), 1.0) for key in truth.values]
    assert truth.check(always)


@pytest.mark.slow
def test_a_missed_runs_count_with_paused_schedules_fails(scenario_run: Run) -> None:
    facts = _facts(scenario_run)["schedules"]
    paused = [s for s in facts.schedules.values() if s["spec"].get("paused")]
    assert paused and (next_run := _next_run_in(facts, name_of(paused[0]))) is not None and next_run < -900
    truth = TRUTHS["overview", "Missed schedule runs", "A"](facts)
    assert truth is not None
    (value,) = truth.values.values()
    missed = exact(value)
    assert missed is not None
    assert truth.check([({}, missed + len(paused))])


def test_every_runbook_links_the_panel_that_explains_its_alert() -> None:
    table = dict(re.findall(r"^\| (\w+) \| [^|]+ \| [^|]+ \| `([^`]+)` \|$", DOCS.read_text(), re.M))
    runbooks = (ROOT / "docs" / "runbooks.md").read_text()
    linked = dict(
        re.findall(r"^## (\w+)\n\nSeverity:[^\n]*\n\n\*\*Dashboard\.\*\* [^`]*`<grafana>([^`]+)`", runbooks, re.M)
    )
    assert table, "docs/dashboards.md lists no alert panels"
    assert linked == table
