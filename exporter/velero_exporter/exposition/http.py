"""The HTTP endpoint: /metrics serves the newest rendered payload; /healthz, /readyz and a landing page."""

from __future__ import annotations

import html
import ssl
from collections.abc import Callable

from aiohttp import web

from velero_exporter.exposition.payload import Exposition, content_type, negotiate
from velero_exporter.exposition.web_config import WebConfig


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
    ready: Callable[[], bool],
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

    async def healthz(_: web.Request) -> web.Response:
        # Alive as long as the event loop answers; the sources' health is in the metrics.
        return web.Response(text="ok\n")

    async def readyz(_: web.Request) -> web.Response:
        if ready() and exposition.current is not None:
            return web.Response(text="ready\n")
        return web.Response(status=503, text="not ready: waiting for the first list of backups and schedules\n")

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
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/", status_page)
    return app


async def serve(app: web.Application, host: str, port: int, ssl_context: ssl.SSLContext | None = None) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
    await site.start()
    return runner
