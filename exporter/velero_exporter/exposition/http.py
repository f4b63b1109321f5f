"""The HTTP endpoint: /metrics serves the newest rendered payload; /healthz, /readyz and a landing page.

Clients are not trusted to behave: one that has not sent a complete request within limits.request_timeout of
connecting (or of its previous response) is disconnected, and past limits.connections open connections a new
one gets a 503 and is closed, so that idle or slow sockets cannot exhaust the process's descriptors.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
import ssl
import time
from typing import Any

from aiohttp import web, web_response

from velero_exporter.config.settings import DEFAULT_LIMITS, Limits
from velero_exporter.exposition.payload import Exposition, content_type, negotiate
from velero_exporter.exposition.web_config import WebConfig

log = logging.getLogger("velero_exporter.http")

# No version in the Server header: it tells an attacker which advisories apply.
SERVER = "velero-exporter"
BUSY = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
RESERVED_PATHS = ("/", "/healthz", "/readyz")
TELEMETRY_PATH = re.compile(r"(/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)+")


def check_telemetry_path(path: str) -> str:
    """--web.telemetry-path: an absolute path of plain segments that the other endpoints do not use."""
    if TELEMETRY_PATH.fullmatch(path) is None or path in RESERVED_PATHS:
        raise ValueError(
            f"--web.telemetry-path: {path!r} is not a path such as /metrics (it starts with '/', has no spaces, "
            f"'?' or '#', and is none of {', '.join(RESERVED_PATHS)})"
        )
    return path


def _accepts_gzip(request: web.Request) -> bool:
    for part in request.headers.get("Accept-Encoding", "").split(","):
        token = part.split(";")
        if token[0].strip().lower() == "gzip":
            q = token[1].strip() if len(token) > 1 else ""
            return q not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def build_app(
    exposition: Exposition,
    *,
    telemetry_path: str = "/metrics",
    web_config: WebConfig | None = None,
) -> web.Application:
    async def metrics(request: web.Request) -> web.StreamResponse:
        payload = exposition.current
        if payload is None:
            return web.Response(status=503, text="no metrics rendered yet\n")
        fmt = negotiate(request.headers.get("Accept", ""))
        compressed = _accepts_gzip(request)
        headers = {"Content-Type": content_type(fmt), "Vary": "Accept, Accept-Encoding"}
        if compressed:
            headers["Content-Encoding"] = "gzip"
        return web.Response(body=payload.body(fmt, compressed), headers=headers)

    async def status_page(_: web.Request) -> web.Response:
        payload = exposition.current
        if payload is None:
            path = html.escape(telemetry_path)
            body = f"<!doctype html><title>velero-exporter</title><p>Starting. <a href='{path}'>Metrics</a></p>"
            return web.Response(text=body, content_type="text/html", status=503)
        return web.Response(text=payload.status_page, content_type="text/html")

    web_config = web_config or WebConfig()
    middlewares = [web_config.basic_auth.middleware()] if web_config.basic_auth is not None else []
    app = web.Application(client_max_size=1024, middlewares=middlewares)
    if web_config.headers:
        extra = dict(web_config.headers)

        async def add_headers(_: web.Request, response: web.StreamResponse) -> None:
            response.headers.update(extra)

        app.on_response_prepare.append(add_headers)
    app.router.add_get(telemetry_path, metrics)
    app.router.add_routes(_probes(exposition))
    app.router.add_get("/", status_page)
    return app


def build_health_app(exposition: Exposition) -> web.Application:
    """/healthz and /readyz alone, for --web.health-address: plain HTTP without auth, so that the kubelet's
    probes work whatever the web config asks of scrapers (they cannot send credentials from a Secret), and
    nothing but "ok" and "ready" is told there."""
    app = web.Application(client_max_size=1024)
    app.router.add_routes(_probes(exposition))
    return app


def _probes(exposition: Exposition) -> list[web.RouteDef]:
    async def healthz(_: web.Request) -> web.Response:
        # Alive as long as the event loop answers; the sources' health is in the metrics.
        return web.Response(text="ok\n")

    async def readyz(_: web.Request) -> web.Response:
        # Ready once a payload rendered from the completed lists is served: the first scrape carries the objects.
        if exposition.ready:
            return web.Response(text="ready\n")
        return web.Response(status=503, text="not ready: waiting for the first list of backups and schedules\n")

    return [web.get("/healthz", healthz), web.get("/readyz", readyz)]


async def serve(
    app: web.Application,
    host: str,
    port: int,
    ssl_context: ssl.SSLContext | None = None,
    *,
    limits: Limits = DEFAULT_LIMITS,
) -> web.AppRunner:
    """Serve the app; an address that cannot be bound raises OSError (the runner is cleaned up)."""
    # aiohttp names its and Python's versions in every answer's Server header (its 400s for requests it cannot
    # parse included, which no app hook sees); it has one module-level default for it, replaced here.
    setattr(web_response, "SERVER_SOFTWARE", SERVER)  # noqa: B010 (Final in aiohttp's typing)
    # aiohttp closes a connection that is waiting for a request when its keep-alive time is up, from the
    # connection's start on (a socket that never sends a byte included): the request timeout is that time.
    runner = web.AppRunner(app, access_log=None, keepalive_timeout=limits.request_timeout_seconds)
    await runner.setup()
    site = _LimitedSite(runner, host, port, ssl_context=ssl_context, limits=limits)
    try:
        await site.start()
    except OSError:
        await runner.cleanup()
        raise
    return runner


class _LimitedSite(web.BaseSite):
    """A TCP site whose connections are counted: past the cap a new one is answered 503 and closed."""

    def __init__(
        self, runner: web.AppRunner, host: str, port: int, *, ssl_context: ssl.SSLContext | None, limits: Limits
    ) -> None:
        super().__init__(runner, ssl_context=ssl_context)
        self._host = host
        self._port = port
        self._limits = limits
        self.open = 0
        self._refused = RateLimitedLog("event=connection_refused reason=too_many_connections limit=%d", log)

    @property
    def name(self) -> str:
        scheme = "https" if self._ssl_context else "http"
        return f"{scheme}://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Counted(server(), self),
            self._host,
            self._port,
            ssl=self._ssl_context,
            backlog=self._backlog,
            reuse_address=True,
            # A TLS client has as long for its handshake as any client has for its request.
            ssl_handshake_timeout=self._limits.request_timeout_seconds if self._ssl_context else None,
        )

    def admit(self) -> bool:
        if self.open >= self._limits.connections:
            self._refused.event(self._limits.connections)
            return False
        self.open += 1
        return True


class _Counted(asyncio.Protocol):
    """aiohttp's protocol for one connection, counted while it is open (or refused when there are too many)."""

    def __init__(self, inner: asyncio.Protocol, site: _LimitedSite) -> None:
        self._inner = inner
        self._site = site
        self._admitted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if not self._site.admit():
            assert isinstance(transport, asyncio.WriteTransport)
            transport.write(BUSY)
            transport.close()
            return
        self._admitted = True
        self._inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._admitted:
            self._admitted = False
            self._site.open -= 1
            self._inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._admitted:
            self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._admitted else None

    def pause_writing(self) -> None:
        if self._admitted:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._admitted:
            self._inner.resume_writing()


class RateLimitedLog:
    """An event that may happen thousands of times a second, logged at most once a second with its count."""

    def __init__(self, message: str, logger: logging.Logger, interval: float = 1.0) -> None:
        self._message = message
        self._log = logger
        self._interval = interval
        self._count = 0
        self._last = -interval

    def event(self, *args: object) -> None:
        self._count += 1
        now = time.monotonic()
        if now - self._last >= self._interval:
            self._log.warning(self._message + " count=%d", *args, self._count)
            self._last, self._count = now, 0


class AcceptErrors:
    """The event loop's exception handler, with asyncio's accept failures (EMFILE: out of descriptors) logged at
    most once a second with a count, instead of a traceback each; anything else goes to the default handler."""

    def __init__(self) -> None:
        self._log = RateLimitedLog("event=accept_failed error=%s", log)

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if str(context.get("message", "")).startswith("socket.accept() out of system resource"):
            exc = context.get("exception")
            self._log.event(type(exc).__name__ if exc is not None else "unknown")
            return
        loop.default_exception_handler(context)
