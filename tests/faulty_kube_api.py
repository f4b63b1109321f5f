"""The fake Kubernetes API with faults to inject, for the tests of clients against the failure modes of a real
apiserver: requests that fail (with Retry-After), continue tokens that expire after the first page, watches cut
(mid-event), expired or stalled, a server that goes down and comes back. The fake API itself
(velero_exporter/sandbox/kube_api.py) only offers the primitives: a refusal hook, a snapshot hook, watch controls.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from aiohttp import web

from velero_exporter.sandbox.kube_api import FakeKubeAPI, _Control, _status_response


@dataclasses.dataclass
class _FailRule:
    plural: str | None
    verb: str | None
    status: int
    remaining: int
    retry_after: float | None


class Faults:
    """Fault injection; see the methods.  Failures apply to resource requests, not discovery."""

    def __init__(self, api: FaultyKubeAPI) -> None:
        self._api = api
        self._rules: list[_FailRule] = []
        self._expire_continue: dict[str, int] = {}
        self._expire_watch: dict[str, int] = {}

    def fail(
        self,
        *,
        plural: str | None = None,
        verb: str | None = None,
        status: int = 500,
        times: int = 1,
        retry_after: float | None = None,
    ) -> None:
        """The next `times` matching requests answer `status` with a Status body (and Retry-After)."""
        self._rules.append(_FailRule(plural, verb, status, times, retry_after))

    def expire_continue_tokens(self, plural: str, times: int = 1) -> None:
        """The next `times` paginated lists of the resource lose their snapshot after the first page, as after
        an etcd compaction: the continue token they hand out answers 410 Expired."""
        self._expire_continue[plural] = self._expire_continue.get(plural, 0) + times

    def expire_new_watches(self, plural: str, times: int) -> None:
        """The next `times` watches of the resource are accepted (200) and at once answer an ERROR event 410
        Expired, as a server whose history is compacted faster than anyone can watch it."""
        self._expire_watch[plural] = self._expire_watch.get(plural, 0) + times

    def watch_expires(self, plural: str) -> bool:
        remaining = self._expire_watch.get(plural, 0)
        if remaining:
            self._expire_watch[plural] = remaining - 1
        return remaining > 0

    def continue_expires(self, plural: str) -> bool:
        remaining = self._expire_continue.get(plural, 0)
        if remaining:
            self._expire_continue[plural] = remaining - 1
        return remaining > 0

    def forbid(self, plural: str) -> None:
        """Persistent 403 on every request for that resource until allow() (the API's RBAC)."""
        self._api.forbidden.add(plural)

    def allow(self, plural: str) -> None:
        self._api.forbidden.discard(plural)

    def cut_watches(self, mid_event: bool = True) -> None:
        """Drop every open watch connection, after half an event line when mid_event."""
        self._api._control_watchers(_Control("cut_partial" if mid_event else "cut"), include_muted=True)

    def expire_watches(self) -> None:
        """Every open watch gets ERROR 410 Expired and ends; history and snapshots are compacted."""
        self._api._control_watchers(_Control("expire"), include_muted=False)
        self._api.compact()

    def stall_watches(self, seconds: float) -> None:
        """Open watches go silent for good; new ones send nothing until `seconds` have passed."""
        self._api._stall(seconds)

    def clear(self) -> None:
        self._rules.clear()
        self._api.forbidden.clear()
        self._expire_continue.clear()
        self._expire_watch.clear()
        self._api._stall_until = 0.0

    def check(self, plural: str, verb: str) -> web.Response | None:
        for rule in self._rules:
            if rule.plural not in (None, plural) or rule.verb not in (None, verb):
                continue
            rule.remaining -= 1
            if rule.remaining <= 0:
                self._rules.remove(rule)
            headers: dict[str, str] = {}
            extra: dict[str, Any] = {}
            if rule.retry_after is not None:
                # client-go parses Retry-After as whole seconds.
                seconds = max(0, math.ceil(rule.retry_after))
                headers["Retry-After"] = str(seconds)
                extra["details"] = {"retryAfterSeconds": seconds}
            return _status_response(
                rule.status, f"injected fault: {verb} {plural} -> {rule.status}", headers=headers, **extra
            )
        return None


class FaultyKubeAPI(FakeKubeAPI):
    """The fake API whose `faults` inject failures, and which can go down and come up on the same port."""

    def __init__(self, namespace: str = "velero", **options: Any) -> None:
        super().__init__(namespace, **options)
        self.faults = Faults(self)

    def _refusal(self, plural: str, verb: str, namespace: str | None) -> web.Response | None:
        return super()._refusal(plural, verb, namespace) or self.faults.check(plural, verb)

    def _continue_survives(self, plural: str) -> bool:
        return not self.faults.continue_expires(plural)

    def _watch_expires_at_once(self, plural: str) -> bool:
        return self.faults.watch_expires(plural)

    async def go_down(self) -> None:
        """Refuse connections (and drop open ones) while keeping all state."""
        self._control_watchers(_Control("cut"), include_muted=True)
        await self._shutdown()

    async def come_up(self) -> None:
        await self.start(self.host, self.port)
