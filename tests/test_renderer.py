"""The renderer: models computed again only when the store changes or the clock passes their validity."""

from __future__ import annotations

from tests.metrics_text import parse_samples, value
from tests.test_metric_values import NOW, load
from velero_exporter.config.settings import Config
from velero_exporter.exposition.payload import TEXT, Exposition
from velero_exporter.exposition.renderer import Renderer
from velero_exporter.sandbox import objects as o

H = 3600.0
GRACE = Config().gc_grace_seconds


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


async def test_models_are_reused_until_the_store_changes_or_an_expiration_passes() -> None:
    expires = NOW + H
    store = load({"backups": [o.backup("b1", started=NOW - H, completed=NOW - H + 60, expiration=expires)]})
    clock = Clock(NOW)
    exposition = Exposition()
    renderer = Renderer(store, Config(), exposition, version="t", clock=clock)
    calls: list[float] = []
    compute = renderer.models

    def counting(view: object, now: float) -> object:
        calls.append(now)
        return compute(view, now)  # type: ignore[arg-type]

    renderer.models = counting  # type: ignore[assignment,method-assign]

    def past_expiration() -> float | None:
        assert exposition.current is not None
        samples = parse_samples(exposition.current.body(TEXT, False).decode())
        return value(samples, "velero_tier_backups_past_expiration", tier="unassigned")

    await renderer.render_now()
    clock.t = NOW + 60
    store.health.source("kube").up = True  # health alone: the families are encoded again, the models kept
    await renderer.render_now()
    assert calls == [NOW]
    assert past_expiration() == 0
    assert 'velero_exporter_source_up{source="kube"} 1.0' in exposition.current.body(TEXT, False).decode()  # type: ignore[union-attr]

    clock.t = expires + GRACE + 1  # the backup is now past its expiration and grace: the clock changed the model
    await renderer.render_now()
    assert calls == [NOW, expires + GRACE + 1]
    assert past_expiration() == 1

    store.backups.remove("b1")  # the store changed
    await renderer.render_now()
    assert len(calls) == 3
    assert past_expiration() == 0
