"""The start-up warning: objectives that the schedules cannot meet, or only just."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from velero_exporter.config.file import load_config
from velero_exporter.config.settings import HOUR, MINUTE, Config, Tier, TierSchedule
from velero_exporter.model.objectives import live_objective_inputs, objective_warnings
from velero_exporter.sandbox import objects as o
from velero_exporter.sources.parsing import Parsed, parse_backup, parse_schedule

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
# A Wednesday in June: the longest monthly gap ahead (within a year) is 31 days.
NOW = datetime(2026, 6, 10, 12, 0, tzinfo=UTC).timestamp()
R = TypeVar("R")


def record(parsed: Parsed[R]) -> R:
    assert parsed.record is not None
    return parsed.record


def one_tier(rpo: float, *schedules: TierSchedule) -> Config:
    return Config(tiers=(Tier("gold", rpo, 30 * MINUTE, 7 * 86400, schedules),))


def test_the_seed_objectives_give_three_that_cannot_hold_and_two_at_the_edge() -> None:
    assert objective_warnings(Config(), now=NOW) == [
        "tier hot: schedule hourly-hot (0 * * * *): RPO 1h is at the edge: it equals the interval, so the "
        "backup's duration and Velero's scheduling delay (interval 1h + backup duration unknown (0s) + "
        "scheduling delay 1m = 1h1m) will make RPOViolation fire unless its `for` absorbs them",
        "tier critical: schedule daily-critical (0 2 * * *): RPO 4h cannot hold: the recovery point can be "
        "1d1m old (interval 1d + backup duration unknown (0s) + scheduling delay 1m), "
        "so RPOViolation will fire",
        "tier full: schedule weekly-full (0 3 * * 0): RPO 1d cannot hold: the recovery point can be 7d1m old "
        "(interval 1w + backup duration unknown (0s) + scheduling delay 1m), so RPOViolation will fire",
        "tier config: schedule config-backup (*/30 * * * *): RPO 30m is at the edge: it equals the interval, "
        "so the backup's duration and Velero's scheduling delay "
        "(interval 30m + backup duration unknown (0s) + scheduling delay 1m = 31m) "
        "will make RPOViolation fire unless its `for` absorbs them",
        "tier dr: schedule monthly-dr (0 4 1 * *): RPO 1d cannot hold: the recovery point can be 31d1m old "
        "(interval 31d + backup duration unknown (0s) + scheduling delay 1m), so RPOViolation will fire",
    ]


def test_warnings_are_single_lines() -> None:
    for warning in objective_warnings(Config(), now=NOW):
        assert len(warning.splitlines()) == 1


def test_the_achievable_example_gives_no_warnings() -> None:
    config = load_config(EXAMPLES / "config-achievable.yaml")
    assert objective_warnings(config, now=NOW) == []


def test_the_achievable_example_holds_with_backups_of_plausible_length() -> None:
    config = load_config(EXAMPLES / "config-achievable.yaml")
    durations = {
        "hourly-hot": 20 * MINUTE,
        "daily-critical": HOUR,
        "weekly-full": 6 * HOUR,
        "config-backup": 5 * MINUTE,
        "monthly-dr": 8 * HOUR,
    }
    assert objective_warnings(config, observed_durations=durations, now=NOW) == []


def test_the_seed_example_warns_like_the_defaults() -> None:
    config = load_config(EXAMPLES / "config-seed.yaml")
    assert objective_warnings(config, now=NOW) == objective_warnings(Config(), now=NOW)


def test_the_observed_duration_counts() -> None:
    config = one_tier(HOUR + 5 * MINUTE, TierSchedule("gold-hourly", "0 * * * *"))
    assert objective_warnings(config, observed_durations={"gold-hourly": 3 * MINUTE}, now=NOW) == []
    assert objective_warnings(config, observed_durations={"gold-hourly": 10 * MINUTE}, now=NOW) == [
        "tier gold: schedule gold-hourly (0 * * * *): RPO 1h5m cannot hold: the recovery point can be 1h11m "
        "old (interval 1h + backup duration 10m + scheduling delay 1m), so RPOViolation will fire"
    ]


def test_an_rpo_equal_to_the_interval_is_at_the_edge_whatever_the_duration() -> None:
    config = one_tier(HOUR, TierSchedule("gold-hourly", "0 * * * *"))
    (warning,) = objective_warnings(config, observed_durations={"gold-hourly": 20 * MINUTE}, now=NOW)
    assert "RPO 1h is at the edge" in warning
    assert "(interval 1h + backup duration 20m + scheduling delay 1m = 1h21m)" in warning


def test_the_rpo_exactly_covering_the_worst_case_holds() -> None:
    config = one_tier(HOUR + MINUTE, TierSchedule("gold-hourly", "0 * * * *"))
    assert objective_warnings(config, now=NOW) == []


def test_the_live_schedule_cron_wins_over_the_configured_one() -> None:
    config = one_tier(2 * HOUR, TierSchedule("gold", "0 * * * *"), TierSchedule("other", "0 * * * *"))
    (warning,) = objective_warnings(config, schedule_crons={"gold": "0 */6 * * *"}, now=NOW)
    assert warning.startswith("tier gold: schedule gold (0 */6 * * *): RPO 2h cannot hold")
    assert "interval 6h" in warning


def test_a_schedule_without_a_cron_is_skipped_unless_live() -> None:
    config = one_tier(HOUR, TierSchedule("gold", None))
    assert objective_warnings(config, now=NOW) == []
    (warning,) = objective_warnings(config, schedule_crons={"gold": "@daily"}, now=NOW)
    assert warning.startswith("tier gold: schedule gold (@daily): RPO 1h cannot hold")


def test_every_and_time_zones() -> None:
    config = Config(
        tiers=(Tier("gold", 6 * HOUR, HOUR, 86400, (TierSchedule("six", "@every 6h"),)),),
        velero_timezone="Europe/Berlin",
    )
    assert "interval 6h + " in objective_warnings(config, now=NOW)[0]


def test_a_live_cron_that_does_not_parse_or_never_fires_is_reported() -> None:
    config = one_tier(HOUR, TierSchedule("gold", "0 * * * *"), TierSchedule("feb", "0 * * * *"))
    warnings = objective_warnings(config, schedule_crons={"gold": "0 * * *", "feb": "0 0 30 2 *"}, now=NOW)
    assert len(warnings) == 2
    assert warnings[0].startswith("tier gold: schedule gold (0 * * *): the cron does not parse (")
    assert warnings[0].endswith("), so its RPO 1h cannot be checked")
    assert warnings[1] == (
        "tier gold: schedule feb (0 0 30 2 *): schedule '0 0 30 2 *' matches no time within five years: Velero "
        "takes a backup at every reconcile, one after another, so its RPO 1h cannot be checked"
    )


def test_a_nonsense_observed_duration_counts_as_unknown() -> None:
    config = one_tier(HOUR, TierSchedule("gold-hourly", "0 * * * *"))
    for nonsense in (float("nan"), float("inf"), -5.0):
        (warning,) = objective_warnings(config, observed_durations={"gold-hourly": nonsense}, now=NOW)
        assert "backup duration unknown (0s)" in warning


def test_a_live_cron_with_a_line_break_stays_on_one_line() -> None:
    config = one_tier(HOUR, TierSchedule("gold", None))
    (warning,) = objective_warnings(config, schedule_crons={"gold": "0 * * * *\n"}, now=NOW)
    assert len(warning.splitlines()) == 1


def test_live_inputs_add_label_only_schedules_live_crons_and_observed_durations() -> None:
    schedules = {
        "hourly-hot": record(parse_schedule(o.schedule("hourly-hot", cron="0 */2 * * *", created=0.0))),
        # not listed in the config: it joins the critical tier through its template's label
        "extra-critical": record(
            parse_schedule(o.schedule("extra-critical", cron="0 */12 * * *", tier_label=("backup-tier", "critical")))
        ),
        "unrelated": record(parse_schedule(o.schedule("unrelated", cron="0 0 * * *"))),
    }
    backups = [
        record(parse_backup(o.backup("h1", schedule="hourly-hot", started=1000.0, completed=1600.0))),
        record(parse_backup(o.backup("h2", schedule="hourly-hot", started=5000.0, completed=5900.0))),
        record(parse_backup(o.backup("h3", schedule="hourly-hot", phase="Failed", started=9000.0, completed=99000.0))),
    ]
    config, crons, durations = live_objective_inputs(Config(), schedules, backups)
    critical = config.tier("critical")
    assert critical is not None
    assert [s.name for s in critical.schedules] == ["daily-critical", "extra-critical"]
    assert crons == {"hourly-hot": "0 */2 * * *", "extra-critical": "0 */12 * * *", "unrelated": "0 0 * * *"}
    assert durations == {"hourly-hot": 900.0}  # the longest Completed one; the Failed run does not count
    warnings = objective_warnings(config, schedule_crons=crons, observed_durations=durations, now=NOW)
    assert any(
        w.startswith("tier critical: schedule extra-critical (0 */12 * * *): RPO 4h cannot hold") for w in warnings
    )
    assert any(w.startswith("tier hot: schedule hourly-hot (0 */2 * * *): RPO 1h cannot hold") for w in warnings)
