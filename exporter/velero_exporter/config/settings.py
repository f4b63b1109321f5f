"""The exporter's configuration: typed, immutable, with the seed DR plan's five tiers as defaults.

Loading and validation live in config/file.py; this module only says what a configuration is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from velero_exporter.velero.cron import RobfigVersion

MINUTE = 60.0
HOUR = 3600.0
DAY = 86400.0
YEAR = 365 * DAY
KIB = 1024
MIB = 1024 * KIB


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
    # Whether only drills that passed validation count as the tier's restore test (default: any Completed
    # restore, until the tier's first verified drill).
    require_validation: bool = False


BUCKET_MODES: tuple[str, ...] = ("list", "cloudwatch")
DEFAULT_DRILL_LABEL = "velero-exporter.io/drill"


@dataclass(slots=True, frozen=True)
class BucketSettings:
    """How one bucket is measured: per BackupStorageLocation (by name) or for an extra bucket."""

    # "list": exact sizes from ListObjectsV2; "cloudwatch": S3's free daily storage metrics.
    mode: str = "list"
    # A role to assume for this bucket (a DR bucket in another account); None: the exporter's own identity.
    role_arn: str | None = None
    # In a versioned bucket, count noncurrent versions too (ListObjectVersions); list mode only.
    include_noncurrent: bool = False


@dataclass(slots=True, frozen=True)
class ExtraBucket:
    """A bucket this cluster does not use as a BackupStorageLocation (the DR copy's bucket)."""

    name: str  # the `location` label of its series
    bucket: str
    region: str
    prefix: str = ""
    s3_url: str = ""
    settings: BucketSettings = field(default_factory=BucketSettings)
    # The location (or extra bucket) this bucket is a replica of: its backup folders should all be here.
    replica_of: str = ""


@dataclass(slots=True, frozen=True)
class RegionSettings:
    """How one region's snapshots are read: per region (a VolumeSnapshotLocation's or an extra region)."""

    # A role to assume for the region's calls (the DR region's copies kept in another account).
    role_arn: str | None = None


@dataclass(slots=True, frozen=True)
class AwsConfig:
    enabled: bool = True
    buckets_interval: float = 15 * MINUTE
    # kopia/ and restic/ hold most of the objects and change with every file-system backup: listed less often.
    repositories_interval: float = 6 * HOUR
    snapshots_interval: float = 10 * MINUTE
    # Bucket posture (versioning, Object Lock, encryption, ...) and the accounts targets are read with: settings
    # that change seldom, read once an hour.
    posture_interval: float = 1 * HOUR
    # Each wait is the interval times a random factor in [1 - jitter, 1 + jitter], so exporters started
    # together do not call AWS in step.
    jitter: float = 0.1
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    # Attempts per call for throttling, 5xx, timeouts and connection errors (each attempt is counted).
    max_attempts: int = 3
    # velero-backup.json reads per bucket and refresh while looking for the newest Completed backup.
    manifest_reads: int = 10
    # Which EBS snapshots are Velero's: a tag key, and optionally the value it must have.
    snapshot_tag_key: str = "velero.io/backup"
    snapshot_tag_value: str | None = None
    # Ask DescribeLockedSnapshots for the EBS snapshot locks of each region (off where the API is not offered).
    snapshot_lock: bool = True
    # A replica's Completed backup folders may lag the source's by this long before they count as missing.
    replica_grace: float = 1 * HOUR
    # Expectations: the DR copies (replica buckets, DR regions) live in another account than the primary's; the
    # DR replicas carry Object Lock.
    require_separate_dr_account: bool = False
    require_dr_object_lock: bool = False
    # Settings of discovered BackupStorageLocations, by location name.
    locations: tuple[tuple[str, BucketSettings], ...] = ()
    extra_buckets: tuple[ExtraBucket, ...] = ()
    extra_regions: tuple[str, ...] = ()
    # Settings of regions (discovered or extra), by region.
    regions: tuple[tuple[str, RegionSettings], ...] = ()

    def location_settings(self, name: str) -> BucketSettings:
        for location, settings in self.locations:
            if location == name:
                return settings
        return BucketSettings()

    def region_settings(self, region: str) -> RegionSettings:
        for name, settings in self.regions:
            if name == region:
                return settings
        return RegionSettings()


@dataclass(slots=True, frozen=True)
class Limits:
    """What a broken or hostile peer (the API server, an object's author, an HTTP client) can make the exporter
    hold or wait for."""

    # A page of a Kubernetes list, after decompression: a gzip bomb stops here, not in memory.
    list_page_bytes: int = 64 * MIB
    # One line (one event) of a watch stream.
    watch_event_bytes: int = 4 * MIB
    # A free-form field that becomes a label value (a bucket, a prefix, a cron): longer ones are truncated and
    # counted as a problem of the object.
    label_value_bytes: int = 1 * KIB
    # Open HTTP connections to the exporter; further ones are closed at once.
    connections: int = 512
    # A client must send a complete request within this long of connecting (or of its previous response).
    request_timeout_seconds: float = 30.0


DEFAULT_LIMITS = Limits()


@dataclass(slots=True, frozen=True)
class VeleroServer:
    """Flags of `velero server` that decide what a backup carries; the exporter cannot read them, so the config
    says them. The defaults are Velero's."""

    # --features=EnableCSI: CSI volumes are snapshotted through CSI (and moved with snapshotMoveData).
    features: tuple[str, ...] = ()
    # --default-volumes-to-fs-backup: for Schedules that leave spec.template.defaultVolumesToFsBackup unset.
    default_volumes_to_fs_backup: bool = False
    # --default-snapshot-move-data: for Schedules that leave spec.template.snapshotMoveData unset.
    default_snapshot_move_data: bool = False
    # --default-volume-snapshot-locations (provider:location pairs): which location a backup uses for a provider
    # with several VolumeSnapshotLocations when its spec names none.
    default_volume_snapshot_locations: tuple[tuple[str, str], ...] = ()

    @property
    def csi(self) -> bool:
        return "EnableCSI" in self.features


@dataclass(slots=True, frozen=True)
class CoverageConfig:
    """The coverage source: which namespaces and volumes no tier protects. Off by default: it reads namespaces,
    pods, claims and volumes cluster-wide."""

    enabled: bool = False
    # Namespaces (shell-style globs such as kube-*) that need no backup: counted as ignored, never alerted on.
    ignore_namespaces: tuple[str, ...] = ()
    # A namespace younger than this is not yet unprotected (its owners may still be adding it to a schedule).
    grace_seconds: float = 1 * HOUR
    velero_server: VeleroServer = field(default_factory=VeleroServer)
    # How often the resource policy ConfigMaps that Schedules name are read again.
    policy_interval_seconds: float = 1 * MINUTE


CLUSTER_ROLES: tuple[str, ...] = ("primary", "dr")


@dataclass(slots=True, frozen=True)
class ClusterSettings:
    """Which cluster this exporter watches and, for a DR cluster, whose: the fleet rules join a DR cluster to its
    primary through these (velero_cluster_info), so that no rule names a cluster."""

    name: str
    role: str = "primary"  # one of CLUSTER_ROLES
    # A DR cluster's primary: the `name` its exporter is configured with.
    dr_of: str | None = None
    # The tiers whose backups reach this DR cluster (None: every configured tier). In the seed's plan only the
    # monthly dr tier is written to the DR bucket, unless the primary bucket is replicated.
    dr_tiers: tuple[str, ...] | None = None

    def dr_tier_names(self, configured: tuple[str, ...]) -> tuple[str, ...]:
        """The tiers compared with the primary's: none for a primary."""
        if self.role != "dr":
            return ()
        return configured if self.dr_tiers is None else self.dr_tiers


def _seed_tiers() -> tuple[Tier, ...]:
    """The five tiers of the DR plan (seed README), with its schedule names and crons."""
    return (
        Tier("hot", 1 * HOUR, 15 * MINUTE, 7 * DAY, (TierSchedule("hourly-hot", "0 * * * *"),)),
        Tier("critical", 4 * HOUR, 1 * HOUR, 30 * DAY, (TierSchedule("daily-critical", "0 2 * * *"),)),
        Tier("full", 24 * HOUR, 4 * HOUR, 90 * DAY, (TierSchedule("weekly-full", "0 3 * * 0"),)),
        Tier("config", 30 * MINUTE, 30 * MINUTE, 3 * DAY, (TierSchedule("config-backup", "*/30 * * * *"),)),
        Tier("dr", 24 * HOUR, 2 * HOUR, 1 * YEAR, (TierSchedule("monthly-dr", "0 4 1 * *"),)),
    )


# The Velero releases whose controllers the exporter models (1.12 to 1.18); the newest is the default.
VELERO_VERSIONS: tuple[tuple[int, int], ...] = tuple((1, minor) for minor in range(12, 19))


@dataclass(slots=True, frozen=True)
class Config:
    tiers: tuple[Tier, ...] = field(default_factory=_seed_tiers)
    # The label whose value names a backup's tier (on a Schedule's template or an ad-hoc Backup).
    tier_label: str = "backup-tier"
    # A Restore with this label set to "true" is a restore drill (its validation: VALIDATION_ANNOTATION).
    drill_label: str = DEFAULT_DRILL_LABEL
    # Velero's time zone for crons without a CRON_TZ=/TZ= prefix (Velero's pod runs in UTC).
    velero_timezone: str = "UTC"
    # The Velero release the cluster runs (major, minor): it decides the cron grammar.
    velero_version: tuple[int, int] = VELERO_VERSIONS[-1]
    # Velero deletes expired backups from its garbage-collection loop (hourly by default); a backup still
    # present this long after its expiration is one Velero failed to delete.
    gc_grace_seconds: float = 2 * HOUR
    # How far in the future a timestamp may be and still be believed (clocks of Velero and the exporter differ);
    # a later one is an implausible timestamp and never a recovery point.
    clock_skew_seconds: float = 10 * MINUTE
    limits: Limits = field(default_factory=Limits)
    # Velero's --store-validation-frequency: how often it validates a location without spec.validationFrequency
    # (0 disables validation).
    store_validation_frequency_seconds: float = MINUTE
    aws: AwsConfig = field(default_factory=AwsConfig)
    coverage: CoverageConfig = field(default_factory=CoverageConfig)
    # This cluster's name and role in a fleet; None: not said (no velero_cluster_info, no DR pairing).
    cluster: ClusterSettings | None = None
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

    @property
    def cron_library(self) -> RobfigVersion:
        """Velero 1.15 moved from robfig/cron v1.1.0 to v3 (its go.mod; changelog 1.15, #7793)."""
        return "v3" if self.velero_version >= (1, 15) else "v1"
