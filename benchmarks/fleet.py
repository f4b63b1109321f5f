"""The fleet benchmark: the exporter series of many clusters remote-written into one central Prometheus, which
evaluates the bundle's rules (unchanged: rules/velero-exporter.rules.yml); how long each rule group takes, and how
many series the central holds.

    python -m benchmarks.fleet                  # 200 clusters against a baseline of 2 (about 17 minutes)
    python -m benchmarks.fleet --clusters 20 --warmup 20 --measure 60

The clusters are generated, not run: the sandbox's two exporters (the seed's primary and its DR cluster, the
demo's objects and configs) are started once and their /metrics captured; half the clusters serve the primary's
payload and half the DR cluster's, each pair under its own names (velero_cluster_info's cluster_name and dr_of),
from one small HTTP server, one path per cluster. One real Prometheus agent (Debian's `prometheus
--enable-feature=agent`) scrapes them all, each target with its `cluster` label, and remote-writes to the central
Prometheus (`--web.enable-remote-write-receiver`): the path a fleet's samples take into a central Prometheus,
Thanos Receive or Mimir. Some rules read a day of a few families (max_over_time(...[1d]): absent exporters, the
restore latch, unknown primaries); the central starts with that day backfilled (promtool tsdb
create-blocks-from openmetrics), so that they scan what they would in a Prometheus that has been running. The
baseline is the same run with 2 clusters (one pair), measured first.

Figures: per rule group, the minimum, median and maximum of Prometheus' own `evaluationTime` (/api/v1/rules) over
the evaluations of the measuring window, and the slowest rules; the central's head series
(prometheus_tsdb_head_series), its peak RSS and its CPU over the window (process_cpu_seconds_total); the fleet
alerts it raised (the DR payload's critical tier is behind its primary's: VeleroDRClusterBehind must be there for
every DR cluster). docs/performance.md explains them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import pathlib
import re
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from benchmarks.run import machine, mib, proc_status
from velero_exporter.app import Exporter, Options
from velero_exporter.config.file import load_config
from velero_exporter.sandbox.demo import running_sandbox
from velero_exporter.sandbox.fleet import DR, DR_CONFIG, PRIMARY
from velero_exporter.sandbox.monitoring import Process, backfill, free_port, query, running_prometheus
from velero_exporter.sandbox.story import DEMO_CONFIG

ROOT = pathlib.Path(__file__).resolve().parent.parent
RULE_FILE = ROOT / "rules" / "velero-exporter.rules.yml"
JOB = "velero-exporter"
# The series the rules read over a day (max_over_time(...[1d])), with a day of history behind them, as in a
# Prometheus that has been running: the families as the agent delivers them, and the recording rule that keeps
# the last successful restore (it reads its own past).
HISTORY_FAMILIES = ("velero_exporter_build_info", "velero_cluster_info", "velero_tier_rpo_seconds")
RESTORE_LATCH = "velero:tier_last_restore_success_timestamp_seconds"
HISTORY = 86400.0


@dataclass(slots=True, frozen=True)
class Payloads:
    primary: str
    dr: str


async def capture_payloads() -> Payloads:
    """The /metrics text of the sandbox's primary and DR exporters once every source (kube and the AWS ones, all
    registered when the exporter starts) has refreshed."""
    async with (
        running_sandbox(time.time(), dr_cluster=True) as sandbox,
        aiohttp.ClientSession() as http,
        contextlib.AsyncExitStack() as stack,
    ):
        assert sandbox.dr is not None
        texts = []
        for config, kubeconfig in ((DEMO_CONFIG, sandbox.kubeconfig), (DR_CONFIG, sandbox.dr.kubeconfig)):
            options = Options(listen_host="127.0.0.1", listen_port=0, kubeconfig=str(kubeconfig))
            exporter = await stack.enter_async_context(Exporter(load_config(config), options))
            deadline = time.monotonic() + 120
            while True:
                async with http.get(f"{exporter.url}/metrics") as response:
                    text = await response.text()
                up = re.findall(r"^velero_exporter_source_up\{[^}]*\} (\S+)$", text, re.M)
                if len(up) > 1 and all(float(v) == 1 for v in up):
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{exporter.url}: the sources did not all refresh")
                await asyncio.sleep(0.5)
            texts.append(text)
        return Payloads(*texts)


def cluster_names(count: int) -> list[tuple[str, str]]:
    """(cluster, payload kind) for `count` clusters: pairs of a primary and its DR cluster."""
    pairs = count // 2
    return [(name, kind) for i in range(pairs) for name, kind in ((f"c{i:03d}", "primary"), (f"c{i:03d}-dr", "dr"))]


def payload_for(payloads: Payloads, cluster: str, kind: str) -> bytes:
    """The captured payload under this cluster's names (the exporter's own statement in velero_cluster_info)."""
    if kind == "primary":
        return payloads.primary.replace(f'cluster_name="{PRIMARY}"', f'cluster_name="{cluster}"').encode()
    primary = cluster.removesuffix("-dr")
    text = payloads.dr.replace(f'cluster_name="{DR}"', f'cluster_name="{cluster}"')
    return text.replace(f'dr_of="{PRIMARY}"', f'dr_of="{primary}"').encode()


@contextlib.asynccontextmanager
async def serving(bodies: dict[str, bytes]) -> AsyncIterator[str]:
    """One HTTP server, /metrics/<cluster> for each cluster; yields host:port."""

    async def handle(request: web.Request) -> web.Response:
        body = bodies.get(request.match_info["cluster"])
        if body is None:
            raise web.HTTPNotFound()
        return web.Response(body=body, content_type="text/plain", charset="utf-8")

    app = web.Application()
    app.router.add_get("/metrics/{cluster}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def history(bodies: dict[str, bytes], start: float, end: float, step: float) -> str:
    """OpenMetrics text of a day of the series the rules read over a day, for `promtool tsdb
    create-blocks-from openmetrics`: their values as served now, every `step` seconds from `start` to `end`."""
    series: dict[str, list[dict[str, str]]] = {}
    values: dict[str, list[float]] = {}
    for cluster, body in bodies.items():
        target = {"cluster": cluster, "instance": cluster, "job": JOB}
        for family in text_string_to_metric_families(body.decode()):
            for sample in family.samples:
                if sample.name in HISTORY_FAMILIES:
                    name, labels = sample.name, {**sample.labels, **target}
                elif sample.name == "velero_tier_last_restore_success_timestamp_seconds":
                    name, labels = RESTORE_LATCH, {"cluster": cluster, "tier": sample.labels["tier"]}
                else:
                    continue
                series.setdefault(name, []).append({k: v for k, v in labels.items() if v})
                values.setdefault(name, []).append(sample.value)
    times = [start + i * step for i in range(int((end - start) // step))]
    lines = []
    for name, label_sets in series.items():
        lines.append(f"# TYPE {name} gauge")
        for labels, value in zip(label_sets, values[name], strict=True):
            text = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
            lines += [f"{name}{{{text}}} {value} {t:.0f}" for t in times]
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


@contextlib.asynccontextmanager
async def agent(address: str, clusters: Sequence[str], remote_write: str, interval: str) -> AsyncIterator[Process]:
    """The real Prometheus agent scraping every cluster's payload, each target with its cluster label."""
    targets = [(address, {"cluster": c, "instance": c, "__metrics_path__": f"/metrics/{c}"}) for c in clusters]
    async with running_prometheus(targets, agent=True, scrape_interval=interval, remote_write=remote_write) as proc:
        yield proc


@dataclass(slots=True, frozen=True)
class Plan:
    interval: str  # scrape and evaluation interval, in seconds ("30s")
    warmup: float
    window: float

    @property
    def step(self) -> float:
        return float(self.interval.removesuffix("s"))


@dataclass
class GroupTimes:
    """Prometheus' own evaluationTime of each group and each of its rules, once per evaluation."""

    seconds: dict[str, list[float]] = field(default_factory=dict)
    rules: dict[str, list[float]] = field(default_factory=dict)

    def add(self, groups: list[dict[str, Any]], seen: set[tuple[str, str]]) -> None:
        for group in groups:
            key = (group["name"], group["lastEvaluation"])
            if key in seen or group["lastEvaluation"].startswith("0001"):
                continue
            seen.add(key)
            self.seconds.setdefault(group["name"], []).append(float(group["evaluationTime"]))
            for rule in group["rules"]:
                reason = rule.get("labels", {}).get("reason")
                name = f"{rule['name']} ({reason})" if reason else rule["name"]
                self.rules.setdefault(name, []).append(float(rule["evaluationTime"]))


async def rule_groups(http: aiohttp.ClientSession, url: str) -> list[dict[str, Any]]:
    async with http.get(f"{url}/api/v1/rules") as response:
        body = await response.json()
    groups: list[dict[str, Any]] = body["data"]["groups"]
    return groups


async def self_metric(http: aiohttp.ClientSession, url: str, name: str) -> float:
    """A family of Prometheus' own /metrics, summed over its series."""
    async with http.get(f"{url}/metrics") as response:
        text = await response.text()
    values = re.findall(rf"^{name}(?:\{{[^}}]*\}})? (\S+)$", text, re.M)
    if not values:
        raise LookupError(f"{url}/metrics has no {name}")
    return sum(float(v) for v in values)


@dataclass(slots=True, frozen=True)
class Result:
    clusters: int
    payload_series: int
    head_series: float
    times: GroupTimes
    central_peak_rss: int
    agent_peak_rss: int
    # The central's CPU over the measuring window (process_cpu_seconds_total), in cores: seconds per second.
    central_cpu: float
    behind: int
    fleet_alerts: set[str]
    iterations_missed: float
    visible_after: float


async def measure(payloads: Payloads, count: int, plan: Plan) -> Result:
    clusters = cluster_names(count)
    bodies = {name: payload_for(payloads, name, kind) for name, kind in clusters}
    series = sum(len([ln for ln in b.decode().splitlines() if ln and not ln.startswith("#")]) for b in bodies.values())
    now = time.time()
    with tempfile.TemporaryDirectory(prefix="velero-exporter-fleet-") as tmp:
        source, tsdb = pathlib.Path(tmp) / "history.om", pathlib.Path(tmp) / "central"
        source.write_text(history(bodies, now - HISTORY, now - 2 * plan.step, plan.step))
        await backfill(source, tsdb)
        source.unlink()
        return await measure_on(bodies, tsdb, series, plan)


async def measure_on(bodies: dict[str, bytes], tsdb: pathlib.Path, series: int, plan: Plan) -> Result:
    count = len(bodies)
    async with (
        serving(bodies) as address,
        running_prometheus(
            [],
            [RULE_FILE],
            receiver=True,
            storage=tsdb,
            scrape_interval=plan.interval,
            evaluation_interval=plan.interval,
        ) as central,
        aiohttp.ClientSession() as http,
    ):
        started = time.monotonic()
        async with agent(address, list(bodies), f"{central.url}/api/v1/write", plan.interval) as scraper:
            # `up` has no backfilled history: it counts the clusters whose live samples have arrived.
            while len(await query(central.url, "group by (cluster) (up == 1)")) < count:
                if time.monotonic() - started > 600:
                    raise TimeoutError("not every cluster reached the central Prometheus in 10 minutes")
                await asyncio.sleep(1)
            visible_after = time.monotonic() - started
            await asyncio.sleep(plan.warmup)
            times, seen = GroupTimes(), set[tuple[str, str]]()
            cpu_before, window_start = (
                await self_metric(http, central.url, "process_cpu_seconds_total"),
                time.monotonic(),
            )
            until = window_start + plan.window
            while time.monotonic() < until:
                times.add(await rule_groups(http, central.url), seen)
                await asyncio.sleep(1)
            cpu = (await self_metric(http, central.url, "process_cpu_seconds_total") - cpu_before) / (
                time.monotonic() - window_start
            )
            head = await self_metric(http, central.url, "prometheus_tsdb_head_series")
            missed = await self_metric(http, central.url, "prometheus_rule_group_iterations_missed_total")
            alerts = await query(central.url, 'ALERTS{alertname=~"VeleroDRCluster.*"}')
            behind = {
                a["metric"]["cluster"]
                for a in alerts
                if a["metric"]["alertname"] == "VeleroDRClusterBehind" and a["metric"].get("tier") == "critical"
            }
            kinds = {f"{a['metric']['alertname']}/{a['metric'].get('reason', '')}" for a in alerts}
            agent_rss = proc_status(scraper.process.pid)["VmHWM"]
        central_rss = proc_status(central.process.pid)["VmHWM"]
    return Result(count, series, head, times, central_rss, agent_rss, cpu, len(behind), kinds, missed, visible_after)


def ms(values: list[float]) -> str:
    """Minimum / median / maximum in milliseconds: on a shared machine the minimum is the evaluation that waited
    least for a core, the closest to the rules' own cost."""
    return f"{min(values) * 1000:.1f} / {statistics.median(values) * 1000:.1f} / {max(values) * 1000:.1f}"


def report(baseline: Result, fleet: Result, plan: Plan) -> str:
    groups = list(fleet.times.seconds)
    lines = [
        f"| rule group | {baseline.clusters} clusters: min / median / max ms | {fleet.clusters} clusters: min / median"
        " / max ms | ratio of minima |",
        "|---|---|---|---|",
    ]
    for group in groups:
        base, big = baseline.times.seconds.get(group, []), fleet.times.seconds[group]
        ratio = min(big) / min(base) if base and min(base) > 0 else float("nan")
        lines.append(f"| {group} | {ms(base) if base else '-'} | {ms(big)} | {ratio:.0f}x |")
    total_base = [sum(t) for t in zip(*baseline.times.seconds.values(), strict=False)]
    total_big = [sum(t) for t in zip(*fleet.times.seconds.values(), strict=False)]
    lines.append(
        f"| all groups, summed per evaluation round | {ms(total_base)} | {ms(total_big)} | "
        f"{min(total_big) / min(total_base):.0f}x |"
    )
    slowest = sorted(fleet.times.rules.items(), key=lambda item: -min(item[1]))[:5]
    lines += ["", f"| the slowest rules at {fleet.clusters} clusters | min / median / max ms |", "|---|---|"]
    lines += [f"| {name} | {ms(values)} |" for name, values in slowest]
    out = ["\n".join(lines), ""]

    def row(figure: str, value: Callable[[Result], str]) -> str:
        return f"| {figure} | " + " | ".join(value(r) for r in (baseline, fleet)) + " |"

    out += [
        "| figure | " + " | ".join(f"{r.clusters} clusters" for r in (baseline, fleet)) + " |",
        "|---|---|---|",
        row("exporter series served (sum of the payloads)", lambda r: f"{r.payload_series:,}"),
        row("central head series (prometheus_tsdb_head_series)", lambda r: f"{r.head_series:,.0f}"),
        row("central peak RSS (VmHWM)", lambda r: mib(r.central_peak_rss)),
        row("agent peak RSS (VmHWM)", lambda r: mib(r.agent_peak_rss)),
        row("central CPU over the measuring window (cores)", lambda r: f"{r.central_cpu:.3f}"),
        row("every cluster in the central, from the agent's start", lambda r: f"{r.visible_after:.0f} s"),
        row("evaluations measured per group", lambda r: str(min(len(v) for v in r.times.seconds.values()))),
        row("rule group iterations missed", lambda r: f"{r.iterations_missed:.0f}"),
        row("DR clusters with VeleroDRClusterBehind (critical)", lambda r: f"{r.behind} of {r.clusters // 2}"),
        row("fleet alerts raised (alertname/reason)", lambda r: ", ".join(sorted(r.fleet_alerts))),
    ]
    out.append(
        f"\nScrape and evaluation interval {plan.interval}; {HISTORY / 3600:.0f}h of history behind the series read"
        f" over a day; each window {plan.window:.0f} s after {plan.warmup:.0f} s of warm-up."
    )
    return "\n".join(out)


async def main_async(count: int, plan: Plan) -> str:
    payloads = await capture_payloads()
    print("payloads captured", file=sys.stderr, flush=True)
    baseline = await measure(payloads, 2, plan)
    print(f"baseline (2 clusters) done: {baseline.head_series:.0f} head series", file=sys.stderr, flush=True)
    fleet = await measure(payloads, count, plan)
    print(f"{count} clusters done: {fleet.head_series:.0f} head series", file=sys.stderr, flush=True)
    return report(baseline, fleet, plan)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="the bundle's rules on one central Prometheus fed by many clusters")
    parser.add_argument("--clusters", type=int, default=200, help="clusters, in primary/DR pairs (default 200)")
    parser.add_argument("--interval", default="30s", help="scrape and rule evaluation interval, in s (default 30s)")
    parser.add_argument("--warmup", type=float, default=60.0, help="seconds before measuring (default 60)")
    parser.add_argument("--measure", type=float, default=300.0, help="seconds of measuring (default 300)")
    args = parser.parse_args(argv)
    if args.clusters < 2 or args.clusters % 2:
        parser.error("--clusters must be an even number of at least 2 (primary and DR pairs)")
    started, load = time.monotonic(), pathlib.Path("/proc/loadavg").read_text().split()[0]
    if not re.fullmatch(r"[1-9][0-9]*s", args.interval):
        parser.error("--interval must be whole seconds, such as 30s")
    table = asyncio.run(main_async(args.clusters, Plan(args.interval, args.warmup, args.measure)))
    info = machine()
    print(
        f"velero-exporter fleet benchmark, {time.strftime('%Y-%m-%d')}: {info['cores']} cores, {info['cpu']}, "
        f"{info['ram']} RAM, Python {info['python']}, {time.monotonic() - started:.0f} s; load average (1 min) "
        f"{load} at the start, {pathlib.Path('/proc/loadavg').read_text().split()[0]} at the end\n"
    )
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
