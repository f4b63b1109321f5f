"""The reflector against the wire-level fake apiserver: pagination, watch events, 410 Expired, throttling,
cut and stalled watches, an unreachable server and a forbidden resource."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import random
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.faulty_kube_api import FaultyKubeAPI
from velero_exporter.backoff import Backoff
from velero_exporter.sandbox import objects
from velero_exporter.sandbox.kube_api import RequestRecord
from velero_exporter.sources.kube.client import KubeClient, decode_list
from velero_exporter.sources.kube.reflector import Reflector
from velero_exporter.state.store import ResourceHealth, SourceHealth


@dataclass
class PageCollector:
    sink: RecordingSink
    pages: list[list[dict[str, Any]]] = field(default_factory=list)

    def add(self, objects: list[dict[str, Any]]) -> None:
        self.pages.append(objects)

    def commit(self) -> int:
        objects = [o for page in self.pages for o in page]
        self.sink.replace(objects)
        return len(objects)


@dataclass
class RecordingSink:
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    replaced_at: list[float] = field(default_factory=list)  # time.monotonic() of each replace
    upserts: list[str] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)

    def new_list(self) -> PageCollector:
        return PageCollector(self)

    def replace(self, objects: list[dict[str, Any]]) -> None:
        self.objects = {o["metadata"]["name"]: o for o in objects}
        self.replaced_at.append(time.monotonic())

    def upsert(self, obj: dict[str, Any]) -> None:
        self.objects[obj["metadata"]["name"]] = obj
        self.upserts.append(obj["metadata"]["name"])

    def delete(self, obj: dict[str, Any]) -> None:
        self.objects.pop(obj["metadata"]["name"], None)
        self.deletes.append(obj["metadata"]["name"])


@dataclass
class Harness:
    api: FaultyKubeAPI
    kube: KubeClient
    sink: RecordingSink = field(default_factory=RecordingSink)
    health: ResourceHealth = field(default_factory=ResourceHealth)
    source: SourceHealth = field(default_factory=SourceHealth)

    def reflector(self, **options: Any) -> Reflector:
        settings: dict[str, Any] = {
            "inactivity_timeout": 2.0,
            "backoff_initial": 0.05,
            "backoff_max": 0.5,
            "rng": random.Random(7),
        }
        settings.update(options)
        return Reflector(self.kube, "backups", "velero", self.sink, self.health, self.source, **settings)

    def lists(self) -> list[RequestRecord]:
        return [r for r in self.api.requests if r.path.endswith("/backups") and "watch" not in r.query]

    def watches(self) -> list[RequestRecord]:
        return [r for r in self.api.requests if r.path.endswith("/backups") and "watch" in r.query]

    def server_names(self) -> set[str]:
        return {o["metadata"]["name"] for o in self.api.list("backups")}


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    api = FaultyKubeAPI(bookmark_interval=0.5)
    await api.start()
    kube = await KubeClient.from_config(str(api.write_kubeconfig(tmp_path / "kubeconfig")))
    try:
        yield Harness(api, kube)
    finally:
        await kube.close()
        await api.stop()


@contextlib.asynccontextmanager
async def running(reflector: Reflector) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(reflector.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task  # re-raises whatever else ended the loop


async def wait_until(condition: Callable[[], bool], what: str, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def add_backups(api: FaultyKubeAPI, *names: str) -> None:
    for name in names:
        api.create(objects.backup(name))


async def test_initial_list_is_paginated(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="velero_exporter.kube")
    add_backups(harness.api, *(f"b-{i:04d}" for i in range(1201)))
    async with running(harness.reflector(page_size=500, clock=lambda: 1000.0)):
        await wait_until(lambda: harness.health.synced, "the first list")
        await wait_until(lambda: len(harness.watches()) == 1, "the watch")
    lists = harness.lists()
    assert [(r.query.get("limit"), "continue" in r.query, r.status) for r in lists] == [
        ("500", False, 200),
        ("500", True, 200),
        ("500", True, 200),
    ]
    assert len(harness.sink.objects) == 1201
    assert harness.sink.replaced_at != [] and len(harness.sink.replaced_at) == 1
    assert (harness.health.synced, harness.health.up, harness.health.relists) == (True, True, 0)
    assert harness.source.api_calls == {"list": 3, "watch": 1}
    assert harness.source.last_success == 1000.0
    assert harness.source.errors == {}
    watch = harness.watches()[0].query
    assert watch["resourceVersion"] == "1201"
    assert watch["allowWatchBookmarks"] == "true"
    assert 300 <= int(watch["timeoutSeconds"]) < 600
    assert "sandbox-token" not in caplog.text
    assert "b-0001" not in caplog.text  # nothing per object


async def test_watch_events_reach_the_sink(harness: Harness) -> None:
    add_backups(harness.api, "a", "b")
    ticks = iter(range(100, 10_000))
    async with running(harness.reflector(clock=lambda: float(next(ticks)))):
        await wait_until(lambda: len(harness.watches()) == 1, "the watch")
        harness.api.create(objects.backup("c"))
        await wait_until(lambda: "c" in harness.sink.objects, "ADDED c")
        harness.api.replace(objects.backup("a", phase="Failed"))
        await wait_until(lambda: harness.sink.objects["a"]["status"]["phase"] == "Failed", "MODIFIED a")
        harness.api.delete("backups", "b")
        await wait_until(lambda: "b" not in harness.sink.objects, "DELETED b")
    assert harness.sink.upserts == ["c", "a"]
    assert harness.sink.deletes == ["b"]
    assert set(harness.sink.objects) == {"a", "c"} == harness.server_names()
    assert harness.sink.objects["a"]["metadata"]["resourceVersion"] == "4"
    assert harness.source.last_success is not None and harness.source.last_success > 100  # the reflector's clock
    assert (harness.health.relists, harness.health.watch_restarts) == (0, 0)
    assert len(harness.lists()) == 1


async def test_expired_watch_relists(harness: Harness) -> None:
    add_backups(harness.api, "a", "b", "c")
    async with running(harness.reflector()):
        await wait_until(lambda: len(harness.watches()) == 1, "the watch")
        harness.api.delete("backups", "b")
        harness.api.faults.expire_watches()
        await wait_until(lambda: len(harness.lists()) == 2, "the relist")
        await wait_until(lambda: len(harness.sink.replaced_at) == 2, "the relist's replace")
    assert set(harness.sink.objects) == {"a", "c"}
    assert harness.health.relists == 1
    assert harness.source.errors == {"expired": 1}
    assert harness.health.up is True


async def test_deletion_during_a_gap_is_seen_by_the_relist(harness: Harness) -> None:
    add_backups(harness.api, "a", "b", "c")
    async with running(harness.reflector()):
        await wait_until(lambda: len(harness.watches()) == 1, "the watch")
        # The stream drops; the deletion is never sent on it, and history is compacted before the re-watch.
        harness.api.faults.cut_watches(mid_event=False)
        harness.api.delete("backups", "b")
        harness.api.compact()
        await wait_until(lambda: len(harness.sink.replaced_at) == 2, "the relist")
    assert harness.sink.deletes == []
    assert set(harness.sink.objects) == {"a", "c"}
    assert harness.health.relists == 1
    assert harness.source.errors == {"unreachable": 1, "expired": 1}


async def test_http_410_on_watch_relists(harness: Harness) -> None:
    add_backups(harness.api, "a")
    harness.api.faults.fail(plural="backups", verb="watch", status=410)
    async with running(harness.reflector()):
        await wait_until(lambda: len(harness.sink.replaced_at) == 2, "the relist")
        await wait_until(lambda: len(harness.watches()) == 2, "the second watch")
    assert [r.status for r in harness.watches()] == [410, 200]
    assert len(harness.lists()) == 2
    assert harness.health.relists == 1
    assert harness.source.errors == {"expired": 1}


@pytest.mark.parametrize("how", ["http_status", "error_event"])
async def test_watches_that_keep_expiring_back_off_and_mark_the_resource_down(harness: Harness, how: str) -> None:
    """A watch that answers 410 at once, every time, once made the reflector relist about 480 times a second
    while it still reported itself up."""
    add_backups(harness.api, "a")
    if how == "http_status":
        harness.api.faults.fail(plural="backups", verb="watch", status=410, times=10_000)
    else:
        harness.api.faults.expire_new_watches("backups", 10_000)
    backoffs: list[float] = []
    async with running(harness.reflector(backoff_initial=0.05, backoff_max=0.4)):
        await wait_until(lambda: harness.health.relists >= 2, "two expirations in a row")
        await wait_until(lambda: harness.health.up is False, "up=0 while relists keep failing")
        started, lists_before = time.monotonic(), len(harness.lists())
        while time.monotonic() - started < 3.0:
            backoffs.append(harness.health.backoff_seconds)
            assert harness.health.up is False
            await asyncio.sleep(0.01)
        lists_in_3s = len(harness.lists()) - lists_before
        harness.api.faults.clear()
        await wait_until(lambda: harness.health.up, "up=1 once a watch holds", within=10)
    # The backoff doubles from 0.05 s to its 0.4 s cap with full jitter (about 0.2 s a relist): some 15 lists
    # in 3 s, where a hot loop makes over a thousand.
    assert 3 <= lists_in_3s <= 40
    assert max(backoffs) > 0.05  # the wait shows in velero_exporter_resource_backoff_seconds
    assert harness.source.errors["expired"] == harness.health.relists
    assert set(harness.sink.objects) == {"a"}


async def test_the_next_page_is_asked_for_while_this_one_is_parsed(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server prepares page n+1 while page n is parsed: a list takes the longer of the two, not their sum."""
    add_backups(harness.api, *(f"b-{i:02d}" for i in range(12)))
    original = harness.kube.list_body
    asked: list[str | None] = []

    async def recording_list(*args: Any, **kwargs: Any) -> bytes:
        asked.append(kwargs["continue_token"])
        return await original(*args, **kwargs)

    monkeypatch.setattr(harness.kube, "list_body", recording_list)
    asked_at_add: list[int] = []
    add = PageCollector.add

    def recording_add(collector: PageCollector, objects: list[dict[str, Any]]) -> None:
        asked_at_add.append(len(asked))
        add(collector, objects)

    monkeypatch.setattr(PageCollector, "add", recording_add)
    async with running(harness.reflector(page_size=5)):
        await wait_until(lambda: harness.health.synced, "the list")
    assert len(asked) == 3 and asked[0] is None and None not in asked[1:]
    assert asked_at_add == [2, 3, 3]  # pages 2 and 3 were asked for before pages 1 and 2 were parsed
    assert len(harness.sink.objects) == 12


async def test_a_list_that_fails_mid_page_drops_the_page_already_asked_for(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    add_backups(harness.api, *(f"b-{i:02d}" for i in range(12)))
    failures = [RuntimeError("bug")]
    add = PageCollector.add

    def flaky_add(collector: PageCollector, objects: list[dict[str, Any]]) -> None:
        if failures:
            raise failures.pop()
        add(collector, objects)

    monkeypatch.setattr(PageCollector, "add", flaky_add)
    async with running(harness.reflector(page_size=5)):
        await wait_until(lambda: harness.health.synced, "the second list")
    assert harness.source.errors == {"internal": 1}
    assert len(harness.sink.objects) == 12 and len(harness.sink.replaced_at) == 1
    # The first list's second page was asked for and never read: cancelled or retrieved, never left dangling.
    assert "never retrieved" not in caplog.text and "destroyed but it is pending" not in caplog.text


async def test_an_undecodable_page_is_a_bad_response_and_the_collector_runs_again(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page is decoded, parsed and let go with the collector paused: one that cannot be decoded ends that
    stretch too, and the list is tried again whole."""
    add_backups(harness.api, *(f"b-{i:02d}" for i in range(12)))
    original = harness.kube.list_body
    garbled: list[bool] = []

    async def garble_the_second_page(*args: Any, **kwargs: Any) -> bytes:
        body = await original(*args, **kwargs)
        if kwargs["continue_token"] and not garbled:
            garbled.append(True)
            return body[: len(body) // 2]
        return body

    monkeypatch.setattr(harness.kube, "list_body", garble_the_second_page)
    assert gc.isenabled()
    async with running(harness.reflector(page_size=5)):
        await wait_until(lambda: harness.health.synced, "the second list")
        assert gc.isenabled()
    assert harness.source.errors == {"bad_response": 1}
    assert len(harness.sink.objects) == 12 and len(harness.sink.replaced_at) == 1


async def test_expired_continue_token_restarts_the_list(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    add_backups(harness.api, *(f"b-{i:02d}" for i in range(12)))
    original = harness.kube.list_body
    compacted: list[bool] = []

    async def list_then_compact(*args: Any, **kwargs: Any) -> bytes:
        page = await original(*args, **kwargs)
        if not compacted:  # the list snapshot is gone before the second page is asked for
            harness.api.compact()
            compacted.append(True)
        return page

    monkeypatch.setattr(harness.kube, "list_body", list_then_compact)
    async with running(harness.reflector(page_size=5)):
        await wait_until(lambda: harness.health.synced, "the list")
    assert [(r.status, "continue" in r.query) for r in harness.lists()] == [
        (200, False),
        (410, True),
        (200, False),
        (200, True),
        (200, True),
    ]
    assert len(harness.sink.objects) == 12
    assert len(harness.sink.replaced_at) == 1
    assert harness.source.errors == {"expired": 1}
    assert harness.source.api_calls["list"] == 5


async def test_server_errors_on_list_are_retried(harness: Harness) -> None:
    add_backups(harness.api, "a")
    harness.api.faults.fail(plural="backups", verb="list", status=500)
    harness.api.faults.fail(plural="backups", verb="list", status=503)
    async with running(harness.reflector()):
        await wait_until(lambda: harness.health.synced, "the list")
    assert [r.status for r in harness.lists()] == [500, 503, 200]
    assert harness.source.errors == {"server_error": 2}
    assert harness.source.api_calls["list"] == 3
    assert set(harness.sink.objects) == {"a"}
    assert harness.health.up is True


async def test_throttled_list_honours_retry_after(harness: Harness) -> None:
    add_backups(harness.api, "a")
    harness.api.faults.fail(plural="backups", verb="list", status=429, retry_after=1)
    started = time.monotonic()
    async with running(harness.reflector()):
        await wait_until(lambda: harness.health.synced, "the list")
    assert [r.status for r in harness.lists()] == [429, 200]
    assert harness.sink.replaced_at[0] - started >= 0.9  # backoff alone would be at most 0.05 s
    assert harness.source.errors == {"throttled": 1}


async def test_cut_watch_resumes_from_last_resource_version(harness: Harness) -> None:
    add_backups(harness.api, "a")
    async with running(harness.reflector()):
        await wait_until(lambda: len(harness.watches()) == 1, "the watch")
        harness.api.create(objects.backup("x1"))
        await wait_until(lambda: "x1" in harness.sink.objects, "x1")
        harness.api.faults.cut_watches(mid_event=True)
        harness.api.create(objects.backup("x2"))
        await wait_until(lambda: "x2" in harness.sink.objects, "x2 after the re-watch")
    assert set(harness.sink.objects) == {"a", "x1", "x2"}
    assert harness.sink.upserts == ["x1", "x2"]
    assert len(harness.lists()) == 1
    assert harness.health.relists == 0
    second = harness.watches()[1].query["resourceVersion"]
    assert 2 <= int(second) < 3  # x1's RV (or a bookmark's), before x2: resumed, not restarted
    assert harness.source.errors == {"unreachable": 1}
    assert harness.health.up is True


async def test_stalled_watch_is_noticed_and_caught_up(harness: Harness) -> None:
    add_backups(harness.api, "a")
    async with running(harness.reflector(inactivity_timeout=1.0)):
        await wait_until(lambda: len(harness.watches()) == 1, "the watch")
        harness.api.faults.stall_watches(3)
        harness.api.create(objects.backup("during-stall"))
        await wait_until(lambda: harness.source.errors["timeout"] >= 1, "the inactivity timeout")
        await wait_until(lambda: "during-stall" in harness.sink.objects, "the catch-up")
    assert 2 <= harness.source.errors["timeout"] <= 4  # about one per second of the 3 s stall
    assert set(harness.source.errors) == {"timeout"}
    assert len(harness.lists()) == 1
    assert harness.health.relists == 0
    assert harness.health.up is True


async def test_api_down_then_up(harness: Harness) -> None:
    add_backups(harness.api, "a", "b", "c", "d")
    async with running(harness.reflector()):
        await wait_until(lambda: len(harness.watches()) == 1, "the watch")
        await harness.api.go_down()
        harness.api.delete("backups", "b")
        harness.api.delete("backups", "c")
        await wait_until(lambda: harness.health.up is False, "up=0 while down")
        await asyncio.sleep(3)
        assert harness.health.up is False
        assert set(harness.sink.objects) == {"a", "b", "c", "d"}
        await harness.api.come_up()
        await wait_until(lambda: set(harness.sink.objects) == harness.server_names(), "the catch-up")
        await wait_until(lambda: harness.health.up, "up=1 again")
    assert set(harness.sink.objects) == {"a", "d"}
    assert harness.source.errors["unreachable"] >= 2
    assert set(harness.source.errors) == {"unreachable"}
    assert harness.health.relists == 0  # history still held the deletions


async def test_forbidden_resource_is_reported_then_recovers(harness: Harness) -> None:
    add_backups(harness.api, "a")
    harness.api.faults.forbid("backups")
    async with running(harness.reflector()):
        await wait_until(lambda: harness.source.errors["forbidden"] >= 2, "two 403s")
        assert (harness.health.forbidden, harness.health.up, harness.health.synced) == (True, False, False)
        first, second = harness.lists()[:2]
        assert (first.status, second.status) == (403, 403)
        harness.api.faults.allow("backups")
        await wait_until(lambda: harness.health.synced, "the list after allow")
    assert (harness.health.forbidden, harness.health.up) == (False, True)
    assert set(harness.sink.objects) == {"a"}
    assert set(harness.source.errors) == {"forbidden"}


async def test_forbidden_retries_every_backoff_max(harness: Harness) -> None:
    harness.api.faults.forbid("backups")
    async with running(harness.reflector(backoff_max=0.3)):
        await wait_until(lambda: len(harness.lists()) >= 2, "two attempts")
        before = len(harness.lists())
        await asyncio.sleep(0.9)
        attempts = len(harness.lists()) - before
    assert 2 <= attempts <= 4  # one per 0.3 s, not the 0.05 s initial backoff


async def test_cancellation_propagates(harness: Harness) -> None:
    add_backups(harness.api, "a")
    task = asyncio.create_task(harness.reflector().run())
    await wait_until(lambda: len(harness.watches()) == 1, "the watch")
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()
    body = await harness.kube.list_body("/apis/velero.io/v1", "velero", "backups", limit=10, continue_token=None)
    page = decode_list(body, "backups")
    assert len(page["items"]) == 1


async def test_a_failing_sink_does_not_end_the_reflector(harness: Harness) -> None:
    add_backups(harness.api, "a")
    failures = [RuntimeError("bug")]
    replace = harness.sink.replace

    def flaky_replace(objs: list[dict[str, Any]]) -> None:
        if failures:
            raise failures.pop()
        replace(objs)

    harness.sink.replace = flaky_replace  # type: ignore[method-assign,assignment]
    async with running(harness.reflector()):
        await wait_until(lambda: harness.health.synced, "the second list")
    assert harness.source.errors == {"internal": 1}
    assert len(harness.lists()) == 2
    assert set(harness.sink.objects) == {"a"}


def test_backoff_is_exponential_with_full_jitter_and_resets() -> None:
    backoff = Backoff(0.8, 30.0, random.Random(1), reset_after=120.0)
    delays = [backoff.next() for _ in range(8)]
    caps = [0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30.0, 30.0]
    assert all(0 <= d <= cap for d, cap in zip(delays, caps, strict=True))
    assert max(delays) > 3.2  # it did grow
    reset = Backoff(0.8, 30.0, random.Random(1), reset_after=0.0)
    reset.next()
    time.sleep(0.01)
    assert reset.next() <= 0.8  # a quiet period starts over from the initial delay
