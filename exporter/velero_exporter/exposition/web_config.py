"""--web.config.file: TLS and basic auth in the Prometheus exporter-toolkit's format.

    tls_server_config: {cert_file, key_file, client_auth_type, client_ca_file, min_version, max_version}
    basic_auth_users: {user: bcrypt hash}

Password hashes are bcrypt (the optional `auth` extra); a password is checked once and the result cached by a
keyed digest, as exporter-toolkit does, so that scrapes do not pay bcrypt's deliberate cost each time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from velero_exporter.config.file import ConfigError

TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
CLIENT_AUTH = {
    "NoClientCert": ssl.CERT_NONE,
    "RequestClientCert": ssl.CERT_OPTIONAL,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAnyClientCert": ssl.CERT_REQUIRED,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
TLS_KEYS = {"cert_file", "key_file", "client_auth_type", "client_ca_file", "min_version", "max_version"}
TOP_KEYS = {"tls_server_config", "basic_auth_users", "http_server_config"}
HTTP_KEYS = {"headers"}
CACHE_LIMIT = 1024


@dataclass(slots=True)
class BasicAuth:
    users: Mapping[str, bytes]
    # A random key per process: the cache holds HMACs of accepted credentials, never the passwords.
    _key: bytes = field(default_factory=lambda: os.urandom(32))
    _accepted: set[bytes] = field(default_factory=set)

    def check(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, sep, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        hashed = self.users.get(user)
        if not sep or hashed is None:
            return False
        digest = hmac.new(self._key, f"{user}\0{password}".encode(), hashlib.sha256).digest()
        if digest in self._accepted:
            return True
        import bcrypt  # noqa: PLC0415 (optional extra, only needed when users are configured)

        if not bcrypt.checkpw(password.encode(), hashed):
            return False
        if len(self._accepted) >= CACHE_LIMIT:
            self._accepted.clear()
        self._accepted.add(digest)
        return True

    def middleware(self) -> Middleware:
        @web.middleware
        async def basic_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
            if not self.check(request.headers.get("Authorization")):
                return web.Response(
                    status=401, text="Unauthorized\n", headers={"WWW-Authenticate": 'Basic realm="velero-exporter"'}
                )
            return await handler(request)

        return basic_auth


@dataclass(slots=True, frozen=True)
class WebConfig:
    ssl_context: ssl.SSLContext | None = None
    basic_auth: BasicAuth | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


def _mapping(value: object, source: str, key: str, allowed: set[str]) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(source, key, f"must be a mapping, got {type(value).__name__}")
    for name in value:
        if name not in allowed:
            where = f"{key}.{name}" if key else str(name)
            raise ConfigError(source, where, f"unknown key (known: {', '.join(sorted(allowed))})")
    return value


def _file(base: Path, value: object, source: str, key: str) -> Path:
    if not isinstance(value, str) or not value:
        raise ConfigError(source, key, "must be a file path")
    path = (base / value).resolve()
    if not path.is_file():
        raise ConfigError(source, key, f"{path} does not exist")
    return path


def _tls(raw: dict[str, Any], base: Path, source: str) -> ssl.SSLContext:
    key = "tls_server_config"
    cert = _file(base, raw.get("cert_file"), source, f"{key}.cert_file")
    private = _file(base, raw.get("key_file"), source, f"{key}.key_file")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert, private)
    except ssl.SSLError as exc:
        raise ConfigError(source, f"{key}.cert_file", f"certificate and key do not load: {exc.reason}") from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    for bound in ("min_version", "max_version"):
        if (value := raw.get(bound)) is not None:
            if value not in TLS_VERSIONS:
                raise ConfigError(source, f"{key}.{bound}", f"{value!r} is not one of {', '.join(TLS_VERSIONS)}")
            setattr(context, bound.replace("_version", "imum_version"), TLS_VERSIONS[value])
    auth = raw.get("client_auth_type", "NoClientCert")
    if auth not in CLIENT_AUTH:
        raise ConfigError(source, f"{key}.client_auth_type", f"{auth!r} is not one of {', '.join(CLIENT_AUTH)}")
    context.verify_mode = CLIENT_AUTH[auth]
    if raw.get("client_ca_file") is not None:
        context.load_verify_locations(_file(base, raw["client_ca_file"], source, f"{key}.client_ca_file"))
    elif auth in ("VerifyClientCertIfGiven", "RequireAndVerifyClientCert"):
        raise ConfigError(source, f"{key}.client_ca_file", f"is required with client_auth_type {auth}")
    return context


def _users(raw: dict[str, Any], source: str) -> BasicAuth:
    users: dict[str, bytes] = {}
    for user, hashed in raw.items():
        key = f"basic_auth_users.{user}"
        if not isinstance(user, str) or not isinstance(hashed, str) or not hashed.startswith("$2"):
            raise ConfigError(source, key, "must map a user name to a bcrypt hash ($2y$...)")
        users[user] = hashed.encode()
    try:
        import bcrypt  # noqa: F401, PLC0415 (optional extra)
    except ImportError:
        raise ConfigError(
            source, "basic_auth_users", "bcrypt is not installed (pip install 'velero-exporter[auth]')"
        ) from None
    return BasicAuth(users)


def load_web_config(path: str | Path) -> WebConfig:
    source = str(path)
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(source, "", exc.strerror or str(exc)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(source, where, "invalid YAML") from None
    top = _mapping(data, source, "", TOP_KEYS)
    base = Path(path).resolve().parent
    tls = _mapping(top.get("tls_server_config"), source, "tls_server_config", TLS_KEYS)
    users = _mapping(top.get("basic_auth_users"), source, "basic_auth_users", set(top.get("basic_auth_users") or {}))
    http = _mapping(top.get("http_server_config"), source, "http_server_config", HTTP_KEYS)
    headers = http.get("headers") or {}
    if not isinstance(headers, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
        raise ConfigError(source, "http_server_config.headers", "must map header names to strings")
    return WebConfig(
        ssl_context=_tls(tls, base, source) if tls else None,
        basic_auth=_users(users, source) if users else None,
        headers=headers,
    )
