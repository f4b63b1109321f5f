"""`velero-exporter demo`: the sandbox's fake Kubernetes API with the story, and the exporter against it.

The exporter runs exactly as against a real cluster: it reads a kubeconfig that points at the fake API.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import tempfile
import time
from pathlib import Path

from ..app import Exporter, Options
from ..config import Config
from ..config_file import load_config
from .kube_api import FakeKubeAPI
from .simulator import VeleroSimulator
from .story import story

log = logging.getLogger("velero_exporter.sandbox")

# Objectives that the story's schedules can meet (DESIGN.md: the seed's defaults cannot all hold).
DEMO_CONFIG = Path(__file__).with_name("demo-config.yaml")


async def start_sandbox_api(now: float) -> FakeKubeAPI:
    api = FakeKubeAPI(namespace="velero")
    await api.start()
    for obj in story(now):
        api.create(obj)
    return api


async def run_demo(config: Config | None, host: str, port: int, telemetry_path: str) -> None:
    config = config or load_config(DEMO_CONFIG)
    api = await start_sandbox_api(time.time())
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
                    f"  fake Kubernetes:  {api.url}  (kubectl --kubeconfig {kubeconfig} get backups -n velero)",
                    flush=True,
                )
                await stopping.wait()
                simulator.cancel()
        finally:
            await api.stop()
    log.info("demo stopped")
