"""A small HTTP proxy in front of moto that counts every AWS call and injects faults at the wire.

It sees what AWS would see: the service and region from the request's SigV4 credential scope, the operation from
the request itself, the bucket from a path-style S3 URL. A fault answers matching requests the way AWS does
(S3's XML error, EC2's and STS's query-protocol error) or drops the connection (an unreachable endpoint). It
runs its own event loop in a thread, so synchronous boto3 code anywhere in the process can go through it.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

import aiohttp
from aiohttp import web

_SCOPE = re.compile(r"Credential=[^/]+/[0-9]{8}/([^/]+)/([^/]+)/aws4_request")
_RPC_OPERATION = re.compile(r"/operation/([A-Za-z0-9]+)$")
# Not forwarded either way: aiohttp sets them for the hop it makes.
_HOP_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection", "keep-alive", "expect"})


@dataclass(slots=True, frozen=True)
class Call:
    """One request as AWS would see it."""

    service: str
    region: str
    operation: str
    bucket: str
    params: dict[str, str]  # query-protocol parameters (EC2, STS), or the S3 query string


@dataclass(slots=True)
class Fault:
    """Answer matching requests with an AWS error (status and code), or with `body` as it is (a response AWS
    would never send), or drop them (status None); or, with `rewrite`, forward them and pass moto's answer
    through it (a state AWS reaches and moto never does, such as a snapshot that failed after it was taken)."""

    status: int | None
    code: str = ""
    body: bytes | None = None
    rewrite: Callable[[bytes], bytes] | None = None
    message: str = "injected by the fault proxy"
    service: str | None = None
    region: str | None = None
    bucket: str | None = None
    operation: str | None = None
    times: int | None = None  # None: until cleared
    hits: int = 0

    def matches(self, call: Call) -> bool:
        wanted = (
            (self.service, call.service),
            (self.region, call.region),
            (self.bucket, call.bucket),
            (self.operation, call.operation),
        )
        return all(want is None or want == got for want, got in wanted) and (
            self.times is None or self.hits < self.times
        )


# A bucket's configurations, read with GET on the bucket and a sub-resource in the query string.
_S3_BUCKET_READS = {
    "versioning": "GetBucketVersioning",
    "object-lock": "GetObjectLockConfiguration",
    "encryption": "GetBucketEncryption",
    "publicAccessBlock": "GetPublicAccessBlock",
    "replication": "GetBucketReplication",
    "lifecycle": "GetBucketLifecycleConfiguration",
}


def _s3_operation(method: str, bucket: str, key: str, query: dict[str, str]) -> str:
    if method == "GET" and not key:
        if not bucket:
            return "ListBuckets"
        for resource, operation in _S3_BUCKET_READS.items():
            if resource in query:
                return operation
        if "versions" in query:
            return "ListObjectVersions"
        return "ListObjectsV2" if query.get("list-type") == "2" else "ListObjects"
    by_method = {"GET": "GetObject", "HEAD": "HeadObject", "PUT": "PutObject", "DELETE": "DeleteObject"}
    if not key:
        by_method = {"PUT": "CreateBucket", "HEAD": "HeadBucket", "DELETE": "DeleteBucket"}
    return by_method.get(method, f"S3{method.title()}")


def describe(method: str, path_qs: str, headers: dict[str, str], body: bytes) -> Call:
    scope = _SCOPE.search(headers.get("Authorization", ""))
    region, service = scope.groups() if scope else ("", "")
    url = urlsplit(path_qs)
    query = dict(parse_qsl(url.query, keep_blank_values=True))
    if service == "s3":
        bucket, _, key = unquote(url.path).lstrip("/").partition("/")
        return Call(service, region, _s3_operation(method, bucket, key, query), bucket, query)
    params = query
    if headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
        params = {**query, **dict(parse_qsl(body.decode(), keep_blank_values=True))}
    operation = params.get("Action", "")
    if target := headers.get("X-Amz-Target"):
        operation = target.rpartition(".")[2]
    elif rpc := _RPC_OPERATION.search(url.path):
        operation = rpc.group(1)
    return Call(service, region, operation, "", params)


def error_body(call: Call, code: str, message: str) -> tuple[str, bytes]:
    if call.service == "s3":
        xml = f"<Error><Code>{code}</Code><Message>{message}</Message><RequestId>fault-proxy</RequestId></Error>"
    elif call.service == "ec2":
        xml = (
            f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors>"
            "<RequestID>fault-proxy</RequestID></Response>"
        )
    elif "Action" in call.params:  # the other query-protocol services (STS)
        xml = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
            "<RequestId>fault-proxy</RequestId></ErrorResponse>"
        )
    else:
        raise ValueError(f"the fault proxy cannot spell an error of {call.service} {call.operation}")
    return "application/xml", f'<?xml version="1.0" encoding="UTF-8"?>\n{xml}'.encode()


@dataclass
class FaultProxy:
    upstream: str
    calls: list[Call] = field(default_factory=list)
    _faults: list[Fault] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _runner: web.AppRunner | None = None
    _session: aiohttp.ClientSession | None = None
    url: str = ""

    # --- control, from any thread -----------------------------------------------------------------------

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def reset_calls(self) -> None:
        with self._lock:
            self.calls.clear()

    def count(self, predicate: Callable[[Call], bool] = lambda c: True) -> int:
        with self._lock:
            return sum(1 for c in self.calls if predicate(c))

    def recorded(self) -> list[Call]:
        with self._lock:
            return list(self.calls)

    # --- the server ---------------------------------------------------------------------------------------

    def start(self) -> str:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, args=(ready,), daemon=True, name="fault-proxy")
        self._thread.start()
        ready.wait(10)
        return self.url

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def _serve(self, ready: threading.Event) -> None:
        assert self._loop is not None
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._startup())
        ready.set()
        self._loop.run_forever()

    async def _startup(self) -> None:
        self._session = aiohttp.ClientSession(auto_decompress=False)
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        call = describe(request.method, request.path_qs, dict(request.headers), body)
        with self._lock:
            self.calls.append(call)
            fault = next((f for f in self._faults if f.matches(call)), None)
            if fault is not None:
                fault.hits += 1
        if fault is not None and fault.rewrite is None:
            if fault.status is None:
                # An endpoint that cannot be reached: the connection ends without an answer.
                assert request.transport is not None
                request.transport.abort()
                raise web.HTTPServiceUnavailable()  # never sent: the transport is gone
            content_type, payload = (
                ("application/xml", fault.body)
                if fault.body is not None
                else (error_body(call, fault.code, fault.message))
            )
            return web.Response(status=fault.status, body=payload, headers={"Content-Type": content_type})
        assert self._session is not None
        async with self._session.request(
            request.method, f"{self.upstream}{request.path_qs}", headers=headers, data=body
        ) as upstream:
            payload = await upstream.read()
            reply = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_HEADERS}
            if fault is not None and fault.rewrite is not None:
                payload = fault.rewrite(payload)
            return web.Response(status=upstream.status, body=payload, headers=reply)
