"""The exporter's configuration: typed, immutable, with the seed DR plan's five tiers as defaults.

Loading and validation live in config_file.py; this module only says what a configuration is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MINUTE = 60.0
HOUR = 3600.0
DAY = 86400.0
YEAR = 365 * DAY


@dataclass(slots=True, frozen=True)
class TierSchedule:
    """A schedule the operator lists under a tier; the cron (optional) is what they expect Velero to run."""

    name: str
    cron: str | None = None


@dataclass(slots=True, frozen=True)
class Tier:
    name: str
    rpo_seconds: float
    rto_seconds: float
    retention_seconds: float
    schedules: tuple[TierSchedule, ...] = ()
    # Whether a PartiallyFailed backup counts as a recovery point for this tier (DESIGN: default no).
    accept_partially_failed: bool = False

    @property
    def schedule_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.schedules)


def _seed_tiers() -> tuple[Tier, ...]:
    """The five tiers of the DR plan (seed README), with its schedule names and crons."""
    return (
        Tier("hot", 1 * HOUR, 15 * MINUTE, 7 * DAY, (TierSchedule("hourly-hot", "0 * * * *"),)),
        Tier("critical", 4 * HOUR, 1 * HOUR, 30 * DAY, (TierSchedule("daily-critical", "0 2 * * *"),)),
        Tier("full", 24 * HOUR, 4 * HOUR, 90 * DAY, (TierSchedule("weekly-full", "0 3 * * 0"),)),
        Tier("config", 30 * MINUTE, 30 * MINUTE, 3 * DAY, (TierSchedule("config-backup", "*/30 * * * *"),)),
        Tier("dr", 24 * HOUR, 2 * HOUR, 1 * YEAR, (TierSchedule("monthly-dr", "0 4 1 * *"),)),
    )


@dataclass(slots=True, frozen=True)
class Config:
    tiers: tuple[Tier, ...] = field(default_factory=_seed_tiers)
    # The label whose value names a backup's tier (on a Schedule's template or an ad-hoc Backup).
    tier_label: str = "backup-tier"
    # Velero's time zone for crons without a CRON_TZ=/TZ= prefix (Velero's pod runs in UTC).
    velero_timezone: str = "UTC"
    # Velero deletes expired backups from its garbage-collection loop (hourly by default); a backup still
    # present this long after its expiration is one Velero failed to delete.
    gc_grace_seconds: float = 2 * HOUR
    # Where the file came from, for messages; None for built-in defaults.
    source: str | None = None

    def tier(self, name: str) -> Tier | None:
        for tier in self.tiers:
            if tier.name == name:
                return tier
        return None

    @property
    def tier_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tiers)
