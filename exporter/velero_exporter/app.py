"""Wires one running exporter: sources -> store -> renderer -> HTTP, under one task group."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import resource
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from velero_exporter import __version__
from velero_exporter.config.settings import Config, Limits
from velero_exporter.exposition.http import AcceptErrors, build_app, build_health_app, serve
from velero_exporter.exposition.payload import Exposition
from velero_exporter.exposition.renderer import Renderer
from velero_exporter.exposition.web_config import WebConfig
from velero_exporter.model.objectives import live_objective_inputs, objective_warnings
from velero_exporter.sources.aws.sources import aws_sources
from velero_exporter.sources.kube.client import KubeClient, KubeError
from velero_exporter.sources.kube.coverage import CoverageSource
from velero_exporter.sources.kube.source import KubeSource, is_ready
from velero_exporter.state.records import Backup, Schedule
from velero_exporter.state.store import Store

log = logging.getLogger("velero_exporter")

DEFAULT_PORT = 9898  # not 8085, which is Velero's own metrics port


class StartupError(Exception):
    """The exporter cannot start (the address is taken, say); str() is one line."""


@dataclass(slots=True, frozen=True)
class Options:
    listen_host: str = "0.0.0.0"
    listen_port: int = DEFAULT_PORT
    telemetry_path: str = "/metrics"
    kubeconfig: str | None = None
    context: str | None = None
    namespace: str = "velero"
    # Tests and benchmarks shorten the reflectors' timers; production uses the defaults.
    reflector_options: dict[str, Any] = field(default_factory=dict)
    # Likewise the AWS sources' discovery tick and retry backoff (aws_sources' keyword arguments).
    aws_options: dict[str, float] = field(default_factory=dict)
    render_debounce: float = 0.05
    # The longest wait before a failing render is tried again (tests shorten it, as the timers above).
    render_retry_max: float = 60.0
    web_config: WebConfig = field(default_factory=WebConfig)
    # --web.health-address: /healthz and /readyz also served there, plain and without auth (for probes).
    health_address: tuple[str, int] | None = None


def parse_listen_address(text: str, flag: str = "--web.listen-address") -> tuple[str, int]:
    """Prometheus' ':9898' or 'host:port' or '[::1]:9898'."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{flag}: {text!r} is not host:port")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)


# Descriptors the exporter needs besides its HTTP clients: watches, AWS calls, log, Python's own files.
RESERVED_FILES = 64


def connections_within_open_files(limits: Limits) -> Limits:
    """The limits with the connection cap lowered below the process's open-file limit, so that the cap, not
    EMFILE, is what a flood of connections meets."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or limits.connections <= soft - RESERVED_FILES:
        return limits
    cap = max(1, soft - RESERVED_FILES)
    log.warning("event=connection_limit_lowered limit=%d open_files=%d", cap, soft)
    return dataclasses.replace(limits, connections=cap)


class Exporter:
    """One exporter instance; `async with Exporter(...)` starts it, leaving it serves nothing."""

    def __init__(self, config: Config, options: Options) -> None:
        self.config = config
        self.options = options
        self.store = Store(coverage=config.coverage.enabled)
        self.exposition = Exposition()
        self.renderer = Renderer(
            self.store,
            config,
            self.exposition,
            version=__version__,
            ready=lambda: is_ready(self.store),
            debounce=options.render_debounce,
            telemetry_path=options.telemetry_path,
            retry_max=options.render_retry_max,
        )
        self._runner: web.AppRunner | None = None
        self._health_runner: web.AppRunner | None = None
        self._client: KubeClient | None = None
        self._tasks: asyncio.Task[None] | None = None
        self._previous_handler: Any = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        host = self.options.listen_host
        host = "127.0.0.1" if host in ("0.0.0.0", "") else host
        scheme = "https" if self.options.web_config.ssl_context is not None else "http"
        return f"{scheme}://{host}:{self.port}"

    async def _run_tasks(self, client: KubeClient) -> None:
        async with asyncio.TaskGroup() as group:
            source = KubeSource(
                client,
                self.options.namespace,
                self.store,
                reflector_options=self.options.reflector_options,
                max_value_bytes=self.config.limits.label_value_bytes,
            )
            group.create_task(source.run(), name="source-kube")
            if self.config.coverage.enabled:
                coverage = CoverageSource(
                    client,
                    self.options.namespace,
                    self.store,
                    self.config.velero_version,
                    policy_interval=self.config.coverage.policy_interval_seconds,
                    reflector_options=self.options.reflector_options,
                    max_value_bytes=self.config.limits.label_value_bytes,
                )
                group.create_task(coverage.run(), name="source-coverage")
            if self.config.aws.enabled:
                for poller in aws_sources(self.store, self.config, **self.options.aws_options):
                    group.create_task(poller.run(), name=f"source-{poller.source}")
            group.create_task(self.renderer.run(), name="renderer")
            group.create_task(self._check_live_objectives(), name="objectives")

    async def _check_live_objectives(self) -> None:
        """Once the cluster has been read: the objectives against the live crons and observed durations (the
        start-up check knew only the config's crons), warning about what the start-up check did not."""
        await self.exposition.wait_ready()
        view = self.store.view()
        # A pass over every backup: off the event loop, on the immutable snapshot.
        for warning in await asyncio.to_thread(self._live_warnings, view.schedules, view.backups, time.time()):
            log.warning("%s", warning)

    def _live_warnings(self, schedules: Mapping[str, Schedule], backups: Mapping[str, Backup], now: float) -> list[str]:
        config, crons, durations = live_objective_inputs(self.config, schedules, backups.values())
        known = set(objective_warnings(self.config, now=now))
        live = objective_warnings(config, schedule_crons=crons, observed_durations=durations, now=now)
        return [warning for warning in live if warning not in known]

    async def start(self) -> None:
        for warning in objective_warnings(self.config, now=time.time()):
            log.warning("%s", warning)
        limits = connections_within_open_files(self.config.limits)
        try:
            self._client = await KubeClient.from_config(
                self.options.kubeconfig,
                self.options.context,
                max_list_bytes=limits.list_page_bytes,
                max_event_bytes=limits.watch_event_bytes,
            )
        except KubeError as exc:
            raise StartupError(f"cannot load the Kubernetes configuration: {exc.reason}") from None
        app = build_app(
            self.exposition,
            telemetry_path=self.options.telemetry_path,
            web_config=self.options.web_config,
        )
        loop = asyncio.get_running_loop()
        self._previous_handler = loop.get_exception_handler()
        loop.set_exception_handler(AcceptErrors())
        self._runner = await self._serve(app, self.options.listen_host, self.options.listen_port, limits)
        addresses = self._runner.addresses
        self.port = int(addresses[0][1]) if addresses else self.options.listen_port
        if self.options.health_address is not None:
            health = build_health_app(self.exposition)
            self._health_runner = await self._serve(health, *self.options.health_address, limits, tls=False)
        self._tasks = asyncio.create_task(self._run_tasks(self._client), name="exporter")
        log.info("listening address=%s namespace=%s", self.url, self.options.namespace)

    async def _serve(
        self, app: web.Application, host: str, port: int, limits: Limits, *, tls: bool = True
    ) -> web.AppRunner:
        ssl_context = self.options.web_config.ssl_context if tls else None
        try:
            return await serve(app, host, port, ssl_context, limits=limits)
        except OSError as exc:
            await self.stop()
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            raise StartupError(f"cannot listen on {host}:{port}: {reason}") from None

    async def stop(self) -> None:
        if self._tasks is not None:
            self._tasks.cancel()
            await asyncio.gather(self._tasks, return_exceptions=True)
        for runner in (self._runner, self._health_runner):
            if runner is not None:
                await runner.cleanup()
        if self._client is not None:
            await self._client.close()
        if self.options.web_config.basic_auth is not None:
            self.options.web_config.basic_auth.close()
        asyncio.get_running_loop().set_exception_handler(self._previous_handler)

    async def wait(self) -> None:
        """Until the sources stop (they run forever unless one fails for good or the task is cancelled)."""
        if self._tasks is not None:
            await self._tasks

    async def __aenter__(self) -> Exporter:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
