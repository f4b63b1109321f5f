"""End to end: a render of the real exporter that keeps failing fires VeleroExporterRenderFailing in real
Prometheus (the shipped rules, `for` and the window shortened through the mixin's configuration), and the alert
resolves once renders succeed again.

The failure is made in-process, as a bug would: the exporter's model raises on the objects it is given.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from tests.test_e2e import wait_for
from velero_exporter.app import Exporter, Options
from velero_exporter.config.settings import AwsConfig, Config
from velero_exporter.mixin.config import DEFAULT as MIXIN
from velero_exporter.mixin.rules import render_rule_file
from velero_exporter.model.aws import AwsModel
from velero_exporter.model.velero import Model
from velero_exporter.sandbox import objects as o
from velero_exporter.sandbox.kube_api import FakeKubeAPI
from velero_exporter.sandbox.monitoring import query, running_prometheus
from velero_exporter.state.store import StoreView

DEADLINE = 180.0
WINDOW = "30s"  # the alert's window in production is 5m; resolving would take as long
# No tier, no AWS: with one recent backup and a validated location, nothing else has a reason to fire.
QUIET = Config(tiers=(), aws=AwsConfig(enabled=False))
RENDER_FAILING = {"alertname": "VeleroExporterRenderFailing", "severity": "critical", "stage": "model"}


async def firing(prometheus: str) -> list[dict[str, str]]:
    result = await query(prometheus, 'ALERTS{alertstate="firing"}')
    scrape_labels = {"__name__", "alertstate", "job", "instance"}
    return [{k: v for k, v in r["metric"].items() if k not in scrape_labels} for r in result]


class ModelBugError(Exception):
    """What a model that no test foresaw raises."""


async def test_a_render_that_keeps_failing_fires_the_alert_and_a_fixed_one_resolves_it(tmp_path: Path) -> None:
    rules = tmp_path / "velero-exporter.rules.yml"
    rules.write_text(
        render_rule_file(replace(MIXIN, alert_for=dict.fromkeys(MIXIN.alert_for, "0s"), render_errors_window=WINDOW))
    )
    api = FakeKubeAPI()
    await api.start()
    t = time.time()
    api.create(o.backup("adhoc-1", started=t - 600, completed=t - 540))
    api.create(o.storage_location("default", bucket="b", last_validated=t))
    options = Options(listen_host="127.0.0.1", listen_port=0, kubeconfig=str(api.write_kubeconfig(tmp_path / "kc")))
    try:
        async with (
            Exporter(QUIET, options) as exporter,
            running_prometheus([exporter.url.removeprefix("http://")], [rules], scrape_interval="1s") as prometheus,
        ):
            model_errors = 'velero_exporter_render_errors_total{stage="model"}'

            async def scraped() -> bool:
                answer = await query(prometheus.url, 'velero_exporter_resource_objects{resource="backups"} == 1')
                return bool(answer)

            await wait_for(scraped, "the exporter's first payload in Prometheus", within=DEADLINE)
            assert [r["value"][1] for r in await query(prometheus.url, model_errors)] == ["0"]

            async def quiet() -> bool:
                return await firing(prometheus.url) == []

            # (absent() fires at the evaluations before the first scrape, with `for` at 0s)
            await wait_for(quiet, "nothing firing", within=DEADLINE)

            models = exporter.renderer.models

            def broken(view: StoreView, now: float) -> tuple[Model, AwsModel]:
                raise ModelBugError("a field no test foresaw")

            exporter.renderer.models = broken  # type: ignore[method-assign]
            api.create(o.backup("adhoc-2", started=t - 60, completed=t - 30))  # a change: the models are computed

            async def fires() -> bool:
                return await firing(prometheus.url) == [RENDER_FAILING]

            await wait_for(fires, "VeleroExporterRenderFailing{stage=model}", within=DEADLINE)
            failed = float((await query(prometheus.url, model_errors))[0]["value"][1])
            assert failed >= 1

            exporter.renderer.models = models  # type: ignore[method-assign]

            await wait_for(quiet, "the alert resolved once renders succeed", within=DEADLINE)
            # The retried render served the change the failing ones could not.
            assert await query(prometheus.url, 'velero_exporter_resource_objects{resource="backups"} == 2')
    finally:
        await api.stop()
