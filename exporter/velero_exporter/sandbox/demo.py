"""`velero-exporter demo`: the sandbox's fake Kubernetes API with the story, and the exporter against it.

The exporter runs exactly as against a real cluster: it reads a kubeconfig that points at the fake API, and
reaches the story's buckets and snapshots in moto (server mode) through AWS_ENDPOINT_URL, with dummy credentials.
With `--clusters 2` the seed's DR cluster joins (its own fake API and exporter, the same moto): each cluster's
Prometheus agent remote-writes to a central Prometheus that runs the rules (sandbox/fleet.py).
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
from velero_exporter.sandbox.aws_story import lay_out_story
from velero_exporter.sandbox.cluster_story import cluster_story
from velero_exporter.sandbox.dr_story import dr_story
from velero_exporter.sandbox.fleet import DR_CONFIG, PRIMARY, running_fleet
from velero_exporter.sandbox.kube_api import FakeKubeAPI
from velero_exporter.sandbox.monitoring import PROMETHEUS, find_alertmanager, running_alertmanager, running_prometheus
from velero_exporter.sandbox.moto_server import MotoServer, aws_environment
from velero_exporter.sandbox.objects import Obj
from velero_exporter.sandbox.simulator import VeleroSimulator
from velero_exporter.sandbox.story import story

log = logging.getLogger("velero_exporter.sandbox")

# Objectives that the story's schedules can meet (DESIGN.md: the seed's defaults cannot all hold).
DEMO_CONFIG = Path(__file__).with_name("demo-config.yaml")


async def start_sandbox_api(now: float, s3_url: str = "", objects: list[Obj] | None = None) -> FakeKubeAPI:
    """A fake Kubernetes API holding `objects` (default: the primary's cluster and story at `now`)."""
    api = FakeKubeAPI(namespace="velero")
    await api.start()
    for obj in [*cluster_story(now), *story(now)] if objects is None else objects:
        if s3_url and obj["kind"] == "BackupStorageLocation":
            # As Velero would be configured against an S3-compatible endpoint.
            obj["spec"]["config"].update({"s3Url": s3_url, "s3ForcePathStyle": "true"})
        api.create(obj)
    return api


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
    api: FakeKubeAPI
    moto: MotoServer
    kubeconfig: Path
    # The seed's DR cluster (sandbox/dr_story.py), when asked for: its own API, the same AWS.
    dr_api: FakeKubeAPI | None = None
    dr_kubeconfig: Path | None = None


@contextlib.asynccontextmanager
async def running_sandbox(now: float, *, dr_cluster: bool = False) -> AsyncIterator[Sandbox]:
    """The fake Kubernetes API with the story (and the DR cluster's with its story), and moto with its buckets
    and snapshots; the process's AWS environment points at moto (dummy credentials) while it runs. Everything is
    stopped afterwards."""
    moto = MotoServer()
    await asyncio.to_thread(moto.start)
    try:
        await asyncio.to_thread(lay_out_story, moto, now)
        async with contextlib.AsyncExitStack() as apis:
            api = await start_sandbox_api(now, moto.url)
            apis.push_async_callback(api.stop)
            dr_api = None
            if dr_cluster:
                dr_api = await start_sandbox_api(now, moto.url, dr_story(now))
                apis.push_async_callback(dr_api.stop)
            with (
                tempfile.TemporaryDirectory(prefix="velero-exporter-sandbox-") as tmp,
                environment(aws_environment(moto.url)),
            ):
                dr_kubeconfig = dr_api.write_kubeconfig(Path(tmp) / "dr-kubeconfig") if dr_api else None
                yield Sandbox(api, moto, api.write_kubeconfig(Path(tmp) / "kubeconfig"), dr_api, dr_kubeconfig)
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
        if sandbox.dr_api is not None:
            dr_config = load_config(DR_CONFIG)
            dr_options = replace(options, listen_port=port + 1 if port else 0, kubeconfig=str(sandbox.dr_kubeconfig))
            exporters[dr_config.cluster.name if dr_config.cluster else "dr"] = await stack.enter_async_context(
                Exporter(dr_config, dr_options)
            )
            apis.append(sandbox.dr_api)
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
                for api, kubeconfig in zip(apis, (sandbox.kubeconfig, sandbox.dr_kubeconfig), strict=False)
            ),
            f"  moto (AWS):       {sandbox.moto.url}  (aws --endpoint-url {sandbox.moto.url} s3 ls)",
            sep="\n",
            flush=True,
        )
        await stopping.wait()
        for task in tasks:
            task.cancel()
    log.info("demo stopped")
