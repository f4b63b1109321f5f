"""The demo's story: the DR plan's cluster (plan.py) with deliberate trouble, so that the demo shows the alert
paths a platform team meets most. Each trouble lives in its themed module, with the alerts it implies:

- daily-critical's newest run Failed; an ad-hoc backup keeps the critical tier within its RPO (backups.py);
- weekly-full's two newest runs were PartiallyFailed, each losing a volume, which the full tier does not accept:
  past its RPO (backups.py);
- a restore from a critical backup Failed two hours ago, and only the hot tier has a restore drill (restores.py);
- the read-only DR location is Unavailable (locations.py);
- the critical tier's snapshot copies to the DR region stopped 2.5 days ago (snapshots.py);
- the primary bucket's lifecycle rule is shorter than the retention of the tiers it keeps; the DR replica misses a
  backup folder and carries no Object Lock (buckets.py);
- hourly-hot's newest run left the database pod's volume out; an ad-hoc critical backup's DataUpload stalled;
  vault's repository fails its maintenance (volumes.py);
- a namespace created last week is in no Schedule; the shared media volume is opted out of fs-backup; Grafana's
  volume is on the class the volume policy skips (coverage.py).
config-backup and monthly-dr are healthy.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from velero_exporter.sandbox import plan
from velero_exporter.sandbox.scenario import Scenario
from velero_exporter.sandbox.scenarios import backups, buckets, coverage, locations, restores, snapshots, volumes

# Objectives that the story's schedules can meet (DESIGN.md: the seed's defaults cannot all hold).
DEMO_CONFIG = Path(__file__).with_name("demo-config.yaml")

DEMO = Scenario(
    "demo",
    "The DR plan's cluster with the demo's trouble.",
    yaml.safe_load(DEMO_CONFIG.read_text()),
    plan.world,
    (
        backups.DAILY_FAILED,
        backups.WEEKLY_PARTIALLY_FAILED,
        restores.RESTORE_FAILED,
        restores.DRILLS_MISSING,
        locations.DR_UNAVAILABLE,
        snapshots.DR_COPY_STALE,
        buckets.LIFECYCLE_BELOW_RETENTION,
        buckets.REPLICA_INCOMPLETE,
        buckets.DR_NOT_IMMUTABLE,
        volumes.HOT_DATABASE_OPTED_OUT,
        volumes.UPLOAD_STALLED,
        volumes.VAULT_MAINTENANCE_FAILED,
        coverage.NAMESPACE_UNPROTECTED,
        coverage.MEDIA_OPTED_OUT,
        coverage.GRAFANA_POLICY_SKIP,
    ),
)
