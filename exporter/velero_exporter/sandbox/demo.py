"""`velero-exporter demo`: the sandbox's fake Kubernetes API with the story, and the exporter against it.

The exporter runs exactly as against a real cluster: it reads a kubeconfig that points at the fake API, and
reaches the story's buckets and snapshots in moto (server mode) through AWS_ENDPOINT_URL, with dummy credentials.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import tempfile
import time
from pathlib import Path

from ..app import Exporter, Options
from ..config import Config
from ..config_file import load_config
from .aws_story import lay_out_story
from .kube_api import FakeKubeAPI
from .moto_server import MotoServer, aws_environment
from .simulator import VeleroSimulator
from .story import story

log = logging.getLogger("velero_exporter.sandbox")

# Objectives that the story's schedules can meet (DESIGN.md: the seed's defaults cannot all hold).
DEMO_CONFIG = Path(__file__).with_name("demo-config.yaml")


async def start_sandbox_api(now: float, s3_url: str = "") -> FakeKubeAPI:
    api = FakeKubeAPI(namespace="velero")
    await api.start()
    for obj in story(now):
        if s3_url and obj["kind"] == "BackupStorageLocation":
            # As Velero would be configured against an S3-compatible endpoint.
            obj["spec"]["config"].update({"s3Url": s3_url, "s3ForcePathStyle": "true"})
        api.create(obj)
    return api


async def start_sandbox_aws(now: float) -> MotoServer:
    """moto with the story's buckets and snapshots; the process's AWS environment points at it."""
    moto = MotoServer()
    await asyncio.to_thread(moto.start)
    await asyncio.to_thread(lay_out_story, moto, now)
    os.environ.update(aws_environment(moto.url))
    return moto


async def run_demo(config: Config | None, host: str, port: int, telemetry_path: str) -> None:
    config = config or load_config(DEMO_CONFIG)
    now = time.time()
    moto = await start_sandbox_aws(now)
    try:
        api = await start_sandbox_api(now, moto.url)
        await _run(config, moto, api, host=host, port=port, telemetry_path=telemetry_path)
    finally:
        moto.stop()
    log.info("demo stopped")


async def _run(
    config: Config, moto: MotoServer, api: FakeKubeAPI, *, host: str, port: int, telemetry_path: str
) -> None:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    with tempfile.TemporaryDirectory(prefix="velero-exporter-demo-") as tmp:
        kubeconfig = api.write_kubeconfig(Path(tmp) / "kubeconfig")
        options = Options(
            listen_host=host,
            listen_port=port,
            telemetry_path=telemetry_path,
            kubeconfig=str(kubeconfig),
            namespace="velero",
        )
        try:
            async with Exporter(config, options) as exporter, asyncio.TaskGroup() as group:
                simulator = group.create_task(VeleroSimulator(api).run())
                print(
                    "velero-exporter demo is running (Ctrl-C stops it):\n"
                    f"  metrics:          {exporter.url}{telemetry_path}\n"
                    f"  status page:      {exporter.url}/\n"
                    f"  fake Kubernetes:  {api.url}  (kubectl --kubeconfig {kubeconfig} get backups -n velero)\n"
                    f"  moto (AWS):       {moto.url}  (aws --endpoint-url {moto.url} s3 ls)",
                    flush=True,
                )
                await stopping.wait()
                simulator.cancel()
        finally:
            await api.stop()
