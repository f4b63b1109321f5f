"""The demo's DR cluster (`velero-exporter demo --clusters 2`, the seed's us-west-2 region): what its Velero holds
of the DR bucket of the demo's story (sandbox/dr_cluster.py), the primary bucket's replica.

Trouble on purpose: the DR cluster's Velero stopped syncing 30 hours ago (its server runs with
`--backup-sync-period 0`, which turns syncing off), so
- what it can restore of the hot, config and critical tiers lags the primary by more than their RPOs
  (VeleroDRClusterBehind);
- the newest full backup it holds is one of the primary's PartiallyFailed weekly runs
  (VeleroDRClusterCannotRestore), and the full tier is past its RPO here as in the primary;
- the dr tier, a monthly one, is within its RPO of the primary's; every tier had a restore drill after the last
  sync.
The replica misses what the demo's story says it misses (the newest Completed daily-critical folder): the DR
cluster never holds it.
"""

from __future__ import annotations

from velero_exporter.sandbox import dr_cluster, objects, plan
from velero_exporter.sandbox.story import DEMO
from velero_exporter.sandbox.world import HOUR, World

LOCATION = "dr"
# When the DR cluster's Velero last synced the DR bucket.
SYNC_STOPPED = 30 * HOUR
# Restore drills in the DR cluster, an hour after the last sync: how long each tier's took (within its RTO).
DRILL_DURATIONS = {"hot": 600.0, "critical": 40 * 60.0, "full": 3 * HOUR, "config": 300.0, "dr": 90 * 60.0}


def world(now: float, primary: World | None = None) -> World:
    """The DR cluster at `now`, beside the demo's story at the same `now` (`primary`, built if not given)."""
    primary = primary if primary is not None else DEMO.build(now)
    last_sync = now - SYNC_STOPPED
    out = World(now)
    out.add(
        dr_cluster.location(
            LOCATION, bucket=plan.DR_BUCKET, region=plan.DR_REGION, now=now, last_sync=last_sync, default=True
        ),
        objects.snapshot_location(LOCATION, region=plan.DR_REGION),
    )
    dr_cluster.sync(out, LOCATION, dr_cluster.backups_in(primary, plan.DR_BUCKET), until=last_sync)
    dr_cluster.drills(out, DRILL_DURATIONS, at=last_sync + HOUR, tier_label=plan.TIER_LABEL)
    return out
