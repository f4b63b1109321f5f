"""KubeClient against a tiny aiohttp server: credentials from kubeconfig (token, exec plugin, in-cluster over
TLS), HTTP statuses mapped to error kinds, and the watch stream's failure modes."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime
import ipaddress
import json
import socket
import ssl
import sys
import time
import tracemalloc
import zlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from velero_exporter.sources.kube import credentials
from velero_exporter.sources.kube.client import KubeClient, KubeError, decode_list, parse_retry_after

GV = "/apis/velero.io/v1"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Server:
    url: str
    seen: list[web.Request] = field(default_factory=list)
    handler: Handler | None = None

    @property
    def authorizations(self) -> list[str | None]:
        return [r.headers.get("Authorization") for r in self.seen]


def _list_body(names: list[str], rv: str = "7") -> dict[str, Any]:
    return {
        "apiVersion": "velero.io/v1",
        "kind": "BackupList",
        "metadata": {"resourceVersion": rv},
        "items": [{"metadata": {"name": n, "resourceVersion": rv}} for n in names],
    }


async def _ok(request: web.Request) -> web.StreamResponse:
    return web.json_response(_list_body(["a"]))


async def _start(ssl_context: ssl.SSLContext | None = None) -> tuple[Server, web.AppRunner]:
    server = Server(url="")

    async def dispatch(request: web.Request) -> web.StreamResponse:
        server.seen.append(request)
        return await (server.handler or _ok)(request)

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", dispatch)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    port = runner.addresses[0][1]
    server.url = f"{'https' if ssl_context else 'http'}://127.0.0.1:{port}"
    return server, runner


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    srv, runner = await _start()
    yield srv
    await runner.cleanup()


def write_kubeconfig(
    path: Path,
    server_url: str,
    user: dict[str, Any],
    namespace: str | None = "backups",
    cluster: dict[str, Any] | None = None,
) -> Path:
    context: dict[str, Any] = {"cluster": "c", "user": "u"}
    if namespace:
        context["namespace"] = namespace
    cluster = {"server": server_url, **(cluster or {})}
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": cluster}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "ctx", "context": context}],
        "current-context": "ctx",
    }
    path.write_text(json.dumps(doc))  # JSON is YAML
    return path


def write_exec_plugin(tmp_path: Path, *, expires_in: float | None) -> tuple[dict[str, Any], Path]:
    """A plugin that prints token tok-<n> on its n-th run, counting runs in a file."""
    counter = tmp_path / "runs"
    script = tmp_path / "plugin.py"
    expiry = ""
    if expires_in is not None:
        expiry = (
            "import datetime\n"
            "exp = datetime.datetime.now(datetime.timezone.utc) + "
            f"datetime.timedelta(seconds={expires_in})\n"
            "status['expirationTimestamp'] = exp.strftime('%Y-%m-%dT%H:%M:%SZ')\n"
        )
    script.write_text(
        "import json, pathlib\n"
        f"counter = pathlib.Path({str(counter)!r})\n"
        "n = int(counter.read_text()) + 1 if counter.exists() else 1\n"
        "counter.write_text(str(n))\n"
        "status = {'token': f'tok-{n}'}\n"
        f"{expiry}"
        "print(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1', 'kind': 'ExecCredential',"
        " 'status': status}))\n"
    )
    user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": sys.executable,
            "args": [str(script)],
            "interactiveMode": "Never",
        }
    }
    return user, counter


async def _list(kube: KubeClient, seconds: float = 5) -> dict[str, Any]:
    return decode_list(
        await kube.list_body(GV, "velero", "backups", limit=500, continue_token=None, timeout=seconds), "backups"
    )


# -- credentials and configuration


async def test_bearer_token_and_namespace_from_kubeconfig(server: Server, tmp_path: Path) -> None:
    cfg = write_kubeconfig(tmp_path / "config", server.url, {"token": "s3cr3t"})
    kube = await KubeClient.from_config(str(cfg))
    try:
        page = decode_list(await kube.list_body(GV, "velero", "backups", limit=2, continue_token="abc"), "backups")
    finally:
        await kube.close()
    assert [i["metadata"]["name"] for i in page["items"]] == ["a"]
    assert kube.namespace == "backups"
    assert server.authorizations == ["Bearer s3cr3t"]
    assert server.seen[0].path == "/apis/velero.io/v1/namespaces/velero/backups"
    assert dict(server.seen[0].query) == {"limit": "2", "continue": "abc"}


async def test_a_list_says_when_its_request_has_left_before_the_answer_comes(server: Server, tmp_path: Path) -> None:
    """The reflector parses page n once page n+1's request has left, so the server works on it meanwhile."""
    arrived, answer = asyncio.Event(), asyncio.Event()

    async def slow(request: web.Request) -> web.StreamResponse:
        arrived.set()
        await answer.wait()
        return await _ok(request)

    server.handler = slow
    kube = await KubeClient.from_config(str(write_kubeconfig(tmp_path / "config", server.url, {"token": "t"})))
    try:
        sent = asyncio.Event()
        page = asyncio.create_task(kube.list_body(GV, "velero", "backups", limit=2, continue_token=None, sent=sent))
        async with asyncio.timeout(10):
            await sent.wait()
            await arrived.wait()
        assert not page.done()  # left, and unanswered
        answer.set()
        assert [i["metadata"]["name"] for i in decode_list(await page, "backups")["items"]] == ["a"]
    finally:
        await kube.close()


async def test_namespace_defaults_to_velero_and_kubeconfig_env(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = write_kubeconfig(tmp_path / "config", server.url, {"token": "t"}, namespace=None)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(cfg))
    kube = await KubeClient.from_config()
    try:
        await _list(kube)
    finally:
        await kube.close()
    assert kube.namespace == "velero"
    assert server.authorizations == ["Bearer t"]


async def test_basic_auth(server: Server, tmp_path: Path) -> None:
    cfg = write_kubeconfig(tmp_path / "config", server.url, {"username": "admin", "password": "pw"})
    kube = await KubeClient.from_config(str(cfg))
    try:
        await _list(kube)
    finally:
        await kube.close()
    assert server.authorizations == ["Basic YWRtaW46cHc="]


async def test_exec_plugin_token_is_sent_and_cached_without_expiry(server: Server, tmp_path: Path) -> None:
    user, runs = write_exec_plugin(tmp_path, expires_in=None)
    kube = await KubeClient.from_config(str(write_kubeconfig(tmp_path / "config", server.url, user)))
    try:
        await _list(kube)
        await _list(kube)
    finally:
        await kube.close()
    assert server.authorizations == ["Bearer tok-1", "Bearer tok-1"]
    assert runs.read_text() == "1"


async def test_exec_plugin_rerun_when_credential_near_expiry(server: Server, tmp_path: Path) -> None:
    # kubernetes 36 refreshes through refresh_api_key_hook when the expiry is within 5 minutes.
    user, runs = write_exec_plugin(tmp_path, expires_in=60)
    kube = await KubeClient.from_config(str(write_kubeconfig(tmp_path / "config", server.url, user)))
    try:
        await _list(kube)
        await _list(kube)
    finally:
        await kube.close()
    assert server.authorizations == ["Bearer tok-2", "Bearer tok-3"]
    assert runs.read_text() == "3"


async def test_exec_plugin_token_far_from_expiry_is_reused(server: Server, tmp_path: Path) -> None:
    user, runs = write_exec_plugin(tmp_path, expires_in=3600)
    kube = await KubeClient.from_config(str(write_kubeconfig(tmp_path / "config", server.url, user)))
    try:
        await _list(kube)
        await _list(kube)
    finally:
        await kube.close()
    assert server.authorizations == ["Bearer tok-1", "Bearer tok-1"]
    assert runs.read_text() == "1"


async def test_unauthorized_reloads_credentials_once_and_retries(server: Server, tmp_path: Path) -> None:
    async def only_second_token(request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization") != "Bearer tok-2":
            return web.json_response({"kind": "Status", "code": 401, "reason": "Unauthorized"}, status=401)
        return await _ok(request)

    server.handler = only_second_token
    user, runs = write_exec_plugin(tmp_path, expires_in=None)
    kube = await KubeClient.from_config(str(write_kubeconfig(tmp_path / "config", server.url, user)))
    try:
        page = await _list(kube)
    finally:
        await kube.close()
    assert len(page["items"]) == 1
    assert server.authorizations == ["Bearer tok-1", "Bearer tok-2"]
    assert runs.read_text() == "2"


async def test_unauthorized_after_reload_is_an_error(server: Server, tmp_path: Path) -> None:
    async def deny(request: web.Request) -> web.StreamResponse:
        return web.json_response({"kind": "Status", "code": 401, "message": "bad token"}, status=401)

    server.handler = deny
    kube = await KubeClient.from_config(str(write_kubeconfig(tmp_path / "config", server.url, {"token": "x"})))
    try:
        with pytest.raises(KubeError) as err:
            await _list(kube)
    finally:
        await kube.close()
    assert (err.value.kind, err.value.status, err.value.reason) == ("unauthorized", 401, "bad token")
    assert len(server.seen) == 2
    assert "x" not in str(err.value)


# -- errors


@pytest.mark.parametrize(
    ("status", "headers", "kind", "retry_after"),
    [
        (403, {}, "forbidden", None),
        (404, {}, "not_found", None),
        (410, {}, "expired", None),
        (429, {"Retry-After": "7"}, "throttled", 7.0),
        (429, {}, "throttled", None),
        (500, {}, "server_error", None),
        (503, {"Retry-After": "2"}, "server_error", 2.0),
        (400, {}, "bad_response", None),
    ],
)
async def test_status_maps_to_kind(
    server: Server,
    tmp_path: Path,
    *,
    status: int,
    headers: dict[str, str],
    kind: str,
    retry_after: float | None,
) -> None:
    async def fail(request: web.Request) -> web.StreamResponse:
        body = {"kind": "Status", "code": status, "reason": "Because", "message": f"nope {status}"}
        return web.json_response(body, status=status, headers=headers)

    server.handler = fail
    kube = await KubeClient.from_config(str(write_kubeconfig(tmp_path / "config", server.url, {"token": "x"})))
    try:
        with pytest.raises(KubeError) as list_err:
            await _list(kube)
        with pytest.raises(KubeError) as watch_err:
            async for _ in kube.watch(
                GV, "velero", "backups", resource_version="1", timeout_seconds=5, inactivity_timeout=5
            ):
                pass
    finally:
        await kube.close()
    for err in (list_err.value, watch_err.value):
        assert (err.kind, err.status, err.retry_after, err.reason) == (kind, status, retry_after, f"nope {status}")


async def test_connection_refused_is_unreachable(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    kube = await KubeClient.from_config(
        str(write_kubeconfig(tmp_path / "config", f"http://127.0.0.1:{port}", {"token": "x"}))
    )
    try:
        with pytest.raises(KubeError) as err:
            await _list(kube)
    finally:
        await kube.close()
    assert (err.value.kind, err.value.status) == ("unreachable", None)


async def test_slow_list_is_a_timeout(server: Server, tmp_path: Path) -> None:
    async def slow(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(2)
        return await _ok(request)

    server.handler = slow
    kube = await KubeClient.from_config(str(write_kubeconfig(tmp_path / "config", server.url, {"token": "x"})))
    try:
        with pytest.raises(KubeError) as err:
            await _list(kube, seconds=0.3)
    finally:
        await kube.close()
    assert err.value.kind == "timeout"


async def test_undecodable_list_is_bad_response(server: Server, tmp_path: Path) -> None:
    async def garbage(request: web.Request) -> web.StreamResponse:
        return web.Response(text="<html>proxy error</html>", content_type="text/html")

    server.handler = garbage
    kube = await KubeClient.from_config(str(write_kubeconfig(tmp_path / "config", server.url, {"token": "x"})))
    try:
        with pytest.raises(KubeError) as err:
            await _list(kube)
    finally:
        await kube.close()
    assert err.value.kind == "bad_response"


def test_retry_after_forms() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490.0) == 0.0


# -- watch streams


def _stream_handler(chunks: list[bytes], *, pause: float = 0.0, then_hang: float = 0.0, cut: bool = False) -> Handler:
    async def stream(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        await resp.prepare(request)
        for chunk in chunks:
            await resp.write(chunk)
            await asyncio.sleep(pause)
        if then_hang:
            await asyncio.sleep(then_hang)
        if cut:
            assert request.transport is not None
            request.transport.close()  # no terminating chunk: the stream is cut
            return resp
        await resp.write_eof()
        return resp

    return stream


def _event(kind: str, name: str, rv: str) -> bytes:
    obj = {"kind": "Backup", "metadata": {"name": name, "resourceVersion": rv}}
    return json.dumps({"type": kind, "object": obj}).encode() + b"\n"


def _watch_backups(
    kube: KubeClient, *, inactivity: float = 60.0, on_open: Callable[[], None] | None = None
) -> AsyncGenerator[dict[str, Any], None]:
    return kube.watch(
        GV,
        "velero",
        "backups",
        resource_version="5",
        timeout_seconds=300,
        inactivity_timeout=inactivity,
        on_open=on_open,
    )


async def _collect(kube: KubeClient, inactivity: float = 2.0) -> tuple[list[tuple[str, str]], KubeError | None]:
    got: list[tuple[str, str]] = []
    try:
        async for ev in _watch_backups(kube, inactivity=inactivity):
            got.append((ev["type"], ev["object"]["metadata"]["resourceVersion"]))
    except KubeError as err:
        return got, err
    return got, None


async def test_watch_yields_events_split_across_chunks(server: Server, tmp_path: Path) -> None:
    data = _event("ADDED", "a", "6") + _event("MODIFIED", "a", "7") + _event("BOOKMARK", "", "8")
    server.handler = _stream_handler([data[:10], data[10:70], data[70:], b"\n", _event("DELETED", "a", "9")])
    kube = await KubeClient.from_config(str(write_kubeconfig(tmp_path / "config", server.url, {"token": "x"})))
    try:
        got, err = await _collect(kube)
    finally:
        await kube.close()
    assert err is None
    assert got == [("ADDED", "6"), ("MODIFIED", "7"), ("BOOKMARK", "8"), ("DELETED", "9")]
    assert dict(server.seen[0].query) == {
        "watch": "1",
        "allowWatchBookmarks": "true",
        "resourceVersion": "5",
        "timeoutSeconds": "300",
    }
    assert server.authorizations == ["Bearer x"]


async def test_watch_cut_mid_event(server: Server, tmp_path: Path) -> None:
    partial = _event("MODIFIED", "a", "7")[:25]
    server.handler = _stream_handler([_event("ADDED", "a", "6"), partial], cut=True)
    kube = await KubeClient.from_config(str(write_kubeconfig(tmp_path / "config", server.url, {"token": "x"})))
    try:
        got, err = await _collect(kube)
    finally:
        await kube.close()
    assert got == [("ADDED", "6")]
    assert err is not None
    assert err.kind == "unreachable"


async def test_watch_inactivity_is_a_timeout(server: Server, tmp_path: Path) -> None:
    server.handler = _stream_handler([_event("ADDED", "a", "6")], then_hang=5)
    kube = await KubeClient.from_config(str(write_kubeconfig(tmp_path / "config", server.url, {"token": "x"})))
    loop = asyncio.get_running_loop()
    try:
        started = loop.time()
        got, err = await _collect(kube, inactivity=0.3)
        elapsed = loop.time() - started
    finally:
        await kube.close()
    assert got == [("ADDED", "6")]
    assert err is not None
    assert err.kind == "timeout"
    assert 0.3 <= elapsed < 2


async def test_watch_undecodable_event(server: Server, tmp_path: Path) -> None:
    server.handler = _stream_handler([_event("ADDED", "a", "6"), b"{not json}\n"])
    kube = await KubeClient.from_config(str(write_kubeconfig(tmp_path / "config", server.url, {"token": "x"})))
    try:
        got, err = await _collect(kube)
    finally:
        await kube.close()
    assert got == [("ADDED", "6")]
    assert err is not None
    assert err.kind == "bad_response"


async def test_closing_a_watch_early_releases_it(server: Server, tmp_path: Path) -> None:
    stream = _stream_handler([_event("ADDED", "a", "6")], then_hang=5)

    async def route(request: web.Request) -> web.StreamResponse:
        return await (stream(request) if request.query.get("watch") else _ok(request))

    server.handler = route
    kube = await KubeClient.from_config(str(write_kubeconfig(tmp_path / "config", server.url, {"token": "x"})))
    try:
        events = kube.watch(GV, "velero", "backups", resource_version="5", timeout_seconds=9, inactivity_timeout=9)
        first = await anext(events)
        await events.aclose()
        assert first["type"] == "ADDED"
        page = await _list(kube)  # the client is still usable
        assert len(page["items"]) == 1
    finally:
        await kube.close()


async def test_on_open_is_called_once_the_server_accepts_the_watch_before_any_event(
    server: Server, tmp_path: Path
) -> None:
    """An idle resource sends nothing for minutes: the accepted watch (200) is the only sign that it is healthy."""
    server.handler = _stream_handler([], then_hang=30)
    kube = await KubeClient.from_config(str(write_kubeconfig(tmp_path / "config", server.url, {"token": "x"})))
    opened: list[float] = []
    events = _watch_backups(kube, on_open=lambda: opened.append(time.monotonic()))
    first = asyncio.ensure_future(anext(events))
    try:
        deadline = time.monotonic() + 20
        while not opened and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert len(opened) == 1
        assert not first.done()  # no event has come, and none is needed
    finally:
        first.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await first
        await events.aclose()
        await kube.close()


async def test_on_open_is_not_called_for_a_refused_watch(server: Server, tmp_path: Path) -> None:
    async def unavailable(request: web.Request) -> web.StreamResponse:
        return web.json_response({"kind": "Status", "code": 503, "message": "try later"}, status=503)

    server.handler = unavailable
    kube = await KubeClient.from_config(str(write_kubeconfig(tmp_path / "config", server.url, {"token": "x"})))
    opened: list[bool] = []
    try:
        with pytest.raises(KubeError) as caught:
            async for _ in _watch_backups(kube, on_open=lambda: opened.append(True)):
                pass
    finally:
        await kube.close()
    assert (caught.value.kind, opened) == ("server_error", [])


# -- TLS and in-cluster


@dataclass
class Pki:
    ca: Path
    server_context: ssl.SSLContext
    client_cert: bytes  # PEM, signed by the CA, CN "velero-exporter"
    client_key: bytes


def _make_pki(tmp_path: Path) -> Pki:
    now = datetime.datetime.now(datetime.UTC)

    def name(cn: str) -> Any:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def certificate(subject: str, key: Any, issuer: Any, signer: Any, extensions: list[tuple[Any, bool]]) -> Any:
        builder = (
            x509.CertificateBuilder()
            .subject_name(name(subject))
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
        )
        for extension, critical in extensions:
            builder = builder.add_extension(extension, critical=critical)
        return builder.sign(signer, hashes.SHA256())

    def pem_key(key: Any) -> bytes:
        return bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )
    ca_cert = certificate(
        "test-ca",
        ca_key,
        name("test-ca"),
        ca_key,
        [
            (x509.BasicConstraints(ca=True, path_length=None), True),
            (usage, True),
            (x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False),
        ],
    )
    issued_by_ca = (x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False)
    key = ec.generate_private_key(ec.SECP256R1())
    san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    cert = certificate("kube-apiserver", key, ca_cert.subject, ca_key, [(san, False), issued_by_ca])
    client_key = ec.generate_private_key(ec.SECP256R1())
    client_cert = certificate("velero-exporter", client_key, ca_cert.subject, ca_key, [issued_by_ca])
    ca_path = tmp_path / "ca.crt"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_path = tmp_path / "server.crt"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path = tmp_path / "server.key"
    key_path.write_bytes(pem_key(key))
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert_path, key_path)
    # A client certificate is asked for, not required: tests see whether one came.
    ctx.verify_mode = ssl.CERT_OPTIONAL
    ctx.load_verify_locations(ca_path)
    return Pki(ca_path, ctx, client_cert.public_bytes(serialization.Encoding.PEM), pem_key(client_key))


@pytest.fixture
async def tls_server(tmp_path: Path) -> AsyncIterator[tuple[Server, Pki]]:
    pki = _make_pki(tmp_path)
    srv, runner = await _start(pki.server_context)
    yield srv, pki
    await runner.cleanup()


def _peer_common_name(request: web.Request) -> str | None:
    transport = request.transport
    peer = transport.get_extra_info("peercert") if transport is not None else None
    if not peer:
        return None
    return next((value for rdn in peer["subject"] for key, value in rdn if key == "commonName"), None)


async def test_tls_with_ca_from_kubeconfig(tls_server: tuple[Server, Pki], tmp_path: Path) -> None:
    srv, pki = tls_server
    cfg = write_kubeconfig(tmp_path / "config", srv.url, {"token": "t"}, cluster={"certificate-authority": str(pki.ca)})
    kube = await KubeClient.from_config(str(cfg))
    try:
        await _list(kube)
    finally:
        await kube.close()
    assert srv.authorizations == ["Bearer t"]


async def test_tls_unknown_ca_is_unreachable(tls_server: tuple[Server, Pki], tmp_path: Path) -> None:
    srv, _ = tls_server
    kube = await KubeClient.from_config(str(write_kubeconfig(tmp_path / "config", srv.url, {"token": "t"})))
    try:
        with pytest.raises(KubeError) as err:
            await _list(kube)
    finally:
        await kube.close()
    assert err.value.kind == "unreachable"
    assert srv.seen == []


async def test_inline_ca_and_client_certificate_from_kubeconfig(tls_server: tuple[Server, Pki], tmp_path: Path) -> None:
    """certificate-authority-data, client-certificate-data and client-key-data: base64 PEM in the kubeconfig."""
    srv, pki = tls_server
    common_names: list[str | None] = []

    async def note_peer(request: web.Request) -> web.StreamResponse:
        common_names.append(_peer_common_name(request))
        return await _ok(request)

    srv.handler = note_peer

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    user = {"client-certificate-data": b64(pki.client_cert), "client-key-data": b64(pki.client_key)}
    cluster = {"certificate-authority-data": b64(pki.ca.read_bytes())}
    cfg = write_kubeconfig(tmp_path / "config", srv.url, user, cluster=cluster)
    kube = await KubeClient.from_config(str(cfg))
    try:
        await _list(kube)
    finally:
        await kube.close()
    assert common_names == ["velero-exporter"]
    assert srv.authorizations == [None]


async def test_in_cluster_config(
    tls_server: tuple[Server, Pki], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    srv, pki = tls_server
    account = tmp_path / "serviceaccount"
    account.mkdir()
    (account / "token").write_text("sa-token")
    (account / "namespace").write_text("velero-system\n")
    (account / "ca.crt").write_bytes(pki.ca.read_bytes())
    monkeypatch.setattr(credentials, "SERVICE_ACCOUNT_DIR", str(account))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", srv.url.rsplit(":", 1)[1])
    kube = await KubeClient.from_config()
    try:
        await _list(kube)
    finally:
        await kube.close()
    assert kube.namespace == "velero-system"
    assert srv.authorizations == ["Bearer sa-token"]


# -- caps: what a broken or hostile server can make the exporter hold


async def test_a_gzip_bomb_list_stops_at_the_page_cap(server: Server, tmp_path: Path) -> None:
    """200 MiB of JSON in about 200 KiB of gzip: once it drove the exporter past 3.6 GB of memory."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip framing
    parts = [packer.compress(b'{"metadata": {}, "items": [], "padding": "')]
    block = b"x" * (1024 * 1024)
    parts += [packer.compress(block) for _ in range(200)]
    parts.append(packer.compress(b'"}') + packer.flush())
    bomb = b"".join(parts)
    assert len(bomb) < 1024 * 1024

    async def gzip_list(request: web.Request) -> web.StreamResponse:
        return web.Response(body=bomb, headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})

    server.handler = gzip_list
    kube = await KubeClient.from_config(str(write_kubeconfig(tmp_path / "config", server.url, {"token": "x"})))
    assert kube.max_list_bytes == 64 * 1024 * 1024  # the default (config: limits.list_page_bytes)
    tracemalloc.start()
    try:
        with pytest.raises(KubeError) as err:
            await _list(kube, seconds=60)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        await kube.close()
    assert err.value.kind == "bad_response"
    assert "page larger than 67108864 bytes" in str(err.value)
    assert peak < 160 * 1024 * 1024  # the capped page and its last chunk, not the 200 MiB


async def test_a_watch_event_longer_than_the_cap_is_a_bad_response(server: Server, tmp_path: Path) -> None:
    huge = json.dumps({"type": "ADDED", "object": {"metadata": {"name": "a"}, "pad": "x" * 5_000_000}}).encode()
    server.handler = _stream_handler([_event("ADDED", "a", "6"), huge[:3_000_000], huge[3_000_000:], b"\n"])
    kube = await KubeClient.from_config(str(write_kubeconfig(tmp_path / "config", server.url, {"token": "x"})))
    assert kube.max_event_bytes == 4 * 1024 * 1024  # the default (config: limits.watch_event_bytes)
    try:
        got, err = await _collect(kube)
    finally:
        await kube.close()
    assert got == [("ADDED", "6")]
    assert err is not None and err.kind == "bad_response"
    assert "event larger than 4194304 bytes" in str(err)
