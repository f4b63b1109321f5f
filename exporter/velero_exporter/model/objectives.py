"""Objectives that cannot hold: the start-up and check-config warning (DESIGN, Configuration).

A tier's newest recovery point is, at worst, as old as its schedule's longest gap between runs, plus the time
a backup takes (its recovery point is the backup's start), plus Velero's up-to-a-minute scheduling delay. An
RPO shorter than that makes the RPO alert fire on an installation that works as configured. A warning, not a
failure: the objectives are the operator's to state.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import replace

from velero_exporter.config.durations import format_duration
from velero_exporter.config.settings import Config, TierSchedule
from velero_exporter.model.velero import TierResolver
from velero_exporter.state.records import Backup, Schedule
from velero_exporter.velero.cron import CronError, CronNeverMatchesError, parse_cron

# Velero's schedule controller requeues every minute, so a due backup is created up to a minute late.
SCHEDULING_DELAY_SECONDS = 60.0
# The alert that fires when a tier's recovery point is older than its RPO (rules/).
RPO_ALERT = "RPOViolation"


def objective_warnings(
    config: Config,
    *,
    schedule_crons: Mapping[str, str] | None = None,
    observed_durations: Mapping[str, float] | None = None,
    now: float,
) -> list[str]:
    """One line per (tier, schedule) whose RPO cannot hold, or only just holds, given the schedule's cron.

    schedule_crons: the live Schedule objects' crons by schedule name; a schedule found there is judged by its
    live cron, any other by the cron the config lists for it (a schedule with neither is skipped).
    observed_durations: a typical backup duration per schedule name in seconds (0 when unknown).
    now: where the cron's longest gap is measured from (a monthly cron's gap depends on the months ahead).
    """
    crons = schedule_crons or {}
    durations = observed_durations or {}
    warnings = []
    for tier in config.tiers:
        rpo = tier.rpo_seconds
        for schedule in tier.schedules:
            spec = crons.get(schedule.name, schedule.cron)
            if spec is None:
                continue
            shown = spec if spec.isprintable() else repr(spec)  # a live cron could hold a line break
            where = f"tier {tier.name}: schedule {schedule.name} ({shown})"
            unchecked = f"so its RPO {format_duration(rpo)} cannot be checked"
            try:
                cron = parse_cron(spec, config.velero_timezone, config.cron_library)
            except CronError as e:
                warnings.append(f"{where}: the cron does not parse ({e}), {unchecked}")
                continue
            try:
                interval = cron.max_interval(now)
            except CronNeverMatchesError as e:  # such as "0 0 30 2 *"
                warnings.append(
                    f"{where}: {e}: Velero takes a backup at every reconcile, one after another, {unchecked}"
                )
                continue
            observed = durations.get(schedule.name)
            known = observed is not None and math.isfinite(observed) and observed >= 0
            duration = observed if observed is not None and known else 0.0
            worst = interval + duration + SCHEDULING_DELAY_SECONDS
            if rpo >= worst:
                continue
            arithmetic = (
                f"interval {format_duration(interval)} + backup duration "
                f"{format_duration(duration) if known else 'unknown (0s)'} "
                f"+ scheduling delay {format_duration(SCHEDULING_DELAY_SECONDS)}"
            )
            if rpo == interval:
                warnings.append(
                    f"{where}: RPO {format_duration(rpo)} is at the edge: it equals the interval, so the "
                    f"backup's duration and Velero's scheduling delay ({arithmetic} = "
                    f"{format_duration(worst)}) will make {RPO_ALERT} fire unless its `for` absorbs them"
                )
            else:
                warnings.append(
                    f"{where}: RPO {format_duration(rpo)} cannot hold: the recovery point can be "
                    f"{format_duration(worst)} old ({arithmetic}), so {RPO_ALERT} will fire"
                )
    return warnings


def live_objective_inputs(
    config: Config, schedules: Mapping[str, Schedule], backups: Iterable[Backup]
) -> tuple[Config, dict[str, str], dict[str, float]]:
    """What the cluster itself says about the objectives: every live schedule of a configured tier (those that
    join a tier only through their tier label too), its live cron, and its longest Completed backup."""
    resolver = TierResolver(config, schedules)
    listed = {s.name for t in config.tiers for s in t.schedules}
    joined: dict[str, list[TierSchedule]] = {}
    for name, schedule in schedules.items():
        tier = resolver.schedule_tier(name)
        if tier is not None and name not in listed:
            joined.setdefault(tier, []).append(TierSchedule(name, schedule.cron))
    tiers = tuple(replace(t, schedules=(*t.schedules, *joined.get(t.name, ()))) for t in config.tiers)
    durations: dict[str, float] = {}
    for backup in backups:
        of = backup.schedule
        if of and backup.phase == "Completed" and backup.started is not None and backup.completed is not None:
            durations[of] = max(durations.get(of, 0.0), backup.completed - backup.started)
    return replace(config, tiers=tiers), {n: s.cron for n, s in schedules.items()}, durations
