"""Soak: the whole exporter under steady churn for a bounded time keeps flat memory, tasks and sockets.

Backups are created InProgress, completed (some fail) and deleted at a steady rate on the wire-level fake
Kubernetes API while the in-process exporter watches it (with short watch timeouts, so that watches are
re-opened many times) and a scraper scrapes /metrics. After a warm-up (every cache filled, the fake server's
watch history at its cap), samples of the process's memory, asyncio tasks and open sockets must stay flat,
the exporter must make no LIST request (watch, not poll), and at the end /metrics must equal the server's truth.

Bounds (docs/performance.md, "Soak test"):
- Python heap (tracemalloc) growth from the end of the warm-up to the end under 1.5 MiB. The live set is flat
  (about LIVE backups on the server and in the store at any time), so steady state allocates nothing for
  good (observed noise: ±0.2 MiB); a leak of one Backup record (~0.4 KiB) or one watch event's bytes
  (~0.7 KiB) per backup lifecycle would exceed the bound over the ~1,200 lifecycles of the measured window.
- RSS growth under 24 MiB: looser, since the allocator keeps freed arenas and RSS moves in pages.
- asyncio tasks and sockets: within a small band (a watch being re-opened, a request in flight), and the last
  sample no higher than the first plus that band.
"""

from __future__ import annotations

import asyncio
import collections
import os
import random
import time
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest

from tests.metrics_text import parse_samples, series
from tests.test_exporter_live import KUBE_ONLY
from velero_exporter.app import Exporter, Options
from velero_exporter.sandbox import objects as o
from velero_exporter.sandbox.kube_api import FakeKubeAPI
from velero_exporter.sandbox.plan import SCHEDULES, TIER_LABEL

WARMUP = 25.0
MEASURE = 60.0
SAMPLE_EVERY = 5.0
TICK = 0.05  # one backup created per tick: 20 a second
LIVE = 200  # backups kept on the server; older finished ones are deleted
HEAP_BOUND = 1.5 * 1024 * 1024
RSS_BOUND = 24 * 1024 * 1024
BAND = 4
FAST_REFLECTOR = {"watch_timeout": 4.0, "inactivity_timeout": 3.0, "backoff_initial": 0.05, "backoff_max": 0.5}
TIERS = {name: tier for name, tier, *_ in SCHEDULES}


def rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def sockets() -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                count += 1
        except OSError:
            continue  # closed between listing and reading
    return count


@dataclass
class Sample:
    at: float
    heap: int
    rss: int
    tasks: int
    sockets: int


@dataclass
class Churn:
    api: FakeKubeAPI
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    running: collections.deque[tuple[str, float]] = field(default_factory=collections.deque)
    finished: collections.deque[str] = field(default_factory=collections.deque)
    created: int = 0
    completed: int = 0
    deleted: int = 0

    def step(self) -> None:
        now = time.time()
        schedule, tier, *_ = SCHEDULES[self.created % len(SCHEDULES)]
        name = f"{schedule}-soak-{self.created}"
        self.api.create(o.backup(name, phase="InProgress", schedule=schedule, labels={TIER_LABEL: tier}, started=now))
        self.running.append((name, now))
        self.created += 1
        # Backups run for about a second, then complete; one in ten fails.
        while self.running and now - self.running[0][1] > 1.0:
            done, started = self.running.popleft()
            phase = "Failed" if self.rng.random() < 0.1 else "Completed"
            schedule = done.split("-soak-")[0]
            self.api.replace(
                o.backup(
                    done,
                    phase=phase,
                    schedule=schedule,
                    labels={TIER_LABEL: TIERS[schedule]},
                    started=started,
                    completed=now,
                )
            )
            self.finished.append(done)
            self.completed += 1
        while len(self.finished) + len(self.running) > LIVE:
            self.api.delete("backups", self.finished.popleft())
            self.deleted += 1

    async def run(self, stop: asyncio.Event) -> None:
        next_at = time.monotonic()
        while not stop.is_set():
            self.step()
            next_at += TICK
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))


def truth(api: FakeKubeAPI) -> dict[tuple[str, str], int]:
    counts: collections.Counter[tuple[str, str]] = collections.Counter()
    for backup in api.list("backups"):
        schedule = backup["metadata"]["labels"]["velero.io/schedule-name"]
        counts[TIERS[schedule], backup["status"]["phase"]] += 1
    return dict(counts)


def shown(text: str) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for labels, value in series(parse_samples(text), "velero_tier_backups").items():
        if value:
            as_dict = dict(labels)
            out[as_dict["tier"], as_dict["phase"]] = int(value)
    return out


def list_requests(api: FakeKubeAPI, since: int) -> int:
    return sum(
        1
        for r in api.requests[since:]
        if r.method == "GET" and r.query.get("watch") not in ("1", "true") and r.path.endswith(("s", "s/"))
    )


@pytest.mark.slow
async def test_churn_keeps_memory_tasks_and_sockets_flat_and_metrics_true(tmp_path: Path) -> None:
    tracemalloc.start()
    api = FakeKubeAPI(bookmark_interval=0.5, history_size=1000)
    await api.start()
    try:
        t0 = time.time()
        for name, tier, cron, _ttl, _namespaces in SCHEDULES:
            api.create(o.schedule(name, cron=cron, tier_label=(TIER_LABEL, tier), created=t0 - 86400))
        options = Options(
            listen_host="127.0.0.1",
            listen_port=0,
            kubeconfig=str(api.write_kubeconfig(tmp_path / "kubeconfig")),
            reflector_options=FAST_REFLECTOR,
        )
        churn = Churn(api)
        stop = asyncio.Event()
        scrapes = 0
        async with Exporter(KUBE_ONLY, options) as exporter, aiohttp.ClientSession() as http:

            async def scrape() -> str:
                async with http.get(f"{exporter.url}/metrics", headers={"Accept-Encoding": "gzip"}) as resp:
                    assert resp.status == 200
                    return await resp.text()

            async def scraper() -> None:
                nonlocal scrapes
                while not stop.is_set():
                    if exporter.exposition.current is not None:
                        await scrape()
                        scrapes += 1
                    await asyncio.sleep(0.1)

            churner = asyncio.create_task(churn.run(stop))
            scraping = asyncio.create_task(scraper())
            await asyncio.sleep(WARMUP)
            requests_mark = len(api.requests)
            restarts_mark = exporter.store.health.resource("backups").watch_restarts
            samples: list[Sample] = []
            started = time.monotonic()
            while True:
                samples.append(
                    Sample(
                        time.monotonic() - started,
                        tracemalloc.get_traced_memory()[0],
                        rss(),
                        len(asyncio.all_tasks()),
                        sockets(),
                    )
                )
                if samples[-1].at >= MEASURE:
                    break
                await asyncio.sleep(SAMPLE_EVERY)
            stop.set()
            await asyncio.gather(churner, scraping)
            lists = list_requests(api, requests_mark)
            restarts = exporter.store.health.resource("backups").watch_restarts - restarts_mark

            expected = truth(api)
            deadline = time.monotonic() + 20.0
            while (got := shown(await scrape())) != expected and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
    finally:
        await api.stop()
        tracemalloc.stop()

    report = "\n".join(
        f"  t={s.at:5.1f}s heap={s.heap / 2**20:7.2f} MiB rss={s.rss / 2**20:7.1f} MiB tasks={s.tasks} "
        f"sockets={s.sockets}"
        for s in samples
    )
    print(
        f"\nsoak: {churn.created} created, {churn.completed} completed, {churn.deleted} deleted, {scrapes} scrapes, "
        f"{restarts} watch restarts and {lists} LIST requests in the measured window\n{report}"
    )
    # The churn happened at the intended rate, through re-opened watches.
    assert churn.created >= 0.8 * (WARMUP + MEASURE) / TICK
    assert churn.deleted >= churn.created - LIVE - 50
    assert restarts >= 5
    assert lists == 0, "the exporter listed while only watching should have been needed"
    first, last = samples[0], samples[-1]
    assert last.heap - first.heap < HEAP_BOUND, report
    assert last.rss - first.rss < RSS_BOUND, report
    tasks = [s.tasks for s in samples]
    socks = [s.sockets for s in samples]
    assert max(tasks) - min(tasks) <= BAND and last.tasks <= first.tasks + BAND, report
    assert max(socks) - min(socks) <= BAND and last.sockets <= first.sockets + BAND, report
    assert got == expected, f"/metrics {got} != server {expected}"
