"""Reading and validating the configuration file (`--config`, `check-config`) into a typed Config.

Every key is optional: an absent key keeps its default, an empty file gives Config(). Anything wrong stops
with one ConfigError whose str() is one line, "<file>: <key path>: <problem>", e.g.
"config.yaml: tiers.hot.rpo: '1hour' is not a duration (use Prometheus syntax such as 30m, 4h, 7d)".

Each top-level key has one section function in _SECTIONS that turns its value into Config fields; adding a
section (say `aws:`) is one function and one line in that table.
"""

from __future__ import annotations

import dataclasses
import datetime
import difflib
import re
import time
import zoneinfo
from collections.abc import Callable, Collection, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from velero_exporter.config.durations import DurationError, parse_duration
from velero_exporter.config.settings import (
    BUCKET_MODES,
    CLUSTER_ROLES,
    VELERO_VERSIONS,
    AwsConfig,
    BucketSettings,
    ClusterSettings,
    Config,
    CoverageConfig,
    ExtraBucket,
    Limits,
    RegionSettings,
    Tier,
    TierSchedule,
    VeleroServer,
)
from velero_exporter.velero.cron import CronError, CronNeverMatchesError, parse_cron

# A tier name is a metric label value and may be a Kubernetes label value (at most 63 characters).
TIER_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")
TIER_NAME_MAX = 63
# The tier of backups that belong to no tier; an operator cannot define it.
RESERVED_TIER_NAMES = frozenset({"unassigned"})

# Kubernetes: a label key is an optional DNS subdomain prefix and "/", then a name of at most 63 characters;
# a Schedule's name is a DNS subdomain.
_LABEL_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")

_DURATION_HINT = "use Prometheus syntax such as 30m, 4h, 7d"

# AWS names, checked so that a typo stops start-up instead of failing every refresh.
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]+")
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]+")
_URL = re.compile(r"https?://[^\s/]+(/\S*)?")


class ConfigError(Exception):
    """A configuration that cannot be used; str() is one line naming the file, the key and the problem."""

    def __init__(self, source: str, key_path: str | None, problem: str) -> None:
        self.source = source
        self.key_path = key_path
        self.problem = problem
        parts = [source, key_path, problem] if key_path else [source, problem]
        super().__init__(_one_line(": ".join(parts)))


def load_config(path: str | Path) -> Config:
    """Read and validate a configuration file; every failure, reading included, is a ConfigError."""
    return parse_config(read_yaml(path), str(path))


def read_yaml(path: str | Path) -> object:
    """The YAML document in a file (None when empty); a file that cannot be read or parsed is a ConfigError."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(source, None, "file not found") from None
    except IsADirectoryError:
        raise ConfigError(source, None, "is a directory, not a file") from None
    except PermissionError:
        raise ConfigError(source, None, "permission denied") from None
    except UnicodeDecodeError as e:
        raise ConfigError(source, None, f"not UTF-8 text (byte {e.start})") from None
    except OSError as e:
        raise ConfigError(source, None, f"cannot read: {e.strerror or e}") from None
    try:
        return yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass
    except yaml.YAMLError as e:
        raise ConfigError(source, *_yaml_problem(e)) from None
    except RecursionError:
        raise ConfigError(source, None, "invalid YAML: nested too deeply") from None
    except ValueError as e:
        # A value PyYAML resolved but Python refuses: an integer of more than 4,300 digits, a date like 2024-13-45.
        raise ConfigError(source, None, f"invalid YAML: {str(e).split(':')[0]}") from None


def parse_config(data: object, source: str) -> Config:
    """Validate data loaded from YAML (None: an empty file) into a Config; raises ConfigError."""
    if data is None:
        return Config(source=source)
    root = _Node(data, source, ())
    if not isinstance(data, dict):
        raise root.error(f"the file must be a mapping of settings ({', '.join(_SECTIONS)}), got {_kind(data)}")
    config = Config(source=source)
    fields = root.fields(_SECTIONS)
    # Crons are read in the configured time zone and grammar: sections go in table order (velero_timezone and
    # velero_version before tiers).
    for key, section in _SECTIONS.items():
        if key in fields:
            config = dataclasses.replace(config, **section(fields[key], config))
    return config


# --- sections: each turns one top-level value into Config fields -------------------------------------------


def _label_key(node: _Node) -> str:
    key = node.string()
    prefix, slash, name = key.rpartition("/")
    valid_name = len(name) <= 63 and _LABEL_NAME.fullmatch(name) is not None
    valid_prefix = not slash or (len(prefix) <= 253 and _DNS_SUBDOMAIN.fullmatch(prefix) is not None)
    if not (valid_name and valid_prefix):
        raise node.error(
            f"{key!r} is not a Kubernetes label key (an optional DNS-subdomain prefix and '/', then at most "
            "63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit)"
        )
    return key


def _tier_label(node: _Node, config: Config) -> dict[str, Any]:
    return {"tier_label": _label_key(node)}


def _drill_label(node: _Node, config: Config) -> dict[str, Any]:
    return {"drill_label": _label_key(node)}


def _velero_timezone(node: _Node, config: Config) -> dict[str, Any]:
    name = node.string()
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise node.error(f"{name!r} is not an IANA time zone (such as UTC or Europe/Berlin)") from None
    return {"velero_timezone": name}


_VELERO_VERSION = re.compile(r"v?(\d+)\.(\d+)(\.\d+)?")


def _velero_version(node: _Node, config: Config) -> dict[str, Any]:
    first, last = VELERO_VERSIONS[0], VELERO_VERSIONS[-1]
    if not isinstance(node.value, str):
        # unquoted, YAML reads 1.10 as the number 1.1
        raise node.error(f"expected the version as a quoted string such as '1.{last[1]}', got {_kind(node.value)}")
    match = _VELERO_VERSION.fullmatch(node.value)
    version = (int(match.group(1)), int(match.group(2))) if match else None
    if version not in VELERO_VERSIONS:
        raise node.error(
            f"{node.value!r} is not a Velero version this exporter models (1.{first[1]} to 1.{last[1]}, such as "
            f"'1.{last[1]}' or 'v1.{last[1]}.0')"
        )
    return {"velero_version": version}


def _gc_grace(node: _Node, config: Config) -> dict[str, Any]:
    return {"gc_grace_seconds": node.duration(positive=False)}


def _clock_skew(node: _Node, config: Config) -> dict[str, Any]:
    return {"clock_skew_seconds": node.duration(positive=False)}


_LIMIT_COUNTS = ("list_page_bytes", "watch_event_bytes", "label_value_bytes", "connections")
_LIMIT_DURATIONS = {"request_timeout": "request_timeout_seconds"}


def _limits(node: _Node, config: Config) -> dict[str, Any]:
    fields = node.fields((*_LIMIT_COUNTS, *_LIMIT_DURATIONS))
    values: dict[str, Any] = {key: fields[key].count() for key in _LIMIT_COUNTS if key in fields}
    for key, name in _LIMIT_DURATIONS.items():
        if key in fields:
            values[name] = fields[key].duration(positive=True)
    return {"limits": Limits(**values)}


def _store_validation_frequency(node: _Node, config: Config) -> dict[str, Any]:
    return {"store_validation_frequency_seconds": node.duration(positive=False)}


def _tiers(node: _Node, config: Config) -> dict[str, Any]:
    tiers = []
    owner: dict[str, str] = {}  # schedule name -> the tier that lists it
    for name, tier_node in node.mapping("a mapping of tier name to tier ({} for no tiers)").items():
        tier = _tier(name, tier_node, config)
        for schedule in tier.schedules:
            if schedule.name in owner:
                raise (
                    tier_node.child("schedules")
                    .child(schedule.name)
                    .error(
                        f"schedule {schedule.name!r} is already listed under tier {owner[schedule.name]!r} "
                        "(a schedule belongs to one tier)"
                    )
                )
            owner[schedule.name] = name
        tiers.append(tier)
    return {"tiers": tuple(tiers)}


_AWS_KEYS = (
    "enabled",
    "intervals",
    "jitter",
    "timeouts",
    "max_attempts",
    "manifest_reads",
    "snapshot_tag",
    "snapshot_lock",
    "replica_grace",
    "require_separate_dr_account",
    "require_dr_object_lock",
    "locations",
    "extra_buckets",
    "extra_regions",
    "regions",
)
_INTERVAL_KEYS = {
    "buckets": "buckets_interval",
    "repositories": "repositories_interval",
    "snapshots": "snapshots_interval",
    "posture": "posture_interval",
}
_FLAG_KEYS = ("enabled", "snapshot_lock", "require_separate_dr_account", "require_dr_object_lock")
_TIMEOUT_KEYS = {"connect": "connect_timeout", "read": "read_timeout"}
_BUCKET_SETTING_KEYS = ("mode", "role_arn", "include_noncurrent")
_EXTRA_BUCKET_KEYS = ("bucket", "region", "prefix", "s3_url", "replica_of", *_BUCKET_SETTING_KEYS)
_REGION_SETTING_KEYS = ("role_arn",)


def _aws(node: _Node, config: Config) -> dict[str, Any]:
    fields = node.fields(_AWS_KEYS)
    values: dict[str, Any] = {}
    for key in _FLAG_KEYS:
        if key in fields:
            values[key] = fields[key].boolean()
    if "replica_grace" in fields:
        values["replica_grace"] = fields["replica_grace"].duration(positive=False)
    for group, names in (("intervals", _INTERVAL_KEYS), ("timeouts", _TIMEOUT_KEYS)):
        if group in fields:
            for key, child in fields[group].fields(names).items():
                values[names[key]] = child.duration(positive=True)
    if "jitter" in fields:
        jitter = fields["jitter"]
        if isinstance(jitter.value, bool) or not isinstance(jitter.value, int | float) or not 0 <= jitter.value < 1:
            raise jitter.error(f"expected a fraction from 0 up to (not including) 1, got {_kind(jitter.value)}")
        values["jitter"] = float(jitter.value)
    for key in ("max_attempts", "manifest_reads"):
        if key in fields:
            values[key] = fields[key].count()
    if "snapshot_tag" in fields:
        tag = fields["snapshot_tag"].string()
        key, equals, value = tag.partition("=")
        if not key.strip():
            raise fields["snapshot_tag"].error(f"{tag!r} names no tag key (use a key, or key=value)")
        values["snapshot_tag_key"] = key
        values["snapshot_tag_value"] = value if equals else None
    if "locations" in fields:
        values["locations"] = tuple(
            (name, _bucket_settings(child.fields(_BUCKET_SETTING_KEYS)))
            for name, child in fields["locations"].mapping("a mapping of location name to its settings").items()
        )
    if "extra_buckets" in fields:
        values["extra_buckets"] = tuple(
            _extra_bucket(name, child)
            for name, child in fields["extra_buckets"].mapping("a mapping of name to bucket").items()
        )
    if "extra_regions" in fields:
        values["extra_regions"] = tuple(_region(child) for child in fields["extra_regions"].items())
    if "regions" in fields:
        values["regions"] = tuple(
            (_region(_Node(name, child.source, child.path)), _region_settings(child))
            for name, child in fields["regions"].mapping("a mapping of region to its settings").items()
        )
    return {"aws": AwsConfig(**values)}


def _region_settings(node: _Node) -> RegionSettings:
    return RegionSettings(role_arn=_role_arn(node.fields(_REGION_SETTING_KEYS)))


def _bucket_settings(fields: dict[str, _Node]) -> BucketSettings:
    mode = fields["mode"].string() if "mode" in fields else "list"
    if mode not in BUCKET_MODES:
        raise fields["mode"].error(f"{mode!r} is not a bucket mode ({' or '.join(BUCKET_MODES)})")
    role_arn = _role_arn(fields)
    noncurrent = fields["include_noncurrent"].boolean() if "include_noncurrent" in fields else False
    if noncurrent and mode != "list":
        raise fields["include_noncurrent"].error("applies to list mode only (cloudwatch mode counts every version)")
    return BucketSettings(mode=mode, role_arn=role_arn, include_noncurrent=noncurrent)


def _role_arn(fields: dict[str, _Node]) -> str | None:
    if "role_arn" not in fields:
        return None
    role_arn = fields["role_arn"].string()
    if _ROLE_ARN.fullmatch(role_arn) is None:
        raise fields["role_arn"].error(f"{role_arn!r} is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)")
    return role_arn


def _extra_bucket(name: str, node: _Node) -> ExtraBucket:
    if len(name) > 253 or _DNS_SUBDOMAIN.fullmatch(name) is None:
        raise node.error(f"{name!r} is not a name like a location's (lowercase letters, digits, '-' and '.')")
    fields = node.fields(_EXTRA_BUCKET_KEYS)
    for key in ("bucket", "region"):
        if key not in fields:
            raise node.error(f"missing {key} (an extra bucket needs bucket and region)")
    bucket = fields["bucket"].string()
    if _BUCKET.fullmatch(bucket) is None:
        raise fields["bucket"].error(f"{bucket!r} is not an S3 bucket name")
    prefix = fields["prefix"].string().strip("/") if "prefix" in fields else ""
    s3_url = fields["s3_url"].string() if "s3_url" in fields else ""
    if s3_url and _URL.fullmatch(s3_url) is None:
        raise fields["s3_url"].error(f"{s3_url!r} is not an http:// or https:// URL")
    replica_of = ""
    if "replica_of" in fields:
        replica_of = fields["replica_of"].string()
        if replica_of == name:
            raise fields["replica_of"].error("a bucket cannot be a replica of itself")
        if len(replica_of) > 253 or _DNS_SUBDOMAIN.fullmatch(replica_of) is None:
            raise fields["replica_of"].error(
                f"{replica_of!r} is not a location's name (a BackupStorageLocation or another extra bucket)"
            )
    settings = _bucket_settings({k: v for k, v in fields.items() if k in _BUCKET_SETTING_KEYS})
    if replica_of and settings.mode != "list":
        raise fields["replica_of"].error("a replica is compared by its listing: list mode only")
    return ExtraBucket(name, bucket, _region(fields["region"]), prefix, s3_url, settings, replica_of)


def _region(node: _Node) -> str:
    region = node.string()
    if _REGION.fullmatch(region) is None:
        raise node.error(f"{region!r} is not an AWS region (such as us-west-2)")
    return region


_COVERAGE_KEYS = ("enabled", "ignore_namespaces", "grace", "velero_server", "policy_interval")
_VELERO_SERVER_KEYS = (
    "features",
    "default_volumes_to_fs_backup",
    "default_snapshot_move_data",
    "default_volume_snapshot_locations",
)
# The `velero server --features` that change what a backup carries; any other flag is refused as a likely typo.
_VELERO_FEATURES = ("EnableCSI",)
# A namespace glob: what a namespace name may hold, plus the shell wildcards * ? [ ] (and ! inside a class).
_NAMESPACE_GLOB = re.compile(r"[-a-z0-9*?\[\]!]{1,63}")


def _coverage(node: _Node, config: Config) -> dict[str, Any]:
    fields = node.fields(_COVERAGE_KEYS)
    values: dict[str, Any] = {}
    if "enabled" in fields:
        values["enabled"] = fields["enabled"].boolean()
    if "ignore_namespaces" in fields:
        values["ignore_namespaces"] = tuple(_namespace_glob(child) for child in fields["ignore_namespaces"].items())
    if "grace" in fields:
        values["grace_seconds"] = fields["grace"].duration(positive=False)
    if "policy_interval" in fields:
        values["policy_interval_seconds"] = fields["policy_interval"].duration(positive=True)
    if "velero_server" in fields:
        server = fields["velero_server"].fields(_VELERO_SERVER_KEYS)
        flags: dict[str, Any] = {}
        if "features" in server:
            flags["features"] = tuple(_feature(child) for child in server["features"].items())
        for key in ("default_volumes_to_fs_backup", "default_snapshot_move_data"):
            if key in server:
                flags[key] = server[key].boolean()
        if "default_volume_snapshot_locations" in server:
            locations = server["default_volume_snapshot_locations"]
            flags["default_volume_snapshot_locations"] = tuple(
                (provider, child.string())
                for provider, child in locations.mapping("a mapping of provider to location name").items()
            )
        values["velero_server"] = VeleroServer(**flags)
    return {"coverage": CoverageConfig(**values)}


def _namespace_glob(node: _Node) -> str:
    pattern = node.string()
    if _NAMESPACE_GLOB.fullmatch(pattern) is None:
        raise node.error(
            f"{pattern!r} is not a namespace glob (lowercase letters, digits and '-', with the wildcards * ? [ ])"
        )
    return pattern


def _feature(node: _Node) -> str:
    feature = node.string()
    if feature not in _VELERO_FEATURES:
        raise node.error(
            f"{feature!r} is not a Velero feature flag the exporter models ({', '.join(_VELERO_FEATURES)})"
        )
    return feature


# A cluster's name is a label value in every fleet query; the names EKS, GKE and kubeconfig contexts use.
_CLUSTER_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_CLUSTER_KEYS = ("name", "role", "dr_of", "dr_tiers")


def _cluster(node: _Node, config: Config) -> dict[str, Any]:
    fields = node.fields(_CLUSTER_KEYS)
    if "name" not in fields:
        raise node.error("missing name (the cluster's name, which a DR cluster's dr_of refers to)")
    name = _cluster_name(fields["name"])
    role = fields["role"].string() if "role" in fields else "primary"
    if role not in CLUSTER_ROLES:
        raise fields["role"].error(f"{role!r} is not a cluster role ({' or '.join(CLUSTER_ROLES)})")
    if role != "dr":
        for key in ("dr_of", "dr_tiers"):
            if key in fields:
                raise fields[key].error(f"applies to role dr only (this cluster's role is {role})")
        return {"cluster": ClusterSettings(name, role)}
    if "dr_of" not in fields:
        raise node.error("missing dr_of (a DR cluster names the primary whose backups it restores)")
    dr_of = _cluster_name(fields["dr_of"])
    if dr_of == name:
        raise fields["dr_of"].error(f"{dr_of!r} is this cluster's own name (dr_of names its primary)")
    dr_tiers = _dr_tiers(fields["dr_tiers"], config.tier_names) if "dr_tiers" in fields else None
    return {"cluster": ClusterSettings(name, role, dr_of, dr_tiers)}


def _cluster_name(node: _Node) -> str:
    name = node.string()
    if len(name) > 253 or _CLUSTER_NAME.fullmatch(name) is None:
        raise node.error(
            f"{name!r} is not a cluster name (letters, digits, '-', '_' and '.', starting and ending with a letter "
            "or digit, at most 253 characters)"
        )
    return name


def _dr_tiers(node: _Node, configured: tuple[str, ...]) -> tuple[str, ...]:
    tiers: list[str] = []
    for item in node.items():
        tier = item.string()
        if tier not in configured:
            raise item.error(f"{tier!r} is not a configured tier ({', '.join(configured) or 'none configured'})")
        if tier in tiers:
            raise item.error(f"tier {tier!r} is listed twice")
        tiers.append(tier)
    if not tiers:
        raise node.error("lists no tier (leave dr_tiers out for every tier)")
    return tuple(tiers)


_SECTIONS: dict[str, Callable[[_Node, Config], dict[str, Any]]] = {
    "tier_label": _tier_label,
    "drill_label": _drill_label,
    "velero_timezone": _velero_timezone,
    "gc_grace": _gc_grace,
    "clock_skew": _clock_skew,
    "limits": _limits,
    "velero_version": _velero_version,
    "velero_store_validation_frequency": _store_validation_frequency,
    "tiers": _tiers,
    "aws": _aws,
    "coverage": _coverage,
    # After tiers: dr_tiers must name configured tiers.
    "cluster": _cluster,
}

_TIER_KEYS = ("rpo", "rto", "retention", "accept_partially_failed", "require_validation", "schedules")
_REQUIRED_TIER_KEYS = ("rpo", "rto", "retention")


def _tier(name: str, node: _Node, config: Config) -> Tier:
    if name in RESERVED_TIER_NAMES:
        raise node.error(f"tier name {name!r} is reserved for backups that belong to no tier")
    if len(name) > TIER_NAME_MAX or TIER_NAME.fullmatch(name) is None:
        raise node.error(
            f"tier name {name!r} must start with a lowercase letter or digit, continue with lowercase "
            f"letters, digits, '-' or '_', and have at most {TIER_NAME_MAX} characters"
        )
    fields = node.fields(_TIER_KEYS)
    for key in _REQUIRED_TIER_KEYS:
        if key not in fields:
            raise node.error(f"missing {key} (every tier needs rpo, rto and retention)")
    rpo, rto, retention = (fields[key].duration(positive=True) for key in _REQUIRED_TIER_KEYS)
    accept, validation = (
        fields[key].boolean() if key in fields else False for key in ("accept_partially_failed", "require_validation")
    )
    schedules = _schedules(fields["schedules"], config) if "schedules" in fields else ()
    return Tier(name, rpo, rto, retention, schedules, accept_partially_failed=accept, require_validation=validation)


def _schedules(node: _Node, config: Config) -> tuple[TierSchedule, ...]:
    schedules = []
    for name, cron_node in node.mapping("a mapping of schedule name to its cron ({} for none)").items():
        if len(name) > 253 or _DNS_SUBDOMAIN.fullmatch(name) is None:
            raise cron_node.error(
                f"{name!r} is not a Schedule name (Kubernetes object names are lowercase letters, digits, "
                "'-' and '.', starting and ending with a letter or digit)"
            )
        cron = cron_node.value
        if cron is not None:
            if not isinstance(cron, str):
                raise cron_node.error(
                    f"expected the schedule's cron as a string such as '0 * * * *' (or null), got {_kind(cron)}"
                )
            velero = f"Velero {'.'.join(map(str, config.velero_version))}"
            try:
                parsed = parse_cron(cron, config.velero_timezone, config.cron_library)
            except CronError as e:
                raise cron_node.error(f"{cron!r} is not a cron {velero} accepts: {e}") from None
            try:
                parsed.next_after(time.time())
            except CronNeverMatchesError:
                # robfig's Next returns the zero time; Velero's getNextRunTime then finds the schedule due at
                # every reconcile (pkg/controller/schedule_controller.go).
                raise cron_node.error(
                    f"{cron!r} matches no time within five years: {velero} would take a backup at every "
                    "reconcile, one after another, instead of never"
                ) from None
        schedules.append(TierSchedule(name, cron))
    return tuple(schedules)


# --- the walk: a value with its place in the file -----------------------------------------------------------


@dataclass(slots=True, frozen=True)
class _Node:
    value: object
    source: str
    path: tuple[str, ...]

    def error(self, problem: str) -> ConfigError:
        return ConfigError(self.source, ".".join(self.path) or None, problem)

    def child(self, key: str, value: object = None) -> _Node:
        shown = key if key.isprintable() else repr(key)  # no control characters in a message
        return _Node(value, self.source, (*self.path, shown))

    def mapping(self, expected: str) -> dict[str, _Node]:
        """The value as a mapping with string keys, each entry as a node."""
        if not isinstance(self.value, dict):
            raise self.error(f"expected {expected}, got {_kind(self.value)}")
        entries = {}
        for key, value in self.value.items():
            if not isinstance(key, str):
                raise self.child(_key_text(key)).error(f"keys must be strings, got {_kind(key)}")
            entries[key] = self.child(key, value)
        return entries

    def fields(self, known: Collection[str]) -> dict[str, _Node]:
        """The value as a mapping of settings: every key must be one of known."""
        entries = self.mapping(f"a mapping of settings ({', '.join(known)})")
        for key, node in entries.items():
            if key not in known:
                nearest = _nearest(key, known)
                hint = f"did you mean {nearest}?" if nearest else f"known keys: {', '.join(known)}"
                raise node.error(f"unknown key ({hint})")
        return entries

    def string(self) -> str:
        if not isinstance(self.value, str):
            raise self.error(f"expected a string, got {_kind(self.value)}")
        return self.value

    def items(self) -> list[_Node]:
        """The value as a list, each item as a node named by its index."""
        if not isinstance(self.value, list):
            raise self.error(f"expected a list, got {_kind(self.value)}")
        return [self.child(f"[{i}]", item) for i, item in enumerate(self.value)]

    def count(self) -> int:
        """A whole number of at least 1."""
        if isinstance(self.value, bool) or not isinstance(self.value, int) or self.value < 1:
            raise self.error(f"expected a whole number of at least 1, got {_kind(self.value)}")
        return self.value

    def boolean(self) -> bool:
        if not isinstance(self.value, bool):
            raise self.error(f"expected true or false, got {_kind(self.value)}")
        return self.value

    def duration(self, *, positive: bool) -> float:
        if not isinstance(self.value, str):
            raise self.error(f"expected a duration ({_DURATION_HINT}), got {_kind(self.value)}")
        try:
            seconds = parse_duration(self.value)
        except DurationError as e:
            raise self.error(str(e)) from None
        if positive and seconds <= 0:
            raise self.error(f"must be longer than 0, got {self.value!r}")
        return seconds


def _nearest(key: str, known: Collection[str]) -> str | None:
    """The known key the operator most likely meant: same spelling but for case and '-', same letters in
    another order (rop: rpo, not rto), else the closest by difflib."""
    normal = key.lower().replace("-", "_")
    for candidate in known:
        if candidate == normal:
            return candidate
    for candidate in known:
        if sorted(candidate) == sorted(normal):
            return candidate
    close = difflib.get_close_matches(normal, list(known), n=1)
    return close[0] if close else None


def _kind(value: object) -> str:
    """A YAML reader's name for a value's type, with the value when it is short."""
    names: list[tuple[type, str]] = [
        (bool, "boolean"),
        (int, "integer"),
        (float, "number"),
        (str, "string"),
        (datetime.date, "timestamp"),
        (bytes, "binary"),
        (list, "a list"),
        (dict, "a mapping"),
    ]
    if value is None:
        return "null (an empty value)"
    name = next((n for t, n in names if isinstance(value, t)), type(value).__name__)
    if isinstance(value, list | dict | bytes):
        return name
    shown = repr(value) if isinstance(value, str) else str(value)
    return f"{name} {_one_line(shown)[:60]}"


def _key_text(key: object) -> str:
    return _one_line(str(key))[:60]


def _one_line(text: str) -> str:
    return " ".join(text.splitlines())


# --- YAML ---------------------------------------------------------------------------------------------------


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (PyYAML silently keeps the last)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Hashable, Any]:
    seen: set[Hashable] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":  # "<<: *defaults": its keys may be overridden
            continue
        key = loader.construct_object(key_node)
        try:
            duplicate = key in seen
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a plain value, not a list or mapping", key_node.start_mark
            ) from None
        if duplicate:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {_key_text(key)!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _yaml_problem(error: yaml.YAMLError) -> tuple[str | None, str]:
    """(line N, what is wrong) from a PyYAML error, without its multi-line source excerpt."""
    if not isinstance(error, yaml.MarkedYAMLError):
        return None, f"invalid YAML: {error}"
    mark = error.problem_mark or error.context_mark
    where = f"line {mark.line + 1}" if mark is not None else None
    problem = f"invalid YAML: {error.problem or 'unexpected content'}"
    if error.context:
        problem += f" ({error.context})"
    if error.context == "while scanning an alias":
        problem += "; quote a value that starts with *, such as a cron: '*/30 * * * *'"
    return where, problem
