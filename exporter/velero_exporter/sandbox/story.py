"""The demo's story: the DR plan's cluster (plan.py) with deliberate trouble, so that the demo shows the alert
paths a platform team meets most. Each trouble lives in its themed module, with the alerts it implies:

- daily-critical's newest run Failed; an ad-hoc backup keeps the critical tier within its RPO (backups.py);
- weekly-full's two newest runs were PartiallyFailed, which the full tier does not accept: past its RPO
  (backups.py);
- a restore from a critical backup Failed two hours ago, and only the hot tier has a restore drill (restores.py);
- the read-only DR location is Unavailable (locations.py);
- the critical tier's snapshot copies to the DR region stopped 2.5 days ago (snapshots.py);
- the primary bucket's lifecycle rule is shorter than the retention of the tiers it keeps; the DR replica misses a
  backup folder and carries no Object Lock (buckets.py).
hourly-hot, config-backup and monthly-dr are healthy.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from velero_exporter.sandbox import plan
from velero_exporter.sandbox.scenario import Scenario
from velero_exporter.sandbox.scenarios import backups, buckets, locations, restores, snapshots

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
    ),
)
