"""Verified restore drills end to end: Restores in the fake Kubernetes API, annotated by the real kubectl as the
runbook's validation job does, read by the exporter, scraped by a real Prometheus with the bundle's rules.

The critical tier requires validation. A drill whose validation failed fires VeleroRestoreTestOverdue
(drill_failed, next to never_restored); a newer drill whose validation passed moves
velero_tier_last_verified_restore_timestamp_seconds and clears both.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from tests.scenario_run import rule_file, wait_for
from tests.test_fake_kube_api import kubectl
from velero_exporter.app import Exporter, Options
from velero_exporter.config.file import load_config
from velero_exporter.sandbox import objects as o
from velero_exporter.sandbox.demo import running_sandbox
from velero_exporter.sandbox.monitoring import query, running_prometheus
from velero_exporter.sandbox.story import DEMO_CONFIG

OVERDUE = 'ALERTS{alertname="VeleroRestoreTestOverdue", alertstate="firing", tier="critical"}'
VERIFIED = 'velero_tier_last_verified_restore_timestamp_seconds{tier="critical"}'


async def test_a_passed_drill_clears_the_overdue_alert_and_a_failed_one_fires_it(tmp_path: Path) -> None:
    demo = load_config(DEMO_CONFIG)
    tiers = tuple(dataclasses.replace(t, require_validation=t.name == "critical") for t in demo.tiers)
    now = time.time()
    async with running_sandbox(now) as sandbox:
        options = Options(listen_host="127.0.0.1", listen_port=0, kubeconfig=str(sandbox.kubeconfig))
        async with (
            Exporter(dataclasses.replace(demo, tiers=tiers), options) as exporter,
            running_prometheus(
                [exporter.url.removeprefix("http://")], [rule_file(tmp_path)], scrape_interval="1s"
            ) as prometheus,
        ):

            async def reasons() -> set[str]:
                return {r["metric"]["reason"] for r in await query(prometheus.url, OVERDUE)}

            async def verified() -> float | None:
                found = await query(prometheus.url, VERIFIED)
                return float(found[0]["value"][1]) if found else None

            async def story_drill_counts() -> bool:
                hot = await query(prometheus.url, 'velero_tier_last_verified_restore_timestamp_seconds{tier="hot"}')
                return bool(hot) and await reasons() == {"never_restored"}

            # The story's hot drill passed its validation; critical has restores, but no verified drill.
            await wait_for(story_drill_counts, "the hot drill verified and critical never restore-tested")
            assert await verified() is None
            critical_backup = next(
                b["metadata"]["name"] for b in sandbox.api.list("backups") if b["metadata"]["name"].startswith("daily")
            )

            # A drill completes; its validation job finds the application broken.
            sandbox.api.create(
                o.restore("drill-critical-1", backup_name=critical_backup, completed=time.time() - 60, drill=True)
            )
            annotation = "velero-exporter.io/validation"
            await kubectl(
                sandbox.api, tmp_path, "-n", "velero", "annotate", "restore", "drill-critical-1", f"{annotation}=failed"
            )

            async def drill_failed() -> bool:
                return await reasons() == {"never_restored", "drill_failed"}

            await wait_for(drill_failed, "VeleroRestoreTestOverdue drill_failed for critical")
            assert await verified() is None

            # The next drill passes.
            completed = float(int(time.time()) - 10)
            sandbox.api.create(
                o.restore("drill-critical-2", backup_name=critical_backup, completed=completed, drill=True)
            )
            await kubectl(
                sandbox.api, tmp_path, "-n", "velero", "annotate", "restore", "drill-critical-2", f"{annotation}=passed"
            )

            async def cleared() -> bool:
                return await verified() == completed and await reasons() == set()

            await wait_for(cleared, "the verified drill in Prometheus and the overdue alert cleared")
