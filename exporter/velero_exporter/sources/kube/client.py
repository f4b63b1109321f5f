"""A small asyncio client for the Kubernetes API: list and watch of a resource (in one namespace, or across the
cluster: namespace None), and get of one object.

A resource is named by its group-version path and plural: "/apis/velero.io/v1" and "backups", "/api/v1" and
"pods" (the core group), "/apis/storage.k8s.io/v1" and "storageclasses".

Configuration and credentials come from `credentials` (kubeconfig, in-cluster, exec plugins); requests go over
aiohttp. A credential that expires refreshes itself (an exec plugin re-runs near its `expirationTimestamp`, the
projected service-account token is re-read every minute). An exec credential without an expiry is never
refreshed that way, so a 401 reloads the whole configuration (which re-runs the plugin) and retries the request
once, as client-go does.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import logging
import time
from collections.abc import AsyncGenerator, Callable, Mapping
from types import SimpleNamespace
from typing import Any

import aiohttp

from velero_exporter.config.settings import DEFAULT_LIMITS
from velero_exporter.logs import logfmt_value
from velero_exporter.sources.kube import credentials
from velero_exporter.sources.kube.credentials import Connection
from velero_exporter.state import vocabulary
from velero_exporter.state.collector_pause import collector_paused
from velero_exporter.state.vocabulary import ErrorKind

log = logging.getLogger("velero_exporter.kube")


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


def decode_object(body: bytes, what: str) -> dict[str, Any]:
    """A JSON object from a response body; anything else is a bad_response."""
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise KubeError("bad_response", f"{what}: undecodable JSON") from exc
    if not isinstance(data, dict):
        raise KubeError("bad_response", f"{what}: not an object")
    return data


def decode_list(body: bytes, plural: str) -> dict[str, Any]:
    """A list page from its body: an object whose items (when present) are a list."""
    data = decode_object(body, f"list {plural}")
    if not isinstance(data.get("items", []), list):
        raise KubeError("bad_response", f"list {plural}: not a list object")
    return data


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


class KubeClient:
    """List and watch resources, get one object; every call has a timeout and failures raise KubeError."""

    def __init__(
        self,
        connection: Connection,
        *,
        reload: Callable[[], Connection] | None = None,
        connect_timeout: float = 10.0,
        request_timeout: float = 60.0,
        max_list_bytes: int = DEFAULT_LIMITS.list_page_bytes,
        max_event_bytes: int = DEFAULT_LIMITS.watch_event_bytes,
    ) -> None:
        """`reload` (blocking) is called on a 401 to fetch fresh credentials. A list page (decompressed) or a
        watch event longer than its cap is a `bad_response`: a broken or hostile server, and reading on would
        only grow the memory."""
        self._connection = connection
        self._reload = reload
        self.namespace = connection.namespace
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

        def load() -> Connection:
            return credentials.load(kubeconfig, context)

        try:
            connection = await asyncio.to_thread(load)
        except (OSError, ValueError) as exc:  # credentials.ConfigError is a ValueError, ssl.SSLError an OSError
            raise KubeError("no_credentials", " ".join(str(exc).split())) from None
        log.info(
            "event=kube_config_loaded source=%s host=%s namespace=%s",
            logfmt_value(connection.source),
            connection.host,
            connection.namespace,
        )
        return cls(connection, reload=load, **caps)

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
            credential = self._connection.credential
            try:
                if not credential.blocking:
                    return credential.header()
                # May run an exec plugin or read a token file: keep it off the event loop.
                return await asyncio.to_thread(credential.header)
            except Exception as exc:
                log.warning("event=credential_refresh_failed error=%s", type(exc).__name__)
                return None

    async def _reload_credentials(self) -> bool:
        if self._reload is None:
            return False
        async with self._auth_lock:
            try:
                self._connection = await asyncio.to_thread(self._reload)
            except Exception as exc:
                log.warning("event=credential_reload_failed error=%s", type(exc).__name__)
                return False
        log.info("event=credentials_reloaded reason=unauthorized")
        return True

    def _url(self, group_version_path: str, namespace: str | None, plural: str, name: str | None = None) -> str:
        """A collection (or one object of it) in a namespace; namespace None: cluster-scoped, or all namespaces."""
        scope = "" if namespace is None else f"/namespaces/{namespace}"
        tail = "" if name is None else f"/{name}"
        return f"{self._connection.host}{group_version_path.rstrip('/')}{scope}/{plural}{tail}"

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
                        ssl=self._connection.ssl_context if self._connection.ssl_context is not None else True,
                        server_hostname=self._connection.server_hostname,
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

    async def list_body(
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
    ) -> bytes:
        """One page of a list as it came, for `decode_list`: the caller follows metadata.continue, and keeps the
        collector paused from the page's decoding to its release (the reflector). `sent` is set once the request
        has left: the server is working on it."""
        params = {"limit": str(limit)}
        if continue_token:
            params["continue"] = continue_token
        if resource_version is not None:
            params["resourceVersion"] = resource_version
        url = self._url(group_version_path, namespace, plural)
        return await self._read_body(url, params, f"list {plural}", timeout, sent)

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

    async def _read_json(self, url: str, params: Mapping[str, str], what: str, seconds: float) -> dict[str, Any]:
        body = await self._read_body(url, params, what, seconds)
        with collector_paused():
            return decode_object(body, what)

    async def _read_body(
        self, url: str, params: Mapping[str, str], what: str, seconds: float, sent: asyncio.Event | None = None
    ) -> bytes:
        client_timeout = aiohttp.ClientTimeout(total=seconds, connect=self.connect_timeout)
        try:
            async with asyncio.timeout(seconds):
                resp = await self._open(url, params, client_timeout, seconds, sent)
                try:
                    return await self._read_capped(resp, what)
                finally:
                    resp.release()
        except TimeoutError as exc:
            raise KubeError("timeout", f"{what} took longer than {seconds:g}s") from exc
        except aiohttp.ClientPayloadError as exc:
            raise KubeError("unreachable", f"{what}: body cut: {exc}") from exc
        except aiohttp.ClientError as exc:
            raise KubeError("unreachable", f"{what}: {type(exc).__name__}: {exc}") from exc

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
