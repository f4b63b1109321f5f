"""How the report reaches Prometheus: TLS with a client certificate and basic auth against a real Prometheus
(--web.config.file), a bearer token and a tenant header through an auth proxy, and one-line errors."""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import bcrypt
import pytest
from aiohttp import web

from tests.test_web_config import make_cert
from velero_exporter.cli import main
from velero_exporter.client_auth import basic_auth
from velero_exporter.sandbox.monitoring import WebAccess, free_port, running_prometheus

PASSWORD = "auditor-password"
TOKEN = "a-bearer-token"


def write_web_config(directory: Path) -> WebAccess:
    """TLS that requires a client certificate (the server's own, self-signed, is the CA), and one user."""
    cert, key = make_cert(directory)
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    config = directory / "web.yml"
    config.write_text(
        "tls_server_config:\n"
        f"  cert_file: {cert}\n  key_file: {key}\n"
        f"  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {cert}\n"
        f"basic_auth_users:\n  auditor: '{hashed}'\n"
    )
    client = ssl.create_default_context(cafile=str(cert))
    client.load_cert_chain(cert, key)
    (directory / "password").write_text(PASSWORD + "\n")
    return WebAccess(config, client, {"Authorization": basic_auth("auditor", PASSWORD)})


def report(url: str, out: Path, *flags: str) -> int:
    return main(["report", "--prometheus", url, "--from", "1h", "--step", "15s", "--output", str(out), *flags])


async def test_tls_client_certificate_and_basic_auth(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    access = write_web_config(tmp_path)
    cert, key, password = tmp_path / "tls.crt", tmp_path / "tls.key", tmp_path / "password"
    out = tmp_path / "report.json"
    async with running_prometheus([], access=access) as prometheus:
        assert prometheus.url.startswith("https://localhost:")
        credentials = ("--basic-auth-user", "auditor", "--basic-auth-password-file", str(password))
        tls = ("--ca-file", str(cert), "--cert-file", str(cert), "--key-file", str(key))
        assert await asyncio.to_thread(report, prometheus.url, out, *tls, *credentials) == 0
        document = json.loads(out.read_text())
        # an empty Prometheus: nothing to report, and the report says where it looked
        assert (document["prometheus"], document["tiers"], document["alerts"]) == (prometheus.url, [], [])

        # without the client certificate the TLS handshake fails; without the password Prometheus says 401
        assert await asyncio.to_thread(report, prometheus.url, out, "--ca-file", str(cert), *credentials) == 1
        assert await asyncio.to_thread(report, prometheus.url, out, *tls) == 1
        # the system's trust store does not know the self-signed certificate; --insecure-skip-verify skips that
        assert await asyncio.to_thread(report, prometheus.url, out, *credentials) == 1
        insecure = ("--insecure-skip-verify", "--cert-file", str(cert), "--key-file", str(key))
        assert await asyncio.to_thread(report, prometheus.url, out, *insecure, *credentials) == 0
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 3 and all(e.startswith("velero-exporter report: https://localhost:") for e in errors)
    assert "HTTP 401" in errors[1]
    assert "certificate verify failed" in errors[2]


async def auth_proxy(upstream: str, seen: list[dict[str, str]]) -> web.AppRunner:
    """What stands in front of Prometheus in many installations (kube-rbac-proxy, Mimir's gateway): a bearer
    token and a tenant header, or 401."""

    async def forward(request: web.Request) -> web.Response:
        seen.append({k: v for k, v in request.headers.items() if k in ("Authorization", "X-Scope-OrgID")})
        if request.headers.get("Authorization") != f"Bearer {TOKEN}" or request.headers.get("X-Scope-OrgID") != "t1":
            return web.Response(status=401, text="Unauthorized\n")
        async with (
            aiohttp.ClientSession() as http,
            http.post(upstream + request.path.removeprefix("/prometheus"), data=await request.post()) as resp,
        ):
            return web.Response(status=resp.status, body=await resp.read(), content_type="application/json")

    app = web.Application()
    app.router.add_post("/prometheus/api/v1/query_range", forward)
    runner = web.AppRunner(app)
    await runner.setup()
    return runner


@pytest.fixture
async def proxied() -> AsyncIterator[tuple[str, list[dict[str, str]]]]:
    seen: list[dict[str, str]] = []
    async with running_prometheus([]) as prometheus:
        runner = await auth_proxy(prometheus.url, seen)
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            yield f"http://127.0.0.1:{port}/prometheus", seen
        finally:
            await runner.cleanup()


async def test_bearer_token_and_tenant_header(
    proxied: tuple[str, list[dict[str, str]]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, seen = proxied
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    out = tmp_path / "report.json"
    flags = ("--bearer-token-file", str(token), "--header", "X-Scope-OrgID=t1")
    assert await asyncio.to_thread(report, url, out, *flags) == 0
    assert json.loads(out.read_text())["tiers"] == []
    assert seen[0] == {"Authorization": f"Bearer {TOKEN}", "X-Scope-OrgID": "t1"}
    assert await asyncio.to_thread(report, url, out, "--header", "X-Scope-OrgID=t1") == 1
    assert capsys.readouterr().err == f"velero-exporter report: {url}/api/v1/query_range: HTTP 401: Unauthorized\n"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (("--from", "yesterday"), "'yesterday' is neither an RFC 3339 time (2024-05-01T00:00:00Z) nor a duration"),
        (("--from", "2025-01-01T00:00:00"), "'2025-01-01T00:00:00' has no UTC offset"),
        (("--from", "1h", "--to", "2h"), "--from must be earlier than --to"),
        (("--step", "0s"), "--step must be longer than 0s"),
        (("--step", "1.5m"), "--step: '1.5m' is not a duration (whole numbers only"),
        (("--cert-file", "x.crt"), "--cert-file and --key-file go together"),
        (("--bearer-token-file", "t", "--basic-auth-user", "u"), "--bearer-token-file and --basic-auth-user exclude"),
        (("--header", "X-Scope-OrgID"), "--header 'X-Scope-OrgID': write it as NAME=VALUE"),
        (("--bearer-token-file", "/nonexistent/token"), "cannot read the bearer token file /nonexistent/token"),
        (("--ca-file", "/nonexistent/ca.crt"), "TLS settings: [Errno 2] No such file or directory"),
        (("--output", "/nonexistent/dir/report.json"), "No such file or directory"),
    ],
)
def test_bad_flags_are_one_line(
    flags: tuple[str, ...], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # nothing listens on port 9: only the last case (writing the output) gets that far, with an answer
    code = main(["report", "--prometheus", "http://127.0.0.1:9", *flags])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("velero-exporter report: ") and err.count("\n") == 1
    assert message in err or ("Cannot connect" in err and flags[0] == "--output"), err


def test_an_unreachable_prometheus_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--prometheus", "http://127.0.0.1:9", "--from", "1h"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("velero-exporter report: http://127.0.0.1:9/api/v1/query_range: Cannot connect")
    assert err.count("\n") == 1
