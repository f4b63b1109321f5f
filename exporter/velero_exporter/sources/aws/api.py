"""Every call to AWS goes through AwsApi: clients, credentials, timeouts, retries and the accounting of each call.

boto3 blocks, so each call runs in a worker thread. botocore's own retries are off (one attempt per call) and
the retry loop is here, so that every attempt is counted as an API call and every throttled or failed attempt as
an error of its kind, even when a later attempt succeeds.

Credentials come from boto3's standard chain (environment, profiles, web identity for IRSA, instance metadata);
AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE> apply as in any boto3 program. A target may name a role, which is
assumed through STS (counted like any call) and re-assumed before its credentials expire.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.exceptions
import botocore.parsers
from botocore import xform_name
from botocore.config import Config as BotocoreConfig

from velero_exporter.config.settings import AwsConfig
from velero_exporter.state.store import SourceHealth, TargetHealth
from velero_exporter.state.vocabulary import ErrorKind, kind_for_status

log = logging.getLogger("velero_exporter.aws")

# Error codes by kind (S3, EC2, CloudWatch and STS spell some of them differently).
_CODE_KINDS: dict[str, ErrorKind] = {
    **dict.fromkeys(
        (
            "SlowDown",
            "Throttling",
            "ThrottlingException",
            "ThrottledException",
            "RequestLimitExceeded",
            "RequestThrottled",
            "RequestThrottledException",
            "TooManyRequestsException",
            "BandwidthLimitExceeded",
        ),
        "throttled",
    ),
    # A call the identity's policy or the bucket's policy denies: one kind for AWS and Kubernetes (a 403).
    **dict.fromkeys(
        ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AllAccessDisabled", "AccountProblem"),
        "forbidden",
    ),
    **dict.fromkeys(
        (
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
            "AuthFailure",
            "ExpiredToken",
            "ExpiredTokenException",
            "RequestExpired",
            "InvalidClientTokenId",
            "UnrecognizedClientException",
        ),
        "unauthorized",
    ),
    **dict.fromkeys(("NoSuchBucket", "NoSuchKey", "NotFound", "404"), "not_found"),
}
# Worth another attempt: the next one may well succeed.
RETRYABLE_KINDS: frozenset[ErrorKind] = frozenset({"throttled", "server_error", "timeout", "unreachable"})
# A response body is read whole in the worker thread; velero-backup.json is a few kilobytes.
MAX_BODY_BYTES = 4 * 1024 * 1024
# Assumed-role credentials are renewed this long before they expire.
ROLE_RENEWAL_MARGIN = 300.0


class AwsError(Exception):
    """A call that failed for good, classified by kind (the health metrics' `kind` label)."""

    def __init__(self, kind: ErrorKind, operation: str, detail: str) -> None:
        super().__init__(f"{operation}: {kind}: {detail}")
        self.kind = kind
        self.operation = operation


def error_code(exc: BaseException) -> str | None:
    """The AWS error code of a ClientError (such as NoSuchLifecycleConfiguration); None for anything else."""
    if isinstance(exc, botocore.exceptions.ClientError):
        return str(exc.response.get("Error", {}).get("Code", "")) or None
    return None


def error_kind(exc: BaseException) -> ErrorKind | None:
    """The kind of a botocore failure; None for anything else (a bug, which is not swallowed)."""
    if isinstance(exc, botocore.exceptions.NoCredentialsError | botocore.exceptions.PartialCredentialsError):
        return "no_credentials"
    if isinstance(exc, botocore.exceptions.ConnectTimeoutError | botocore.exceptions.ReadTimeoutError):
        return "timeout"
    if isinstance(exc, botocore.exceptions.EndpointConnectionError | botocore.exceptions.ConnectionClosedError):
        return "unreachable"
    if isinstance(exc, botocore.exceptions.ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code in _CODE_KINDS:
            return _CODE_KINDS[code]
        return kind_for_status(status, "client_error")
    if isinstance(exc, botocore.exceptions.HTTPClientError):
        return "unreachable"
    if isinstance(exc, botocore.parsers.ResponseParserError):
        return "bad_response"
    return None


@dataclass(slots=True, frozen=True)
class Where:
    """Which client a call needs: service, region, endpoint and identity."""

    service: str
    region: str
    endpoint_url: str = ""  # "" for boto3's own choice (AWS, or AWS_ENDPOINT_URL)
    role_arn: str | None = None


class AwsClients:
    """One boto3 session and its clients, shared by every AWS source: a session holds its own copy of each
    service model it loads (EC2's is tens of MB), so one per source would triple that (docs/performance.md)."""

    def __init__(self, config: AwsConfig) -> None:
        self._botocore_config = BotocoreConfig(
            connect_timeout=config.connect_timeout,
            read_timeout=config.read_timeout,
            retries={"total_max_attempts": 1, "mode": "standard"},
        )
        # boto3 sessions are not thread-safe: clients are made under this lock, then used from any thread.
        self._lock = threading.Lock()
        self._session: boto3.session.Session | None = None
        self._clients: dict[tuple[Where, str], Any] = {}
        self._forgotten = False

    def forget(self) -> None:
        """Resolve credentials afresh on the next call (they were missing, or refused). Never waits for the lock:
        the event loop calls this while a worker thread may hold it for the tens of milliseconds a session takes to
        make a client, and every list and scrape would wait with it."""
        self._forgotten = True

    def client(self, where: Where, credentials: dict[str, str] | None) -> Any:
        identity = credentials["AccessKeyId"] if credentials else ""
        with self._lock:
            if self._forgotten:
                self._forgotten = False
                self._session = None
                self._clients.clear()
            client = self._clients.get((where, identity))
            if client is None:
                if self._session is None:
                    self._session = boto3.session.Session()
                keys = {}
                if credentials:
                    keys = {
                        "aws_access_key_id": credentials["AccessKeyId"],
                        "aws_secret_access_key": credentials["SecretAccessKey"],
                        "aws_session_token": credentials["SessionToken"],
                    }
                # Drop clients of renewed role credentials: the cache stays one client per target.
                for key in [k for k in self._clients if k[0] == where]:
                    del self._clients[key]
                client = self._session.client(
                    where.service,
                    region_name=where.region,
                    endpoint_url=where.endpoint_url or None,
                    config=self._client_config(where),
                    **keys,
                )
                self._clients[where, identity] = client
            return client

    def _client_config(self, where: Where) -> BotocoreConfig:
        if where.service == "s3" and where.endpoint_url:
            # A BSL's s3Url is an S3-compatible endpoint: Velero addresses it path-style (s3ForcePathStyle).
            return self._botocore_config.merge(BotocoreConfig(s3={"addressing_style": "path"}))
        return self._botocore_config


class AwsApi:
    """One source's calls: retried, and counted in that source's health."""

    def __init__(
        self,
        config: AwsConfig,
        health: SourceHealth,
        *,
        clients: AwsClients | None = None,
        backoff_base: float = 0.5,
        backoff_max: float = 10.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._health = health
        self._max_attempts = config.max_attempts
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._sleep = sleep
        self._clock = clock
        self._clients = clients if clients is not None else AwsClients(config)
        self._roles: dict[tuple[str, str], tuple[dict[str, str], float]] = {}  # (role, region) -> creds, expiry

    def forget_credentials(self) -> None:
        """Resolve credentials afresh on the next call (they were missing, or refused)."""
        self._clients.forget()
        self._roles.clear()

    async def call(self, where: Where, operation: str, target: TargetHealth, **params: Any) -> dict[str, Any]:
        """One API operation (its AWS name, such as ListObjectsV2), retried on transient failures."""
        result = await self._attempts(where, operation, target, (), params)
        assert result is not None  # nothing is an absent answer here
        return result

    async def call_unless(
        self, where: Where, operation: str, target: TargetHealth, absent: Collection[str], **params: Any
    ) -> dict[str, Any] | None:
        """Like call, but an error whose code is in `absent` is an answer, None: S3 answers a question about a
        configuration the bucket does not have (no lifecycle rules, no encryption ...) with such an error."""
        return await self._attempts(where, operation, target, absent, params)

    async def _attempts(
        self, where: Where, operation: str, target: TargetHealth, absent: Collection[str], params: dict[str, Any]
    ) -> dict[str, Any] | None:
        attempt = 0
        while True:
            attempt += 1
            credentials = await self._role_credentials(where, target) if where.role_arn else None
            try:
                result = await asyncio.to_thread(self._invoke, where, credentials, operation, params)
            except Exception as exc:
                if error_code(exc) in absent:
                    self._health.count_call(operation)
                    return None
                kind = error_kind(exc)
                if kind is None:
                    raise
                # Without credentials botocore sends nothing: no call to count.
                if kind != "no_credentials":
                    self._health.count_call(operation)
                self._health.count_error(kind)
                target.count_error(kind)
                if kind in ("no_credentials", "unauthorized"):
                    self.forget_credentials()
                if kind not in RETRYABLE_KINDS or attempt >= self._max_attempts:
                    raise AwsError(kind, operation, str(exc)) from None
                delay = random.uniform(0, min(self._backoff_max, self._backoff_base * 2 ** (attempt - 1)))
                log.debug("retrying operation=%s kind=%s attempt=%d delay=%.2f", operation, kind, attempt, delay)
                await self._sleep(delay)
                continue
            self._health.count_call(operation)
            return result

    def _invoke(
        self, where: Where, credentials: dict[str, str] | None, operation: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        client = self._clients.client(where, credentials)
        result: dict[str, Any] = getattr(client, xform_name(operation))(**params)
        body = result.get("Body")
        if body is not None:
            # Read in this thread: a streaming body would otherwise be read on the event loop.
            with body:
                result["Body"] = body.read(MAX_BODY_BYTES)
        return result

    async def _role_credentials(self, where: Where, target: TargetHealth) -> dict[str, str]:
        assert where.role_arn is not None
        key = (where.role_arn, where.region)
        cached = self._roles.get(key)
        if cached is not None and cached[1] - ROLE_RENEWAL_MARGIN > self._clock():
            return cached[0]
        sts = Where("sts", where.region)
        result = await self.call(sts, "AssumeRole", target, RoleArn=where.role_arn, RoleSessionName="velero-exporter")
        credentials: dict[str, Any] = result["Credentials"]
        self._roles[key] = (credentials, credentials["Expiration"].timestamp())
        return credentials
