"""One run of every scenario (velero_exporter/sandbox/scenarios), end to end, for tests/test_e2e.py and
tests/test_dashboards.py.

Each scenario is a cluster: a fake Kubernetes API holding its World, a real exporter reading it (and moto, for the
scenarios with buckets and snapshots: one moto for all, each scenario with buckets and regions of its own). One
real Prometheus scrapes every exporter, each target labelled with its scenario's `cluster`, and evaluates the
shipped rules with every `for` shortened to 0s through the mixin's configuration; a scenario that needs Prometheus
to see no exporter at all gets a Prometheus of its own, whose external label names its cluster. Both send their
alerts to one real Alertmanager (the shipped inhibitions), which notifies a webhook.

The run has two phases, all scenarios at once in each:
1. each cluster goes wrong (its troubles' changes, then what happens `later`, once Prometheus has seen the
   exporter); the firing set of its cluster must become exactly the declared alerts, and each must reach the
   webhook but those inhibited (one inhibited only once notified must reach it, then be inhibited in
   Alertmanager). Then every dashboard panel's query is answered for every cluster, at that moment.
2. each trouble's repair in turn: the firing set must lose exactly that trouble's alerts, and the webhook must be
   told each one resolved (but one inhibited once notified: see `repair`).
Every exporter reaches moto through the fault proxy (tests/fault_proxy.py), which reports the state a World gives a
snapshot where it is not `completed` (AWS fails snapshots; moto never does). A scenario whose troubles happened
`recent`ly gets a history first: the exporter's real output on the World
without them becomes Prometheus's samples of a day ago (promtool writes the blocks), and then the World changes.

What each scenario met is recorded, not raised, so that each test reports its own scenario or panel.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from tests.fault_proxy import Fault, FaultProxy
from velero_exporter.app import Exporter, Options
from velero_exporter.config.file import parse_config
from velero_exporter.config.settings import Config
from velero_exporter.mixin import dashboards
from velero_exporter.mixin.config import DEFAULT as MIXIN
from velero_exporter.mixin.rules import groups, render_rule_file
from velero_exporter.sandbox.cluster import Cluster
from velero_exporter.sandbox.demo import environment
from velero_exporter.sandbox.monitoring import backfill, free_port, query, running_alertmanager, running_prometheus
from velero_exporter.sandbox.moto_server import MotoServer, aws_environment
from velero_exporter.sandbox.scenario import Alert, Scenario
from velero_exporter.sandbox.scenarios import all_scenarios
from velero_exporter.sandbox.world import DAY, World

ROOT = Path(__file__).resolve().parent.parent
INHIBITIONS = ROOT / "rules" / "alertmanager-inhibit.yml"

# The shipped rules with every `for` shortened (a test cannot wait the production durations), in the order of the
# production ones where it matters: the alerts on the exporter's own health wait 10s (a scrape that a loaded
# machine makes late must not fire them), and the alerts they inhibit wait longer, so that, as in production, the
# inhibiting alert fires first and Alertmanager never notifies what it inhibits. So does an unavailable location
# (10m in production) before what it causes (RPOViolation 15m); VeleroDRClusterBehind (30m) fires after the DR
# cluster's RPOViolation (15m) that it inhibits, as in production, which therefore notifies first.
SHORTENED_FOR = {
    "VeleroExporterDown": "10s",
    "VeleroExporterSourceDown": "15s",
    "VeleroStorageLocationUnavailable": "15s",
    "VeleroDRClusterBehind": "30s",
}
# The render errors' window too: a fixed render resolves VeleroExporterRenderFailing once the window has passed.
RULES = replace(
    MIXIN,
    alert_for={name: SHORTENED_FOR.get(name, "20s") for name in MIXIN.alert_for},
    render_errors_window="30s",
)
# Prometheus scrapes every exporter this often (its timeout too): every exporter shares one process and two cores.
SCRAPE_INTERVAL = "2s"
# How often the AWS sources look (production: minutes), and the reflectors' backoff (a repaired API server or
# RBAC is seen within a second).
AWS_INTERVAL = 3.0
FAST_REFLECTOR = {"backoff_initial": 0.05, "backoff_max": 0.5}
# Generous: two cores shared with other work.
DEADLINE = 120.0
# Prometheus drops the alerts it sends before it has found its Alertmanager (a few seconds after start) and sends
# them again a resend delay later (1m by default): an alert that fires at once (no exporter at all) would wait.
PROMETHEUS_FLAGS = ("--rules.alert.resend-delay=2s",)
# Labels that depend on how Prometheus scrapes, not on what the scenario says.
SCRAPE_LABELS = frozenset({"job", "instance", "alertstate", "__name__"})
# The history a `recent` trouble needs: samples from this long before now to this long after, a day back.
HISTORY_SPAN = (-600.0, 3600.0)
HISTORY_STEP = 30.0

Labels = frozenset[tuple[str, str]]
# One panel query's answer: (series labels without `cluster`, value) sorted.
Answer = list[tuple[dict[str, str], float]]


# --- what the rules raise -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Variant:
    """One alerting rule: its alert name and the labels it sets itself (severity, reason); whether its `reason`
    comes from the series it reads (VeleroVolumeUnprotected's, by claim) when it sets none itself."""

    name: str
    labels: Labels
    reason_of_series: bool = False


def rule_variants() -> list[Variant]:
    return [
        Variant(
            rule["alert"],
            frozenset(rule["labels"].items()),
            "reason" not in rule["labels"] and re.search(r"\bby \([^)]*\breason\b", rule["expr"]) is not None,
        )
        for group in groups(MIXIN)
        for rule in group["rules"]
        if "alert" in rule
    ]


def variants_of(alert: Alert) -> list[Variant]:
    """The rules that can raise the alert: same name, same reason (or none, or any where the series give it), and
    its severity if it gives one."""
    labels = dict(alert.labels)
    found = []
    for variant in rule_variants():
        own = dict(variant.labels)
        same_reason = own.get("reason") == labels.get("reason") or variant.reason_of_series
        if variant.name != alert.name or not same_reason:
            continue
        if "severity" in labels and own["severity"] != labels["severity"]:
            continue
        found.append(variant)
    return found


def expected_labels(alert: Alert, cluster: str | None) -> Labels:
    """The labels the alert fires with: the declared ones, the rule's severity, the cluster."""
    (variant,) = variants_of(alert)  # tests/test_scenarios.py proves there is exactly one
    labels = {**dict(variant.labels), **dict(alert.labels), "alertname": alert.name}
    if cluster is not None:
        labels["cluster"] = cluster
    return frozenset(labels.items())


def labels(**given: str) -> Labels:
    return frozenset(given.items())


async def firing(prometheus: str, matchers: str = "") -> set[Labels]:
    """The firing alerts' labels, but those that depend on how Prometheus scrapes."""
    result = await query(prometheus, f'ALERTS{{alertstate="firing"{", " + matchers if matchers else ""}}}')
    return {frozenset((k, v) for k, v in r["metric"].items() if k not in SCRAPE_LABELS) for r in result}


def describe(labels: Iterable[Labels]) -> list[str]:
    return sorted(" ".join(f"{k}={v}" for k, v in sorted(a) if k != "severity") for a in labels)


# --- the webhook ------------------------------------------------------------------------------------------------


@dataclass
class Receiver:
    """The webhook Alertmanager notifies: every alert it was told about, firing or resolved."""

    notifications: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        for item in body["alerts"]:
            self.notifications.append((item["status"], item["labels"]))
        return web.Response(text="ok")

    def seen(self, status: str, labels: Labels) -> bool:
        return any(s == status and labels <= frozenset(got.items()) for s, got in self.notifications)


@contextlib.asynccontextmanager
async def running_receiver() -> AsyncIterator[tuple[Receiver, str]]:
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield receiver, f"http://127.0.0.1:{port}/"
    finally:
        await runner.cleanup()


# --- one scenario, live -----------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What a scenario met: the problems found (none: it passed), and how long its phases took."""

    problems: list[str] = field(default_factory=list)
    fired_after: float = 0.0
    repaired_after: float = 0.0


class SnapshotStates:
    """The states DescribeSnapshots reports other than moto's `completed`, by snapshot id, from the Worlds."""

    def __init__(self, proxy: FaultProxy) -> None:
        self._states: dict[str, str] = {}
        proxy.add(Fault(None, service="ec2", operation="DescribeSnapshots", rewrite=self._rewrite))

    def update(self, cluster: Cluster) -> None:
        states = {cluster.snapshot_id(s): s.state for s in cluster.world.snapshots}
        self._states |= {i: state for i, state in states.items() if state != "completed"}
        for i in [i for i, state in states.items() if state == "completed"]:
            self._states.pop(i, None)

    def _rewrite(self, body: bytes) -> bytes:
        for snapshot_id, state in list(self._states.items()):
            pattern = rf"(<snapshotId>{snapshot_id}</snapshotId>.*?<status>)completed(</status>)"
            body = re.sub(pattern.encode(), rb"\1" + state.encode() + rb"\2", body, count=1, flags=re.S)
        return body


@dataclass
class Live:
    scenario: Scenario
    cluster: Cluster
    port: int
    outcome: Outcome = field(default_factory=Outcome)
    prometheus: str = ""
    history: str = ""
    states: SnapshotStates | None = None

    @property
    def name(self) -> str:
        return self.scenario.name

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def label(self) -> str | None:
        """The cluster label of its alerts in Prometheus (a Prometheus of its own adds it only when sending)."""
        return None if self.scenario.own_prometheus else self.name

    def expected(self, alerts: Iterable[Alert]) -> set[Labels]:
        return {expected_labels(a, self.label) for a in alerts}

    def notified(self, alerts: Iterable[Alert]) -> set[Labels]:
        """The labels the webhook sees of the alerts that reach it (inhibited ones too, if they reach it before
        their inhibitor fires): the cluster always (the external label of a Prometheus of its own)."""
        return {expected_labels(a, self.name) for a in alerts if not a.inhibited or a.notified_first}

    def never_notified(self, alerts: Iterable[Alert]) -> set[Labels]:
        return {expected_labels(a, self.name) for a in alerts if a.inhibited and not a.notified_first}

    def inhibited_later(self, alerts: Iterable[Alert]) -> set[Labels]:
        return {expected_labels(a, self.name) for a in alerts if a.notified_first}

    async def firing(self) -> set[Labels]:
        return await firing(self.prometheus, f'cluster="{self.label}"' if self.label else "")

    async def change(self, what: Callable[[World], None]) -> None:
        world = self.cluster.world.copy()
        world.now = time.time()
        what(world)
        running = self.cluster.exporter
        await self.cluster.apply(world)
        if isinstance(self.cluster.exporter, Exporter):
            break_render(self.cluster.exporter, world.broken_render_stages)
        if self.states is not None:
            self.states.update(self.cluster)
        exporter = self.cluster.exporter
        if isinstance(exporter, Exporter) and exporter is not running:
            # A new exporter (started, or restarted with a new configuration): what it serves counts once every
            # source has looked, not while a family is absent because it has not yet.
            sources = exporter.store.health.sources

            async def looked() -> bool:
                return bool(sources) and all(source.up for source in sources.values())

            if not await until(looked):
                self.outcome.problems.append(f"the new exporter's sources never all came up: {sorted(sources)}")


class RenderBugError(Exception):
    """What a render stage raises where the World says the exporter's code is broken."""


def _broken(*_: object) -> Any:
    raise RenderBugError("a field no test foresaw")


# The renderer's method that computes each stage that a World can break.
RENDER_STAGES = {"model": "models", "status_page": "status_page"}


def break_render(exporter: Exporter, stages: Iterable[str]) -> None:
    """Make the live exporter's render stages raise as a bug would (the World's broken_render_stages), the others
    its own code again. No object can do it: the bug is put in-process, into the running renderer."""
    renderer = exporter.renderer
    for stage, method in RENDER_STAGES.items():
        if stage in stages:
            setattr(renderer, method, _broken)
        elif method in vars(renderer):
            delattr(renderer, method)


def exporter_config(data: Mapping[str, Any], scenario: str) -> Config:
    """The scenario's configuration with the AWS sources' intervals shortened."""
    config = parse_config(dict(data), f"scenario {scenario}")
    intervals = ("buckets_interval", "repositories_interval", "snapshots_interval", "posture_interval")
    shortened: dict[str, Any] = dict.fromkeys(intervals, AWS_INTERVAL)
    return replace(config, aws=replace(config.aws, **shortened))


def live_cluster(scenario: Scenario, now: float, moto: MotoServer, workdir: Path) -> Live:
    recent = tuple(t for t in scenario.troubles if t.recent)
    port = free_port()
    kubeconfig = workdir / f"{scenario.name}.kubeconfig"

    def exporter(config: Mapping[str, Any]) -> Exporter:
        options = Options(
            listen_host="127.0.0.1",
            listen_port=port,
            kubeconfig=str(kubeconfig),
            namespace="velero",
            reflector_options=FAST_REFLECTOR,
            aws_options={"tick": 0.5, "backoff_base": 0.1},
            # A failing render is tried again well within the render errors' window (RULES).
            render_retry_max=5.0,
        )
        return Exporter(exporter_config(config, scenario.name), options)

    cluster = Cluster(scenario.build(now, without=recent), moto, kubeconfig, exporter=exporter)
    return Live(scenario, cluster, port)


# --- waiting ----------------------------------------------------------------------------------------------------


async def until(check: Callable[[], Awaitable[bool]], within: float = DEADLINE) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.5)
    return False


async def wait_for(check: Callable[[], Awaitable[bool]], what: str, within: float = DEADLINE) -> None:
    if not await until(check, within):
        raise AssertionError(f"timed out waiting for {what}")


def rule_file(directory: Path) -> Path:
    """The shipped rules with every `for` at 0s, in the directory."""
    path = directory / "velero-exporter.rules.yml"
    path.write_text(render_rule_file(RULES))
    return path


async def _scraped(live: Live) -> bool:
    """Prometheus has scraped the exporter before a whole minute: the fleet dashboard's absence panels, which look
    back in minute steps, see it report, as they would any exporter that ran for a while."""
    return bool(await query(live.prometheus, f'max_over_time(up{{cluster="{live.name}"}}[10m:1m]) == 1'))


# --- history: the exporter's real output, a day back -------------------------------------------------------------


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def openmetrics_history(payload: str, labels: dict[str, str], now: float) -> str:
    """The payload's gauges as samples a day before `now` (over HISTORY_SPAN), with the target's labels: what
    Prometheus would hold had it scraped this exporter then. Families in OpenMetrics, without `# EOF`."""
    lines = []
    first, last = HISTORY_SPAN
    times = [now - DAY + first + i * HISTORY_STEP for i in range(int((last - first) // HISTORY_STEP))]
    for family in text_string_to_metric_families(payload):
        if family.type != "gauge":
            continue
        lines.append(f"# TYPE {family.name} gauge")
        for t in times:
            for sample in family.samples:
                pairs = {**sample.labels, **labels}
                text = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(pairs.items()))
                lines.append(f"{sample.name}{{{text}}} {sample.value} {t:.3f}")
    return "\n".join(lines) + "\n"


async def record_history(live: Live, http: aiohttp.ClientSession) -> None:
    """Before Prometheus starts: the exporter's output on the World without the recent troubles becomes the
    history of a day ago; then the troubles happen."""

    async def measured() -> bool:
        try:
            async with http.get(f"http://{live.address}/metrics") as resp:
                if resp.status != 200:
                    return False
                text = await resp.text()
        except aiohttp.ClientError:
            return False  # not listening yet
        buckets = len(re.findall(r"^velero_bucket_size_bytes\{", text, re.M))
        if not re.search(r'^velero_exporter_source_up\{source="buckets"\} 1', text, re.M) or buckets < len(
            live.cluster.world.buckets
        ):
            return False
        labels = {"job": "velero-exporter", "instance": live.address, "cluster": live.name}
        live.history = openmetrics_history(text, labels, live.cluster.world.now)
        return True

    if not await until(measured):
        live.outcome.problems.append("the exporter never measured every bucket, for the history of a day ago")
        return
    await live.cluster.apply(live.scenario.build(live.cluster.world.now))
    if live.states is not None:
        live.states.update(live.cluster)


# --- the two phases ----------------------------------------------------------------------------------------------


async def fires_exactly(live: Live, alerts: Iterable[Alert]) -> tuple[set[Labels], set[Labels]]:
    """Waits until exactly these alerts fire in the live cluster; returns what is missing and what is extra
    (both empty: it happened)."""
    expected = live.expected(alerts)
    last: set[Labels] = set()

    async def exactly() -> bool:
        nonlocal last
        last = await live.firing()
        return last == expected

    await until(exactly)
    return expected - last, last - expected


async def heard(receiver: Receiver, status: str, labels: set[Labels]) -> set[Labels]:
    """Waits until the webhook was told of each (firing or resolved); returns those it never was."""

    async def told() -> bool:
        return all(receiver.seen(status, a) for a in labels)

    await until(told)
    return {a for a in labels if not receiver.seen(status, a)}


async def suppressed(alertmanager: str, labels: set[Labels]) -> set[Labels]:
    """Waits until Alertmanager says each alert is inhibited; returns those it never did."""

    async def inhibited() -> set[Labels]:
        async with aiohttp.ClientSession() as http, http.get(f"{alertmanager}/api/v2/alerts") as resp:
            body = await resp.json()
        return {
            want
            for want in labels
            for got in body
            if want <= frozenset(got["labels"].items()) and got["status"]["inhibitedBy"]
        }

    async def all_inhibited() -> bool:
        return await inhibited() == labels

    await until(all_inhibited)
    return labels - await inhibited()


async def go_wrong(live: Live, receiver: Receiver, alertmanager: str, started: float) -> None:
    """Phase 1: the troubles happen; exactly their alerts fire and reach the webhook."""
    scenario = live.scenario
    later = [t.later for t in scenario.troubles if t.later is not None]
    if later:
        if not await until(lambda: _scraped(live)):
            live.outcome.problems.append("Prometheus never scraped the exporter")
            return
        for change in later:
            await live.change(change)
    missing, extra = await fires_exactly(live, scenario.alerts())
    if missing or extra:
        live.outcome.problems.append(f"firing set differs: missing {describe(missing)}, unexplained {describe(extra)}")
        return
    unheard = await heard(receiver, "firing", live.notified(scenario.alerts()))
    if unheard:
        live.outcome.problems.append(f"never reached the webhook: {describe(unheard)}")
        return
    # Alertmanager notified the others by now: the inhibited ones would have come with them.
    leaked = [a for a in live.never_notified(scenario.alerts()) if receiver.seen("firing", a)]
    if leaked:
        live.outcome.problems.append(f"reached the webhook though inhibited: {describe(leaked)}")
        return
    uninhibited = await suppressed(alertmanager, live.inhibited_later(scenario.alerts()))
    if uninhibited:
        live.outcome.problems.append(f"notified, and never inhibited after: {describe(uninhibited)}")
        return
    live.outcome.fired_after = time.monotonic() - started


async def repair(live: Live, receiver: Receiver, started: float) -> None:
    """Phase 2: each trouble's repair resolves exactly its alerts, and the webhook is told."""
    remaining = set(live.scenario.alerts())
    for trouble in live.scenario.troubles:
        if trouble.repair is None:
            continue
        await live.change(trouble.repair)
        remaining -= set(trouble.alerts)
        missing, extra = await fires_exactly(live, remaining)
        if missing or extra:
            live.outcome.problems.append(
                f"after the repair of {trouble.what!r}: still firing {describe(extra)},"
                f" no longer firing {describe(missing)}"
            )
            return
        # One inhibited once notified may never be heard resolving: Alertmanager drops a resolved alert that is
        # muted when its group is flushed, and its inhibitor may resolve a moment after it.
        unheard = await heard(
            receiver, "resolved", live.notified(trouble.alerts) - live.inhibited_later(trouble.alerts)
        )
        if unheard:
            live.outcome.problems.append(f"the webhook never heard these resolve: {describe(unheard)}")
            return
    live.outcome.repaired_after = time.monotonic() - started


# --- the panels, at the moment every cluster is in trouble -------------------------------------------------------


def substitute(expr: str, cluster: str) -> str:
    """What Grafana sends for the dashboards' variables. The tier detail's single tier is every tier at once: its
    queries keep the tier label, so each tier's answer is there."""
    values = {"__rate_interval": "1m", "__range": "1h", "__interval": "15s", "cluster": cluster, "tier": ".*"}
    for name, value in values.items():
        expr = expr.replace("${" + name + "}", value)
        expr = re.sub(rf"\${name}\b", value, expr)
    if "$" in expr:
        raise ValueError(f"unsubstituted variable in {expr}")
    return expr


PanelKey = tuple[str, int, str]  # (dashboard file, panel id, refId)
STEADY_WINDOW = "10s"


async def steady(prometheus: str, lives: list[Live]) -> float:
    """A moment when every running exporter has been scraped without a miss for a while (a missed scrape makes
    its series stale, and the panels would show a gap): the time to ask the panels at."""

    async def all_scraped() -> bool:
        found = await query(prometheus, f"min_over_time(up[{STEADY_WINDOW}]) == 1")
        return {r["metric"].get("cluster") for r in found} >= {live.name for live in lives}

    if not await until(all_scraped):
        raise AssertionError(f"the exporters were never all scraped without a miss for {STEADY_WINDOW}")
    return time.time() - 1  # the newest evaluation of the recording rules is done by then


async def answer_panels(prometheus: str, clusters: list[str], at: float) -> dict[PanelKey, dict[str, Answer]]:
    """Every panel query's answer in every cluster at one moment. Asked once for all clusters where the answer
    keeps the `cluster` label; else (a count, a sum) once per cluster."""
    targets = [
        ((board.file, panel.id, target["refId"]), target["expr"])
        for board in dashboards.dashboards()
        for row in board.rows
        for panel in row.panels
        for target in panel.json["targets"]
    ]
    limit = asyncio.Semaphore(4)
    answers: dict[PanelKey, dict[str, Answer]] = {}

    async def ask(http: aiohttp.ClientSession, expr: str) -> list[dict[str, Any]]:
        params = {"query": expr, "time": f"{at:.3f}"}
        async with limit, http.get(f"{prometheus}/api/v1/query", params=params) as resp:
            body = await resp.json()
        if body.get("status") != "success":
            raise RuntimeError(f"query {expr!r} failed: {body.get('error')}")
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def answer(result: list[dict[str, Any]]) -> Answer:
        return sorted(
            (({k: v for k, v in r["metric"].items() if k != "cluster"}, float(r["value"][1])) for r in result),
            key=lambda a: sorted(a[0].items()),
        )

    async def one(http: aiohttp.ClientSession, key: PanelKey, expr: str) -> None:
        everywhere = await ask(http, substitute(expr, ".*"))
        if all("cluster" in r["metric"] for r in everywhere):
            answers[key] = {c: answer([r for r in everywhere if r["metric"]["cluster"] == c]) for c in clusters}
            return
        each = await asyncio.gather(*(ask(http, substitute(expr, c)) for c in clusters))
        answers[key] = {c: answer(result) for c, result in zip(clusters, each, strict=True)}

    async with aiohttp.ClientSession() as http:
        await asyncio.gather(*(one(http, key, expr) for key, expr in targets))
    return answers


# --- the whole run -------------------------------------------------------------------------------------------------


@dataclass
class Run:
    outcomes: dict[str, Outcome]
    # Every panel query's answer per cluster, and each cluster's World, when every cluster was in trouble.
    panels: dict[PanelKey, dict[str, Answer]]
    worlds: dict[str, World]
    panels_at: float
    setup_took: float
    total_took: float


def run_every_scenario() -> Run:
    return asyncio.run(_run())


async def _run() -> Run:
    began = time.monotonic()
    now = time.time()
    moto = MotoServer()
    await asyncio.to_thread(moto.start)
    proxy = FaultProxy(moto.url)
    proxy.start()
    try:
        with tempfile.TemporaryDirectory(prefix="velero-exporter-e2e-") as tmp, environment(aws_environment(proxy.url)):
            return await _with_moto(moto, SnapshotStates(proxy), Path(tmp), now, began)
    finally:
        proxy.stop()
        moto.stop()


async def _with_moto(moto: MotoServer, states: SnapshotStates, workdir: Path, now: float, began: float) -> Run:
    lives = [live_cluster(s, now, moto, workdir) for s in all_scenarios()]
    rules = rule_file(workdir)
    await asyncio.gather(*(live.cluster.start() for live in lives))
    for live in lives:
        live.states = states
        states.update(live.cluster)
    try:
        async with (
            aiohttp.ClientSession() as http,
            running_receiver() as (receiver, webhook),
            running_alertmanager(webhook, INHIBITIONS) as alertmanager,
        ):
            await asyncio.gather(
                *(record_history(live, http) for live in lives if any(t.recent for t in live.scenario.troubles))
            )
            shared = [live for live in lives if not live.scenario.own_prometheus]
            storage = None
            if any(live.history for live in shared):
                history, storage = workdir / "history.om", workdir / "tsdb"
                history.write_text("".join(live.history for live in shared) + "# EOF\n")
                await backfill(history, storage)
            async with contextlib.AsyncExitStack() as stack:
                prometheus = await stack.enter_async_context(
                    running_prometheus(
                        [(live.address, {"cluster": live.name}) for live in shared],
                        [rules],
                        alertmanager.url,
                        storage=storage,
                        flags=PROMETHEUS_FLAGS,
                        scrape_interval=SCRAPE_INTERVAL,
                    )
                )
                for live in lives:
                    if live.scenario.own_prometheus:
                        own = await stack.enter_async_context(
                            running_prometheus(
                                [live.address],
                                [rules],
                                alertmanager.url,
                                external_labels={"cluster": live.name},
                                flags=PROMETHEUS_FLAGS,
                                scrape_interval=SCRAPE_INTERVAL,
                            )
                        )
                        live.prometheus = own.url
                    else:
                        live.prometheus = prometheus.url
                started = time.monotonic()
                setup_took = started - began
                await asyncio.gather(*(go_wrong(live, receiver, alertmanager.url, started) for live in lives))
                panels_at = await steady(prometheus.url, [live for live in shared if live.cluster.world.exporter_up])
                panels = await answer_panels(prometheus.url, [live.name for live in shared], panels_at)
                worlds = {live.name: live.cluster.world for live in lives}
                await asyncio.gather(*(repair(live, receiver, started) for live in lives if not live.outcome.problems))
    finally:
        await asyncio.gather(*(live.cluster.stop() for live in lives), return_exceptions=True)
    return Run(
        {live.name: live.outcome for live in lives}, panels, worlds, panels_at, setup_took, time.monotonic() - began
    )
