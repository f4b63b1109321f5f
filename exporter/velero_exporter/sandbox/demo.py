"""`velero-exporter demo`: the sandbox's fake Kubernetes API with the story, and the exporter against it.

The exporter runs exactly as against a real cluster: it reads a kubeconfig that points at the fake API, and
reaches the story's buckets and snapshots in moto (server mode) through AWS_ENDPOINT_URL, with dummy credentials.
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
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

from velero_exporter.app import Exporter, Options
from velero_exporter.config.file import load_config
from velero_exporter.config.settings import Config
from velero_exporter.exposition.web_config import WebConfig
from velero_exporter.sandbox.cluster import Cluster, running
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

    @property
    def api(self) -> FakeKubeAPI:
        return self.cluster.api

    @property
    def kubeconfig(self) -> Path:
        return self.cluster.kubeconfig


@contextlib.asynccontextmanager
async def running_sandbox(now: float) -> AsyncIterator[Sandbox]:
    """The demo's story at `now`: its objects in the fake Kubernetes API, its buckets and snapshots in moto; the
    process's AWS environment points at moto (dummy credentials) while it runs. Everything is stopped afterwards."""
    moto = MotoServer()
    await asyncio.to_thread(moto.start)
    try:
        with (
            tempfile.TemporaryDirectory(prefix="velero-exporter-sandbox-") as tmp,
            environment(aws_environment(moto.url)),
        ):
            world = with_s3_url(DEMO.build(now), moto.url)
            async with running(Cluster(world, moto, Path(tmp) / "kubeconfig")) as cluster:
                yield Sandbox(cluster, moto)
    finally:
        moto.stop()


RULES_DIR = Path(__file__).resolve().parents[3] / "rules"


def report_command(prometheus_url: str) -> str:
    """The compliance report over the demo's own Prometheus (its history starts when the demo does: the rest of
    the hour is reported as unknown). Its scrape interval is 15s, so 30s steps always hold a sample."""
    return f"velero-exporter report --prometheus {prometheus_url} --from 1h --step 30s --output velero-report.html"


@contextlib.asynccontextmanager
async def monitoring(exporter_url: str, *, secured: bool = False) -> AsyncIterator[list[str]]:
    """Prometheus (with the bundle's rules) and Alertmanager (with its inhibitions) where they are installed and
    the rules are at hand (a source checkout); the lines to print about them."""
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
        prometheus = await stack.enter_async_context(
            running_prometheus([exporter_url.split("://", 1)[1]], [rule_file], alertmanager_url, scrape_interval="15s")
        )
        lines.insert(0, f"  prometheus:       {prometheus.url}/alerts  (the bundle's rules, production `for`s)")
        lines.append(f"  report:           {report_command(prometheus.url)}")
        yield lines


async def run_demo(
    config: Config | None, host: str, port: int, telemetry_path: str, web_config: WebConfig | None = None
) -> None:
    """The exporter on the sandbox; with a web config (TLS, basic auth) the demo's Prometheus is left out: it
    has neither the certificate's CA nor the passwords (only their hashes are in the file)."""
    web_config = web_config or WebConfig()
    secured = web_config.ssl_context is not None or web_config.basic_auth is not None
    config = config or load_config(DEMO_CONFIG)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    async with running_sandbox(time.time()) as sandbox:
        options = Options(
            listen_host=host,
            listen_port=port,
            telemetry_path=telemetry_path,
            kubeconfig=str(sandbox.kubeconfig),
            namespace="velero",
            web_config=web_config,
        )
        async with (
            Exporter(config, options) as exporter,
            monitoring(exporter.url, secured=secured) as monitoring_lines,
            asyncio.TaskGroup() as group,
        ):
            simulator = group.create_task(VeleroSimulator(sandbox.api).run())
            print(
                "velero-exporter demo is running (Ctrl-C stops everything):",
                f"  status page:      {exporter.url}/",
                f"  metrics:          {exporter.url}{telemetry_path}",
                *monitoring_lines,
                f"  fake Kubernetes:  {sandbox.api.url}"
                f"  (kubectl --kubeconfig {sandbox.kubeconfig} get backups -n velero)",
                f"  moto (AWS):       {sandbox.moto.url}  (aws --endpoint-url {sandbox.moto.url} s3 ls)",
                sep="\n",
                flush=True,
            )
            await stopping.wait()
            simulator.cancel()
    log.info("demo stopped")
