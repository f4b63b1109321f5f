"""The configuration file: what a valid file gives, and the one line a wrong one stops with."""

from __future__ import annotations

import dataclasses
import string
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from velero_exporter.config.file import ConfigError, load_config, parse_config
from velero_exporter.config.settings import (
    DAY,
    HOUR,
    MINUTE,
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

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

FULL = """\
tier_label: example.com/backup-tier
drill_label: example.com/restore-drill
velero_timezone: Europe/Berlin
gc_grace: 90m
velero_store_validation_frequency: 5m
tiers:
  gold:
    rpo: 1h30m
    rto: 20m
    retention: 2w
    accept_partially_failed: true
    require_validation: true
    schedules:
      gold-hourly: "0 * * * *"
      gold-adhoc-import: null
  silver:
    rpo: 1d
    rto: 4h
    retention: 1y
    schedules:
      silver-daily: "CRON_TZ=America/New_York 30 1 * * *"
      silver-every: "@every 6h"
  bronze:
    rpo: 1w
    rto: 1d
    retention: 90d
"""


def write(tmp_path: Path, text: str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_full_file_gives_exactly_what_it_says(tmp_path: Path) -> None:
    path = write(tmp_path, FULL)
    assert load_config(path) == Config(
        tiers=(
            Tier(
                "gold",
                rpo_seconds=90 * MINUTE,
                rto_seconds=20 * MINUTE,
                retention_seconds=14 * DAY,
                schedules=(TierSchedule("gold-hourly", "0 * * * *"), TierSchedule("gold-adhoc-import", None)),
                accept_partially_failed=True,
                require_validation=True,
            ),
            Tier(
                "silver",
                rpo_seconds=DAY,
                rto_seconds=4 * HOUR,
                retention_seconds=365 * DAY,
                schedules=(
                    TierSchedule("silver-daily", "CRON_TZ=America/New_York 30 1 * * *"),
                    TierSchedule("silver-every", "@every 6h"),
                ),
            ),
            Tier("bronze", rpo_seconds=7 * DAY, rto_seconds=DAY, retention_seconds=90 * DAY),
        ),
        tier_label="example.com/backup-tier",
        drill_label="example.com/restore-drill",
        velero_timezone="Europe/Berlin",
        gc_grace_seconds=90 * MINUTE,
        store_validation_frequency_seconds=5 * MINUTE,
        source=str(path),
    )


@pytest.mark.parametrize("text", ["", "\n", "# nothing configured yet\n", "---\n", "~\n"])
def test_an_empty_file_gives_the_defaults(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    assert load_config(path) == Config(source=str(path))


def test_every_key_is_optional(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "gc_grace: 3h\n"))
    assert config.gc_grace_seconds == 3 * HOUR
    assert config.tiers == Config().tiers
    assert config.tier_label == "backup-tier"
    assert config.velero_timezone == "UTC"


def test_clock_skew_and_limits() -> None:
    config = parse_config(
        {
            "clock_skew": "2m",
            "limits": {"list_page_bytes": 1024, "label_value_bytes": 64, "connections": 8, "request_timeout": "5s"},
        },
        "c.yaml",
    )
    assert config.clock_skew_seconds == 120
    assert config.limits == Limits(
        list_page_bytes=1024, label_value_bytes=64, connections=8, request_timeout_seconds=5.0
    )
    assert config.limits.watch_event_bytes == Limits().watch_event_bytes == 4 * 1024 * 1024


def test_tiers_replace_the_default_tiers_entirely() -> None:
    config = parse_config({"tiers": {"hot": {"rpo": "2h", "rto": "15m", "retention": "7d"}}}, "c.yaml")
    assert config.tier_names == ("hot",)
    assert config.tiers[0].schedules == ()
    assert config.tiers[0].accept_partially_failed is False


def test_an_empty_tiers_mapping_means_no_tiers() -> None:
    assert parse_config({"tiers": {}}, "c.yaml").tiers == ()


def test_a_label_key_without_prefix_and_a_plain_zone() -> None:
    config = parse_config({"tier_label": "tier", "velero_timezone": "Asia/Kolkata", "gc_grace": "0"}, "c")
    assert (config.tier_label, config.velero_timezone, config.gc_grace_seconds) == ("tier", "Asia/Kolkata", 0)


def test_yaml_anchors_and_merge_keys_may_share_objectives(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
tiers:
  a: &objectives {rpo: 2h, rto: 1h, retention: 7d}
  b:
    <<: *objectives
    rpo: 3h
""",
    )
    a, b = load_config(path).tiers
    assert (a.rpo_seconds, b.rpo_seconds, b.retention_seconds) == (2 * HOUR, 3 * HOUR, 7 * DAY)


TIER = "rpo: 1h\n    rto: 15m\n    retention: 7d"
TOP_KEYS = (
    "tier_label, drill_label, velero_timezone, gc_grace, clock_skew, limits, velero_version, "
    "velero_store_validation_frequency, tiers, aws, coverage, cluster"
)

BAD_FILES = [
    # unknown keys, with the nearest known one
    ("tierz: {}\n", "tierz: unknown key (did you mean tiers?)"),
    ("tier-label: x\n", "tier-label: unknown key (did you mean tier_label?)"),
    ("Tiers: {}\n", "Tiers: unknown key (did you mean tiers?)"),
    ("timezone: UTC\n", "timezone: unknown key (did you mean velero_timezone?)"),
    ("verbose: true\n", f"verbose: unknown key (known keys: {TOP_KEYS})"),
    (
        "tiers:\n  hot:\n    rop: 1h\n    rto: 15m\n    retention: 7d\n",
        "tiers.hot.rop: unknown key (did you mean rpo?)",
    ),
    (
        f"tiers:\n  hot:\n    {TIER}\n    acept_partially_failed: true\n",
        "tiers.hot.acept_partially_failed: unknown key (did you mean accept_partially_failed?)",
    ),
    # durations
    (
        "tiers:\n  hot:\n    rpo: 1hour\n    rto: 15m\n    retention: 7d\n",
        "tiers.hot.rpo: '1hour' is not a duration (use Prometheus syntax such as 30m, 4h, 7d)",
    ),
    (
        "tiers:\n  hot:\n    rpo: 1h\n    rto: 1h 30m\n    retention: 7d\n",
        "tiers.hot.rto: '1h 30m' is not a duration (no spaces; use Prometheus syntax such as 30m, 4h, 7d)",
    ),
    (
        "tiers:\n  hot:\n    rpo: 1h\n    rto: 15m\n    retention: 0s\n",
        "tiers.hot.retention: must be longer than 0, got '0s'",
    ),
    (
        "tiers:\n  hot:\n    rpo: 0\n    rto: 15m\n    retention: 7d\n",
        "tiers.hot.rpo: expected a duration (use Prometheus syntax such as 30m, 4h, 7d), got integer 0",
    ),
    (
        "tiers:\n  hot:\n    rpo: 3600\n    rto: 15m\n    retention: 7d\n",
        "tiers.hot.rpo: expected a duration (use Prometheus syntax such as 30m, 4h, 7d), got integer 3600",
    ),
    (
        "gc_grace: -1h\n",
        "gc_grace: '-1h' is not a duration (no sign, durations are never negative; "
        "use Prometheus syntax such as 30m, 4h, 7d)",
    ),
    (
        "gc_grace: 1.5\n",
        "gc_grace: expected a duration (use Prometheus syntax such as 30m, 4h, 7d), got number 1.5",
    ),
    # tiers
    (
        "tiers:\n  hot:\n    rpo: 1h\n    rto: 15m\n",
        "tiers.hot: missing retention (every tier needs rpo, rto and retention)",
    ),
    ("tiers:\n  hot: {}\n", "tiers.hot: missing rpo (every tier needs rpo, rto and retention)"),
    (
        "tiers:\n  hot:\n",
        "tiers.hot: expected a mapping of settings "
        "(rpo, rto, retention, accept_partially_failed, require_validation, schedules), got null (an empty value)",
    ),
    (
        "tiers:\n  - hot\n",
        "tiers: expected a mapping of tier name to tier ({} for no tiers), got a list",
    ),
    (
        "tiers:\n",
        "tiers: expected a mapping of tier name to tier ({} for no tiers), got null (an empty value)",
    ),
    (
        f"tiers:\n  Hot:\n    {TIER}\n",
        "tiers.Hot: tier name 'Hot' must start with a lowercase letter or digit, continue with lowercase "
        "letters, digits, '-' or '_', and have at most 63 characters",
    ),
    (
        f"tiers:\n  _hot:\n    {TIER}\n",
        "tiers._hot: tier name '_hot' must start with a lowercase letter or digit, continue with lowercase "
        "letters, digits, '-' or '_', and have at most 63 characters",
    ),
    (
        f"tiers:\n  unassigned:\n    {TIER}\n",
        "tiers.unassigned: tier name 'unassigned' is reserved for backups that belong to no tier",
    ),
    (f"tiers:\n  1:\n    {TIER}\n", "tiers.1: keys must be strings, got integer 1"),
    (
        f"tiers:\n  hot:\n    {TIER}\n    accept_partially_failed: 'yes'\n",
        "tiers.hot.accept_partially_failed: expected true or false, got string 'yes'",
    ),
    (
        f"tiers:\n  hot:\n    {TIER}\n    accept_partially_failed: 1\n",
        "tiers.hot.accept_partially_failed: expected true or false, got integer 1",
    ),
    # schedules
    (
        f"tiers:\n  hot:\n    {TIER}\n    schedules:\n      - hourly-hot\n",
        "tiers.hot.schedules: expected a mapping of schedule name to its cron ({} for none), got a list",
    ),
    (
        f"tiers:\n  hot:\n    {TIER}\n    schedules:\n      hourly-hot: 5\n",
        "tiers.hot.schedules.hourly-hot: expected the schedule's cron as a string such as '0 * * * *' "
        "(or null), got integer 5",
    ),
    (
        f"tiers:\n  hot:\n    {TIER}\n    schedules:\n      hourly-hot: ['0 * * * *']\n",
        "tiers.hot.schedules.hourly-hot: expected the schedule's cron as a string such as '0 * * * *' "
        "(or null), got a list",
    ),
    (
        f"tiers:\n  hot:\n    {TIER}\n    schedules:\n      Hourly_Hot: null\n",
        "tiers.hot.schedules.Hourly_Hot: 'Hourly_Hot' is not a Schedule name (Kubernetes object names are "
        "lowercase letters, digits, '-' and '.', starting and ending with a letter or digit)",
    ),
    (
        f"tiers:\n  hot:\n    {TIER}\n    schedules:\n      hourly: '0 * * * *'\n"
        f"  warm:\n    {TIER}\n    schedules:\n      hourly: '0 * * * *'\n",
        "tiers.warm.schedules.hourly: schedule 'hourly' is already listed under tier 'hot' "
        "(a schedule belongs to one tier)",
    ),
    # globals
    (
        "tier_label: backup tier\n",
        "tier_label: 'backup tier' is not a Kubernetes label key (an optional DNS-subdomain prefix and "
        "'/', then at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit)",
    ),
    (
        "tier_label: Example.com/tier\n",
        "tier_label: 'Example.com/tier' is not a Kubernetes label key (an optional DNS-subdomain prefix "
        "and '/', then at most 63 letters, digits, '-', '_' or '.', "
        "starting and ending with a letter or digit)",
    ),
    (
        f"tier_label: {'t' * 64}\n",
        f"tier_label: '{'t' * 64}' is not a Kubernetes label key (an optional DNS-subdomain prefix and '/', "
        "then at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit)",
    ),
    ("tier_label: [a]\n", "tier_label: expected a string, got a list"),
    (
        "drill_label: drill=true\n",
        "drill_label: 'drill=true' is not a Kubernetes label key (an optional DNS-subdomain prefix and '/', "
        "then at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit)",
    ),
    (
        f"tiers:\n  dr:\n    {TIER}\n    require_validation: 'yes'\n",
        "tiers.dr.require_validation: expected true or false, got string 'yes'",
    ),
    (
        "velero_timezone: Mars/Olympus_Mons\n",
        "velero_timezone: 'Mars/Olympus_Mons' is not an IANA time zone (such as UTC or Europe/Berlin)",
    ),
    (
        "velero_timezone: ../../etc/passwd\n",
        "velero_timezone: '../../etc/passwd' is not an IANA time zone (such as UTC or Europe/Berlin)",
    ),
    # the file as a whole
    (
        "- tiers\n",
        f"the file must be a mapping of settings ({TOP_KEYS}), got a list",
    ),
    (
        "hello\n",
        f"the file must be a mapping of settings ({TOP_KEYS}), got string 'hello'",
    ),
    (
        "tiers:\n  hot: [\n",
        "line 3: invalid YAML: expected the node content, but found '<stream end>' (while parsing a flow node)",
    ),
    ("gc_grace: 2h\n  tiers: {}\n", "line 2: invalid YAML: mapping values are not allowed here"),
    (
        f"tiers:\n  config:\n    {TIER}\n    schedules:\n      config-backup: */30 * * * *\n",
        "line 7: invalid YAML: expected alphabetic or numeric character, but found '/' "
        "(while scanning an alias); quote a value that starts with *, such as a cron: '*/30 * * * *'",
    ),
    (
        f"tiers:\n  hot:\n    {TIER}\n  hot:\n    {TIER}\n",
        "line 6: invalid YAML: duplicate key 'hot'",
    ),
    ("gc_grace: 1h\ngc_grace: 2h\n", "line 2: invalid YAML: duplicate key 'gc_grace'"),
    ("? [a, b]\n: 1\n", "line 1: invalid YAML: a mapping key must be a plain value, not a list or mapping"),
    (
        "a: 1\n---\nb: 2\n",
        "line 2: invalid YAML: but found another document (expected a single document in the stream)",
    ),
    ("tiers: " + "[" * 100_000 + "]" * 100_000 + "\n", "invalid YAML: nested too deeply"),
    (
        "limits:\n  connections: " + "9" * 5000 + "\n",
        "invalid YAML: Exceeds the limit (4300 digits) for integer string conversion",
    ),
    ("limits:\n  connections: 0\n", "limits.connections: expected a whole number of at least 1, got integer 0"),
    ("limits:\n  request_timeout: 0s\n", "limits.request_timeout: must be longer than 0, got '0s'"),
    ("limits:\n  watch_events: 5\n", "limits.watch_events: unknown key (did you mean watch_event_bytes?)"),
    ("clock_skew: soon\n", "clock_skew: 'soon' is not a duration (use Prometheus syntax such as 30m, 4h, 7d)"),
]


@pytest.mark.parametrize(("text", "problem"), BAD_FILES)
def test_a_bad_file_stops_with_one_line_naming_file_key_and_problem(tmp_path: Path, text: str, problem: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    message = str(raised.value)
    assert message == f"{path}: {problem}"
    assert "\n" not in message
    assert "Traceback" not in message
    assert raised.value.source == str(path)


@pytest.mark.parametrize("cron", ["0 * * *", "61 * * * *", "@fortnightly", "CRON_TZ=Mars/Base 0 * * * *"])
def test_a_cron_velero_would_refuse_is_a_config_error(tmp_path: Path, cron: str) -> None:
    path = write(tmp_path, f"tiers:\n  hot:\n    {TIER}\n    schedules:\n      hourly-hot: '{cron}'\n")
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: tiers.hot.schedules.hourly-hot: '{cron}' is not a cron Velero 1.18 accepts: ")
    assert len(message.splitlines()) == 1


@pytest.mark.parametrize(
    ("version", "accepted"),
    [("1.12", False), ("1.14", False), ("v1.14.3", False), ("1.15", True), ("1.18", True), ("v1.18.1", True)],
)
def test_a_time_zone_prefix_is_a_cron_only_velero_1_15_and_later_accept(
    tmp_path: Path, version: str, accepted: bool
) -> None:
    """Velero 1.12 to 1.14 parse crons with robfig/cron v1, which has no CRON_TZ=/TZ= prefix."""
    for cron in ("CRON_TZ=Europe/Berlin 0 3 * * *", "TZ=UTC @daily"):
        path = write(
            tmp_path, f"velero_version: '{version}'\ntiers:\n  hot:\n    {TIER}\n    schedules:\n      h: '{cron}'\n"
        )
        if accepted:
            assert load_config(path).tiers[0].schedules[0].cron == cron
            continue
        with pytest.raises(ConfigError) as raised:
            load_config(path)
        minor = version.lstrip("v").split(".")[1]
        assert str(raised.value) == (
            f"{path}: tiers.hot.schedules.h: '{cron}' is not a cron Velero 1.{minor} accepts: a CRON_TZ=/TZ= "
            "prefix needs robfig/cron v3 (Velero 1.15 or later); robfig/cron v1 (Velero 1.12 to 1.14) reads it as "
            f"a field and rejects '{cron}'"
        )


def test_the_velero_version_decides_the_cron_library() -> None:
    assert Config().velero_version == (1, 18)
    assert Config().cron_library == "v3"
    assert parse_config({"velero_version": "1.14"}, "c").cron_library == "v1"
    assert parse_config({"velero_version": "v1.15.0"}, "c").cron_library == "v3"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (1.15, "expected the version as a quoted string such as '1.18', got number 1.15"),
        ("1.11", "'1.11' is not a Velero version this exporter models (1.12 to 1.18, such as '1.18' or 'v1.18.0')"),
        ("1.19", "'1.19' is not a Velero version this exporter models (1.12 to 1.18, such as '1.18' or 'v1.18.0')"),
        ("2.0", "'2.0' is not a Velero version this exporter models (1.12 to 1.18, such as '1.18' or 'v1.18.0')"),
        ("latest", "'latest' is not a Velero version this exporter models (1.12 to 1.18, such as '1.18' or 'v1.18.0')"),
    ],
)
def test_a_velero_version_outside_the_modelled_ones_is_a_config_error(value: object, problem: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config({"velero_version": value}, "c.yaml")
    assert str(raised.value) == f"c.yaml: velero_version: {problem}"


@pytest.mark.parametrize("cron", ["0 0 30 2 *", "0 0 31 4,6,9,11 *", "0 0 , * *"])
def test_a_cron_that_matches_no_time_is_a_config_error(tmp_path: Path, cron: str) -> None:
    """robfig's Next returns the zero time for it, and Velero then finds the schedule due at every reconcile."""
    path = write(tmp_path, f"tiers:\n  hot:\n    {TIER}\n    schedules:\n      h: '{cron}'\n")
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert str(raised.value) == (
        f"{path}: tiers.hot.schedules.h: '{cron}' matches no time within five years: Velero 1.18 would take a "
        "backup at every reconcile, one after another, instead of never"
    )


def test_crons_are_read_in_the_configured_zone(tmp_path: Path) -> None:
    # Valid either way; the point is that velero_timezone is applied before the tiers, whatever the key order.
    path = write(
        tmp_path,
        f"tiers:\n  hot:\n    {TIER}\n    schedules:\n      h: '0 * * * *'\nvelero_timezone: Asia/Tokyo\n",
    )
    assert load_config(path).velero_timezone == "Asia/Tokyo"


def test_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert str(raised.value) == f"{path}: file not found"


def test_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(tmp_path)
    assert str(raised.value) == f"{tmp_path}: is a directory, not a file"


def test_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(b"tier_label: caf\xe9\n")
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert str(raised.value) == f"{path}: not UTF-8 text (byte 15)"


def test_the_message_names_the_file_as_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "tiers:\n  hot:\n    rpo: 1hour\n    rto: 15m\n    retention: 7d\n")
    with pytest.raises(ConfigError) as raised:
        load_config("config.yaml")
    assert str(raised.value) == (
        "config.yaml: tiers.hot.rpo: '1hour' is not a duration (use Prometheus syntax such as 30m, 4h, 7d)"
    )
    assert (raised.value.key_path, raised.value.problem) == (
        "tiers.hot.rpo",
        "'1hour' is not a duration (use Prometheus syntax such as 30m, 4h, 7d)",
    )


def test_a_key_with_control_characters_is_shown_escaped_on_one_line() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config({"tiers": {"a\nb\x1b[31m": {}}}, "c.yaml")
    assert str(raised.value) == (
        "c.yaml: tiers.'a\\nb\\x1b[31m': tier name 'a\\nb\\x1b[31m' must start with a lowercase letter or "
        "digit, continue with lowercase letters, digits, '-' or '_', and have at most 63 characters"
    )


# --- the examples ----------------------------------------------------------------------------------------


def test_the_seed_example_is_the_defaults_written_out() -> None:
    config = load_config(EXAMPLES / "config-seed.yaml")
    assert dataclasses.replace(config, source=None) == Config()


def test_the_achievable_example_keeps_the_seed_tiers_and_schedules() -> None:
    config = load_config(EXAMPLES / "config-achievable.yaml")
    seed = Config()
    assert config.tier_names == seed.tier_names
    assert [t.schedules for t in config.tiers] == [t.schedules for t in seed.tiers]
    assert [t.retention_seconds for t in config.tiers] == [t.retention_seconds for t in seed.tiers]


# --- whatever the data, a Config or a ConfigError --------------------------------------------------------

KEYS = st.sampled_from(
    [
        "tier_label",
        "drill_label",
        "velero_timezone",
        "gc_grace",
        "tiers",
        "rpo",
        "rto",
        "retention",
        "accept_partially_failed",
        "require_validation",
        "schedules",
        "hot",
        "unassigned",
        "hourly-hot",
    ]
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True)
    | st.sampled_from(["", "0", "1h", "0s", "7d", "1hour", "UTC", "Europe/Berlin", "backup-tier", "a/b/c"])
    | st.sampled_from(["0 * * * *", "*/30 * * * *", "@every 6h", "@daily", "CRON_TZ=UTC 0 2 * * *", "* * *"])
    | st.text(string.printable, max_size=12)
    | st.text(max_size=8)
)
DATA = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(KEYS | st.text(max_size=6) | st.integers() | st.none(), children, max_size=5)
    ),
    max_leaves=25,
)


def mostly(*valid: object) -> st.SearchStrategy[object]:
    """A valid value three times in four, else any scalar: deep enough to reach every check."""
    return st.integers(0, 3).flatmap(lambda i: SCALARS if i == 0 else st.sampled_from(valid))


CRONS = mostly("0 * * * *", "*/30 * * * *", "@every 6h", "@daily", "CRON_TZ=Asia/Tokyo 0 2 * * *", None)
SCHEDULE_NAMES = st.sampled_from(["hourly-hot", "daily", "x.y", "a"]) | st.text(max_size=6)
TIER_DATA = st.fixed_dictionaries(
    {"rpo": mostly("1h", "30m", "1d"), "rto": mostly("15m", "4h"), "retention": mostly("7d", "1y")},
    optional={
        "accept_partially_failed": mostly(True, False),
        "require_validation": mostly(True, False),
        "schedules": st.dictionaries(SCHEDULE_NAMES, CRONS, max_size=3),
    },
)
TIER_NAMES = st.sampled_from(["hot", "critical", "dr-2", "a_b"]) | KEYS | st.text(max_size=6)
FILE_DATA = st.fixed_dictionaries(
    {},
    optional={
        "tier_label": mostly("backup-tier", "example.com/tier", "t"),
        "drill_label": mostly("velero-exporter.io/drill", "drill"),
        "velero_timezone": mostly("UTC", "Europe/Berlin", "America/New_York"),
        "gc_grace": mostly("2h", "0", "90m"),
        "tiers": st.dictionaries(TIER_NAMES, TIER_DATA | TIER_DATA | DATA, max_size=3),
    },
)


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=300)
@given(DATA | FILE_DATA)
def test_any_data_gives_a_config_or_a_config_error(data: object) -> None:
    try:
        config = parse_config(data, "c.yaml")
    except ConfigError as e:
        message = str(e)
        assert message.startswith("c.yaml: ")
        assert len(message.splitlines()) == 1
    else:
        assert isinstance(config, Config)


@settings(max_examples=100)
@given(DATA | FILE_DATA, st.integers(min_value=0, max_value=200))
def test_any_yaml_text_gives_a_config_or_a_config_error(
    tmp_path_factory: pytest.TempPathFactory, data: object, cut: int
) -> None:
    # Through the file too: the data dumped as YAML, and that text cut short (mostly invalid YAML).
    text = yaml.safe_dump(data)
    path = tmp_path_factory.mktemp("any") / "config.yaml"
    for variant in (text, text[:cut]):
        path.write_text(variant, encoding="utf-8")
        try:
            config = load_config(path)
        except ConfigError as e:
            assert len(str(e).splitlines()) == 1
        else:
            assert isinstance(config, Config)


AWS_FULL = """\
aws:
  enabled: false
  intervals: {buckets: 5m, repositories: 12h, snapshots: 2m, posture: 2h}
  jitter: 0.25
  timeouts: {connect: 2s, read: 1m}
  max_attempts: 5
  manifest_reads: 20
  snapshot_tag: ebs.csi.aws.com/cluster=true
  snapshot_lock: false
  replica_grace: 30m
  require_separate_dr_account: true
  require_dr_object_lock: true
  locations:
    default: {mode: cloudwatch}
    secondary: {include_noncurrent: true, role_arn: "arn:aws:iam::123456789012:role/reader"}
  extra_buckets:
    dr-copy:
      bucket: kailash-velero-dr-backups
      region: us-west-2
      prefix: /cluster-a/
      s3_url: https://s3.us-west-2.amazonaws.com
      role_arn: arn:aws:iam::210987654321:role/velero-exporter-dr-reader
      replica_of: default
  extra_regions: [us-west-2, eu-central-1]
  regions:
    us-west-2: {role_arn: "arn:aws:iam::210987654321:role/velero-exporter-dr-reader"}
"""


def test_the_aws_section_gives_exactly_what_it_says() -> None:
    assert parse_config(yaml.safe_load(AWS_FULL), "c.yaml").aws == AwsConfig(
        enabled=False,
        buckets_interval=5 * MINUTE,
        repositories_interval=12 * HOUR,
        snapshots_interval=2 * MINUTE,
        posture_interval=2 * HOUR,
        jitter=0.25,
        connect_timeout=2.0,
        read_timeout=60.0,
        max_attempts=5,
        manifest_reads=20,
        snapshot_tag_key="ebs.csi.aws.com/cluster",
        snapshot_tag_value="true",
        snapshot_lock=False,
        replica_grace=30 * MINUTE,
        require_separate_dr_account=True,
        require_dr_object_lock=True,
        locations=(
            ("default", BucketSettings(mode="cloudwatch")),
            ("secondary", BucketSettings(role_arn="arn:aws:iam::123456789012:role/reader", include_noncurrent=True)),
        ),
        extra_buckets=(
            ExtraBucket(
                "dr-copy",
                "kailash-velero-dr-backups",
                "us-west-2",
                prefix="cluster-a",
                s3_url="https://s3.us-west-2.amazonaws.com",
                settings=BucketSettings(role_arn="arn:aws:iam::210987654321:role/velero-exporter-dr-reader"),
                replica_of="default",
            ),
        ),
        extra_regions=("us-west-2", "eu-central-1"),
        regions=(("us-west-2", RegionSettings("arn:aws:iam::210987654321:role/velero-exporter-dr-reader")),),
    )


def test_without_an_aws_section_the_sources_run_with_defaults() -> None:
    aws = parse_config({"tier_label": "x"}, "c.yaml").aws
    assert aws == AwsConfig()
    assert (aws.enabled, aws.snapshot_tag_key, aws.snapshot_tag_value) == (True, "velero.io/backup", None)
    assert aws.location_settings("anything") == BucketSettings(mode="list")


BAD_AWS = [
    (
        "aws: true",
        "aws: expected a mapping of settings (enabled, intervals, jitter, timeouts, max_attempts, "
        "manifest_reads, snapshot_tag, snapshot_lock, replica_grace, require_separate_dr_account, "
        "require_dr_object_lock, locations, extra_buckets, extra_regions, regions), got boolean True",
    ),
    ("aws: {enable: false}", "aws.enable: unknown key (did you mean enabled?)"),
    ("aws: {enabled: 'no'}", "aws.enabled: expected true or false, got string 'no'"),
    ("aws: {intervals: {bucket: 5m}}", "aws.intervals.bucket: unknown key (did you mean buckets?)"),
    ("aws: {intervals: {buckets: 0s}}", "aws.intervals.buckets: must be longer than 0, got '0s'"),
    ("aws: {timeouts: {read: soon}}", "aws.timeouts.read: 'soon' is not a duration"),
    ("aws: {jitter: 1}", "aws.jitter: expected a fraction from 0 up to (not including) 1, got integer 1"),
    ("aws: {jitter: true}", "aws.jitter: expected a fraction from 0 up to (not including) 1, got boolean True"),
    ("aws: {max_attempts: 0}", "aws.max_attempts: expected a whole number of at least 1, got integer 0"),
    ("aws: {manifest_reads: 2.5}", "aws.manifest_reads: expected a whole number of at least 1, got number 2.5"),
    ("aws: {snapshot_tag: '=x'}", "aws.snapshot_tag: '=x' names no tag key (use a key, or key=value)"),
    (
        "aws: {locations: {default: {mode: scan}}}",
        "aws.locations.default.mode: 'scan' is not a bucket mode (list or cloudwatch)",
    ),
    (
        "aws: {locations: {default: {role_arn: admin}}}",
        "aws.locations.default.role_arn: 'admin' is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)",
    ),
    (
        "aws: {locations: {default: {mode: cloudwatch, include_noncurrent: true}}}",
        "aws.locations.default.include_noncurrent: applies to list mode only (cloudwatch mode counts every version)",
    ),
    (
        "aws: {extra_buckets: {dr: {bucket: b-b}}}",
        "aws.extra_buckets.dr: missing region (an extra bucket needs bucket and region)",
    ),
    (
        "aws: {extra_buckets: {dr: {bucket: B, region: us-west-2}}}",
        "aws.extra_buckets.dr.bucket: 'B' is not an S3 bucket name",
    ),
    (
        "aws: {extra_buckets: {DR: {bucket: bbb, region: us-west-2}}}",
        "aws.extra_buckets.DR: 'DR' is not a name like a location's (lowercase letters, digits, '-' and '.')",
    ),
    (
        "aws: {extra_buckets: {dr: {bucket: bbb, region: west}}}",
        "aws.extra_buckets.dr.region: 'west' is not an AWS region (such as us-west-2)",
    ),
    (
        "aws: {extra_buckets: {dr: {bucket: bbb, region: us-west-2, s3_url: minio}}}",
        "aws.extra_buckets.dr.s3_url: 'minio' is not an http:// or https:// URL",
    ),
    (
        "aws: {extra_buckets: {dr: {bucket: bbb, region: us-west-2, size: 1}}}",
        "aws.extra_buckets.dr.size: unknown key "
        "(known keys: bucket, region, prefix, s3_url, replica_of, mode, role_arn, include_noncurrent)",
    ),
    (
        "aws: {extra_buckets: {dr: {bucket: bbb, region: us-west-2, replica_of: dr}}}",
        "aws.extra_buckets.dr.replica_of: a bucket cannot be a replica of itself",
    ),
    (
        "aws: {extra_buckets: {dr: {bucket: bbb, region: us-west-2, replica_of: Primary}}}",
        "aws.extra_buckets.dr.replica_of: 'Primary' is not a location's name",
    ),
    (
        "aws: {extra_buckets: {dr: {bucket: bbb, region: us-west-2, replica_of: default, mode: cloudwatch}}}",
        "aws.extra_buckets.dr.replica_of: a replica is compared by its listing: list mode only",
    ),
    ("aws: {replica_grace: an hour}", "aws.replica_grace: 'an hour' is not a duration"),
    ("aws: {require_dr_object_lock: 1}", "aws.require_dr_object_lock: expected true or false, got integer 1"),
    ("aws: {snapshot_locks: true}", "aws.snapshot_locks: unknown key (did you mean snapshot_lock?)"),
    ("aws: {regions: [us-west-2]}", "aws.regions: expected a mapping of region to its settings, got a list"),
    ("aws: {regions: {west: {}}}", "aws.regions.west: 'west' is not an AWS region (such as us-west-2)"),
    (
        "aws: {regions: {us-west-2: {role: x}}}",
        "aws.regions.us-west-2.role: unknown key (did you mean role_arn?)",
    ),
    (
        "aws: {regions: {us-west-2: {role_arn: x}}}",
        "aws.regions.us-west-2.role_arn: 'x' is not an IAM role ARN",
    ),
    ("aws: {extra_regions: us-west-2}", "aws.extra_regions: expected a list, got string 'us-west-2'"),
    ("aws: {extra_regions: [us-west-2, 7]}", "aws.extra_regions.[1]: expected a string, got integer 7"),
]


@pytest.mark.parametrize(("text", "problem"), BAD_AWS)
def test_a_bad_aws_section_stops_with_one_line(text: str, problem: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(yaml.safe_load(text), "c.yaml")
    assert str(raised.value).startswith(f"c.yaml: {problem}")
    assert "\n" not in str(raised.value)


# --- velero_version and coverage -----------------------------------------------------------------------------


def test_the_velero_release_and_the_coverage_section_give_exactly_what_they_say() -> None:
    text = """
velero_version: v1.16.2
coverage:
  enabled: true
  ignore_namespaces: [kube-*, default, "team-[ab]"]
  grace: 30m
  velero_server:
    features: [EnableCSI]
    default_volumes_to_fs_backup: true
    default_snapshot_move_data: true
  policy_interval: 5m
"""
    config = parse_config(yaml.safe_load(text), "c.yaml")
    assert config.velero_version == (1, 16)
    assert config.coverage == CoverageConfig(
        enabled=True,
        ignore_namespaces=("kube-*", "default", "team-[ab]"),
        grace_seconds=30 * MINUTE,
        velero_server=VeleroServer(("EnableCSI",), True, True),
        policy_interval_seconds=5 * MINUTE,
    )
    assert config.coverage.velero_server.csi


def test_coverage_is_off_by_default_with_velero_s_own_server_defaults() -> None:
    config = parse_config(yaml.safe_load("coverage: {}"), "c.yaml")
    assert config.coverage == Config().coverage == CoverageConfig()
    assert not config.coverage.enabled and config.coverage.grace_seconds == HOUR
    assert not config.coverage.velero_server.csi
    assert Config().velero_version == (1, 18)


BAD_COVERAGE = [
    ("coverage: true", "coverage: expected a mapping of settings"),
    ("coverage: {enable: true}", "coverage.enable: unknown key (did you mean enabled?)"),
    ("coverage: {enabled: yes please}", "coverage.enabled: expected true or false, got string 'yes please'"),
    ("coverage: {ignore_namespaces: kube-*}", "coverage.ignore_namespaces: expected a list, got string 'kube-*'"),
    (
        "coverage: {ignore_namespaces: [Kube-System]}",
        "coverage.ignore_namespaces.[0]: 'Kube-System' is not a namespace glob",
    ),
    ("coverage: {grace: an hour}", "coverage.grace: 'an hour' is not a duration"),
    ("coverage: {policy_interval: 0s}", "coverage.policy_interval: must be longer than 0, got '0s'"),
    (
        "coverage: {velero_server: {features: [EnableCsi]}}",
        "coverage.velero_server.features.[0]: 'EnableCsi' is not a Velero feature flag the exporter models (EnableCSI)",
    ),
    (
        "coverage: {velero_server: {default_volumes_to_restic: true}}",
        "coverage.velero_server.default_volumes_to_restic: unknown key (did you mean default_volumes_to_fs_backup?)",
    ),
]


@pytest.mark.parametrize(("text", "problem"), BAD_COVERAGE)
def test_a_bad_coverage_section_stops_with_one_line(text: str, problem: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(yaml.safe_load(text), "c.yaml")
    assert str(raised.value).startswith(f"c.yaml: {problem}")
    assert "\n" not in str(raised.value)


# --- cluster: identity and DR pairing ---------------------------------------------------------------------


def test_a_dr_cluster_names_its_primary_and_the_tiers_that_reach_it() -> None:
    text = "cluster: {name: kailash-dr, role: dr, dr_of: kailash-prod, dr_tiers: [dr, critical]}"
    cluster = parse_config(yaml.safe_load(text), "c.yaml").cluster
    assert cluster == ClusterSettings("kailash-dr", "dr", "kailash-prod", ("dr", "critical"))
    assert cluster.dr_tier_names(Config().tier_names) == ("dr", "critical")


def test_a_dr_cluster_without_dr_tiers_compares_every_tier() -> None:
    cluster = parse_config({"cluster": {"name": "b", "role": "dr", "dr_of": "a"}}, "c.yaml").cluster
    assert cluster == ClusterSettings("b", "dr", "a", None)
    assert cluster.dr_tier_names(("hot", "dr")) == ("hot", "dr")


def test_a_cluster_is_a_primary_unless_it_says_otherwise() -> None:
    cluster = parse_config({"cluster": {"name": "prod-us-east-1"}}, "c.yaml").cluster
    assert cluster == ClusterSettings("prod-us-east-1", "primary")
    assert cluster.dr_tier_names(Config().tier_names) == ()
    assert parse_config({}, "c.yaml").cluster is None


def test_dr_tiers_are_checked_against_the_tiers_given_in_the_same_file() -> None:
    # `cluster` after `tiers` in the file or before it: the tiers are read first either way.
    data = {
        "cluster": {"name": "b", "role": "dr", "dr_of": "a", "dr_tiers": ["gold"]},
        "tiers": {"gold": {"rpo": "1h", "rto": "1h", "retention": "1d"}},
    }
    assert parse_config(data, "c.yaml").cluster == ClusterSettings("b", "dr", "a", ("gold",))


BAD_CLUSTER = [
    (
        "cluster: kailash",
        "cluster: expected a mapping of settings (name, role, dr_of, dr_tiers), got string 'kailash'",
    ),
    ("cluster: {role: dr}", "cluster: missing name (the cluster's name, which a DR cluster's dr_of refers to)"),
    (
        "cluster: {name: 'prod east'}",
        "cluster.name: 'prod east' is not a cluster name (letters, digits, '-', '_' and '.', starting and ending "
        "with a letter or digit, at most 253 characters)",
    ),
    ("cluster: {name: 7}", "cluster.name: expected a string, got integer 7"),
    ("cluster: {name: a, role: standby}", "cluster.role: 'standby' is not a cluster role (primary or dr)"),
    ("cluster: {name: a, rol: dr}", "cluster.rol: unknown key (did you mean role?)"),
    (
        "cluster: {name: a, dr_of: b}",
        "cluster.dr_of: applies to role dr only (this cluster's role is primary)",
    ),
    (
        "cluster: {name: a, role: primary, dr_tiers: [dr]}",
        "cluster.dr_tiers: applies to role dr only (this cluster's role is primary)",
    ),
    (
        "cluster: {name: a, role: dr}",
        "cluster: missing dr_of (a DR cluster names the primary whose backups it restores)",
    ),
    (
        "cluster: {name: a, role: dr, dr_of: a}",
        "cluster.dr_of: 'a' is this cluster's own name (dr_of names its primary)",
    ),
    (
        "cluster: {name: a, role: dr, dr_of: b, dr_tiers: [gold]}",
        "cluster.dr_tiers.[0]: 'gold' is not a configured tier (hot, critical, full, config, dr)",
    ),
    (
        "cluster: {name: a, role: dr, dr_of: b, dr_tiers: [dr, dr]}",
        "cluster.dr_tiers.[1]: tier 'dr' is listed twice",
    ),
    (
        "cluster: {name: a, role: dr, dr_of: b, dr_tiers: []}",
        "cluster.dr_tiers: lists no tier (leave dr_tiers out for every tier)",
    ),
    ("cluster: {name: a, role: dr, dr_of: b, dr_tiers: dr}", "cluster.dr_tiers: expected a list, got string 'dr'"),
    (
        "{tiers: {}, cluster: {name: a, role: dr, dr_of: b, dr_tiers: [dr]}}",
        "cluster.dr_tiers.[0]: 'dr' is not a configured tier (none configured)",
    ),
]


@pytest.mark.parametrize(("text", "problem"), BAD_CLUSTER)
def test_a_bad_cluster_section_stops_with_one_line(text: str, problem: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(yaml.safe_load(text), "c.yaml")
    assert str(raised.value) == f"c.yaml: {problem}"


def test_the_dr_cluster_example_is_the_seeds_dr_cluster() -> None:
    config = load_config(EXAMPLES / "config-dr-cluster.yaml")
    assert config.cluster == ClusterSettings("kailash-dr-us-west-2", "dr", "kailash-prod-us-east-1", ("dr",))
    (dr,) = config.tiers
    seed_dr = Config().tier("dr")
    assert seed_dr is not None
    # The seed's objectives for the tier; no schedule runs in the DR cluster (its backups are synced).
    assert (dr.name, dr.rpo_seconds, dr.rto_seconds, dr.retention_seconds, dr.schedules) == (
        "dr",
        seed_dr.rpo_seconds,
        seed_dr.rto_seconds,
        seed_dr.retention_seconds,
        (),
    )
