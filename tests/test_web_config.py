"""--web.config.file: TLS with a real TLS client, basic auth with bcrypt, and one-line errors for bad files."""

from __future__ import annotations

import base64
import datetime
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import bcrypt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from velero_exporter.config.file import ConfigError
from velero_exporter.exposition.http import build_app, serve
from velero_exporter.exposition.payload import Exposition, Payload
from velero_exporter.exposition.web_config import WebConfig, load_web_config
from velero_exporter.metrics.collector import Families

PASSWORD = "s3cret-scrape"


def make_cert(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "tls.crt", directory / "tls.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


def write_web_config(directory: Path, *, tls: bool = True, users: bool = True) -> Path:
    lines = []
    if tls:
        make_cert(directory)
        lines += ["tls_server_config:", "  cert_file: tls.crt", "  key_file: tls.key", "  min_version: TLS12"]
    if users:
        hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
        lines += ["basic_auth_users:", f"  prometheus: '{hashed}'"]
    lines += ["http_server_config:", "  headers:", "    X-Content-Type-Options: nosniff"]
    path = directory / "web.yml"
    path.write_text("\n".join(lines) + "\n")
    return path


async def serving(web_config: WebConfig) -> AsyncIterator[str]:
    exposition = Exposition()
    exposition.publish(Payload(Families([]), 0.0, "<p>status</p>"))
    app = build_app(exposition, ready=lambda: True, web_config=web_config)
    runner = await serve(app, "127.0.0.1", 0, web_config.ssl_context)
    port = runner.addresses[0][1]
    scheme = "https" if web_config.ssl_context else "http"
    try:
        yield f"{scheme}://localhost:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def secured(tmp_path: Path) -> AsyncIterator[tuple[str, ssl.SSLContext]]:
    config = load_web_config(write_web_config(tmp_path))
    client_tls = ssl.create_default_context(cafile=str(tmp_path / "tls.crt"))
    async for url in serving(config):
        yield url, client_tls


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


async def test_tls_and_basic_auth_with_a_real_tls_client(secured: tuple[str, ssl.SSLContext]) -> None:
    url, tls = secured
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{url}/metrics", ssl=tls, headers=basic("prometheus", PASSWORD)) as resp:
            assert resp.status == 200
            assert resp.headers["X-Content-Type-Options"] == "nosniff"
        # cached check: the same credentials again
        async with http.get(f"{url}/metrics", ssl=tls, headers=basic("prometheus", PASSWORD)) as resp:
            assert resp.status == 200
        for headers in ({}, basic("prometheus", "wrong"), basic("nobody", PASSWORD), {"Authorization": "Basic !!"}):
            async with http.get(f"{url}/metrics", ssl=tls, headers=headers) as resp:
                assert resp.status == 401
                assert resp.headers["WWW-Authenticate"] == 'Basic realm="velero-exporter"'
                assert PASSWORD not in await resp.text()
        # a client that does not trust the certificate cannot talk to it at all
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            async with http.get(f"{url}/metrics"):
                pass
        # plain HTTP on the TLS port is refused
        with pytest.raises(aiohttp.ClientError):
            async with http.get(url.replace("https", "http") + "/metrics"):
                pass


def test_tls_is_at_least_1_2(tmp_path: Path) -> None:
    context = load_web_config(write_web_config(tmp_path, users=False)).ssl_context
    assert context is not None
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tls_server_config:\n  cert_file: missing.crt\n  key_file: missing.key\n", "tls_server_config.cert_file: "),
        ("tls_server_confg: {}\n", "tls_server_confg: unknown key"),
        ("basic_auth_users:\n  alice: plaintext\n", "basic_auth_users.alice: must map a user name to a bcrypt hash"),
        ("basic_auth_users: [alice]\n", "basic_auth_users: must be a mapping, got list"),
        ("http_server_config:\n  headers: [a]\n", "http_server_config.headers: must map header names to strings"),
        ("tls_server_config: {cert_file: tls.crt, key_file: tls.key, min_version: SSL3}\n", "min_version: 'SSL3'"),
        (
            "tls_server_config: {cert_file: tls.crt, key_file: tls.key,"
            " client_auth_type: RequireAndVerifyClientCert}\n",
            "client_ca_file: is required",
        ),
        ("key: [unclosed\n", "line 2: invalid YAML"),
    ],
)
def test_bad_web_configs_are_one_line_errors(tmp_path: Path, text: str, message: str) -> None:
    make_cert(tmp_path)
    path = tmp_path / "web.yml"
    path.write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_web_config(path)
    assert str(raised.value).startswith(f"{path}: ")
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)
