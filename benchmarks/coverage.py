"""The coverage source at the size of a large cluster (benchmarks/cluster.py): 10,000 namespaces, 50,000 claims
and volumes, 150,000 pods, beside the seed's Velero objects and 1,000 backups.

Measured in one run, on one fake API server (in the benchmark's process), each party in its own process:
- the raw loop (benchmarks.rawlist: a paginated GET and json.loads of the four collections) against the exporter's
  sync, from its first request to the API to the first /metrics whose coverage totals equal the truth;
- the exporter's peak RSS (VmHWM) with coverage on against the same exporter with coverage off, each after its
  own complete start (and, with coverage, the new namespaces and the Schedule change below), scraped as
  Prometheus scrapes (OpenMetrics, gzip);
- new namespaces created on the server, one at a time, to their series in /metrics (polled as Prometheus asks:
  OpenMetrics, gzip);
- a Schedule change that covers the scratch namespaces, to their totals in /metrics;
- the exposition's size.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import gzip
import pathlib
import random
import re
import sys
import time
from collections.abc import AsyncIterator, Callable

import aiohttp

from benchmarks import cluster, dataset
from benchmarks.load import percentile
from benchmarks.run import (
    PROMETHEUS_HEADERS,
    Report,
    Sandbox,
    at_most,
    exposition,
    mib,
    paired_ratio,
    proc_status,
    raw_list,
    start_exporter,
    stop_process,
)
from velero_exporter.sandbox import cluster_objects as k
from velero_exporter.sandbox.kube_api import FakeKubeAPI

SIZE = "10k ns, 50k PVCs, 150k pods"
SYNC_PAIRS = 3  # raw loop, then the exporter's sync: see benchmarks.run.paired_ratio
PATHS = ["/api/v1/namespaces", "/api/v1/pods", "/api/v1/persistentvolumeclaims", "/api/v1/persistentvolumes"]
TOTAL = re.compile(rb'^velero_coverage_(namespaces|pvcs)\{state="(\w+)"\} ([0-9.e+]+)$', re.M)


def coverage_totals(body: bytes) -> dict[str, int]:
    return {f"{kind.decode()}_{state.decode()}": int(float(v)) for kind, state, v in TOTAL.findall(body)}


@contextlib.asynccontextmanager
async def large_sandbox(now: float, tmp: pathlib.Path) -> AsyncIterator[Sandbox]:
    api = FakeKubeAPI(namespace="velero", history_size=1000)
    await api.start()
    try:
        for obj in dataset.others(now):
            if obj["kind"] != "Schedule":
                api.create(obj)
        for obj in cluster.schedules(now):
            api.create(obj)
        items = dataset.backups(1000, now)
        for obj in items:
            api.create(obj)
        truth = dataset.phase_counts(items)
        names = [obj["metadata"]["name"] for obj in items]
        del items
        for obj in cluster.cluster_objects(now):
            api.create(obj)
        gc.collect()
        gc.freeze()
        yield Sandbox(api, api.write_kubeconfig(tmp / "kubeconfig-cluster"), names, truth)
    finally:
        await api.stop()
        gc.unfreeze()


async def metrics_body(http: aiohttp.ClientSession, url: str) -> bytes:
    """/metrics as Prometheus asks for it, decompressed in a thread (zlib lets go of the GIL) and never decoded:
    this process also serves the fake API, whose watch events a poll must not hold up (15 MB of text a poll)."""
    async with http.get(f"{url}/metrics", headers=PROMETHEUS_HEADERS, auto_decompress=False) as resp:
        body = await resp.read()
    if resp.headers.get("Content-Encoding") == "gzip":
        return await asyncio.to_thread(gzip.decompress, body)
    return body


async def until(check: Callable[[], object], within: float, what: str) -> float:
    started = time.perf_counter()
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return time.perf_counter() - started
        if time.perf_counter() - started > within:
            raise RuntimeError(f"{what}: not seen within {within:.0f} s")
        await asyncio.sleep(0.005)


async def measure_cluster(report: Report, env: dict[str, str], tmp: pathlib.Path, new_namespaces: int) -> None:
    print(f"# coverage: seeding the fake API with {SIZE}", file=sys.stderr, flush=True)
    now = time.time()
    coverage_config = tmp / "coverage.yaml"
    coverage_config.write_text("coverage:\n  enabled: true\n")
    expected = cluster.truth()
    async with large_sandbox(now, tmp) as box, aiohttp.ClientSession() as http:
        first = await raw_list(box.api.url, PATHS)
        print(f"# coverage: raw loop {first.seconds:.2f} s over {first.objects}", file=sys.stderr, flush=True)

        # Coverage off: the same exporter, the same objects, no cluster-wide request.
        off = await start_exporter(http, box, env)
        try:
            await asyncio.sleep(10.0)
            off_peak = proc_status(off.process.pid)["VmHWM"]
        finally:
            await stop_process(off.process)

        def complete(text: str) -> bool:
            return coverage_totals(text.encode()) == expected_totals

        expected_totals = {
            "namespaces_protected": expected["namespaces_protected"],
            "namespaces_unprotected": expected["namespaces_unprotected"],
            "namespaces_ignored": 0,
            "pvcs_protected": expected["pvcs_protected"],
            "pvcs_unprotected": expected["pvcs_unprotected"],
            "pvcs_ignored": 0,
        }
        syncs, raws = [], []
        for pair in range(SYNC_PAIRS):
            raws.append((await raw_list(box.api.url, PATHS)).seconds)
            run = await start_exporter(http, box, env, complete, coverage_config)
            syncs.append(run.sync_seconds)
            if pair < SYNC_PAIRS - 1:
                await stop_process(run.process)
        try:
            ratio, text = paired_ratio(syncs, raws)
            report.add(
                "coverage sync: exporter's first request to complete /metrics vs raw paginated GET + json loop "
                "(namespaces, pods, claims, volumes)",
                SIZE,
                f"{text}; exporter start to complete {run.complete_seconds:.2f} s",
                "≤ 2x",
                at_most(ratio, 2.0, "x"),
            )
            latencies = []
            rng = random.Random(len(PATHS))
            for i in range(new_namespaces):
                name = f"new-{i:03d}"
                marker = f'velero_namespace_unprotected{{namespace="{name}"}}'.encode()
                box.api.create(k.namespace(name, created=time.time()))

                async def shown(marker: bytes = marker) -> bool:
                    return marker in await metrics_body(http, run.url)

                latencies.append(await until(shown, 60.0, f"namespace {name}"))
                await asyncio.sleep(rng.uniform(0.05, 0.3))
            p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
            report.add(
                f"coverage: new namespace on the server to its series in /metrics (median / p99 of {len(latencies)})",
                SIZE,
                f"{p50 * 1000:.0f} ms / {p99 * 1000:.0f} ms (max {max(latencies) * 1000:.0f} ms)",
                "p99 < 1 s",
                "met" if p99 < 1.0 else f"missed by {(p99 - 1.0) * 1000:.0f} ms",
            )

            # A Schedule change: weekly-full stops excluding the scratch namespaces (100 namespaces, 500 claims).
            weekly = box.api.get("schedules", "weekly-full")
            assert weekly is not None
            weekly["spec"]["template"]["excludedNamespaces"] = ["kube-*"]
            box.api.replace(weekly)

            async def covered() -> bool:
                return coverage_totals(await metrics_body(http, run.url)).get("namespaces_unprotected") == 0

            change = await until(covered, 60.0, "the scratch namespaces covered")
            # Informative: a Schedule change judges every claim again (the sandbox's, tests/test_coverage_live.py,
            # is held to a second).
            report.add(
                "coverage: a Schedule that starts including 100 namespaces to their series in /metrics",
                SIZE,
                f"{change * 1000:.0f} ms",
                "(informative)",
            )

            await asyncio.sleep(5.0)
            on = proc_status(run.process.pid)
            added = on["VmHWM"] - off_peak
            report.add(
                "coverage: exporter peak RSS (VmHWM) with coverage on / off, and what coverage adds",
                SIZE,
                f"{mib(on['VmHWM'])} / {mib(off_peak)}: {mib(added)} added",
                "< 150 MB added",
                at_most(added / 1e6, 150, " MB"),
            )
            # Last: an uncompressed scrape makes the exporter join the whole text body (Prometheus asks for it
            # compressed, which the RSS above includes).
            text_bytes, series, gzip_bytes, _, _ = await exposition(http, run.url)
            report.add(
                "coverage exposition: text bytes / OpenMetrics+gzip bytes / series",
                SIZE,
                f"{text_bytes:,} / {gzip_bytes:,} / {series:,}",
            )
        finally:
            await stop_process(run.process)
