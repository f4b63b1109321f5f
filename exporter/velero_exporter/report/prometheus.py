"""A client of Prometheus' HTTP query API (also served by Thanos Query, Mimir, Cortex and VictoriaMetrics).

Only range queries: each expression is asked for over the window's steps, in chunks that stay under the
points-per-series limit, and the answers are put back together as one dense row of values per series (NaN
where a step has no value). Credentials are read from files, never from the command line, where `ps` would
show them.
"""

from __future__ import annotations

import asyncio
import json
import math
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp

from velero_exporter.client_auth import basic_auth, tls_context
from velero_exporter.report.window import Window, chunks, rfc3339

# A series' labels as a sorted tuple of pairs: hashable, and equal for equal label sets.
LabelSet = tuple[tuple[str, str], ...]
# One row per series: the value at the end of each step (index 0 is step 1), NaN where there is none.
Rows = dict[LabelSet, list[float]]
# Told after each answered chunk: (chunks answered, chunks in all).
Progress = Callable[[int, int], None]

# Range queries in flight at once: enough to hide a remote Thanos' latency, few enough not to load it.
CONCURRENT_QUERIES = 4


class QueryError(Exception):
    """Prometheus could not be asked or refused to answer; str() is one line."""


@dataclass(slots=True, frozen=True)
class Connection:
    url: str
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    insecure: bool = False
    bearer_token_file: str | None = None
    basic_auth_user: str | None = None
    basic_auth_password_file: str | None = None
    # Further headers, e.g. Mimir's tenant (X-Scope-OrgID).
    headers: tuple[tuple[str, str], ...] = ()
    timeout_seconds: float = 120.0


def _read_secret(path: str, what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise QueryError(f"cannot read the {what} file {path}: {exc.strerror or exc}") from None


def ssl_context(connection: Connection) -> ssl.SSLContext | bool:
    """The TLS settings for an https URL; True: the system's trust store."""
    if not (connection.ca_file or connection.cert_file or connection.insecure):
        return True
    try:
        return tls_context(
            ca_file=connection.ca_file,
            cert_file=connection.cert_file,
            key_file=connection.key_file,
            insecure=connection.insecure,
        )
    except OSError as exc:  # ssl.SSLError is one
        raise QueryError(f"TLS settings: {exc}") from None


def request_headers(connection: Connection) -> dict[str, str]:
    headers = dict(connection.headers)
    if connection.bearer_token_file:
        headers["Authorization"] = "Bearer " + _read_secret(connection.bearer_token_file, "bearer token")
    elif connection.basic_auth_user is not None:
        password_file = connection.basic_auth_password_file
        password = _read_secret(password_file, "password") if password_file else ""
        headers["Authorization"] = basic_auth(connection.basic_auth_user, password)
    return headers


def parse_matrix(body: Mapping[str, Any], window: Window, rows: Rows) -> None:
    """Adds a range query's answer to rows; raises QueryError for anything that is not a matrix."""
    if body.get("status") != "success":
        raise QueryError(f"{body.get('errorType', 'error')}: {body.get('error', 'no reason given')}")
    data = body.get("data")
    if not isinstance(data, Mapping) or data.get("resultType") != "matrix" or not isinstance(data.get("result"), list):
        raise QueryError("the answer is not a range query's matrix")
    for series in data["result"]:
        labels: LabelSet = tuple(sorted(series["metric"].items()))
        row = rows.setdefault(labels, [math.nan] * window.steps)
        for t, value in series["values"]:
            i = window.step_index(float(t))
            if 1 <= i <= window.steps:
                row[i - 1] = float(value)


class PrometheusClient:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> PrometheusClient:
        c = self.connection
        self._session = aiohttp.ClientSession(
            headers=request_headers(c),
            timeout=aiohttp.ClientTimeout(total=c.timeout_seconds),
            connector=aiohttp.TCPConnector(ssl=ssl_context(c)),
        )
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.close()

    async def _post(self, path: str, form: Mapping[str, str]) -> Mapping[str, Any]:
        assert self._session is not None, "use the client as an async context manager"
        url = self.connection.url.rstrip("/") + path
        try:
            async with self._session.post(url, data=form) as resp:
                text = await resp.text()
                status = resp.status
        except aiohttp.ClientError as exc:
            raise QueryError(f"{url}: {exc}") from None
        except TimeoutError:
            raise QueryError(f"{url}: no answer within {self.connection.timeout_seconds:g}s") from None
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        if not isinstance(body, Mapping):
            # Not Prometheus' JSON: an auth proxy's page, a wrong URL.
            raise QueryError(f"{url}: HTTP {status}: {' '.join(text.split())[:200]}")
        return body

    async def query_range(self, expr: str, window: Window, steps: tuple[int, int]) -> Mapping[str, Any]:
        first, last = steps
        form = {
            "query": expr,
            "start": f"{window.step_end(first):.3f}",
            "end": f"{window.step_end(last):.3f}",
            "step": f"{window.step:g}",
        }
        return await self._post("/api/v1/query_range", form)

    async def rows(self, exprs: Mapping[str, str], window: Window, progress: Progress | None = None) -> dict[str, Rows]:
        """Every expression over the window, as rows; each is asked for in chunks, a few at a time."""
        parts = chunks(window)
        total = len(exprs) * len(parts)
        done = 0
        limit = asyncio.Semaphore(CONCURRENT_QUERIES)
        results: dict[str, Rows] = {name: {} for name in exprs}

        async def one(name: str, steps: tuple[int, int]) -> None:
            nonlocal done
            async with limit:
                body = await self.query_range(exprs[name], window, steps)
            try:
                parse_matrix(body, window, results[name])
            except QueryError as exc:
                first, last = steps
                where = f"{rfc3339(window.step_end(first))}..{rfc3339(window.step_end(last))}"
                raise QueryError(f"query {exprs[name]!r} ({where}): {exc}") from None
            done += 1
            if progress is not None:
                progress(done, total)

        try:
            async with asyncio.TaskGroup() as group:
                for name in exprs:
                    for steps in parts:
                        group.create_task(one(name, steps))
        except* QueryError as errors:
            raise errors.exceptions[0] from None  # one line for the user; the others are alike
        return results


def label(labels: LabelSet, name: str) -> str:
    for key, value in labels:
        if key == name:
            return value
    return ""
