"""--web.config.file: TLS and basic auth in the Prometheus exporter-toolkit's format.

    tls_server_config: {cert_file, key_file, client_auth_type, client_ca_file, min_version, max_version}
    basic_auth_users: {user: bcrypt hash}
    http_server_config: {headers: {name: value}}

Everything is checked at start-up, so that a file that loads is a file that works: each bcrypt hash is read, the
certificate and key are loaded, the TLS versions are ordered, headers are the ones exporter-toolkit allows.

Basic auth checks passwords as exporter-toolkit does (web/handler.go): bcrypt runs one check at a time, off the
event loop, so wrong passwords cannot starve the scrapes; a user that does not exist is checked against a dummy
hash of the same cost, so that the answer's timing does not tell which users exist; accepted credentials are
cached by a keyed digest, so that a scraper pays bcrypt's deliberate cost once, not on every scrape.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import concurrent.futures
import contextlib
import hashlib
import hmac
import os
import re
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from velero_exporter.config.file import ConfigError, read_yaml

TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
# exporter-toolkit's client_auth_type values, as Python's TLS can serve them. RequestClientCert asks for a
# certificate and ignores it: never asking is the same for a server that does not use it. RequireAnyClientCert
# (a certificate, not verified) has no equivalent: OpenSSL verifies whatever it requires, so it is refused.
CLIENT_AUTH = {
    "NoClientCert": ssl.CERT_NONE,
    "RequestClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
UNSERVABLE_CLIENT_AUTH = {"RequireAnyClientCert", "RequireClientCert"}
# The response headers exporter-toolkit lets a web config set, and the values it allows (None: any value).
ALLOWED_HEADERS: dict[str, tuple[str, ...] | None] = {
    "Strict-Transport-Security": None,
    "X-Content-Type-Options": ("nosniff",),
    "X-Frame-Options": ("deny", "sameorigin"),
    "X-XSS-Protection": None,
    "Content-Security-Policy": None,
}
TLS_KEYS = {"cert_file", "key_file", "client_auth_type", "client_ca_file", "min_version", "max_version"}
TOP_KEYS = {"tls_server_config", "basic_auth_users", "http_server_config"}
HTTP_KEYS = {"headers"}
# A bcrypt hash: $2a$, $2b$ or $2y$, a two-digit cost of 4 to 31, 22 characters of salt and 31 of digest.
BCRYPT_HASH = re.compile(r"\$2[aby]?\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}")
BCRYPT_MAX_PASSWORD = 72  # bytes bcrypt reads; a longer password is refused, never truncated into a match
CACHE_LIMIT = 1024


def _dummy_password() -> bytes:
    return base64.b64encode(os.urandom(24))


@dataclass(slots=True)
class BasicAuth:
    users: Mapping[str, bytes]
    # A hash of a random password at the users' highest cost: what an unknown user's password is checked against.
    dummy: bytes
    # A random key per process: the cache holds HMACs of accepted credentials, never the passwords.
    _key: bytes = field(default_factory=lambda: os.urandom(32))
    _accepted: set[bytes] = field(default_factory=set)
    # One bcrypt at a time, in arrival order, as exporter-toolkit's mutex: a flood of guesses waits in the queue
    # (at most one per open connection, limits.connections) instead of taking the CPU from the event loop,
    # renders and scrapes whose credentials are cached.
    _worker: concurrent.futures.ThreadPoolExecutor = field(
        default_factory=lambda: concurrent.futures.ThreadPoolExecutor(
            1, thread_name_prefix="bcrypt", initializer=_yield_the_cpu
        )
    )

    def _digest(self, user: str, password: bytes) -> bytes:
        return hmac.new(self._key, user.encode() + b"\0" + password, hashlib.sha256).digest()

    async def check(self, header: str | None) -> bool:
        credentials = _credentials(header)
        if credentials is None:
            return False
        user, password = credentials
        digest = self._digest(user, password)
        if digest in self._accepted:
            return True
        hashed = self.users.get(user)
        valid = hashed is not None and len(password) <= BCRYPT_MAX_PASSWORD
        # Same work whether the user exists or the password is too long: the timing tells nothing.
        matched = await asyncio.get_running_loop().run_in_executor(
            self._worker, _checkpw, password[:BCRYPT_MAX_PASSWORD], hashed if valid and hashed else self.dummy
        )
        if not (valid and matched):
            return False
        if len(self._accepted) >= CACHE_LIMIT:
            self._accepted.clear()
        self._accepted.add(digest)
        return True

    def middleware(self) -> Middleware:
        @web.middleware
        async def basic_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
            if not await self.check(request.headers.get("Authorization")):
                return web.Response(
                    status=401, text="Unauthorized\n", headers={"WWW-Authenticate": 'Basic realm="velero-exporter"'}
                )
            return await handler(request)

        return basic_auth

    def close(self) -> None:
        self._worker.shutdown(wait=False, cancel_futures=True)


def _credentials(header: str | None) -> tuple[str, bytes] | None:
    """(user, password) from an Authorization header; None when it is not Basic or not readable."""
    if not header or not header.startswith("Basic "):
        return None
    try:
        user, sep, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password.encode()) if sep else None


def _yield_the_cpu() -> None:
    """The bcrypt thread at the lowest priority (Linux schedules threads one by one): where it competes with the
    event loop for a core, a flood of guesses slows down, not the scrapes."""
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


def _checkpw(password: bytes, hashed: bytes) -> bool:
    import bcrypt  # noqa: PLC0415 (optional extra, only needed when users are configured)

    return bool(bcrypt.checkpw(password, hashed))


@dataclass(slots=True, frozen=True)
class WebConfig:
    ssl_context: ssl.SSLContext | None = None
    basic_auth: BasicAuth | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


def _mapping(value: object, source: str, key: str, allowed: set[str] | None) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(source, key, f"must be a mapping, got {type(value).__name__}")
    for name in value:
        if allowed is not None and name not in allowed:
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


class _EncryptedKeyError(Exception):
    """OpenSSL asked for the key's passphrase: the file holds an encrypted key."""


def _no_passphrase() -> bytes:
    # Never let OpenSSL prompt on a terminal (or fail obscurely without one): say what is wrong instead.
    raise _EncryptedKeyError


def _tls(raw: dict[str, Any], base: Path, source: str) -> ssl.SSLContext:
    key = "tls_server_config"
    if not raw:
        # exporter-toolkit serves plain HTTP then; a key written and left empty is more likely a mistake.
        raise ConfigError(source, key, "is empty: give cert_file and key_file, or remove it to serve plain HTTP")
    cert = _file(base, raw.get("cert_file"), source, f"{key}.cert_file")
    private = _file(base, raw.get("key_file"), source, f"{key}.key_file")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert, private, password=_no_passphrase)
    except _EncryptedKeyError:
        raise ConfigError(
            source, f"{key}.key_file", "the key is encrypted: give an unencrypted key (the exporter has no passphrase)"
        ) from None
    except ssl.SSLError as exc:
        raise ConfigError(source, f"{key}.cert_file", f"certificate and key do not load: {exc.reason}") from None
    versions = {"min_version": ssl.TLSVersion.TLSv1_2, "max_version": ssl.TLSVersion.TLSv1_3}
    for bound in versions:
        if (value := raw.get(bound)) is not None:
            if value not in TLS_VERSIONS:
                raise ConfigError(source, f"{key}.{bound}", f"{value!r} is not one of {', '.join(TLS_VERSIONS)}")
            versions[bound] = TLS_VERSIONS[value]
    if versions["min_version"] > versions["max_version"]:
        raise ConfigError(source, f"{key}.min_version", "is above max_version: no TLS version would be accepted")
    context.minimum_version, context.maximum_version = versions["min_version"], versions["max_version"]
    auth = raw.get("client_auth_type", "NoClientCert")
    if auth in UNSERVABLE_CLIENT_AUTH:
        raise ConfigError(
            source,
            f"{key}.client_auth_type",
            f"{auth} (a client certificate, never verified) cannot be served by Python's TLS, which verifies "
            "what it requires: use RequireAndVerifyClientCert with client_ca_file",
        )
    if auth not in CLIENT_AUTH:
        known = ", ".join([*CLIENT_AUTH, *sorted(UNSERVABLE_CLIENT_AUTH)])
        raise ConfigError(source, f"{key}.client_auth_type", f"{auth!r} is not one of {known}")
    context.verify_mode = CLIENT_AUTH[auth]
    if raw.get("client_ca_file") is not None:
        if context.verify_mode == ssl.CERT_NONE:
            raise ConfigError(source, f"{key}.client_ca_file", f"is given but client_auth_type {auth} verifies nothing")
        ca = _file(base, raw["client_ca_file"], source, f"{key}.client_ca_file")
        try:
            context.load_verify_locations(ca)
        except ssl.SSLError as exc:
            raise ConfigError(source, f"{key}.client_ca_file", f"does not load: {exc.reason}") from None
    elif context.verify_mode != ssl.CERT_NONE:
        raise ConfigError(source, f"{key}.client_ca_file", f"is required with client_auth_type {auth}")
    return context


def _users(raw: dict[str, Any], source: str) -> BasicAuth:
    users: dict[str, bytes] = {}
    for user, hashed in raw.items():
        key = f"basic_auth_users.{user}"
        if not isinstance(user, str) or not user or ":" in user:
            raise ConfigError(source, "basic_auth_users", f"{user!r} is not a user name (a string without ':')")
        if not isinstance(hashed, str) or BCRYPT_HASH.fullmatch(hashed) is None:
            raise ConfigError(source, key, "must map a user name to a bcrypt hash ($2y$10$ and 53 characters)")
        users[user] = hashed.encode()
    try:
        import bcrypt  # noqa: PLC0415 (optional extra)
    except ImportError:
        raise ConfigError(
            source, "basic_auth_users", "bcrypt is not installed (pip install 'velero-exporter[auth]')"
        ) from None
    for user, hashed in users.items():
        try:
            bcrypt.checkpw(b"", hashed)  # bcrypt reads the hash now, not at the first scrape
        except ValueError as exc:
            raise ConfigError(source, f"basic_auth_users.{user}", f"bcrypt cannot read the hash: {exc}") from None
    cost = max(int(hashed[4:6]) for hashed in users.values())
    return BasicAuth(users, dummy=bcrypt.hashpw(_dummy_password(), bcrypt.gensalt(rounds=cost)))


def _headers(raw: object, source: str) -> dict[str, str]:
    key = "http_server_config.headers"
    headers = _mapping(raw, source, key, None)
    for name, value in headers.items():
        allowed = {n.lower(): n for n in ALLOWED_HEADERS}
        if not isinstance(name, str) or name.lower() not in allowed:
            raise ConfigError(source, key, f"{name!r} cannot be set (allowed: {', '.join(ALLOWED_HEADERS)})")
        if not isinstance(value, str) or not value.isprintable():
            raise ConfigError(source, f"{key}.{name}", "must be one line of printable text (no CR, LF or control)")
        values = ALLOWED_HEADERS[allowed[name.lower()]]
        if values is not None and value.lower() not in values:
            raise ConfigError(source, f"{key}.{name}", f"{value!r} is not one of {', '.join(values)}")
    return headers


def load_web_config(path: str | Path) -> WebConfig:
    source = str(path)
    top = _mapping(read_yaml(path), source, "", TOP_KEYS)
    base = Path(path).resolve().parent
    tls = top.get("tls_server_config")
    users = _mapping(top.get("basic_auth_users"), source, "basic_auth_users", None)
    http = _mapping(top.get("http_server_config"), source, "http_server_config", HTTP_KEYS)
    return WebConfig(
        ssl_context=_tls(_mapping(tls, source, "tls_server_config", TLS_KEYS), base, source)
        if "tls_server_config" in top
        else None,
        basic_auth=_users(users, source) if users else None,
        headers=_headers(http.get("headers"), source),
    )
