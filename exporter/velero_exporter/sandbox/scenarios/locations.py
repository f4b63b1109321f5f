"""Backup storage locations that are unavailable, not validated lately or never, or missing altogether.

In the demo's story: the read-only DR location is Unavailable (it is not the default one: it silences nothing).
"""

from __future__ import annotations

from velero_exporter.sandbox import objects
from velero_exporter.sandbox.scenario import Change, Scenario, Trouble, alert
from velero_exporter.sandbox.scenarios import base
from velero_exporter.sandbox.scenarios.base import TierPlan
from velero_exporter.sandbox.world import HOUR, World


def _location_phase(name: str, phase: str) -> Change:
    def change(world: World) -> None:
        location = world.get("BackupStorageLocation", name)
        location["status"]["phase"] = phase
        world.add(location)

    return change


DR_UNAVAILABLE = Trouble(
    "the read-only DR location is Unavailable",
    (alert("VeleroStorageLocationUnavailable", location="dr", default="false", reason="unavailable"),),
    change=_location_phase("dr", "Unavailable"),
    repair=_location_phase("dr", "Available"),
)


# --- Velero stopped validating -----------------------------------------------------------------------------------

APPS = TierPlan("apps", ("apps-nightly",))
NEW_SITE = "new-site"


def _velero_down(world: World) -> None:
    """Velero's server has been down for an hour: it validated the default location an hour ago, and never saw
    the location created since (no status at all, so no phase: not Available either)."""
    default = world.get("BackupStorageLocation", "default")
    default["status"]["lastValidationTime"] = objects.rfc3339(world.now - HOUR)
    world.add(default, objects.storage_location(NEW_SITE, bucket="velero-new-site", phase=None))


def _velero_back(world: World) -> None:
    """Velero runs again: it validates every location within a minute."""
    for name in ("default", NEW_SITE):
        location = world.get("BackupStorageLocation", name)
        location["status"] = {
            "phase": "Available",
            "lastValidationTime": objects.rfc3339(world.now - 5),
            "accessMode": "ReadWrite",
        }
        world.add(location)


VELERO_DOWN = Scenario(
    "velero-down",
    "Velero's server is down: one location not validated for an hour, a new one never validated.",
    base.config(APPS),
    base.cluster(APPS),
    (
        Trouble(
            "Velero validated no location for an hour",
            (
                alert("VeleroStorageLocationNotValidated", location="default", reason="stale"),
                alert("VeleroStorageLocationNotValidated", location=NEW_SITE, reason="never"),
                alert("VeleroStorageLocationUnavailable", location=NEW_SITE, default="false", reason="unavailable"),
            ),
            change=_velero_down,
            repair=_velero_back,
        ),
    ),
)


# --- no location at all ------------------------------------------------------------------------------------------


def _location_created(world: World) -> None:
    world.add(
        objects.storage_location(
            "default", bucket="velero-backups", default=True, last_validated=world.now - 5, last_synced=world.now - 5
        )
    )


NO_LOCATION = Scenario(
    "no-location",
    "A cluster whose only BackupStorageLocation was deleted: Velero cannot back up anything.",
    base.config(APPS),
    base.cluster(APPS),
    (
        Trouble(
            "the cluster has no BackupStorageLocation",
            (alert("VeleroStorageLocationUnavailable", reason="none"),),
            change=lambda world: world.delete("BackupStorageLocation", "default"),
            repair=_location_created,
        ),
    ),
)

SCENARIOS = (VELERO_DOWN, NO_LOCATION)
