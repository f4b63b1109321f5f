"""Where the Kubernetes API is and how to authenticate to it, found as kubectl finds them: in-cluster (the pod's
service-account token and CA), else a kubeconfig (the --kubeconfig file, else $KUBECONFIG's files merged, else
~/.kube/config) and its context.

Read here rather than through the `kubernetes` package because importing that package loads its ~700 generated
API models: 58 MiB of resident memory (13 → 72 MiB measured) for an exporter that only lists and watches. The
one case still handed to the package, imported only then, is a kubeconfig user with an `auth-provider` (oidc;
gcp and azure were removed from kubectl in 1.26): its refresh flows are the package's to keep right.

Semantics follow client-go (k8s.io/client-go/tools/clientcmd: loader.go merges $KUBECONFIG first-wins and
resolves relative paths against the file that names them; rest/config.go InClusterConfig; plugin/pkg/client/
auth/exec/exec.go for exec plugins). Every function here blocks: callers run it in a thread.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import datetime
import json
import logging
import os
import pathlib
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

import yaml

from velero_exporter.client_auth import basic_auth, tls_context
from velero_exporter.logs import logfmt_value

log = logging.getLogger("velero_exporter.kube")

DEFAULT_NAMESPACE: Final = "velero"
SERVICE_ACCOUNT_DIR: Final = "/var/run/secrets/kubernetes.io/serviceaccount"
# client-go re-reads a token file at most once a minute (transport/token_source.go, NewCachedFileTokenSource).
TOKEN_FILE_TTL: Final = 60.0
# The kubernetes package re-runs an exec plugin once its credential is within five minutes of expiry; client-go
# waits for the expiry itself. The margin keeps a request from leaving with a token about to lapse.
EXEC_REFRESH_MARGIN: Final = 300.0
EXEC_TIMEOUT: Final = 60.0
EXEC_API_VERSIONS: Final = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1")


class ConfigError(ValueError):
    """The configuration cannot be loaded; the message says what and where, in one line, without secrets."""


class Credential:
    """Produces the Authorization header. `blocking`: `header` may read a file or run a plugin."""

    blocking = False

    def header(self) -> str | None:
        return None


class StaticCredential(Credential):
    def __init__(self, value: str | None) -> None:
        self._value = value

    def header(self) -> str | None:
        return self._value


class TokenFile(Credential):
    """A bearer token re-read from its file once a minute: a projected service-account token rotates."""

    blocking = True

    def __init__(self, path: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._path = path
        self._clock = clock
        self._token = ""
        self._read_at: float | None = None
        self._lock = threading.Lock()

    def header(self) -> str | None:
        with self._lock:
            now = self._clock()
            if self._read_at is None or now - self._read_at >= TOKEN_FILE_TTL:
                try:
                    self._token = pathlib.Path(self._path).read_text(encoding="utf-8").strip()
                except OSError as exc:
                    if self._read_at is None:
                        raise ConfigError(f"cannot read token file {self._path}: {exc.strerror}") from None
                    log.warning("event=token_file_unreadable path=%s keeping=previous", self._path)
                self._read_at = now
            return f"Bearer {self._token}" if self._token else None


@dataclasses.dataclass(frozen=True, slots=True)
class Tls:
    """What the TLS handshake needs; PEM text for certificates given inline."""

    ca_file: str | None = None
    ca_data: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    cert_data: str | None = None
    key_data: str | None = None
    insecure: bool = False
    server_name: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Connection:
    """How to reach the API server: `ssl_context` None for plain http."""

    host: str
    ssl_context: ssl.SSLContext | None
    server_hostname: str | None
    credential: Credential
    namespace: str
    source: str  # "in-cluster" or the kubeconfig path(s), for logs


def _connection(host: str, tls: Tls, credential: Credential, namespace: str, source: str) -> Connection:
    host = host.rstrip("/")
    context = None
    if host.startswith("https"):
        context = tls_context(
            ca_file=tls.ca_file,
            ca_data=tls.ca_data,
            cert_file=tls.cert_file,
            key_file=tls.key_file,
            cert_data=tls.cert_data,
            key_data=tls.key_data,
            insecure=tls.insecure,
        )
    return Connection(host, context, tls.server_name or None, credential, namespace, source)


# -- in-cluster


def in_cluster(environ: Mapping[str, str], account_dir: str | None = None) -> Connection | None:
    """The pod's own service account (client-go rest.InClusterConfig); None outside a pod."""
    host, port = environ.get("KUBERNETES_SERVICE_HOST"), environ.get("KUBERNETES_SERVICE_PORT")
    if not host or not port:
        return None
    account_dir = account_dir or SERVICE_ACCOUNT_DIR
    token = TokenFile(os.path.join(account_dir, "token"))
    token.header()  # unreadable: not in a pod after all (ConfigError)
    ca: str | None = os.path.join(account_dir, "ca.crt")
    if not os.path.isfile(ca or ""):
        # client-go logs this and goes on with the system's roots (rest/config.go InClusterConfig).
        log.error("event=in_cluster_ca_missing path=%s", ca)
        ca = None
    namespace = DEFAULT_NAMESPACE
    with contextlib.suppress(OSError):
        namespace = pathlib.Path(account_dir, "namespace").read_text(encoding="utf-8").strip() or namespace
    bracketed = f"[{host}]" if ":" in host else host  # net.JoinHostPort
    return _connection(f"https://{bracketed}:{port}", Tls(ca_file=ca), token, namespace, "in-cluster")


# -- kubeconfig


@dataclasses.dataclass(frozen=True, slots=True)
class _Entry:
    """A named cluster, user or context, with the directory its relative paths resolve against."""

    fields: Mapping[str, Any]
    directory: str


@dataclasses.dataclass(frozen=True, slots=True)
class _Merged:
    clusters: dict[str, _Entry]
    users: dict[str, _Entry]
    contexts: dict[str, _Entry]
    current_context: str
    source: str


def kubeconfig_paths(explicit: str | None, environ: Mapping[str, str]) -> tuple[list[str], bool]:
    """The files to read and whether each must exist: an explicit file must; of $KUBECONFIG's list, client-go
    skips the missing ones."""
    if explicit:
        return [os.path.expanduser(explicit)], True
    listed = [p for p in environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    if listed:
        return [os.path.expanduser(p) for p in listed], False
    return [os.path.expanduser("~/.kube/config")], True


def _mapping(value: Any, what: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{what} is not a mapping")
    return value


def _named(document: Mapping[str, Any], key: str, field: str, path: str) -> list[tuple[str, Mapping[str, Any]]]:
    items = document.get(key) or []
    if not isinstance(items, list):
        raise ConfigError(f"{path}: {key} is not a list")
    named = []
    for raw in items:
        item = _mapping(raw, f"{path}: an entry of {key}")
        name = item.get("name")
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{path}: an entry of {key} has no name")
        named.append((name, _mapping(item.get(field), f"{path}: {key} {name!r}")))
    return named


def merge_kubeconfigs(paths: list[str], must_exist: bool) -> _Merged:
    """client-go's merge: the first file to name a cluster, user or context (or a current-context) wins."""
    clusters: dict[str, _Entry] = {}
    users: dict[str, _Entry] = {}
    contexts: dict[str, _Entry] = {}
    current = ""
    read = []
    for path in paths:
        try:
            text = pathlib.Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            if must_exist:
                raise ConfigError(f"kubeconfig {path} does not exist") from None
            continue
        except OSError as exc:
            raise ConfigError(f"cannot read kubeconfig {path}: {exc.strerror}") from None
        try:
            document = _mapping(yaml.safe_load(text), f"kubeconfig {path}")
        except yaml.YAMLError as exc:
            raise ConfigError(f"kubeconfig {path} is not YAML: {' '.join(str(exc).split())}") from None
        directory = os.path.dirname(os.path.abspath(path))
        for key, field, into in (("clusters", "cluster", clusters), ("users", "user", users)):
            for name, fields in _named(document, key, field, path):
                into.setdefault(name, _Entry(fields, directory))
        for name, fields in _named(document, "contexts", "context", path):
            contexts.setdefault(name, _Entry(fields, directory))
        chosen = document.get("current-context")
        if not current and isinstance(chosen, str):
            current = chosen
        read.append(path)
    if not read:
        raise ConfigError(f"none of the kubeconfig files exists: {os.pathsep.join(paths)}")
    return _Merged(clusters, users, contexts, current, os.pathsep.join(read))


def _text(fields: Mapping[str, Any], key: str, where: str) -> str | None:
    value = fields.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{where}: {key} is not a string")
    return value


def _path(fields: Mapping[str, Any], key: str, entry: _Entry, where: str) -> str | None:
    value = _text(fields, key, where)
    return None if value is None else os.path.join(entry.directory, os.path.expanduser(value))


def _pem(fields: Mapping[str, Any], key: str, where: str) -> str | None:
    value = _text(fields, key, where)
    if value is None:
        return None
    try:  # Go's decoder, which kubectl uses, skips line breaks
        return base64.b64decode("".join(value.split()), validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError):
        raise ConfigError(f"{where}: {key} is not base64 PEM") from None


def from_kubeconfig(explicit: str | None, context: str | None, environ: Mapping[str, str]) -> Connection:
    merged = merge_kubeconfigs(*kubeconfig_paths(explicit, environ))
    name = context or merged.current_context
    if not name:
        raise ConfigError(f"{merged.source}: no current-context, and no --context given")
    chosen = merged.contexts.get(name)
    if chosen is None:
        raise ConfigError(f"{merged.source}: context {name!r} not found")
    where = f"context {name!r}"
    cluster_name = _text(chosen.fields, "cluster", where)
    cluster = merged.clusters.get(cluster_name or "")
    if cluster is None:
        raise ConfigError(f"{merged.source}: {where} names cluster {cluster_name!r}, which is not defined")
    user_name = _text(chosen.fields, "user", where)
    user = merged.users.get(user_name) if user_name else _Entry({}, cluster.directory)
    if user is None:
        raise ConfigError(f"{merged.source}: {where} names user {user_name!r}, which is not defined")
    namespace = _text(chosen.fields, "namespace", where) or DEFAULT_NAMESPACE
    if "auth-provider" in user.fields:
        return _from_kubernetes_package(explicit or environ.get("KUBECONFIG"), name, namespace, merged.source)

    c, cw = cluster.fields, f"cluster {cluster_name!r}"
    server = _text(c, "server", cw)
    if server is None:
        raise ConfigError(f"{merged.source}: {cw} has no server")
    insecure = c.get("insecure-skip-tls-verify") is True
    ca_data = _pem(c, "certificate-authority-data", cw)
    tls = Tls(
        ca_file=None if ca_data or insecure else _path(c, "certificate-authority", cluster, cw),
        ca_data=ca_data,
        insecure=insecure,
        server_name=_text(c, "tls-server-name", cw),
    )
    u, uw = user.fields, f"user {user_name!r}"
    credential: Credential
    if "exec" in u:
        plugin = ExecPlugin(_mapping(u["exec"], f"{uw}: exec"), user.directory, server, tls, environ)
        credential = plugin
        cert_data, key_data = plugin.client_certificate()
        tls = dataclasses.replace(tls, cert_data=cert_data, key_data=key_data)
    else:
        credential = _user_credential(u, user, uw)
        tls = dataclasses.replace(
            tls,
            cert_file=_path(u, "client-certificate", user, uw),
            key_file=_path(u, "client-key", user, uw),
            cert_data=_pem(u, "client-certificate-data", uw),
            key_data=_pem(u, "client-key-data", uw),
        )
    return _connection(server, tls, credential, namespace, merged.source)


def _user_credential(u: Mapping[str, Any], user: _Entry, where: str) -> Credential:
    # client-go: a token wins over a tokenFile; basic auth only when neither is set.
    token = _text(u, "token", where)
    if token:
        return StaticCredential(f"Bearer {token}")
    token_file = _path(u, "tokenFile", user, where)
    if token_file:
        return TokenFile(token_file)
    username, password = _text(u, "username", where), _text(u, "password", where)
    if username or password:
        return StaticCredential(basic_auth(username or "", password or ""))
    return StaticCredential(None)


class ExecPlugin(Credential):
    """A credential plugin (`aws eks get-token`, kubelogin): run without a terminal, its answer kept until it
    is within EXEC_REFRESH_MARGIN of expiry; one without an expiry is kept until a 401 reloads everything."""

    blocking = True

    def __init__(
        self, spec: Mapping[str, Any], directory: str, server: str, tls: Tls, environ: Mapping[str, str]
    ) -> None:
        where = "exec plugin"
        command = _text(spec, "command", where)
        if command is None:
            raise ConfigError(f"{where}: no command")
        self._api_version = _text(spec, "apiVersion", where) or ""
        if self._api_version not in EXEC_API_VERSIONS:
            raise ConfigError(f"{where}: apiVersion {self._api_version!r} is not one of {', '.join(EXEC_API_VERSIONS)}")
        if spec.get("interactiveMode") == "Always":
            raise ConfigError(f"{where}: interactiveMode Always needs a terminal, and the exporter has none")
        # client-go resolves a relative command that names a directory against the kubeconfig's (loader.go).
        if os.sep in command and not os.path.isabs(command):
            command = os.path.join(directory, command)
        args = spec.get("args") or []
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            raise ConfigError(f"{where}: args is not a list of strings")
        self._argv = [command, *args]
        env = dict(environ)
        for raw in spec.get("env") or []:
            item = _mapping(raw, f"{where}: an env entry")
            if isinstance(item.get("name"), str):
                env[item["name"]] = str(item.get("value") or "")
        info: dict[str, Any] = {"interactive": False}
        if spec.get("provideClusterInfo") is True:
            info["cluster"] = {
                "server": server,
                "tls-server-name": tls.server_name or "",
                "insecure-skip-tls-verify": tls.insecure,
                "certificate-authority-data": base64.b64encode(_ca_pem(tls).encode()).decode("ascii"),
            }
        env["KUBERNETES_EXEC_INFO"] = json.dumps(
            {"apiVersion": self._api_version, "kind": "ExecCredential", "spec": info}
        )
        self._env = env
        self._status: Mapping[str, Any] = {}
        self._expires: float | None = None
        self._lock = threading.Lock()
        self._run()

    def _run(self) -> None:
        try:
            done = subprocess.run(  # the kubeconfig's own command, as kubectl runs it
                self._argv,
                env=self._env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=EXEC_TIMEOUT,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ConfigError(f"exec plugin {self._argv[0]}: {exc}") from None
        if done.returncode != 0:
            tail = " ".join(done.stderr.decode("utf-8", "replace").split())[-300:]
            raise ConfigError(f"exec plugin {self._argv[0]} exited {done.returncode}: {tail}")
        try:
            answer = _mapping(json.loads(done.stdout), "exec plugin output")
        except ValueError:
            raise ConfigError(f"exec plugin {self._argv[0]} printed no ExecCredential") from None
        if answer.get("apiVersion") != self._api_version or answer.get("kind") != "ExecCredential":
            raise ConfigError(f"exec plugin {self._argv[0]} answered with another kind or apiVersion")
        status = _mapping(answer.get("status"), "exec plugin status")
        if not status.get("token") and not status.get("clientCertificateData"):
            raise ConfigError(f"exec plugin {self._argv[0]} gave neither a token nor a client certificate")
        self._status = status
        self._expires = _expiry(status.get("expirationTimestamp"))

    def client_certificate(self) -> tuple[str | None, str | None]:
        cert, key = self._status.get("clientCertificateData"), self._status.get("clientKeyData")
        return (cert if isinstance(cert, str) else None), (key if isinstance(key, str) else None)

    def header(self) -> str | None:
        with self._lock:
            if self._expires is not None and self._expires - time.time() < EXEC_REFRESH_MARGIN:
                try:
                    self._run()
                except ConfigError as exc:  # the old token may still pass; a 401 reloads everything
                    log.warning("event=exec_plugin_refresh_failed reason=%s", logfmt_value(str(exc)))
            token = self._status.get("token")
            return f"Bearer {token}" if isinstance(token, str) and token else None


def _expiry(value: Any) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise ConfigError(f"exec plugin: expirationTimestamp {value[:40]!r} is not RFC 3339") from None


def _ca_pem(tls: Tls) -> str:
    if tls.ca_data:
        return tls.ca_data
    if tls.ca_file:
        try:
            return pathlib.Path(tls.ca_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read certificate-authority {tls.ca_file}: {exc.strerror}") from None
    return ""


# -- the kubernetes package, for auth providers only


class _PackageCredential(Credential):
    """A kubernetes.client.Configuration's token: its refresh hook (when it has one) re-runs the provider."""

    def __init__(self, cfg: Any) -> None:
        self._cfg = cfg
        self.blocking = cfg.refresh_api_key_hook is not None

    def header(self) -> str | None:
        if self._cfg.refresh_api_key_hook is not None:
            self._cfg.refresh_api_key_hook(self._cfg)
        # kubernetes 36 keeps kubeconfig tokens under api_key['BearerToken'], scheme included; older releases
        # under 'authorization' with an api_key_prefix.
        for ident in ("BearerToken", "authorization"):
            key = self._cfg.api_key.get(ident)
            if key:
                prefix = self._cfg.api_key_prefix.get(ident)
                return f"{prefix} {key}" if prefix else str(key)
        return None


def _from_kubernetes_package(paths: str | None, context: str, namespace: str, source: str) -> Connection:
    from kubernetes import client, config  # noqa: PLC0415 (58 MiB: only for the auth providers)

    cfg = client.Configuration()
    path = paths or "~/.kube/config"
    try:
        config.load_kube_config(config_file=path, context=context, client_configuration=cfg, persist_config=False)
    except config.ConfigException as exc:
        raise ConfigError(" ".join(str(exc).split())) from None
    tls = Tls(
        ca_file=cfg.ssl_ca_cert or None,
        cert_file=cfg.cert_file or None,
        key_file=cfg.key_file or None,
        insecure=not cfg.verify_ssl,
        server_name=getattr(cfg, "tls_server_name", None) or None,
    )
    return _connection(str(cfg.host), tls, _PackageCredential(cfg), namespace, source)


def load(kubeconfig: str | None, context: str | None, environ: Mapping[str, str] | None = None) -> Connection:
    """In-cluster when the pod's environment says so and no kubeconfig is named, else the kubeconfig."""
    env = os.environ if environ is None else environ
    if kubeconfig is None:
        try:
            inside = in_cluster(env)
        except ConfigError as exc:
            log.info("event=in_cluster_config_unavailable reason=%s", logfmt_value(str(exc)))
        else:
            if inside is not None:
                return inside
    return from_kubeconfig(kubeconfig, context, env)
