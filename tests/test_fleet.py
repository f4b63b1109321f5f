"""End to end on the fleet topology of `velero-exporter demo --clusters 2`: the seed's primary and DR clusters, each
with its sandbox and exporter and a Prometheus agent (Debian's `prometheus --enable-feature=agent`) that
remote-writes with its cluster's `cluster` external label to a central Prometheus (`--web.enable-remote-write-
receiver`), which evaluates the bundle's rules (`for` shortened to 0s) and notifies a real Alertmanager.

What it proves through the agents' remote write, each firing set exact (both clusters' alerts with their cluster
label, nothing unexplained):
- the story's DR cluster stopped syncing 30 hours ago: VeleroDRClusterBehind for its lagging tiers, and
  VeleroDRClusterCannotRestore for its PartiallyFailed newest full copy; the lag alerts resolve when it catches up,
  and fire again when the copy of a tier stops while the primary keeps backing it up;
- nothing fires for a tier that does not reach the DR cluster, though its copy there lags past its RPO;
- stopping one cluster's exporter fires absence for that cluster only, and the fleet dashboard shows it absent.
Every case of the fleet alerts, and every fleet panel against its truth, is a scenario's
(sandbox/scenarios/fleet.py, run by tests/test_e2e.py and tests/test_dashboards.py with one Prometheus scraping
every cluster).
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
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from tests.panel_truth import FINISHED
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
from velero_exporter.sandbox.demo import running_sandbox
from velero_exporter.sandbox.dr_cluster import tier_of
from velero_exporter.sandbox.fleet import DR, DR_CONFIG, PRIMARY, running_fleet
from velero_exporter.sandbox.kube_api import FakeKubeAPI
from velero_exporter.sandbox.monitoring import query, running_alertmanager
from velero_exporter.sandbox.plan import TIER_LABEL
from velero_exporter.sandbox.simulator import BackupSync, VeleroSimulator
from velero_exporter.sandbox.story import DEMO, DEMO_CONFIG
from velero_exporter.sources.parsing import parse_timestamp

Alert = Labels
log = logging.getLogger("e2e")
# The DR cluster's hot tier gets an RPO a test can wait for: its sync can stop and be seen falling behind within
# a minute. Its config tier is left out: the tier then does not reach it, and nothing may fire for it.
HOT_RPO = 30.0
HOT_EVERY = 3.0  # the primary backs up its hot tier this often
SYNC_PERIOD = 1.0
SLACK = 60.0  # seconds between the objects' clock and Prometheus' evaluation, and the samples' travel


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
    finished = [b for b in api.list("backups") if b.get("status", {}).get("phase") in FINISHED]
    for backup in sorted(finished, key=lambda b: str(b["status"]["startTimestamp"])):
        tier = tier_of(backup, TIER_LABEL)
        if tier is not None:
            newest[tier] = backup  # the later start wins
    return newest


def cannot_restore(dr: FakeKubeAPI, tiers: Iterable[str]) -> set[Alert]:
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
            dr_of=PRIMARY,
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
            wanted: set[Alert] = set()

            async def fires(want: Callable[[], set[Alert]]) -> bool:
                nonlocal last, wanted
                last = await firing(central)
                wanted = want()
                return last == wanted

            async def wait_firing(want: Callable[[], set[Alert]], what: str, within: float = 180.0) -> None:
                """Until what fires is what the objects imply, as they are at each look: the sync keeps copying,
                so the DR cluster's newest copy of a tier (and whether it is Completed) moves while we wait."""
                try:
                    await wait_for(lambda: fires(want), what, within)
                except AssertionError:
                    missing = [dict(a) for a in wanted - last]
                    extra = [dict(a) for a in last - wanted]
                    raise AssertionError(f"{what}: missing {missing}, unexplained {extra}") from None
                phase(what)

            def dr_expected(*lagging: str) -> set[Alert]:
                out = {FULL_TOO_OLD} | cannot_restore(dr_api, dr_tiers)
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
            await wait_firing(lambda: primary_expected | dr_expected(*story_lag), "both clusters' story alerts")
            await lag_received("firing", story_lag)

            # Its sync comes back: it catches up with the primary, and the lag alerts resolve.
            for tier in dr_tiers:
                sync.start(tier)
            await wait_firing(lambda: primary_expected | dr_expected(), "the DR cluster caught up")
            await lag_received("resolved", story_lag)

            # The copy of the hot tier stops again: once the primary's newest point is more than the RPO ahead,
            # the lag alert fires; when it catches up, it resolves.
            before = len(webhook.notifications)
            sync.stop("hot")
            await wait_firing(lambda: primary_expected | dr_expected("hot"), "the hot tier's lag", within=HOT_RPO + 120)
            await lag_received("firing", ["hot"], since=before)
            sync.start("hot")
            await wait_firing(lambda: primary_expected | dr_expected(), "the hot tier caught up again")
            await lag_received("resolved", ["hot"], since=before)

            # One cluster's exporter stops: absence fires for it alone; the primary's alerts stay as they were. The
            # absence panels look back in minute steps: it stops once a step has seen it report.
            async def seen_at_a_minute_step() -> bool:
                build = f'velero_exporter_build_info{{cluster="{DR}"}}'
                return bool(await query(central, f"max_over_time({build}[10m:1m])"))

            await wait_for(seen_at_a_minute_step, "the DR cluster's exporter seen at a minute step", within=90)
            await dr_stack.aclose()
            gone = {
                dr_alert(alertname="VeleroExporterDown", severity="critical", reason="scrape_failed"),
                dr_alert(alertname="VeleroExporterDown", severity="critical", reason="cluster_gone"),
            }
            await wait_firing(lambda: primary_expected | gone, "the DR cluster's exporter absent")
            absent: list[dict[str, Any]] = []

            async def absent_shown() -> bool:
                nonlocal absent
                absent = await panel_values(central, "Clusters whose exporter is absent")
                return bool(absent)

            await wait_for(absent_shown, "the DR cluster in the absent exporters panel", within=SLACK + 30)
            assert [a["metric"]["cluster"] for a in absent] == [DR]
            assert 0 <= float(absent[0]["value"][1]) <= 2 * SLACK
            (reporting,) = await panel_values(central, "Clusters reporting")
            assert float(reporting["value"][1]) == 1
            (absent_count,) = await panel_values(central, "Absent exporters")
            assert float(absent_count["value"][1]) == 1
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
