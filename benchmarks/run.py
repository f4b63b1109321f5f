"""velero-exporter's benchmark: the real exporter, as it runs in production, against the sandbox.

    python -m benchmarks.run            # full: 1k, 10k and 100k backups, then a large cluster's coverage
    python -m benchmarks.run --quick    # 1k and 10k only, shorter windows (about 2.5 minutes)
    python -m benchmarks.run --auth     # basic auth under a password-guessing flood only (about 30 seconds)
    python -m benchmarks.run --volumes  # the volume operations' runs below only (about a minute)
    python -m benchmarks.run --cluster  # the coverage source at a large cluster's size only (about 6 minutes)

The full and quick runs also run the exporter on 1k backups with 0, 1k and 10k finished PodVolumeBackups and as
many DataUploads: the series must not grow with them.

Processes (the machine may have 2 cores; each measured party has its own):
- this process: the wire-level fake Kubernetes API (FakeKubeAPI) holding the backups, a moto S3/EC2 server for
  the AWS sources, and the watch-latency prober;
- the exporter: `velero-exporter --kubeconfig K --web.listen-address 127.0.0.1:P`, the seed config, production
  timers; its peak RSS is its own /proc/PID/status VmHWM;
- the baseline: an aiohttp handler serving the exporter's own /metrics bytes from memory (benchmarks.baseline);
- the load generator: 16 concurrent scrapers (benchmarks.load), the same process type for both targets;
- the real kubectl (client-go), timed against the same fake API as the exporter's start-up.
Prints one markdown table; every target says "met" or by how much it is missed. docs/performance.md explains
each figure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import pathlib
import platform
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from benchmarks import dataset
from benchmarks.auth_flood import measure as measure_flood
from benchmarks.load import percentile
from velero_exporter.sandbox.kube_api import FakeKubeAPI
from velero_exporter.sandbox.monitoring import find_kubectl, free_port
from velero_exporter.sandbox.moto_server import MotoServer

ROOT = pathlib.Path(__file__).resolve().parent.parent
# What Prometheus sends: OpenMetrics preferred, gzip accepted.
PROMETHEUS_HEADERS = {
    "Accept": "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.1",
    "Accept-Encoding": "gzip",
}
# Velero's namespace at both of its group versions (v2alpha1: the data movers).
VELERO_PATHS = ("/apis/velero.io/v1/namespaces/velero/", "/apis/velero.io/v2alpha1/namespaces/velero/")
K = 1000


def exporter_command(kubeconfig: pathlib.Path, port: int, *extra: str) -> list[str]:
    script = shutil.which("velero-exporter")
    head = [script] if script else [sys.executable, "-m", "velero_exporter.cli"]
    address = ["--web.listen-address", f"127.0.0.1:{port}"]
    return [*head, "--kubeconfig", str(kubeconfig), *address, "--log.level", "warn", *extra]


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process, in bytes."""
    out: dict[str, int] = {}
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(rest.split()[0]) * 1024
    return out


def machine() -> dict[str, str]:
    cpu = "unknown"
    for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = 0
    for line in pathlib.Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    return {
        "cores": str(os.cpu_count()),
        "cpu": cpu,
        "ram": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


# --- the table -------------------------------------------------------------------------------------------


@dataclass
class Row:
    figure: str
    backups: str
    value: str
    target: str = ""
    status: str = ""


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)

    def add(self, figure: str, backups: str, value: str, target: str = "", status: str = "") -> None:
        self.rows.append(Row(figure, backups, value, target, status))
        print(f"  {figure} [{backups}]: {value} {status}", file=sys.stderr, flush=True)

    def markdown(self) -> str:
        lines = ["| figure | backups | value | target | met? |", "|---|---|---|---|---|"]
        lines += [f"| {r.figure} | {r.backups} | {r.value} | {r.target} | {r.status} |" for r in self.rows]
        return "\n".join(lines)


def at_most(value: float, limit: float, unit: str = "") -> str:
    return "met" if value <= limit else f"missed by {value - limit:.3g}{unit}"


def paired_ratio(syncs: list[float], raws: list[float]) -> tuple[float, str]:
    """The exporter's syncs against the raw loops run just before each: this machine's speed drifts by 2x over
    minutes (the raw loop over the large cluster took 2.7 s in one run and 6.6 s in the next), so each pair gives
    a ratio and the figure is their median, with their range."""
    ratios = sorted(s / r for s, r in zip(syncs, raws, strict=True))
    ratio = statistics.median(ratios)
    pairs = (
        f"median of {len(ratios)} back-to-back pairs, {ratios[0]:.2f}x to {ratios[-1]:.2f}x"
        if len(ratios) > 1
        else "1 pair"
    )
    return ratio, f"{statistics.median(syncs):.2f} s vs {statistics.median(raws):.2f} s: {ratio:.2f}x ({pairs})"


def fmt_size(n: int) -> str:
    return f"{n // K}k" if n >= K else str(n)


def mib(n: float) -> str:
    return f"{n / 1024 / 1024:.1f} MiB"


# --- the parties ---------------------------------------------------------------------------------------------


@dataclass
class Sandbox:
    api: FakeKubeAPI
    kubeconfig: pathlib.Path
    names: list[str]  # of the backups, as seeded
    truth: dict[tuple[str, str], int]
    operation_truth: dict[tuple[str, str], int] = field(default_factory=dict)

    def list_requests(self, since: int = 0) -> int:
        return sum(1 for r in self.api.requests[since:] if _is_list(r.method, r.path, r.query))

    def watch_requests(self, since: int = 0) -> int:
        return sum(1 for r in self.api.requests[since:] if r.query.get("watch") in ("1", "true"))


def _is_list(method: str, path: str, query: dict[str, str]) -> bool:
    prefix = next((p for p in VELERO_PATHS if path.startswith(p)), None)
    if method != "GET" or prefix is None or query.get("watch") in ("1", "true"):
        return False
    return "/" not in path[len(prefix) :].strip("/")  # a collection, not one object


@contextlib.asynccontextmanager
async def sandbox(n: int, now: float, tmp: pathlib.Path, operations: int = 0) -> AsyncIterator[Sandbox]:
    # Events kept for watch resumption: as the apiserver's default (its watch cache), not the whole seed.
    api = FakeKubeAPI(namespace="velero", history_size=1000)
    await api.start()
    try:
        for obj in dataset.others(now):
            api.create(obj)
        items = dataset.backups(n, now)
        for obj in items:
            api.create(obj)
        truth = dataset.phase_counts(items)
        volume_operations = dataset.volume_operations(items, operations) if operations else []
        for obj in volume_operations:
            api.create(obj)
        operation_truth = dataset.operation_counts(volume_operations)
        names = [obj["metadata"]["name"] for obj in items]
        del items, volume_operations
        gc.collect()
        gc.freeze()  # the seeded objects never change: keep the collector from walking them mid-measurement
        kubeconfig = api.write_kubeconfig(tmp / f"kubeconfig-{n}-{operations}")
        yield Sandbox(api, kubeconfig, names, truth, operation_truth)
    finally:
        await api.stop()
        gc.unfreeze()


@dataclass
class Started:
    process: asyncio.subprocess.Process
    port: int
    ready_seconds: float
    complete_seconds: float
    # From its first request to the API server (what a raw client's time is measured from) to complete.
    sync_seconds: float

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


async def wait_http(
    http: aiohttp.ClientSession, url: str, deadline: float, process: asyncio.subprocess.Process
) -> None:
    while True:
        if process.returncode is not None:
            raise RuntimeError(f"{url}: the process exited with {process.returncode}")
        with contextlib.suppress(aiohttp.ClientError):
            async with http.get(url) as resp:
                if resp.status == 200:
                    return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url}: not ready in time")
        await asyncio.sleep(0.01)


def tier_backups(text: str) -> dict[tuple[str, str], int]:
    """velero_tier_backups by (tier, phase), from the text format."""
    out: dict[tuple[str, str], int] = {}
    for line in text.splitlines():
        if line.startswith("velero_tier_backups{"):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', line))
            out[labels["tier"], labels["phase"]] = int(float(line.rsplit(" ", 1)[1]))
    return out


def volume_operations(text: str) -> dict[tuple[str, str], int]:
    """velero_volume_operations by (kind, phase), from the text format."""
    out: dict[tuple[str, str], int] = {}
    for line in text.splitlines():
        if line.startswith("velero_volume_operations{"):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', line))
            out[labels["kind"], labels["phase"]] = int(float(line.rsplit(" ", 1)[1]))
    return out


def matches_truth(shown: dict[tuple[str, str], int], truth: dict[tuple[str, str], int]) -> bool:
    return all(shown.get(key, 0) == count for key, count in truth.items()) and sum(shown.values()) == sum(
        truth.values()
    )


async def settle(http: aiohttp.ClientSession, url: str) -> None:
    """Until every source reports up (the AWS sources' first refresh is done) and a render has followed."""
    deadline = time.monotonic() + 60.0
    while time.monotonic() < deadline:
        async with http.get(f"{url}/metrics") as resp:
            text = await resp.text()
        ups = [line for line in text.splitlines() if line.startswith("velero_exporter_source_up{")]
        if ups and all(line.endswith(" 1.0") for line in ups):
            await asyncio.sleep(2.0)
            return
        await asyncio.sleep(0.2)
    raise RuntimeError("the exporter's sources did not all come up")


async def start_exporter(
    http: aiohttp.ClientSession,
    box: Sandbox,
    env: dict[str, str],
    complete: Callable[[str], bool] | None = None,
    config: pathlib.Path | None = None,
) -> Started:
    """Spawn the exporter and wait until /readyz answers and /metrics satisfies `complete` (by default: every
    backup counted)."""
    timeout = 300.0
    port = free_port()
    seen = len(box.api.requests)
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        *exporter_command(box.kubeconfig, port, *(["--config", str(config)] if config else [])),
        env=env,
        stdin=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    first_request: float | None = None

    def note_first_request() -> None:
        nonlocal first_request
        if first_request is None and len(box.api.requests) > seen:
            first_request = time.monotonic()

    try:
        deadline = started + timeout
        while True:
            note_first_request()
            if process.returncode is not None:
                raise RuntimeError(f"{url}: the process exited with {process.returncode}")
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"{url}/readyz") as resp:
                    if resp.status == 200:
                        break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url}: not ready in time")
            await asyncio.sleep(0.01)
        ready = time.monotonic() - started
        done = complete or (
            lambda text: (
                matches_truth(tier_backups(text), box.truth)
                and (not box.operation_truth or matches_truth(volume_operations(text), box.operation_truth))
            )
        )
        while True:
            note_first_request()
            async with http.get(f"{url}/metrics", headers=PROMETHEUS_HEADERS) as resp:
                if done(await resp.text()):
                    break
            if time.monotonic() - started > timeout:
                raise RuntimeError("the exporter's /metrics never became complete")
            await asyncio.sleep(0.01)
        finished = time.monotonic()
    except BaseException:
        await stop_process(process)
        raise
    assert first_request is not None
    return Started(process, port, ready, finished - started, finished - first_request)


async def stop_process(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()


@dataclass
class RawList:
    seconds: float
    objects: dict[str, int]


async def raw_list(url: str, paths: list[str]) -> RawList:
    """The baseline client (benchmarks.rawlist) in its own process, over the same server."""
    args = [sys.executable, "-m", "benchmarks.rawlist", url, *paths]
    proc = await asyncio.create_subprocess_exec(*args, cwd=ROOT, stdout=subprocess.PIPE)
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"benchmarks.rawlist failed ({proc.returncode})")
    result = json.loads(out)
    return RawList(float(result["seconds"]), dict(result["objects"]))


async def time_kubectl(kubectl: str, box: Sandbox, cache: pathlib.Path) -> float:
    args = [
        kubectl,
        "--kubeconfig",
        str(box.kubeconfig),
        "--cache-dir",
        str(cache),
        "get",
        "backups.velero.io",
        "-n",
        "velero",
        "-o",
        "name",
        "--chunk-size=500",
    ]
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(*args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = await proc.communicate()
    elapsed = time.monotonic() - started
    lines = out.count(b"\n")
    if proc.returncode != 0 or lines != len(box.names):
        raise RuntimeError(f"kubectl failed ({proc.returncode}, {lines} lines): {err.decode()[:300]}")
    return elapsed


@contextlib.asynccontextmanager
async def baseline(
    body: bytes, headers: dict[str, str], tmp: pathlib.Path
) -> AsyncIterator[tuple[str, asyncio.subprocess.Process]]:
    path = tmp / "baseline-body"
    path.write_bytes(body)
    port = free_port()
    args = [sys.executable, "-m", "benchmarks.baseline", "--port", str(port), "--body", str(path)]
    for name, value in headers.items():
        args += ["--header", f"{name}: {value}"]
    process = await asyncio.create_subprocess_exec(*args, cwd=ROOT, stdin=subprocess.DEVNULL)
    try:
        yield f"http://127.0.0.1:{port}", process
    finally:
        await stop_process(process)


async def load(url: str, concurrency: int, duration: float, headers: dict[str, str]) -> dict[str, float]:
    args = [sys.executable, "-m", "benchmarks.load", url, "--concurrency", str(concurrency)]
    args += ["--duration", str(duration), "--warmup", "2"]
    for name, value in headers.items():
        args += ["--header", f"{name}: {value}"]
    proc = await asyncio.create_subprocess_exec(*args, cwd=ROOT, stdout=subprocess.PIPE)
    out, _ = await proc.communicate()
    result: dict[str, float] = json.loads(out)
    return result


# --- the measurements --------------------------------------------------------------------------------------


async def exposition(http: aiohttp.ClientSession, url: str) -> tuple[int, int, int, bytes, dict[str, str]]:
    """Text bytes, series (sample lines), OpenMetrics+gzip bytes, and that body with its headers."""
    async with http.get(f"{url}/metrics", headers={"Accept-Encoding": "identity"}) as resp:
        text = await resp.read()
    series = sum(1 for line in text.splitlines() if line and not line.startswith(b"#"))
    async with http.get(f"{url}/metrics", headers=PROMETHEUS_HEADERS, auto_decompress=False) as resp:
        body = await resp.read()
        headers = {k: resp.headers[k] for k in ("Content-Type", "Content-Encoding", "Vary") if k in resp.headers}
    return len(text), series, len(body), body, headers


async def watch_latency(
    http: aiohttp.ClientSession, url: str, box: Sandbox, changes: int, rng: random.Random
) -> list[float]:
    """Seconds from a backup's phase change on the server to the changed count on /metrics, per change."""
    hot = [n for n in box.names if n.startswith("hourly-hot-")]
    candidates = [n for n in hot if (box.api.get("backups", n) or {}).get("status", {}).get("phase") == "Completed"]
    chosen = rng.sample(candidates, changes)

    async def failed_hot() -> int:
        async with http.get(f"{url}/metrics", headers={"Accept-Encoding": "identity"}) as resp:
            text = await resp.text()
        return tier_backups(text).get(("hot", "Failed"), 0)

    base = await failed_hot()
    latencies: list[float] = []
    for i, name in enumerate(chosen):
        obj = box.api.get("backups", name)
        assert obj is not None
        obj["status"]["phase"] = "Failed"
        changed = time.perf_counter()
        box.api.replace(obj)
        while await failed_hot() != base + i + 1:
            if time.perf_counter() - changed > 30:
                raise RuntimeError(f"change {i} never showed on /metrics")
        latencies.append(time.perf_counter() - changed)
        # Apart, at random phases of the exporter's cycle (its 15 s refresh, its 1 s health poll).
        await asyncio.sleep(rng.uniform(0.02, 0.2))
    for name in chosen:  # back as they were, so the truth holds again
        obj = box.api.get("backups", name)
        assert obj is not None
        obj["status"]["phase"] = "Completed"
        box.api.replace(obj)
    return latencies


@dataclass
class Plan:
    sizes: tuple[int, ...]
    ready_sizes: tuple[int, ...]
    ready_runs: int
    latency_sizes: tuple[int, ...]
    latency_seconds: float
    watch_sizes: tuple[int, ...]
    watch_changes: int
    idle_size: int
    idle_seconds: float
    bucket_folders: int
    # Finished PodVolumeBackups (and as many DataUploads) beside a fixed number of backups.
    operation_sizes: tuple[int, ...] = (0, 1 * K, 10 * K)
    operation_backups: int = 1 * K
    # The coverage source at a large cluster's size (benchmarks/coverage.py): new namespaces timed, or 0 to skip.
    new_namespaces: int = 0


QUICK = Plan(
    sizes=(1 * K, 10 * K),
    ready_sizes=(10 * K,),
    ready_runs=1,
    latency_sizes=(10 * K,),
    latency_seconds=5.0,
    watch_sizes=(10 * K,),
    watch_changes=50,
    idle_size=10 * K,
    idle_seconds=10.0,
    bucket_folders=1 * K,
)
FULL = Plan(
    sizes=(1 * K, 10 * K, 100 * K),
    ready_sizes=(10 * K, 100 * K),
    ready_runs=3,
    latency_sizes=(10 * K, 100 * K),
    latency_seconds=20.0,
    watch_sizes=(10 * K, 100 * K),
    watch_changes=200,
    idle_size=10 * K,
    idle_seconds=60.0,
    bucket_folders=10 * K,
    new_namespaces=50,
)
# The large cluster alone (about 6 minutes): `--cluster`.
CLUSTER = Plan((), (), 0, (), 0.0, (), 0, 0, 0.0, 0, operation_sizes=(), new_namespaces=50)


@dataclass
class SizeResult:
    text_bytes: int = 0
    series: int = 0
    gzip_bytes: int = 0
    peak_rss: int = 0


async def measure_size(  # noqa: PLR0917
    n: int, plan: Plan, report: Report, env: dict[str, str], tmp: pathlib.Path, kubectl: str | None
) -> SizeResult:
    result = SizeResult()
    label = fmt_size(n)
    print(f"# {label} backups: seeding the fake API", file=sys.stderr, flush=True)
    now = time.time()
    async with sandbox(n, now, tmp) as box, aiohttp.ClientSession() as http:
        if n in plan.ready_sizes:
            kubectl_times: list[float] = []
            raw_times: list[float] = []
            ready_times: list[float] = []
            complete_times: list[float] = []
            sync_times: list[float] = []
            if kubectl is not None:
                await time_kubectl(kubectl, box, tmp / "kube-cache")  # discovery cached, as kubectl users have it
            for _ in range(plan.ready_runs):
                if kubectl is not None:
                    kubectl_times.append(await time_kubectl(kubectl, box, tmp / "kube-cache"))
                raw = await raw_list(box.api.url, [f"{VELERO_PATHS[0]}backups"])
                raw_times.append(raw.seconds)
                run = await start_exporter(http, box, env)
                await stop_process(run.process)
                ready_times.append(run.ready_seconds)
                complete_times.append(run.complete_seconds)
                sync_times.append(run.sync_seconds)
            ready, complete = statistics.median(ready_times), statistics.median(complete_times)
            runs = f"median of {plan.ready_runs}" if plan.ready_runs > 1 else "1 run"
            ratio, text = paired_ratio(sync_times, raw_times)
            report.add(
                "sync: exporter's first request to complete /metrics vs raw paginated GET + json loop",
                label,
                text,
                "≤ 2x",
                at_most(ratio, 2.0, "x"),
            )
            if kubectl_times:
                kube = statistics.median(kubectl_times)
                report.add(
                    "start to ready (/readyz 200) vs kubectl get -o name --chunk-size=500",
                    label,
                    f"{ready:.2f} s vs {kube:.2f} s = {ready / kube:.2f}x ({runs})",
                    "≤ 2x",
                    at_most(ready / kube, 2.0, "x"),
                )
                report.add(
                    "start to complete /metrics (every backup counted) vs kubectl",
                    label,
                    f"{complete:.2f} s vs {kube:.2f} s = {complete / kube:.2f}x ({runs})",
                    "(informative)",
                )
            else:
                report.add("start to ready", label, f"{ready:.2f} s; kubectl not found", "≤ 2x", "not measured")

        lists_before = len(box.api.requests)
        run = await start_exporter(http, box, env)
        try:
            lists_at_start = box.list_requests(lists_before)
            await settle(http, run.url)
            result.text_bytes, result.series, result.gzip_bytes, body, headers = await exposition(http, run.url)
            report.add(
                "exposition: text bytes / OpenMetrics+gzip bytes / series",
                label,
                f"{result.text_bytes:,} / {result.gzip_bytes:,} / {result.series}",
            )

            if n in plan.latency_sizes:
                exporter_load = await load(f"{run.url}/metrics", 16, plan.latency_seconds, PROMETHEUS_HEADERS)
                async with baseline(body, headers, tmp) as (base_url, base_process):
                    await wait_http(http, f"{base_url}/readyz", time.monotonic() + 30, base_process)
                    base_load = await load(f"{base_url}/metrics", 16, plan.latency_seconds, PROMETHEUS_HEADERS)
                for q in ("p50", "p99"):
                    mine, theirs = exporter_load[f"{q}_ms"], base_load[f"{q}_ms"]
                    report.add(
                        f"/metrics {q} latency, 16 scrapers: exporter vs in-memory aiohttp handler",
                        label,
                        f"{mine:.2f} ms vs {theirs:.2f} ms = {mine / theirs:.2f}x "
                        f"({exporter_load['rps']:.0f} vs {base_load['rps']:.0f} req/s)",
                        "≤ 1.5x",
                        at_most(mine / theirs, 1.5, "x"),
                    )
                if exporter_load["errors"] or base_load["errors"]:
                    report.add("scrape errors", label, f"{exporter_load['errors']:.0f} / {base_load['errors']:.0f}")

            if n in plan.watch_sizes:
                latencies = await watch_latency(http, run.url, box, plan.watch_changes, random.Random(n))
                p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
                report.add(
                    f"watch latency: status change on the server to /metrics (median / p99 of {len(latencies)})",
                    label,
                    f"{p50 * 1000:.0f} ms / {p99 * 1000:.0f} ms (max {max(latencies) * 1000:.0f} ms)",
                    "p99 < 1 s",
                    "met" if p99 < 1.0 else f"missed by {(p99 - 1.0) * 1000:.0f} ms",
                )

            if n == plan.idle_size:
                report.add("Kubernetes LIST requests at start (pages of 500, 10 resources)", label, str(lists_at_start))
                # Let the last change settle, then watch the API server's log.
                await asyncio.sleep(1.0)
                mark = len(box.api.requests)
                await asyncio.sleep(plan.idle_seconds)
                idle_lists, idle_watches = box.list_requests(mark), box.watch_requests(mark)
                report.add(
                    f"Kubernetes LIST requests while idle ({plan.idle_seconds:.0f} s; watch requests: {idle_watches})",
                    label,
                    str(idle_lists),
                    "0",
                    "met" if idle_lists == 0 else f"missed: {idle_lists} LIST requests",
                )

            status = proc_status(run.process.pid)
            result.peak_rss = status["VmHWM"]
            report.add("exporter RSS now / peak (VmHWM)", label, f"{mib(status['VmRSS'])} / {mib(status['VmHWM'])}")
        finally:
            await stop_process(run.process)
    return result


async def measure_operations(ops: int, plan: Plan, report: Report, env: dict[str, str], tmp: pathlib.Path) -> int:
    """The exporter on the same backups with `ops` finished PodVolumeBackups and DataUploads: the series it serves."""
    label = f"{fmt_size(plan.operation_backups)} + {fmt_size(ops)} PVB + {fmt_size(ops)} DU"
    print(f"# {label}: seeding the fake API", file=sys.stderr, flush=True)
    async with (
        sandbox(plan.operation_backups, time.time(), tmp, operations=ops) as box,
        aiohttp.ClientSession() as http,
    ):
        run = await start_exporter(http, box, env)
        try:
            await settle(http, run.url)
            text_bytes, series, _, _, _ = await exposition(http, run.url)
            status = proc_status(run.process.pid)
        finally:
            await stop_process(run.process)
    report.add(
        "start to complete /metrics (every backup and operation counted); series; RSS peak",
        label,
        f"{run.complete_seconds:.2f} s; {series} series, {text_bytes:,} bytes; {mib(status['VmHWM'])}",
    )
    return series


@contextlib.contextmanager
def moto_server() -> Iterator[MotoServer]:
    server = MotoServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def bucket_lists(folders: int, objects_per_folder: int, report: Report) -> None:
    """ListObjectsV2 calls of the buckets source's first and a steady-state refresh of one bucket."""
    figure = f"S3 LIST calls per bucket refresh, first / steady ({objects_per_folder} objects per backup folder)"
    try:
        from velero_exporter.config.settings import AwsConfig, BucketSettings  # noqa: PLC0415
        from velero_exporter.sandbox.moto_server import aws_environment  # noqa: PLC0415
        from velero_exporter.sources.aws.api import AwsApi  # noqa: PLC0415
        from velero_exporter.sources.aws.buckets import BucketRefresher  # noqa: PLC0415
        from velero_exporter.sources.parsing import parse_backup  # noqa: PLC0415
        from velero_exporter.state.aws_records import BucketTarget  # noqa: PLC0415
        from velero_exporter.state.store import Store  # noqa: PLC0415
    except ImportError as exc:
        report.add(figure, fmt_size(folders), f"pending: AWS bucket source ({exc})")
        return
    print(f"# bucket: laying out {folders} backup folders in moto", file=sys.stderr, flush=True)
    now = time.time()
    items = dataset.backups(folders, now)
    with moto_server() as moto:
        saved = {k: os.environ.get(k) for k in aws_environment(moto.url)}
        os.environ.update(aws_environment(moto.url))
        try:
            s3 = moto.client("s3")
            s3.create_bucket(Bucket="bench-buckets")

            def put(obj: dict[str, Any]) -> None:
                name = obj["metadata"]["name"]
                base = f"velero/backups/{name}/"
                s3.put_object(Bucket="bench-buckets", Key=f"{base}velero-backup.json", Body=json.dumps(obj).encode())
                for suffix in ("tar.gz", "logs.gz", "resource-list.json.gz")[: objects_per_folder - 1]:
                    s3.put_object(Bucket="bench-buckets", Key=f"{base}{name}-{suffix}", Body=b"x" * 512)

            await asyncio.to_thread(with_pool, put, items)
            store = Store()
            for obj in items:
                parsed = parse_backup(obj)
                store.backups.put(parsed.name or "", parsed.record, parsed.problems)
            config = AwsConfig()
            health = store.health.source("buckets")
            refresher = BucketRefresher(store, AwsApi(config, health), config)
            target = BucketTarget("default", "bench-buckets", "velero", "us-east-1", "", BucketSettings(), True)
            calls = []
            for _ in range(2):
                before = health.api_calls["ListObjectsV2"]
                await refresher.refresh("default", target, store.health.target("buckets", "default"))
                calls.append(health.api_calls["ListObjectsV2"] - before)
        except Exception as exc:  # the source is being written: say so rather than print a made-up figure
            report.add(figure, fmt_size(folders), f"pending: AWS bucket source ({type(exc).__name__}: {exc})")
            return
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    report.add(figure, fmt_size(folders), f"{calls[0]} / {calls[1]}")


async def auth_under_flood(
    report: Report, env: dict[str, str], tmp: pathlib.Path, seconds: float, *config: str
) -> None:
    """The real exporter with basic auth (bcrypt cost 10, the usual default): an authorised scraper's median
    latency alone and while 64 connections guess passwords."""
    import bcrypt  # noqa: PLC0415 (the auth extra, in the test extra)

    password, attackers, n = "bench-scrape", 64, 1 * K
    web = tmp / "web-config.yml"
    web.write_text(
        f"basic_auth_users:\n  prometheus: '{bcrypt.hashpw(password.encode(), bcrypt.gensalt(10)).decode()}'\n"
    )
    async with sandbox(n, time.time(), tmp) as box, aiohttp.ClientSession() as http:
        port, health = free_port(), free_port()
        extra = ["--web.config.file", str(web), "--web.health-address", f"127.0.0.1:{health}", *config]
        process = await asyncio.create_subprocess_exec(
            *exporter_command(box.kubeconfig, port, *extra), env=env, stdin=subprocess.DEVNULL
        )
        try:
            await wait_http(http, f"http://127.0.0.1:{health}/readyz", time.monotonic() + 120, process)
            flood = await measure_flood(
                f"http://127.0.0.1:{port}/metrics", "prometheus", password, attackers=attackers, seconds=seconds
            )
        finally:
            await stop_process(process)
    report.add(
        f"authorised scrape, median, under {attackers} password-guessing connections",
        fmt_size(n),
        f"{flood.loaded_ms:.2f} ms vs {flood.unloaded_ms:.2f} ms alone ({flood.ratio:.2f}x; "
        f"{flood.guesses} guesses answered, {flood.guesses / (seconds + 1.5):.0f}/s)",
        "≤ 3x alone",
        at_most(flood.ratio, 3.0, "x"),
    )


def with_pool(fn: Callable[[dict[str, Any]], None], items: list[dict[str, Any]]) -> None:
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(fn, items))


def seed_buckets(moto: MotoServer) -> dict[str, str]:
    """The seed's locations are AWS ones: their buckets exist (empty) so that the AWS sources are healthy. Returns
    the exporter's environment, pointed at moto."""
    from velero_exporter.sandbox.moto_server import aws_environment  # noqa: PLC0415

    moto.client("s3").create_bucket(Bucket="bench-primary")
    moto.client("s3", "us-west-2").create_bucket(
        Bucket="bench-dr", CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
    )
    return {**os.environ, **aws_environment(moto.url)}


async def operations_growth(plan: Plan, report: Report, env: dict[str, str], tmp: pathlib.Path) -> None:
    series = {ops: await measure_operations(ops, plan, report, env, tmp) for ops in plan.operation_sizes}
    counts = sorted(series)
    first, last = series[counts[0]], series[counts[-1]]
    report.add(
        "series growth with finished PodVolumeBackups and DataUploads",
        " → ".join(fmt_size(c) for c in counts) + " each",
        " → ".join(str(series[c]) for c in counts) + " series",
        "no growth",
        "met" if last == first else f"missed: +{last - first} series",
    )


async def volumes_only(plan: Plan) -> Report:
    report = Report()
    with tempfile.TemporaryDirectory(prefix="velero-exporter-bench-") as tmp_name, moto_server() as moto:
        await operations_growth(plan, report, seed_buckets(moto), pathlib.Path(tmp_name))
    return report


async def main_async(plan: Plan) -> Report:
    report = Report()
    kubectl = find_kubectl()
    results: dict[int, SizeResult] = {}
    with tempfile.TemporaryDirectory(prefix="velero-exporter-bench-") as tmp_name, moto_server() as moto:
        tmp = pathlib.Path(tmp_name)
        env = seed_buckets(moto)
        for n in plan.sizes:
            results[n] = await measure_size(n, plan, report, env, tmp, kubectl)
        if plan.operation_sizes:
            await operations_growth(plan, report, env, tmp)
        if plan.new_namespaces:
            from benchmarks.coverage import measure_cluster  # noqa: PLC0415 (it builds on this module)

            await measure_cluster(report, env, tmp, plan.new_namespaces)
    if not plan.sizes:
        return report
    sizes = sorted(results)
    smallest, largest = results[sizes[0]], results[sizes[-1]]
    grew = largest.series - smallest.series
    report.add(
        "series growth with completed backups",
        f"{fmt_size(sizes[0])} → {fmt_size(sizes[-1])}",
        f"{smallest.series} → {largest.series} series, {smallest.text_bytes:,} → {largest.text_bytes:,} bytes",
        "no growth",
        "met" if grew == 0 else f"missed: +{grew} series",
    )
    peak = largest.peak_rss
    if sizes[-1] >= 100 * K:
        met = at_most(peak / 1e6, 200, " MB")
        report.add("peak RSS of the exporter", fmt_size(sizes[-1]), mib(peak), "< 200 MB", met)
    prev = results[sizes[-2]]
    per_10k = (largest.peak_rss - prev.peak_rss) / ((sizes[-1] - sizes[-2]) / (10 * K))
    report.add(
        "peak RSS growth per 10k backups",
        f"{fmt_size(sizes[-2])} → {fmt_size(sizes[-1])}",
        mib(per_10k),
    )
    await bucket_lists(plan.bucket_folders, 3, report)
    with tempfile.TemporaryDirectory(prefix="velero-exporter-bench-") as tmp_name:
        await auth_under_flood(report, env, pathlib.Path(tmp_name), plan.latency_seconds)
    return report


async def auth_only() -> Report:
    report = Report()
    with tempfile.TemporaryDirectory(prefix="velero-exporter-bench-") as tmp_name:
        # No AWS peer here: the flood measures the HTTP layer, with the AWS sources off.
        tmp = pathlib.Path(tmp_name)
        config = tmp / "config.yml"
        config.write_text("aws:\n  enabled: false\n")
        await auth_under_flood(report, dict(os.environ), tmp, 8.0, "--config", str(config))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="velero-exporter benchmark against the sandbox")
    parser.add_argument("--quick", action="store_true", help="1k and 10k backups, short windows (about 1.5 minutes)")
    parser.add_argument("--auth", action="store_true", help="basic auth under a guessing flood only (30 seconds)")
    parser.add_argument("--volumes", action="store_true", help="series with volume operations only (1 minute)")
    parser.add_argument("--cluster", action="store_true", help="only the coverage source at a large cluster's size")
    args = parser.parse_args(argv)
    plan = CLUSTER if args.cluster else QUICK if args.quick else FULL
    started = time.monotonic()
    run = auth_only() if args.auth else volumes_only(plan) if args.volumes else main_async(plan)
    report = asyncio.run(run)
    info = machine()
    kind = (
        "auth"
        if args.auth
        else "volumes"
        if args.volumes
        else "cluster"
        if args.cluster
        else "quick"
        if args.quick
        else "full"
    )
    print(
        f"velero-exporter benchmark ({kind}), {time.strftime('%Y-%m-%d')}: "
        f"{info['cores']} cores, {info['cpu']}, {info['ram']} RAM, Python {info['python']}, "
        f"{time.monotonic() - started:.0f} s\n"
    )
    print(report.markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
