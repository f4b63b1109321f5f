"""A reflector with client-go semantics: keep a sink in step with one resource (in a namespace, or cluster-wide) by
list and watch.

- List in pages (limit, continue tokens); an expired continue token (410) restarts the list from scratch. The
  full set goes to `sink.replace`, so objects deleted while nobody watched disappear. The next page is asked for
  before the current one is parsed, so the server's time and the parsing overlap.
- Watch from the list's resourceVersion with bookmarks and a timeoutSeconds jittered in [t, 2t) like
  client-go. A watch that ends normally is resumed from the last resourceVersion seen; 410 Expired (an ERROR
  event or an HTTP status) means the history is gone: relist. A cut stream or a silent one (no event, not even
  a bookmark, for longer than the inactivity timeout) is resumed from the last resourceVersion after a short
  backoff.
- Failures back off exponentially with full jitter (Retry-After wins when the server sends one); the backoff
  resets after a quiet period. A 403 marks the resource forbidden and is retried every backoff_max; so is a 404,
  which marks it not served (its CRD is not installed: an older Velero) until a list succeeds.
- Relists after 410 back off too: a server whose every watch expires at once would otherwise be listed hundreds
  of times a second. client-go does the same, backing off every ListAndWatch by 0.8 s doubling to 30 s, jittered,
  reset after two quiet minutes (tools/cache/reflector.go, NewReflectorWithOptions' backoffManager). A second
  expiration before any watch event means relisting does not help: the resource is down until a watch holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from typing import Any, Protocol

from velero_exporter.backoff import Backoff
from velero_exporter.logs import logfmt_value
from velero_exporter.sources.kube.client import KubeClient, KubeError, decode_list, kind_for_status
from velero_exporter.state.collector_pause import collector_paused
from velero_exporter.state.store import ResourceHealth, SourceHealth

log = logging.getLogger("velero_exporter.kube")

MAX_RETRY_AFTER = 600.0
MIN_WATCH_SECONDS = 1.0  # a watch that ends sooner without an event is treated as a failure
FAILING_EXPIRATIONS = 2  # expirations in a row, with no watch event between, that mean the resource is down


class ListBuilder(Protocol):
    """The objects of one (re)list, handed over page by page so that no page outlives its parsing."""

    def add(self, objects: list[dict[str, Any]]) -> None: ...

    def commit(self) -> int:
        """The full set is complete: it replaces what the sink held (anything absent is gone); returns its size."""


class ResourceSink(Protocol):
    def new_list(self) -> ListBuilder: ...

    def upsert(self, obj: dict[str, Any]) -> None: ...

    def delete(self, obj: dict[str, Any]) -> None: ...


class _RelistError(Exception):
    """The watch cannot continue from its resourceVersion: list again (after `delay` seconds)."""

    def __init__(self, reason: str, delay: float = 0.0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delay = delay


class Reflector:
    def __init__(  # noqa: PLR0917 (the positional shape is the agreed interface)
        self,
        client: KubeClient,
        plural: str,
        namespace: str | None,
        sink: ResourceSink,
        health: ResourceHealth,
        source_health: SourceHealth,
        *,
        group_version_path: str = "/apis/velero.io/v1",
        page_size: int = 500,
        watch_timeout: float = 300.0,
        inactivity_timeout: float = 90.0,
        backoff_initial: float = 0.8,
        backoff_max: float = 30.0,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.client = client
        self.plural = plural
        self.namespace = namespace
        self.sink = sink
        self.health = health
        self.source_health = source_health
        self.group_version_path = group_version_path
        self.page_size = page_size
        self.watch_timeout = watch_timeout
        self.inactivity_timeout = inactivity_timeout
        self.backoff_max = backoff_max
        self.clock = clock
        self._rng = rng or random.Random()
        self._backoff = Backoff(backoff_initial, backoff_max, self._rng, reset_after=max(4 * backoff_max, 1.0))
        self.resource_version = ""  # the last one seen; "" before the first list
        self._expirations = 0  # 410s in a row, with no watch event between

    # -- the loop

    async def run(self) -> None:
        """List and watch forever; returns only by cancellation."""
        need_list = True
        while True:
            try:
                if need_list:
                    await self._list()
                    need_list = False
                await self._watch()
                self.health.watch_restarted()
                log.debug(
                    "event=watch_ended resource=%s reason=timeout resource_version=%s",
                    self.plural,
                    self.resource_version,
                )
            except _RelistError as relist:
                need_list = True
                self.health.relisting()
                delay = relist.delay
                if relist.reason == "watch_expired":
                    self._expirations += 1
                    delay = self._backoff.next()
                    if self._relists_failing:
                        self.health.set_up(False)
                log.info("event=relist resource=%s reason=%s retry_in=%.2f", self.plural, relist.reason, delay)
                await self._wait(delay)
            except KubeError as err:
                delay, relist_next = self._failed(err, listing=need_list)
                need_list = need_list or relist_next
                await self._wait(delay)
            except Exception:
                # A bug (in a sink, say) must not end the watch of this resource for good: start over.
                self.source_health.count_error("internal")
                self.health.failed()
                need_list = True
                delay = self._backoff.next()
                log.exception("event=reflector_failed resource=%s retry_in=%.2f", self.plural, delay)
                await self._wait(delay)

    @property
    def _relists_failing(self) -> bool:
        return self._expirations >= FAILING_EXPIRATIONS

    async def _wait(self, delay: float) -> None:
        """Sleep before the next attempt, the delay visible in the health metrics meanwhile."""
        if delay <= 0:
            return
        self.health.waiting(delay)
        try:
            await asyncio.sleep(delay)
        finally:
            self.health.waiting(0.0)

    def _failed(self, err: KubeError, *, listing: bool) -> tuple[float, bool]:
        """Record a failed call; return how long to wait and whether the next attempt must list."""
        was_served = self.health.served
        self.source_health.count_error(err.kind)
        self.health.failed(forbidden=err.kind == "forbidden", not_found=err.kind == "not_found")
        op = "list" if listing else "watch"
        relist = False
        level = logging.WARNING
        if err.kind == "forbidden":
            delay = self.backoff_max
            relist = True  # permissions were revoked for a while: trust nothing seen before
        elif err.kind == "not_found":
            # The resource (its CRD) is not served: installed later if ever (a Velero upgrade), so no hurry; its
            # history is gone with it. Said once, not every retry.
            if not was_served:
                level = logging.DEBUG
            delay = self.backoff_max
            relist = True
        elif err.retry_after is not None and err.retry_after > 0:
            delay = min(err.retry_after, MAX_RETRY_AFTER)
        else:
            delay = self._backoff.next()
        log.log(
            level,
            "event=%s_failed resource=%s reason=%s status=%s retry_in=%.2f detail=%s",
            op,
            self.plural,
            err.kind,
            err.status if err.status is not None else "none",
            delay,
            logfmt_value(err.reason),
        )
        return delay, relist

    # -- list

    async def _list(self) -> None:
        started = time.monotonic()
        listing = self.sink.new_list()
        continue_token: str | None = None
        restarts = 0
        pending = await self._request_page(None)
        try:
            while True:
                try:
                    body = await pending
                except KubeError as err:
                    if err.kind == "expired" and continue_token is not None and restarts < 3:
                        # The continue token outlived the server's history: start over for a consistent set.
                        self.source_health.count_error(err.kind)
                        restarts += 1
                        log.info("event=list_restarted resource=%s reason=continue_token_expired", self.plural)
                        listing = self.sink.new_list()
                        continue_token = None
                        pending = await self._request_page(None)
                        continue
                    raise
                # One stretch from decoding to release: the page's containers are freed before the collector runs
                # again, and freeing takes them off the count that starts a collection, so it never walks them.
                with collector_paused():
                    page = decode_list(body, self.plural)
                    del body
                    metadata = page.get("metadata") or {}
                    continue_token = metadata.get("continue") or None
                    if continue_token is not None:
                        # The server prepares the next page while this one is parsed: a list of many pages takes
                        # about the server's time or the parsing's, whichever is longer, not their sum.
                        pending = await self._request_page(continue_token)
                    page_items = page.get("items") or []
                    listing.add([item for item in page_items if isinstance(item, dict)])
                    del page, page_items
                if continue_token is None:
                    resource_version = str(metadata.get("resourceVersion") or "")
                    break
        finally:
            _discard(pending)
        count = listing.commit()
        self.resource_version = resource_version
        duration = time.monotonic() - started
        self.health.listed(up=not self._relists_failing)  # listing works; whether watching does, the watch tells
        self.source_health.succeeded(self.clock())
        self.source_health.refreshed(duration)
        log.info(
            "event=listed resource=%s objects=%d resource_version=%s duration=%.3f",
            self.plural,
            count,
            resource_version,
            duration,
        )

    async def _request_page(self, continue_token: str | None) -> asyncio.Task[bytes]:
        """One page's request, once it has left (or has failed before it could): the server works on it while
        the caller parses the page before."""
        self.source_health.count_call("list")
        sent = asyncio.Event()
        task = asyncio.create_task(
            self.client.list_body(
                self.group_version_path,
                self.namespace,
                self.plural,
                limit=self.page_size,
                continue_token=continue_token,
                sent=sent,
            )
        )
        left = asyncio.create_task(sent.wait())
        try:
            await asyncio.wait((task, left), return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            _discard(task)
            raise
        finally:
            left.cancel()
        return task

    # -- watch

    async def _watch(self) -> None:
        """One watch request, until the server ends it normally. Raises KubeError or _RelistError."""
        timeout_seconds = max(1, int(self.watch_timeout * (1.0 + self._rng.random())))
        self.source_health.count_call("watch")
        events = self.client.watch(
            self.group_version_path,
            self.namespace,
            self.plural,
            resource_version=self.resource_version,
            timeout_seconds=timeout_seconds,
            inactivity_timeout=self.inactivity_timeout,
            on_open=self._watch_opened,
        )
        started = time.monotonic()
        received = 0
        try:
            async with contextlib.aclosing(events):
                async for event in events:
                    received += 1
                    self._handle(event)
        except KubeError as err:
            if err.kind == "expired":
                self.source_health.count_error(err.kind)
                raise _RelistError("watch_expired") from err
            raise
        if received == 0 and time.monotonic() - started < MIN_WATCH_SECONDS:
            # A server (or proxy) that ends watches at once would otherwise be hammered.
            raise KubeError("bad_response", "watch ended at once without any event")
        self._healthy()

    def _watch_opened(self) -> None:
        # An idle resource may send nothing but a bookmark a minute: an accepted watch is a healthy one, unless
        # watches keep expiring at once.
        self.health.set_up(not self._relists_failing)
        self.source_health.succeeded(self.clock())

    def _healthy(self) -> None:
        """A watch event or a watch that ended normally: the history holds, the resource is healthy."""
        self._expirations = 0
        self.health.set_up(True)
        self.source_health.succeeded(self.clock())

    def _handle(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        obj: dict[str, Any] = event["object"]
        if kind == "ERROR":
            code = obj.get("code")
            reason = obj.get("reason") or obj.get("message") or "unknown"
            if code == 410:
                self.source_health.count_error("expired")
                raise _RelistError("watch_expired")
            kube_kind = "server_error" if not isinstance(code, int) else kind_for_status(code)
            self.source_health.count_error(kube_kind)
            self.health.failed()
            delay = self._backoff.next()
            log.warning(
                "event=watch_error resource=%s reason=%s code=%s retry_in=%.2f",
                self.plural,
                logfmt_value(str(reason)),
                code,
                delay,
            )
            raise _RelistError("watch_error", delay)
        metadata = obj.get("metadata") or {}
        resource_version = metadata.get("resourceVersion")
        if kind in ("ADDED", "MODIFIED"):
            self.sink.upsert(obj)
        elif kind == "DELETED":
            self.sink.delete(obj)
        elif kind != "BOOKMARK":
            log.warning("event=watch_unknown_event resource=%s type=%s", self.plural, logfmt_value(str(kind)))
            return
        if resource_version:
            self.resource_version = str(resource_version)
        self._healthy()


def _discard(task: asyncio.Task[Any]) -> None:
    """A page request nobody will read (the list failed or was cancelled): cancelled, or its error retrieved so
    that asyncio does not log it as never retrieved."""
    if not task.done():
        task.cancel()
    elif not task.cancelled():
        task.exception()
