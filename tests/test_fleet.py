"""End to end on the fleet topology of `velero-exporter demo --clusters 2`: the seed's primary and DR clusters, each
with its sandbox and exporter and a Prometheus agent (Debian's `prometheus --enable-feature=agent`) that
remote-writes with its cluster's `cluster` external label to a central Prometheus (`--web.enable-remote-write-
receiver`), which evaluates the bundle's rules (`for` shortened to 0s) and notifies a real Alertmanager.

What it proves, each firing set exact (both clusters' alerts with their cluster label, nothing unexplained), and
every fleet alert's every case fired from the exporters' real output:
- VeleroDRClusterBehind `behind`: the story's DR cluster stopped syncing 30 hours ago; its lag alerts resolve when
  it catches up, and fire again when the copy of a tier stops;
- VeleroDRClusterBehind `none`: a tier's folders vanish from the DR bucket and Velero deletes their Backups;
- VeleroDRClusterBehind `primary_unknown`: the DR cluster names a primary no exporter reports;
- VeleroDRClusterCannotRestore `not_completed` (the story's newest full copy PartiallyFailed) and
  `location_unavailable` (the DR location Unavailable);
- nothing fires for a tier that does not reach the DR cluster, though its copy there lags past its RPO;
- the fleet dashboard's panels show what the two clusters' objects imply, in each of those states;
- stopping one cluster's exporter fires absence for that cluster only.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import re
import signal
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from tests.scenario_run import (
    INHIBITIONS,
    Labels,
    Receiver,
    expected_labels,
    firing,
    running_receiver,
    substitute,
    wait_for,
)
from tests.test_dashboards import DASHBOARDS
from velero_exporter.app import Exporter, Options
from velero_exporter.config.file import load_config
from velero_exporter.config.settings import Config
from velero_exporter.mixin.config import DEFAULT as MIXIN
from velero_exporter.mixin.rules import render_rule_file
from velero_exporter.sandbox import objects
from velero_exporter.sandbox.demo import DEMO_CONFIG, running_sandbox
from velero_exporter.sandbox.dr_cluster import tier_of
from velero_exporter.sandbox.dr_story import LOCATION as DR_LOCATION
from velero_exporter.sandbox.fleet import DR, DR_CONFIG, PRIMARY, running_fleet
from velero_exporter.sandbox.kube_api import FakeKubeAPI
from velero_exporter.sandbox.monitoring import query, running_alertmanager
from velero_exporter.sandbox.plan import TIER_LABEL
from velero_exporter.sandbox.simulator import BackupSync, VeleroSimulator
from velero_exporter.sandbox.story import DEMO
from velero_exporter.sources.parsing import parse_timestamp

Alert = Labels
log = logging.getLogger("e2e")
# The DR cluster's hot tier gets an RPO a test can wait for: its sync can stop and be seen falling behind within
# a minute. Its config tier is left out: the tier then does not reach it, and nothing may fire for it.
HOT_RPO = 30.0
HOT_EVERY = 3.0  # the primary backs up its hot tier this often
SYNC_PERIOD = 1.0
SLACK = 60.0  # seconds between the objects' clock and Prometheus' evaluation, and the samples' travel
PURGED = "dr"  # the DR tier whose folders vanish from the DR bucket
TYPO = "kailash-prod-us-east1"  # a dr_of that names no cluster
PHASE_CODES = {"Completed": 1, "PartiallyFailed": 2, "Failed": 3, "FailedValidation": 4}  # the dashboards' codes


def fleet_rules(directory: Path) -> Path:
    """The real rules with every `for` at 0s: a test cannot wait the production durations."""
    path = directory / "velero-exporter.rules.yml"
    path.write_text(render_rule_file(dataclasses.replace(MIXIN, alert_for=dict.fromkeys(MIXIN.alert_for, "0s"))))
    return path


def dr_config() -> Config:
    """The demo's DR cluster (every configured tier reaches it) without the config tier, and with a hot RPO the
    test can wait for."""
    config = load_config(DR_CONFIG)
    assert config.cluster is not None and config.cluster.dr_tiers is None
    tiers = tuple(
        dataclasses.replace(t, rpo_seconds=HOT_RPO) if t.name == "hot" else t
        for t in config.tiers
        if t.name != "config"
    )
    return dataclasses.replace(config, tiers=tiers)


def dr_alert(**labels: str) -> Alert:
    return frozenset({"cluster": DR, **labels}.items())


def behind(tier: str) -> set[Alert]:
    """The DR cluster behind its primary on the tier, and (inhibited at Alertmanager) its own RPO violation."""
    return {
        dr_alert(alertname="VeleroDRClusterBehind", severity="critical", tier=tier, dr_of=PRIMARY, reason="behind"),
        dr_alert(alertname="RPOViolation", severity="critical", tier=tier, reason="too_old"),
    }


# The full tier is past its RPO in the DR cluster as in the primary (nothing newer than its PartiallyFailed runs).
FULL_TOO_OLD = dr_alert(alertname="RPOViolation", severity="critical", tier="full", reason="too_old")


def newest_finished(api: FakeKubeAPI) -> dict[str, objects.Obj]:
    """The truth from the objects: each tier's newest finished backup (every sandbox backup of a tier carries its
    tier label)."""
    newest: dict[str, objects.Obj] = {}
    finished = [b for b in api.list("backups") if b.get("status", {}).get("phase") in PHASE_CODES]
    for backup in sorted(finished, key=lambda b: str(b["status"]["startTimestamp"])):
        tier = tier_of(backup, TIER_LABEL)
        if tier is not None:
            newest[tier] = backup  # the later start wins
    return newest


def cannot_restore(dr: FakeKubeAPI, tiers: Iterable[str], dr_of: str = PRIMARY) -> set[Alert]:
    """VeleroDRClusterCannotRestore as the DR cluster's objects imply it: its newest copy of a DR tier is not
    Completed (no demo tier accepts PartiallyFailed)."""
    newest = newest_finished(dr)
    return {
        dr_alert(
            alertname="VeleroDRClusterCannotRestore",
            severity="critical",
            tier=tier,
            location="dr",
            phase=newest[tier]["status"]["phase"],
            dr_of=dr_of,
            reason="not_completed",
        )
        for tier in tiers
        if tier in newest and newest[tier]["status"]["phase"] != "Completed"
    }


async def hot_runs(simulator: VeleroSimulator, api: FakeKubeAPI) -> None:
    """The primary's hot schedule, run every HOT_EVERY seconds as Velero would run it (InProgress, Completed)."""
    async with asyncio.TaskGroup() as group:
        while True:
            schedule = api.get("schedules", "hourly-hot")
            assert schedule is not None
            group.create_task(simulator.backup_run(schedule, time.time()))
            await asyncio.sleep(HOT_EVERY)


def recovery_points(api: FakeKubeAPI) -> dict[str, float]:
    """The truth from the objects: each tier's newest Completed backup's start (every sandbox backup of a tier
    carries its tier label)."""
    points: dict[str, float] = {}
    for backup in api.list("backups"):
        tier, status = tier_of(backup, TIER_LABEL), backup.get("status", {})
        if tier is not None and status.get("phase") == "Completed":
            started = parse_timestamp(status["startTimestamp"])
            assert started is not None
            points[tier] = max(points.get(tier, started), started)
    return points


async def panel_values(prometheus: str, title: str, ref: str = "A") -> list[dict[str, Any]]:
    (panel,) = [p for p in DASHBOARDS["velero-fleet.json"]["panels"] if p.get("title") == title]
    (target,) = [t for t in panel["targets"] if t["refId"] == ref]
    return await query(prometheus, substitute(target["expr"], ".*"))


def by(series: list[dict[str, Any]], *labels: str) -> dict[tuple[str, ...], float]:
    return {tuple(s["metric"].get(label, "") for label in labels): float(s["value"][1]) for s in series}


async def check_fleet_panels(
    prometheus: str,
    primary: FakeKubeAPI,
    dr: FakeKubeAPI,
    configs: dict[str, Config],
    behind: set[str],
    *,
    dr_of: str = PRIMARY,
    available: bool = True,
) -> None:
    """The fleet dashboard against the truth of the two clusters' objects. `behind`: the DR tiers the scenario
    says lag (past the RPO, or no point while the primary has one); `dr_of`: the primary the DR cluster names
    (another name than the primary's: the pair cannot meet); `available`: the DR cluster's location."""
    now = time.time()
    points = {PRIMARY: recovery_points(primary), DR: recovery_points(dr)}
    dr_tiers = configs[DR].tier_names
    paired = dr_of == PRIMARY

    def rpo(cluster: str, tier: str) -> float:
        objective = configs[cluster].tier(tier)
        assert objective is not None
        return objective.rpo_seconds

    async def stat(title: str) -> float:
        (series,) = await panel_values(prometheus, title)
        return float(series["value"][1])

    assert await stat("Clusters reporting") == 2
    assert await stat("Absent exporters") == 0
    assert await stat("DR clusters") == 1

    grid = by(await panel_values(prometheus, "Recovery point age against RPO"), "cluster", "tier")
    assert set(grid) == {(cluster, tier.name) for cluster, config in configs.items() for tier in config.tiers}
    for (cluster, tier), ratio in grid.items():
        if tier not in points[cluster]:
            assert ratio == -1, (cluster, tier)  # the grid's "no recovery point"
            continue
        age = now - points[cluster][tier]
        assert abs(ratio * rpo(cluster, tier) - age) <= SLACK, (cluster, tier, ratio, age)

    pairs = "DR pairs and their lag"
    held = {tier for tier in dr_tiers if tier in points[DR]}
    assert by(await panel_values(prometheus, pairs, "A"), "cluster", "tier", "dr_of") == {
        (DR, tier, dr_of): 1.0 for tier in dr_tiers
    }
    lag = by(await panel_values(prometheus, pairs, "B"), "cluster", "tier", "dr_of")
    lag_ratio = by(await panel_values(prometheus, pairs, "C"), "cluster", "tier", "dr_of")
    primary_age = by(await panel_values(prometheus, pairs, "D"), "cluster", "tier", "dr_of")
    over_time = by(await panel_values(prometheus, "DR lag over time"), "cluster", "tier", "dr_of")
    # Only a DR cluster that names a reported primary has a lag; a tier it holds no point of has none.
    assert set(lag) == set(lag_ratio) == set(over_time) == ({(DR, tier, PRIMARY) for tier in held} if paired else set())
    assert set(primary_age) == ({(DR, tier, PRIMARY) for tier in dr_tiers} if paired else set())
    for tier in held if paired else ():
        key = (DR, tier, PRIMARY)
        expected = points[PRIMARY][tier] - points[DR][tier]
        if tier == "hot":  # the primary backs it up every few seconds: the clock is in it
            assert abs(lag[key] - expected) <= SLACK
        else:  # no clock in it: the primary's point minus the DR cluster's
            assert lag[key] == over_time[key] == expected, tier
        assert abs(lag_ratio[key] * rpo(DR, tier) - lag[key]) <= SLACK, tier
        assert (lag[key] > rpo(DR, tier)) == (tier in behind), tier
    for tier in dr_tiers if paired else ():
        assert abs(primary_age[DR, tier, PRIMARY] - (now - points[PRIMARY][tier])) <= SLACK, tier
    none = {tier for tier in dr_tiers if tier not in points[DR] and tier in points[PRIMARY]} if paired else set()
    assert none <= behind
    assert await stat("DR tiers behind their primary") == len(behind)
    dr_age = by(await panel_values(prometheus, pairs, "E"), "cluster", "tier", "dr_of")
    assert set(dr_age) == {(DR, tier, dr_of) for tier in held}
    for tier in held:
        assert abs(dr_age[DR, tier, dr_of] - (now - points[DR][tier])) <= SLACK, tier
    newest = newest_finished(dr)
    phases = by(await panel_values(prometheus, pairs, "F"), "cluster", "tier", "dr_of")
    assert phases == {(DR, t, dr_of): PHASE_CODES[newest[t]["status"]["phase"]] for t in dr_tiers if t in newest}
    located = by(await panel_values(prometheus, pairs, "G"), "cluster", "tier", "dr_of")
    assert located == {(DR, t, dr_of): float(available) for t in dr_tiers if t in newest}

    assert await panel_values(prometheus, "Clusters whose exporter is absent") == []
    roles = by(await panel_values(prometheus, "Cluster names and roles"), "cluster", "cluster_name", "role", "dr_of")
    assert set(roles) == {(PRIMARY, PRIMARY, "primary", ""), (DR, DR, "dr", dr_of)}


def set_location_phase(api: FakeKubeAPI, phase: str) -> None:
    """The DR cluster's Velero finds its location (un)reachable at its validation."""
    location = api.get("backupstoragelocations", DR_LOCATION)
    assert location is not None
    location["status"]["phase"] = phase
    api.replace(location)


@pytest.mark.slow
async def test_a_dr_cluster_behind_its_primary_in_one_central_prometheus(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="e2e")
    rules = fleet_rules(tmp_path)
    configs = {PRIMARY: load_config(DEMO_CONFIG), DR: dr_config()}
    dr_tiers = configs[DR].tier_names
    began = time.monotonic()

    def phase(what: str) -> None:
        log.info("%.0fs: %s", time.monotonic() - began, what)

    async with (
        running_sandbox(time.time(), dr_cluster=True) as sandbox,
        running_receiver() as (webhook, webhook_url),
        contextlib.AsyncExitStack() as stack,
    ):
        assert sandbox.dr is not None
        dr_api = sandbox.dr.api
        options = Options(listen_host="127.0.0.1", listen_port=0, kubeconfig=str(sandbox.kubeconfig))
        primary = await stack.enter_async_context(Exporter(configs[PRIMARY], options))
        dr_stack = await stack.enter_async_context(contextlib.AsyncExitStack())
        dr_options = dataclasses.replace(options, kubeconfig=str(sandbox.dr.kubeconfig))
        dr = await dr_stack.enter_async_context(Exporter(configs[DR], dr_options))
        alertmanager = await stack.enter_async_context(running_alertmanager(webhook_url, INHIBITIONS))
        fleet = await stack.enter_async_context(
            running_fleet({PRIMARY: primary.url, DR: dr.url}, [rules], alertmanager.url)
        )
        central = fleet.central.url
        # As in the story, the DR cluster's Velero syncs nothing yet.
        sync = BackupSync(sandbox.api, dr_api, (), period=SYNC_PERIOD)
        group = await stack.enter_async_context(asyncio.TaskGroup())
        tasks = [
            group.create_task(sync.run()),
            group.create_task(hot_runs(VeleroSimulator(sandbox.api, run_duration=1.0), sandbox.api)),
        ]
        try:
            # The primary's story alerts, but those of hourly-hot's newest run: it runs again every few seconds,
            # with every volume.
            primary_expected = {
                a for a in (expected_labels(a, PRIMARY) for a in DEMO.alerts()) if ("schedule", "hourly-hot") not in a
            }
            last: set[Alert] = set()

            async def fires(want: set[Alert]) -> bool:
                nonlocal last
                last = await firing(central)
                return last == want

            async def wait_firing(want: set[Alert], what: str, within: float = 180.0) -> None:
                try:
                    await wait_for(lambda: fires(want), what, within)
                except AssertionError:
                    missing = [dict(a) for a in want - last]
                    extra = [dict(a) for a in last - want]
                    raise AssertionError(f"{what}: missing {missing}, unexplained {extra}") from None
                phase(what)

            def dr_expected(*lagging: str, dr_of: str = PRIMARY) -> set[Alert]:
                out = {FULL_TOO_OLD} | cannot_restore(dr_api, dr_tiers, dr_of)
                for tier in lagging:
                    out |= behind(tier)
                return out

            async def received(status: str, alertname: str, labels: list[dict[str, str]], since: int = 0) -> None:
                """These alerts at the receiver, in a notification after the first `since`."""

                async def seen() -> bool:
                    later = Receiver(webhook.notifications[since:])
                    return all(later.seen(status, frozenset({"alertname": alertname, **one}.items())) for one in labels)

                await wait_for(seen, f"{alertname} {status} at the receiver for {labels}")

            async def lag_received(status: str, tiers: Iterable[str], since: int = 0) -> None:
                labels = [{"cluster": DR, "tier": tier, "dr_of": PRIMARY, "reason": "behind"} for tier in tiers]
                await received(status, "VeleroDRClusterBehind", labels, since)

            # The story: the DR cluster synced last 30 hours ago. Its hot and critical tiers lag the primary by more
            # than their RPOs. Its config tier lags as much in its objects, but does not reach it (not a DR tier of
            # its config): nothing may fire for it.
            story_lag = ("hot", "critical")
            dr_points, primary_points = recovery_points(dr_api), recovery_points(sandbox.api)
            config_rpo = configs[PRIMARY].tier("config")
            assert config_rpo is not None and "config" not in dr_tiers
            assert primary_points["config"] - dr_points["config"] > config_rpo.rpo_seconds
            await wait_firing(primary_expected | dr_expected(*story_lag), "both clusters' story alerts")
            await check_fleet_panels(central, sandbox.api, dr_api, configs, set(story_lag))
            await lag_received("firing", story_lag)

            # Its sync comes back: it catches up with the primary, and the lag alerts resolve.
            for tier in dr_tiers:
                sync.start(tier)
            await wait_firing(primary_expected | dr_expected(), "the DR cluster caught up")
            await check_fleet_panels(central, sandbox.api, dr_api, configs, set())
            await lag_received("resolved", story_lag)

            # The copy of the hot tier stops again: once the primary's newest point is more than the RPO ahead,
            # the lag alert fires; when it catches up, it resolves.
            before = len(webhook.notifications)
            sync.stop("hot")
            await wait_firing(primary_expected | dr_expected("hot"), "the hot tier's lag", within=HOT_RPO + 120)
            await lag_received("firing", ["hot"], since=before)
            sync.start("hot")
            await wait_firing(primary_expected | dr_expected(), "the hot tier caught up again")
            await lag_received("resolved", ["hot"], since=before)

            # The dr tier's folders vanish from the DR bucket: Velero deletes their Backups from the DR cluster,
            # which holds no point of the tier while its primary has one. Its copy comes back: it catches up.
            before = len(webhook.notifications)
            assert sync.purge(PURGED) > 0
            none = {
                dr_alert(
                    alertname="VeleroDRClusterBehind", severity="critical", tier=PURGED, dr_of=PRIMARY, reason="none"
                ),
                dr_alert(alertname="RPOViolation", severity="critical", tier=PURGED, reason="no_recovery_point"),
            }
            await wait_firing(primary_expected | dr_expected() | none, "no point of the purged tier")
            await check_fleet_panels(central, sandbox.api, dr_api, configs, {PURGED})
            none_labels = {"cluster": DR, "tier": PURGED, "dr_of": PRIMARY, "reason": "none"}
            await received("firing", "VeleroDRClusterBehind", [none_labels], since=before)
            sync.start(PURGED)
            await wait_firing(primary_expected | dr_expected(), "the purged tier synced again")
            await received("resolved", "VeleroDRClusterBehind", [none_labels], since=before)

            # The DR cluster's Velero finds its location unreachable: it can restore nothing of any DR tier.
            set_location_phase(dr_api, "Unavailable")
            unavailable = {
                dr_alert(
                    alertname="VeleroStorageLocationUnavailable",
                    severity="critical",
                    location=DR_LOCATION,
                    default="true",
                    reason="unavailable",
                ),
                *(
                    dr_alert(
                        alertname="VeleroDRClusterCannotRestore",
                        severity="critical",
                        tier=tier,
                        location=DR_LOCATION,
                        dr_of=PRIMARY,
                        reason="location_unavailable",
                    )
                    for tier in newest_finished(dr_api)
                    if tier in dr_tiers
                ),
            }
            await wait_firing(primary_expected | dr_expected() | unavailable, "the DR location unavailable")
            await check_fleet_panels(central, sandbox.api, dr_api, configs, set(), available=False)
            set_location_phase(dr_api, "Available")
            await wait_firing(primary_expected | dr_expected(), "the DR location available again")

            # One cluster's exporter stops: absence fires for it alone; the primary's alerts stay as they were.
            await dr_stack.aclose()
            gone = {
                dr_alert(alertname="VeleroExporterDown", severity="critical", reason="scrape_failed"),
                dr_alert(alertname="VeleroExporterDown", severity="critical", reason="cluster_gone"),
            }
            await wait_firing(primary_expected | gone, "the DR cluster's exporter absent")
            absent: list[dict[str, Any]] = []

            async def absent_shown() -> bool:
                nonlocal absent
                absent = await panel_values(central, "Clusters whose exporter is absent")
                return bool(absent)

            # The panel looks back in minute steps: the DR cluster shows once a step saw it.
            await wait_for(absent_shown, "the DR cluster in the absent exporters panel", within=SLACK + 30)
            assert [a["metric"]["cluster"] for a in absent] == [DR]
            assert 0 <= float(absent[0]["value"][1]) <= 2 * SLACK
            (reporting,) = await panel_values(central, "Clusters reporting")
            assert float(reporting["value"][1]) == 1

            # It comes back (same address) naming a primary no exporter reports (a typo in dr_of): the pair cannot
            # meet, so nothing compares it, and that says so.
            identity = configs[DR].cluster
            assert identity is not None and dr.port is not None
            typo = dataclasses.replace(configs[DR], cluster=dataclasses.replace(identity, dr_of=TYPO))
            await stack.enter_async_context(Exporter(typo, dataclasses.replace(dr_options, listen_port=dr.port)))
            unknown = dr_alert(
                alertname="VeleroDRClusterBehind", severity="warning", dr_of=TYPO, reason="primary_unknown"
            )
            await wait_firing(
                primary_expected | dr_expected(dr_of=TYPO) | {unknown}, "the DR cluster's primary unknown"
            )
            await check_fleet_panels(central, sandbox.api, dr_api, {**configs, DR: typo}, set(), dr_of=TYPO)
        finally:
            for task in tasks:
                task.cancel()


@pytest.mark.slow
async def test_the_two_cluster_demo_shows_the_dr_lag_in_its_central_prometheus() -> None:
    """`velero-exporter demo --clusters 2` as a user runs it (production intervals and `for`s): the DR lag alert
    is there, pending its `for`, in the central Prometheus it prints; Ctrl-C stops everything."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "velero_exporter.cli",
        "demo",
        "--clusters",
        "2",
        "--web.listen-address",
        "127.0.0.1:0",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert process.stdout is not None
    try:
        printed = ""
        while "moto (AWS)" not in printed:
            line = await asyncio.wait_for(process.stdout.readline(), 120)
            assert line, f"the demo ended early: {printed}"
            printed += line.decode()
        central = re.search(r"central prometheus: (\S+)/alerts", printed)
        assert central is not None, printed
        assert printed.count("status page:") == 2 and printed.count("agent kailash-") == 2
        behind: list[dict[str, Any]] = []

        async def dr_lag_shown() -> bool:
            nonlocal behind
            behind = await query(central.group(1), 'ALERTS{alertname="VeleroDRClusterBehind"}')
            return bool(behind)

        await wait_for(dr_lag_shown, "VeleroDRClusterBehind in the central Prometheus", within=120)
        # the story's: the DR cluster stopped syncing 30 hours ago
        assert {(a["metric"]["cluster"], a["metric"]["tier"], a["metric"]["dr_of"]) for a in behind} == {
            (DR, tier, PRIMARY) for tier in ("hot", "critical", "config")
        }
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), 60) == 0
