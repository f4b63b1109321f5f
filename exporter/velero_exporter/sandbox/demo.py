"""`velero-exporter demo`: the sandbox's fake Kubernetes API with the story, and the exporter against it.

The exporter runs exactly as against a real cluster: it reads a kubeconfig that points at the fake API, and
reaches the story's buckets and snapshots in moto (server mode) through AWS_ENDPOINT_URL, with dummy credentials.
With `--clusters 2` the seed's DR cluster joins (sandbox/dr_story.py: its own fake API and exporter, the same moto):
each cluster's Prometheus agent remote-writes to a central Prometheus that runs the rules (sandbox/fleet.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from velero_exporter.app import Exporter, Options
from velero_exporter.config.file import load_config
from velero_exporter.config.settings import Config
from velero_exporter.exposition.web_config import WebConfig
from velero_exporter.sandbox import dr_story
from velero_exporter.sandbox.cluster import Cluster, running
from velero_exporter.sandbox.fleet import DR_CONFIG, PRIMARY, running_fleet
from velero_exporter.sandbox.kube_api import FakeKubeAPI
from velero_exporter.sandbox.monitoring import PROMETHEUS, find_alertmanager, running_alertmanager, running_prometheus
from velero_exporter.sandbox.moto_server import MotoServer, aws_environment
from velero_exporter.sandbox.simulator import VeleroSimulator
from velero_exporter.sandbox.story import DEMO, DEMO_CONFIG
from velero_exporter.sandbox.world import World

log = logging.getLogger("velero_exporter.sandbox")


def with_s3_url(world: World, s3_url: str) -> World:
    """The AWS locations configured as Velero would be against an S3-compatible endpoint."""
    for location in world.of_kind("BackupStorageLocation"):
        if location["spec"]["provider"] == "aws":
            location["spec"]["config"].update({"s3Url": s3_url, "s3ForcePathStyle": "true"})
            world.add(location)
    return world


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """The process's environment with these values set, restored afterwards (boto3 reads AWS settings there)."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


@dataclass(slots=True, frozen=True)
class Sandbox:
    cluster: Cluster
    moto: MotoServer
    # The seed's DR cluster (sandbox/dr_story.py), when asked for: its own API, the same AWS.
    dr: Cluster | None = None

    @property
    def api(self) -> FakeKubeAPI:
        return self.cluster.api

    @property
    def kubeconfig(self) -> Path:
        return self.cluster.kubeconfig


@contextlib.asynccontextmanager
async def running_sandbox(now: float, *, dr_cluster: bool = False) -> AsyncIterator[Sandbox]:
    """The demo's story at `now`: its objects in the fake Kubernetes API, its buckets and snapshots in moto (and
    the DR cluster's objects in an API of its own); the process's AWS environment points at moto (dummy
    credentials) while it runs. Everything is stopped afterwards."""
    moto = MotoServer()
    await asyncio.to_thread(moto.start)
    try:
        with (
            tempfile.TemporaryDirectory(prefix="velero-exporter-sandbox-") as tmp,
            environment(aws_environment(moto.url)),
        ):
            world = DEMO.build(now)
            async with contextlib.AsyncExitStack() as stack:
                dr = None
                if dr_cluster:
                    dr_world = with_s3_url(dr_story.world(now, world), moto.url)
                    dr = await stack.enter_async_context(running(Cluster(dr_world, moto, Path(tmp) / "dr-kubeconfig")))
                primary = Cluster(with_s3_url(world, moto.url), moto, Path(tmp) / "kubeconfig")
                yield Sandbox(await stack.enter_async_context(running(primary)), moto, dr)
    finally:
        moto.stop()


RULES_DIR = Path(__file__).resolve().parents[3] / "rules"


def report_command(prometheus_url: str) -> str:
    """The compliance report over the demo's own Prometheus (its history starts when the demo does: the rest of
    the hour is reported as unknown). Its scrape interval is 15s, so 30s steps always hold a sample."""
    return f"velero-exporter report --prometheus {prometheus_url} --from 1h --step 30s --output velero-report.html"


@contextlib.asynccontextmanager
async def monitoring(exporters: Mapping[str, str], *, secured: bool = False) -> AsyncIterator[list[str]]:
    """Prometheus (with the bundle's rules) and Alertmanager (with its inhibitions) where they are installed and
    the rules are at hand (a source checkout); the lines to print about them. `exporters` maps each cluster's
    name to its exporter's URL: one cluster is scraped by one Prometheus, as without a fleet (no cluster label);
    several by one agent each, remote-writing to a central Prometheus."""
    rule_file, inhibit = RULES_DIR / "velero-exporter.rules.yml", RULES_DIR / "alertmanager-inhibit.yml"
    if secured:
        yield ["  prometheus:       not started (--web.config.file: it could not scrape without the credentials)"]
        return
    if shutil.which(PROMETHEUS) is None or not rule_file.exists():
        yield ["  prometheus:       not started (apt-get install prometheus prometheus-alertmanager)"]
        return
    async with contextlib.AsyncExitStack() as stack:
        lines = []
        alertmanager_url = None
        if find_alertmanager() is not None:
            alertmanager = await stack.enter_async_context(running_alertmanager(None, inhibit))
            alertmanager_url = alertmanager.url
            lines.append(f"  alertmanager:     {alertmanager.url}")
        if len(exporters) == 1:
            (url,) = exporters.values()
            prometheus = await stack.enter_async_context(
                running_prometheus([url.split("://", 1)[1]], [rule_file], alertmanager_url, scrape_interval="15s")
            )
            lines.insert(0, f"  prometheus:       {prometheus.url}/alerts  (the bundle's rules, production `for`s)")
            lines.append(f"  report:           {report_command(prometheus.url)}")
        else:
            fleet = await stack.enter_async_context(
                running_fleet(
                    exporters, [rule_file], alertmanager_url, scrape_interval="15s", evaluation_interval="15s"
                )
            )
            lines[:0] = [
                f"  central prometheus: {fleet.central.url}/alerts  (remote-write receiver, the bundle's rules,"
                " production `for`s)",
                *(
                    f"  agent {cluster}: {agent.url}  (remote-writes cluster={cluster})"
                    for cluster, agent in fleet.agents.items()
                ),
            ]
            lines.append(f"  report:           {report_command(fleet.central.url)}")
        yield lines


async def run_demo(
    config: Config | None,
    host: str,
    port: int,
    telemetry_path: str,
    *,
    web_config: WebConfig | None = None,
    clusters: int = 1,
) -> None:
    """The exporter on the sandbox (with `clusters` 2, the DR cluster's too); with a web config (TLS, basic
    auth) the demo's Prometheus is left out: it has neither the certificate's CA nor the passwords (only their
    hashes are in the file)."""
    web_config = web_config or WebConfig()
    secured = web_config.ssl_context is not None or web_config.basic_auth is not None
    config = config or load_config(DEMO_CONFIG)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    async with running_sandbox(time.time(), dr_cluster=clusters == 2) as sandbox, contextlib.AsyncExitStack() as stack:
        options = Options(
            listen_host=host,
            listen_port=port,
            telemetry_path=telemetry_path,
            kubeconfig=str(sandbox.kubeconfig),
            namespace="velero",
            web_config=web_config,
        )
        exporter = await stack.enter_async_context(Exporter(config, options))
        exporters = {config.cluster.name if config.cluster else PRIMARY: exporter}
        apis = [sandbox.api]
        kubeconfigs = [sandbox.kubeconfig]
        if sandbox.dr is not None:
            dr_config = load_config(DR_CONFIG)
            dr_options = replace(options, listen_port=port + 1 if port else 0, kubeconfig=str(sandbox.dr.kubeconfig))
            exporters[dr_config.cluster.name if dr_config.cluster else "dr"] = await stack.enter_async_context(
                Exporter(dr_config, dr_options)
            )
            apis.append(sandbox.dr.api)
            kubeconfigs.append(sandbox.dr.kubeconfig)
        monitoring_lines = await stack.enter_async_context(
            monitoring({c: e.url for c, e in exporters.items()}, secured=secured)
        )
        group = await stack.enter_async_context(asyncio.TaskGroup())
        # The DR cluster's story: its Velero stopped syncing (no BackupSync runs for it).
        tasks = [group.create_task(VeleroSimulator(api).run()) for api in apis]
        several = len(exporters) > 1
        print(
            "velero-exporter demo is running (Ctrl-C stops everything):",
            *(
                line
                for cluster, running in exporters.items()
                for line in (
                    *([f" cluster {cluster}:"] if several else []),
                    f"  status page:      {running.url}/",
                    f"  metrics:          {running.url}{telemetry_path}",
                )
            ),
            *monitoring_lines,
            *(
                f"  fake Kubernetes:  {api.url}  (kubectl --kubeconfig {kubeconfig} get backups -n velero)"
                for api, kubeconfig in zip(apis, kubeconfigs, strict=True)
            ),
            f"  moto (AWS):       {sandbox.moto.url}  (aws --endpoint-url {sandbox.moto.url} s3 ls)",
            sep="\n",
            flush=True,
        )
        await stopping.wait()
        for task in tasks:
            task.cancel()
    log.info("demo stopped")
