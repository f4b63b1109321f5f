"""A small asyncio client for the Kubernetes API: list and watch of a resource (in one namespace, or across the
cluster: namespace None), and get of one object.

A resource is named by its group-version path and plural: "/apis/velero.io/v1" and "backups", "/api/v1" and
"pods" (the core group), "/apis/storage.k8s.io/v1" and "storageclasses".

The `kubernetes` package is used only to load configuration and credentials (kubeconfig, in-cluster, exec
plugins); requests go over aiohttp. Credentials that expire are refreshed through the Configuration's
`refresh_api_key_hook`, which kubernetes 36 installs for tokens: for an exec plugin it re-runs the plugin when
the credential's `expirationTimestamp` is within five minutes, for in-cluster it re-reads the projected
service-account token every minute. An exec credential without an expiry is never refreshed by the hook,
so a 401 reloads the whole configuration (which re-runs the plugin) and retries the request once, as client-go
does.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import logging
import os
import ssl
import time
from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Final

import aiohttp
from kubernetes import client as kube_client_module
from kubernetes import config as kube_config

from velero_exporter.config.settings import DEFAULT_LIMITS
from velero_exporter.logs import logfmt_value
from velero_exporter.state import vocabulary
from velero_exporter.state.collector_pause import collector_paused
from velero_exporter.state.vocabulary import ErrorKind

log = logging.getLogger("velero_exporter.kube")


DEFAULT_NAMESPACE: Final = "velero"
IN_CLUSTER_NAMESPACE_FILE: Final = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"


class KubeError(Exception):
    """A failed API call, classified by `kind` for health metrics and retries."""

    def __init__(
        self, kind: ErrorKind, reason: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(f"{kind}: {reason}" if status is None else f"{kind} (HTTP {status}): {reason}")
        self.kind = kind
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


def kind_for_status(status: int) -> ErrorKind:
    # Any other status is not what a conforming API server answers a list or a watch with.
    return vocabulary.kind_for_status(status, "bad_response")


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds (delta-seconds or an HTTP date); None when absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass(frozen=True, slots=True)
class _Settings:
    """What a request needs from the kubernetes Configuration (credentials excluded: they may rotate)."""

    host: str
    ssl_context: ssl.SSLContext | None
    server_hostname: str | None


def _settings(cfg: Any) -> _Settings:
    host = str(cfg.host).rstrip("/")
    ctx: ssl.SSLContext | None = None
    if host.startswith("https"):
        ctx = ssl.create_default_context(cafile=cfg.ssl_ca_cert or None)
        if cfg.cert_file:
            ctx.load_cert_chain(cfg.cert_file, cfg.key_file or None)
        if not cfg.verify_ssl:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        elif getattr(cfg, "assert_hostname", None) is False:
            ctx.check_hostname = False
    return _Settings(host=host, ssl_context=ctx, server_hostname=getattr(cfg, "tls_server_name", None) or None)


def _authorization(cfg: Any) -> str | None:
    """The Authorization header from a Configuration whose refresh hook has just run.

    Read directly rather than through auth_settings(), which would run the (possibly blocking) hook again.
    kubernetes 36 stores kubeconfig tokens (and basic auth) under api_key['BearerToken'] with the scheme
    included; older code used 'authorization' plus an api_key_prefix.
    """
    for ident in ("BearerToken", "authorization"):
        key = cfg.api_key.get(ident)
        if key:
            prefix = cfg.api_key_prefix.get(ident)
            return f"{prefix} {key}" if prefix else str(key)
    if cfg.username or cfg.password:
        return str(aiohttp.BasicAuth(cfg.username or "", cfg.password or "").encode())
    return None


@dataclass(frozen=True, slots=True)
class _Loaded:
    cfg: Any  # kubernetes.client.Configuration
    namespace: str
    source: str  # "in-cluster" or the kubeconfig path, for logs


def _load(kubeconfig: str | None, context: str | None) -> _Loaded:
    """Blocking: load configuration and credentials the way kubectl would find them."""
    if kubeconfig is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
        cfg = kube_client_module.Configuration()
        try:
            kube_config.load_incluster_config(client_configuration=cfg)
        except kube_config.ConfigException as exc:
            log.info("event=in_cluster_config_unavailable reason=%s", logfmt_value(str(exc)))
        else:
            namespace = DEFAULT_NAMESPACE
            with contextlib.suppress(OSError), open(IN_CLUSTER_NAMESPACE_FILE, encoding="utf-8") as f:
                namespace = f.read().strip() or DEFAULT_NAMESPACE
            return _Loaded(cfg, namespace, "in-cluster")
    path = kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
    cfg = kube_client_module.Configuration()
    kube_config.load_kube_config(config_file=path, context=context, client_configuration=cfg, persist_config=False)
    contexts, active = kube_config.list_kube_config_contexts(config_file=path)
    chosen = active
    if context is not None:
        chosen = next((c for c in contexts if c.get("name") == context), active)
    namespace = ((chosen or {}).get("context") or {}).get("namespace") or DEFAULT_NAMESPACE
    return _Loaded(cfg, str(namespace), path)


class KubeClient:
    """List and watch resources, get one object; every call has a timeout and failures raise KubeError."""

    def __init__(
        self,
        cfg: Any,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        reload: Any = None,
        connect_timeout: float = 10.0,
        request_timeout: float = 60.0,
        max_list_bytes: int = DEFAULT_LIMITS.list_page_bytes,
        max_event_bytes: int = DEFAULT_LIMITS.watch_event_bytes,
    ) -> None:
        """`cfg` is a loaded kubernetes.client.Configuration; `reload` (blocking, returns a new one) is
        called on a 401 to fetch fresh credentials. A list page (decompressed) or a watch event longer than
        its cap is a `bad_response`: a broken or hostile server, and reading on would only grow the memory."""
        self._cfg = cfg
        self._settings = _settings(cfg)
        self._reload = reload
        self.namespace = namespace
        self.connect_timeout = connect_timeout
        self.request_timeout = request_timeout
        self.max_list_bytes = max_list_bytes
        self.max_event_bytes = max_event_bytes
        self._auth_lock = asyncio.Lock()
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    async def from_config(cls, kubeconfig: str | None = None, context: str | None = None, **caps: int) -> KubeClient:
        """`caps`: max_list_bytes, max_event_bytes. A configuration that cannot be loaded is a KubeError of kind
        no_credentials, its reason one line."""
        try:
            loaded = await asyncio.to_thread(_load, kubeconfig, context)
        except (kube_config.ConfigException, OSError, ValueError) as exc:
            raise KubeError("no_credentials", " ".join(str(exc).split())) from None

        def reload() -> Any:
            return _load(kubeconfig, context).cfg

        log.info(
            "event=kube_config_loaded source=%s host=%s namespace=%s",
            logfmt_value(loaded.source),
            loaded.cfg.host,
            loaded.namespace,
        )
        return cls(loaded.cfg, namespace=loaded.namespace, reload=reload, **caps)

    def _client_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=32, enable_cleanup_closed=True),
                headers={"Accept": "application/json", "User-Agent": "velero-exporter"},
                auto_decompress=True,
                trace_configs=[_sent_trace()],
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _authorization(self) -> str | None:
        async with self._auth_lock:
            hook = self._cfg.refresh_api_key_hook
            if hook is not None:
                # May run an exec plugin or read a token file: keep it off the event loop.
                try:
                    await asyncio.to_thread(hook, self._cfg)
                except Exception as exc:
                    log.warning("event=credential_refresh_failed error=%s", type(exc).__name__)
            return _authorization(self._cfg)

    async def _reload_credentials(self) -> bool:
        if self._reload is None:
            return False
        async with self._auth_lock:
            try:
                cfg = await asyncio.to_thread(self._reload)
            except Exception as exc:
                log.warning("event=credential_reload_failed error=%s", type(exc).__name__)
                return False
            self._cfg = cfg
            self._settings = _settings(cfg)
        log.info("event=credentials_reloaded reason=unauthorized")
        return True

    def _url(self, group_version_path: str, namespace: str | None, plural: str, name: str | None = None) -> str:
        """A collection (or one object of it) in a namespace; namespace None: cluster-scoped, or all namespaces."""
        scope = "" if namespace is None else f"/namespaces/{namespace}"
        tail = "" if name is None else f"/{name}"
        return f"{self._settings.host}{group_version_path.rstrip('/')}{scope}/{plural}{tail}"

    async def _open(
        self,
        url: str,
        params: Mapping[str, str],
        client_timeout: aiohttp.ClientTimeout,
        header_timeout: float,
        sent: asyncio.Event | None = None,
    ) -> aiohttp.ClientResponse:
        """Send a GET and return a 200 response (the caller releases it); anything else raises KubeError. `sent`
        is set once the request has left."""
        session = self._client_session()
        for attempt in (1, 2):
            headers: dict[str, str] = {}
            auth = await self._authorization()
            if auth:
                headers["Authorization"] = auth
            try:
                async with asyncio.timeout(header_timeout):
                    resp = await session.get(
                        url,
                        params=params,
                        headers=headers,
                        timeout=client_timeout,
                        ssl=self._settings.ssl_context if self._settings.ssl_context is not None else True,
                        server_hostname=self._settings.server_hostname,
                        allow_redirects=False,
                        trace_request_ctx=sent,
                    )
            except TimeoutError as exc:
                raise KubeError("timeout", f"no response within {header_timeout:g}s") from exc
            except aiohttp.ClientSSLError as exc:
                raise KubeError("unreachable", f"TLS: {exc}") from exc
            except aiohttp.ClientError as exc:
                raise KubeError("unreachable", f"{type(exc).__name__}: {exc}") from exc
            if resp.status == 200:
                return resp
            try:
                error = await self._status_error(resp, min(header_timeout, 10.0))
            finally:
                resp.release()
            if error.kind == "unauthorized" and attempt == 1 and await self._reload_credentials():
                continue
            raise error
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    async def _status_error(resp: aiohttp.ClientResponse, read_timeout: float) -> KubeError:
        """Build a KubeError from a non-200 response, using the Status object's message when there is one."""
        reason = resp.reason or str(resp.status)
        with contextlib.suppress(Exception):
            async with asyncio.timeout(read_timeout):
                body = await resp.content.read(64 * 1024)
            status_obj = json.loads(body)
            if isinstance(status_obj, dict):
                reason = str(status_obj.get("message") or status_obj.get("reason") or reason)
        return KubeError(
            kind_for_status(resp.status),
            reason[:500],
            status=resp.status,
            retry_after=parse_retry_after(resp.headers.get("Retry-After")),
        )

    async def list(
        self,
        group_version_path: str,
        namespace: str | None,
        plural: str,
        *,
        limit: int,
        continue_token: str | None,
        resource_version: str | None = None,
        timeout: float = 60,  # noqa: ASYNC109 (the agreed interface; enforced with asyncio.timeout)
        sent: asyncio.Event | None = None,
    ) -> dict[str, Any]:
        """One page of a list; the caller follows metadata.continue. `sent` is set once the request has left: the
        server is working on it."""
        params = {"limit": str(limit)}
        if continue_token:
            params["continue"] = continue_token
        if resource_version is not None:
            params["resourceVersion"] = resource_version
        data = await self._read_json(
            self._url(group_version_path, namespace, plural), params, f"list {plural}", timeout, sent
        )
        if not isinstance(data.get("items", []), list):
            raise KubeError("bad_response", f"list {plural}: not a list object")
        return data

    async def get(
        self,
        group_version_path: str,
        namespace: str | None,
        plural: str,
        name: str,
        *,
        timeout: float = 30,  # noqa: ASYNC109 (as for list)
    ) -> dict[str, Any]:
        """One object; a missing one raises KubeError of kind not_found."""
        url = self._url(group_version_path, namespace, plural, name)
        return await self._read_json(url, {}, f"get {plural}/{name}", timeout)

    async def _read_json(
        self, url: str, params: Mapping[str, str], what: str, seconds: float, sent: asyncio.Event | None = None
    ) -> dict[str, Any]:
        client_timeout = aiohttp.ClientTimeout(total=seconds, connect=self.connect_timeout)
        try:
            async with asyncio.timeout(seconds):
                resp = await self._open(url, params, client_timeout, seconds, sent)
                try:
                    body = await self._read_capped(resp, what)
                finally:
                    resp.release()
        except TimeoutError as exc:
            raise KubeError("timeout", f"{what} took longer than {seconds:g}s") from exc
        except aiohttp.ClientPayloadError as exc:
            raise KubeError("unreachable", f"{what}: body cut: {exc}") from exc
        except aiohttp.ClientError as exc:
            raise KubeError("unreachable", f"{what}: {type(exc).__name__}: {exc}") from exc
        try:
            with collector_paused():  # a page of thousands of containers, none of them garbage
                data = json.loads(body)
        except ValueError as exc:
            raise KubeError("bad_response", f"{what}: undecodable JSON") from exc
        if not isinstance(data, dict):
            raise KubeError("bad_response", f"{what}: not an object")
        return data

    async def _read_capped(self, resp: aiohttp.ClientResponse, what: str) -> bytes:
        """The body as it arrives (aiohttp decompresses it in bounded steps), stopped past max_list_bytes."""
        body = bytearray()
        async for chunk in resp.content.iter_any():
            body += chunk
            if len(body) > self.max_list_bytes:
                raise KubeError("bad_response", f"{what}: page larger than {self.max_list_bytes} bytes")
        return bytes(body)

    def watch(
        self,
        group_version_path: str,
        namespace: str | None,
        plural: str,
        *,
        resource_version: str,
        timeout_seconds: int,
        inactivity_timeout: float,
        on_open: Callable[[], None] | None = None,
    ) -> AsyncGenerator[dict[str, Any], None]:
        """Events {"type", "object"} of one watch request, until the server ends it (normally after
        timeout_seconds). Close the generator (contextlib.aclosing) to release the connection early.
        `on_open` is called once the server has accepted the watch (200), before any event."""
        params = {
            "watch": "1",
            "allowWatchBookmarks": "true",
            "resourceVersion": resource_version,
            "timeoutSeconds": str(timeout_seconds),
        }
        url = self._url(group_version_path, namespace, plural)
        return self._watch(url, params, plural, inactivity_timeout, on_open)

    async def _watch(
        self,
        url: str,
        params: Mapping[str, str],
        plural: str,
        inactivity_timeout: float,
        on_open: Callable[[], None] | None,
    ) -> AsyncGenerator[dict[str, Any], None]:
        client_timeout = aiohttp.ClientTimeout(total=None, connect=self.connect_timeout, sock_read=None)
        resp = await self._open(url, params, client_timeout, max(self.request_timeout, inactivity_timeout))
        try:
            if on_open is not None:
                on_open()
            buffer = bytearray()
            while True:
                newline = buffer.find(b"\n")
                if newline >= 0:
                    line = bytes(buffer[:newline]).strip()
                    del buffer[: newline + 1]
                    if line:
                        yield _decode_event(line, plural)
                    continue
                if len(buffer) > self.max_event_bytes:
                    raise KubeError("bad_response", f"watch {plural}: event larger than {self.max_event_bytes} bytes")
                try:
                    async with asyncio.timeout(inactivity_timeout):
                        chunk = await resp.content.readany()
                except TimeoutError as exc:
                    raise KubeError("timeout", f"watch {plural}: nothing received for {inactivity_timeout:g}s") from exc
                except aiohttp.ClientPayloadError as exc:
                    raise KubeError("unreachable", f"watch {plural}: stream cut: {exc}") from exc
                except aiohttp.ClientError as exc:
                    raise KubeError("unreachable", f"watch {plural}: {type(exc).__name__}: {exc}") from exc
                if not chunk:  # end of stream
                    if buffer.strip():
                        raise KubeError("bad_response", f"watch {plural}: stream ended inside an event")
                    return
                buffer += chunk
        finally:
            resp.close()  # never reuse a watch connection: it may still be streaming


def _decode_event(line: bytes, plural: str) -> dict[str, Any]:
    try:
        event = json.loads(line)
    except ValueError as exc:
        raise KubeError("bad_response", f"watch {plural}: undecodable event") from exc
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        raise KubeError("bad_response", f"watch {plural}: event without a type")
    if not isinstance(event.get("object"), dict):
        raise KubeError("bad_response", f"watch {plural}: event without an object")
    return event


def _sent_trace() -> aiohttp.TraceConfig:
    """Sets the Event a request carries as its trace context once its headers have left (a GET has no body)."""

    async def headers_sent(
        session: aiohttp.ClientSession, context: SimpleNamespace, params: aiohttp.TraceRequestHeadersSentParams
    ) -> None:
        sent = context.trace_request_ctx
        if isinstance(sent, asyncio.Event):
            sent.set()

    trace = aiohttp.TraceConfig()
    trace.on_request_headers_sent.append(headers_sent)
    return trace
