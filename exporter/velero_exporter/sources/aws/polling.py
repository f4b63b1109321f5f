"""Runs a polling source: each target on its own jittered interval, new targets at once, health per target.

A source names its targets (buckets, regions) from the store each tick, so a BackupStorageLocation that the kube
source has just listed is measured within a tick, and one that is gone leaves no state and no series behind.
Discovery reads only the locations, never a snapshot of the whole store: a tick must cost nothing when the
cluster holds 100k backups.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Generic, Protocol, TypeVar

from velero_exporter.sources.aws.api import AwsError
from velero_exporter.state.store import Store, TargetHealth

log = logging.getLogger("velero_exporter.aws")

T = TypeVar("T")
T_contra = TypeVar("T_contra", contravariant=True)


class Refresher(Protocol[T_contra]):
    async def refresh(self, name: str, target: T_contra, health: TargetHealth) -> None:
        """Measure one target and put the result in the store; raise AwsError when it cannot."""

    def forget(self, targets: Mapping[str, T_contra]) -> None:
        """Drop whatever is kept of targets other than these (gone, or changed)."""


class Poller(Generic[T]):
    def __init__(
        self,
        source: str,
        store: Store,
        discover: Callable[[Store], Mapping[str, T] | None],
        refresher: Refresher[T],
        *,
        interval: float,
        jitter: float,
        tick: float = 1.0,
        concurrency: int = 4,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.source = source
        self._store = store
        self._discover = discover
        self._refresher = refresher
        self._interval = interval
        self._jitter = jitter
        self._tick = tick
        self._limit = asyncio.Semaphore(concurrency)
        self._clock = clock
        self._monotonic = monotonic
        self._sleep = sleep
        self._targets: dict[str, T] | None = None  # None before the first discovery
        self._due: dict[str, float] = {}  # monotonic time of each target's next refresh

    def _next_wait(self) -> float:
        return self._interval * random.uniform(1 - self._jitter, 1 + self._jitter)

    async def run(self) -> None:
        health = self._store.health
        health.source(self.source)  # listed (down) from the start, before its first refresh
        while True:
            await self.tick()
            await self._sleep(self._tick)

    async def tick(self) -> None:
        """Discover, then refresh every target that is new, changed or due; nothing while discovery cannot tell
        the targets yet (None: the locations have not been listed)."""
        found = self._discover(self._store)
        if found is None:
            return
        targets = dict(found)
        known = self._targets or {}
        now = self._monotonic()
        for name, target in targets.items():
            if known.get(name) != target:
                self._due[name] = now
        # The first discovery is a change even when it finds nothing: a source with no target is up.
        changed = targets != self._targets
        self._targets = targets
        if changed:
            self._due = {name: due for name, due in self._due.items() if name in targets}
            self._refresher.forget(targets)
            self._store.health.retain_targets(self.source, targets)
        due = sorted(name for name, at in self._due.items() if at <= now)
        if due:
            started = self._monotonic()
            await asyncio.gather(*(self._refresh(name, targets[name]) for name in due))
            self._store.health.source(self.source).refreshed(self._monotonic() - started)
        if changed:
            self._update_source_health()

    async def _refresh(self, name: str, target: T) -> None:
        health = self._store.health.target(self.source, name)
        async with self._limit:
            try:
                await self._refresher.refresh(name, target, health)
            except AwsError as err:
                health.failed()
                log.warning("refresh failed source=%s target=%s error=%s", self.source, name, err)
            except (KeyError, TypeError, ValueError, AttributeError):
                # A response not shaped as documented must not stop the exporter: it is this target's fault.
                # (AwsApi counts the errors of calls; this one came after the call.)
                health.count_error("bad_response")
                self._store.health.source(self.source).count_error("bad_response")
                health.failed()
                log.exception("refresh failed source=%s target=%s error=bad_response", self.source, name)
            else:
                health.succeeded(self._clock())
        self._due[name] = self._monotonic() + self._next_wait()
        self._update_source_health()

    def _update_source_health(self) -> None:
        """The source's verdict: up when every target is (after each target's refresh, and when targets come or
        go), signalled to the renderer by the health itself."""
        health = self._store.health
        targets = [health.target(self.source, name) for name in self._targets or {}]
        up = all(t.up for t in targets)
        health.source(self.source).set_up(up, self._clock() if up else None)
