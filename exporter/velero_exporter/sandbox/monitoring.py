"""Real Prometheus and Alertmanager processes for the demo and the tests, wired to the bundle's rules.

They are the Debian packages' binaries (`prometheus`, `prometheus-alertmanager`), run on loopback with their
data in a temporary folder, and stopped (never left running) when the context ends. Prometheus also runs as an
agent (`--enable-feature=agent`: it scrapes and remote-writes, storing nothing and evaluating no rules) and as a
central server that receives remote write (`--web.enable-remote-write-receiver`, the protocol Thanos Receive and
Mimir accept too), for the fleet.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import ssl
import tempfile
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml

PROMETHEUS = "prometheus"
ALERTMANAGER = ("prometheus-alertmanager", "alertmanager")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def find_kubectl() -> str | None:
    """$KUBECTL, else the 1.32 client next to gcloud's dispatcher (which would pick a client by the server's
    reported version), else whatever kubectl is on PATH."""
    if os.environ.get("KUBECTL"):
        return os.environ["KUBECTL"]
    found = shutil.which("kubectl")
    if found is None:
        return None
    pinned = Path(found).resolve().parent / "kubectl.1.32"
    return str(pinned) if pinned.exists() else found


def find_alertmanager() -> str | None:
    for name in ALERTMANAGER:
        if (path := shutil.which(name)) is not None:
            return path
    return None


@dataclass(slots=True)
class Process:
    name: str
    url: str
    process: asyncio.subprocess.Process
    log: Path

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 10)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


@dataclass(slots=True, frozen=True)
class WebAccess:
    """A process served behind --web.config.file (TLS, basic auth): the file, and how a client gets in."""

    config_file: Path
    client_tls: ssl.SSLContext
    headers: dict[str, str] = field(default_factory=dict)  # e.g. basic auth's Authorization
    host: str = "localhost"  # the name the server's certificate is for


async def _wait_ready(proc: Process, path: str, access: WebAccess | None, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    connector = aiohttp.TCPConnector(ssl=access.client_tls if access else True)
    async with aiohttp.ClientSession(connector=connector, headers=access.headers if access else None) as http:
        while time.monotonic() < deadline:
            if proc.process.returncode is not None:
                raise RuntimeError(f"{proc.name} exited: {proc.log.read_text()[-2000:]}")
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(proc.url + path, timeout=aiohttp.ClientTimeout(total=2)) as resp:
                    if resp.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise TimeoutError(f"{proc.name} not ready after {within}s: {proc.log.read_text()[-2000:]}")


async def _start(
    name: str, argv: Sequence[str], url: str, ready_path: str, workdir: Path, *, access: WebAccess | None
) -> Process:
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            *argv, stdout=out, stderr=asyncio.subprocess.STDOUT, stdin=asyncio.subprocess.DEVNULL, cwd=workdir
        )
    proc = Process(name, url, process, log)
    try:
        await _wait_ready(proc, ready_path, access)
    except BaseException:
        await proc.stop()
        raise
    return proc


# A scrape target: its address, or its address and the labels Prometheus gives its series (a `cluster`).
Target = str | tuple[str, Mapping[str, str]]


def prometheus_config(
    targets: Sequence[Target],
    rule_files: Sequence[Path],
    alertmanager: str | None,
    *,
    scrape_interval: str = "1s",
    evaluation_interval: str = "1s",
    external_labels: Mapping[str, str] | None = None,
    remote_write: str | None = None,
) -> dict[str, Any]:
    """The job velero-exporter scraping `targets`, each with its own labels if it has any (a `cluster`, a
    `__metrics_path__`); with `remote_write`, every sample also goes to that URL."""
    static: list[dict[str, Any]] = [
        {"targets": [target]} if isinstance(target, str) else {"targets": [target[0]], "labels": dict(target[1])}
        for target in targets
    ]
    config: dict[str, Any] = {
        "global": {"scrape_interval": scrape_interval, "evaluation_interval": evaluation_interval},
        "rule_files": [str(p) for p in rule_files],
        "scrape_configs": [{"job_name": "velero-exporter", "static_configs": static}] if static else [],
    }
    if external_labels:
        # Added to the alerts Prometheus sends and to the samples an agent writes, as a Prometheus per cluster
        # behind Thanos or Mimir does.
        config["global"]["external_labels"] = dict(external_labels)
    if remote_write is not None:
        # Samples leave within a second (the default waits up to 5s to fill a batch): tests wait less.
        config["remote_write"] = [{"url": remote_write, "queue_config": {"batch_send_deadline": "1s"}}]
    if alertmanager is not None:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]}
    return config


def alertmanager_config(webhook_url: str | None, inhibit_rules_file: Path | None) -> dict[str, Any]:
    receiver: dict[str, Any] = {"name": "default"}
    if webhook_url is not None:
        receiver["webhook_configs"] = [{"url": webhook_url, "send_resolved": True}]
    config: dict[str, Any] = {
        "route": {
            "receiver": "default",
            "group_by": ["alertname", "cluster", "tier", "schedule", "location", "reason"],
            "group_wait": "1s",
            "group_interval": "1s",
            "repeat_interval": "1h",
        },
        "receivers": [receiver],
    }
    if inhibit_rules_file is not None:
        config["inhibit_rules"] = yaml.safe_load(inhibit_rules_file.read_text())["inhibit_rules"]
    return config


@contextlib.asynccontextmanager
async def _running(
    name: str, binary: str, config: dict[str, Any], flags: Sequence[str], access: WebAccess | None = None
) -> AsyncIterator[Process]:
    """The binary with its config file, data and a free port in a temporary folder; stopped and removed after."""
    with tempfile.TemporaryDirectory(prefix=f"velero-exporter-{name}-") as tmp:
        workdir = Path(tmp)
        config_file = workdir / f"{name}.yml"
        config_file.write_text(yaml.safe_dump(config))
        port = free_port()
        argv = [binary, f"--config.file={config_file}", f"--web.listen-address=127.0.0.1:{port}", *flags]
        url = f"http://127.0.0.1:{port}"
        if access is not None:
            argv.append(f"--web.config.file={access.config_file}")
            url = f"https://{access.host}:{port}"
        proc = await _start(name, argv, url, "/-/ready", workdir, access=access)
        try:
            yield proc
        finally:
            await proc.stop()


@contextlib.asynccontextmanager
async def running_alertmanager(
    webhook_url: str | None = None, inhibit_rules_file: Path | None = None
) -> AsyncIterator[Process]:
    binary = find_alertmanager()
    if binary is None:
        raise FileNotFoundError("prometheus-alertmanager is not installed (apt-get install prometheus-alertmanager)")
    config = alertmanager_config(webhook_url, inhibit_rules_file)
    # storage under the working folder (relative path); its own gossip port, so that two never meet
    flags = ["--storage.path=data", f"--cluster.listen-address=127.0.0.1:{free_port()}"]
    async with _running("alertmanager", binary, config, flags) as proc:
        yield proc


@contextlib.asynccontextmanager
async def running_prometheus(
    targets: Sequence[Target],
    rule_files: Sequence[Path] = (),
    alertmanager_url: str | None = None,
    *,
    storage: Path | None = None,
    access: WebAccess | None = None,
    flags: Sequence[str] = (),
    agent: bool = False,
    receiver: bool = False,
    **config_options: Any,
) -> AsyncIterator[Process]:
    """Prometheus scraping the targets; on `storage` (e.g. backfilled history, kept however old it is) instead
    of a fresh data folder; behind TLS and basic auth with `access`; with further command-line `flags`. As an
    `agent` it only remote-writes what it scrapes (config_options' remote_write, external_labels); as a
    `receiver` it takes remote write from agents."""
    binary = shutil.which(PROMETHEUS)
    if binary is None:
        raise FileNotFoundError("prometheus is not installed (apt-get install prometheus)")
    am = alertmanager_url.removeprefix("http://") if alertmanager_url else None
    config = prometheus_config(targets, rule_files, am, **config_options)
    if agent:
        argv = ["--enable-feature=agent", "--storage.agent.path=data", *flags]
    else:
        argv = [f"--storage.tsdb.path={storage or 'data'}", "--web.enable-lifecycle", *flags]
        if storage is not None:
            argv.append("--storage.tsdb.retention.time=100y")
    if receiver:
        argv.append("--web.enable-remote-write-receiver")
    async with _running("prometheus-agent" if agent else "prometheus", binary, config, argv, access) as proc:
        yield proc


async def backfill(openmetrics: Path, storage: Path) -> None:
    """TSDB blocks in `storage` from an OpenMetrics file (promtool tsdb create-blocks-from openmetrics)."""
    promtool = shutil.which("promtool")
    if promtool is None:
        raise FileNotFoundError("promtool is not installed (apt-get install prometheus)")
    # One pass per block: promtool reads the whole file for each block it cuts, and the default (2h blocks)
    # makes a month of history take minutes instead of a second. The flag is hidden from promtool's --help.
    process = await asyncio.create_subprocess_exec(
        promtool,
        "tsdb",
        "create-blocks-from",
        "openmetrics",
        "--max-block-duration=8760h",
        "--quiet",
        str(openmetrics),
        str(storage),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"promtool could not backfill {openmetrics}: {out.decode()[-2000:]}")


async def query(prometheus_url: str, expr: str, at: float | None = None) -> list[dict[str, Any]]:
    """An instant query; raises on a Prometheus error (a bad expression is a failure, not an empty answer)."""
    params = {"query": expr}
    if at is not None:
        params["time"] = str(at)
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{prometheus_url}/api/v1/query", params=params) as resp,
    ):
        body = json.loads(await resp.text())
    if body.get("status") != "success":
        raise RuntimeError(f"query {expr!r} failed: {body.get('error')}")
    result: list[dict[str, Any]] = body["data"]["result"]
    return result
