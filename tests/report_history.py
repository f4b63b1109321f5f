"""A month of one cluster's exporter series with known trouble (and a quiet second cluster), as OpenMetrics for
`promtool tsdb create-blocks-from openmetrics`.

The history is told as events (backups, restores, drills, copies, exporter outages, alerts); each series is a
step function of them, sampled at every scrape while its exporter is up. The truth the report must find is
written out by hand in tests/test_report_history.py, derived in its comments from these events.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

T0 = 1_735_689_600  # 2025-01-01T00:00:00Z: the report's window starts here ...
DAYS = 30
MINUTE, HOUR, DAY = 60, 3600, 86400
END = T0 + DAYS * DAY  # ... and ends here
HISTORY_START = T0 - 2 * HOUR  # samples from a little before the window: state at its start is known
SCRAPE = 60
SCRAPE_OFFSET = 17  # scrapes (and rule evaluations) at hh:mm:17, as a real Prometheus' are offset


def at(day: int, hour: int = 0, minute: int = 0) -> int:
    return T0 + day * DAY + hour * HOUR + minute * MINUTE


# The prod exporter was down (no sample of any of its series) during these; Prometheus' own ALERTS were not.
GAPS = ((at(10, 6), at(10, 12)), (at(20), at(21)))

# value from that time on; None: the series is absent from then on
Changes = list[tuple[float, float | None]]


@dataclass(slots=True, frozen=True)
class Series:
    name: str
    labels: dict[str, str]
    changes: Changes
    exporter: str | None = "prod"  # whose outages silence it; None: Prometheus' own (ALERTS)


def recovery_points(backups: Iterable[tuple[float, float]]) -> Changes:
    """The start of the newest completed backup, from each completion on: velero_tier_recovery_point_..."""
    return [(completed, started) for started, completed in sorted(backups, key=lambda b: b[1])]


def runs(
    first: float, last: float, every: float, duration: float, missed: Iterable[float] = ()
) -> list[tuple[float, float]]:
    skipped = set(missed)
    out = []
    t = first
    while t <= last:
        if t not in skipped:
            out.append((t, t + duration))
        t += every
    return out


def constant(value: float) -> Changes:
    return [(HISTORY_START, value)]


# hot: hourly, 5 minutes each; 6 runs missed on day 5, 5 on day 10 (04:00-08:00), 1 on day 28.
HOT_BACKUPS = runs(
    T0 - HOUR,
    END,
    HOUR,
    5 * MINUTE,
    missed=[at(5, h) for h in range(8, 14)] + [at(10, h) for h in range(4, 9)] + [at(28, 10)],
)
# critical: daily at 02:00, 40 minutes; the runs of days 15 and 16 failed (no recovery point from them).
CRITICAL_BACKUPS = runs(T0 - DAY + 2 * HOUR, END, DAY, 40 * MINUTE, missed=[at(15, 2), at(16, 2)])
# config: every 30 minutes, 2 minutes each, but only since day 2 10:00: no recovery point at all before.
CONFIG_BACKUPS = runs(at(2, 10), END, 30 * MINUTE, 2 * MINUTE)
# dr: monthly, 2 hours.
DR_BACKUPS = [(T0 - 25 * DAY + 4 * HOUR, T0 - 25 * DAY + 6 * HOUR), (at(5, 4), at(5, 6))]
STAGING_BACKUPS = runs(T0 - HOUR, END, HOUR, MINUTE)

# The DR bucket received the monthly dr backup's copy at day 5 06:30.
DR_BUCKET: Changes = [(HISTORY_START, T0 - 25 * DAY + 4 * HOUR), (at(5, 6, 30), at(5, 4))]
# The DR region's copies of the critical snapshots land 3 hours after the backup starts, and stop after day 22.
WEST_COPIES: Changes = [(started + 3 * HOUR, started) for started, _ in CRITICAL_BACKUPS if started <= at(22, 2)]


def tier_series(
    cluster: str, tier: str, rpo: Changes, rto: float, backups: Iterable[tuple[float, float]]
) -> list[Series]:
    labels = {"cluster": cluster, "tier": tier}
    return [
        Series("velero_tier_rpo_seconds", labels, rpo, cluster),
        Series("velero_tier_rto_seconds", labels, constant(rto), cluster),
        Series("velero_tier_recovery_point_timestamp_seconds", labels, recovery_points(backups), cluster),
    ]


def restore_series(tier: str, schedule: str, restores: list[tuple[float, float | None, str, float]]) -> list[Series]:
    """restores: (completed, deleted or None, phase, duration): the newest finished restore's families."""
    labels = {"cluster": "prod", "tier": tier, "schedule": schedule}
    completion: Changes = []
    duration: Changes = []
    phases: dict[str, Changes] = {p: [] for p in ("Completed", "PartiallyFailed", "Failed", "FailedValidation")}
    for completed, deleted, phase, seconds in restores:
        completion.append((completed, completed))
        duration.append((completed, seconds))
        for p, changes in phases.items():
            changes.append((completed, 1.0 if p == phase else 0.0))
        if deleted is not None:
            for changes in (completion, duration, *phases.values()):
                changes.append((deleted, None))
    return [
        Series("velero_restore_last_completion_timestamp_seconds", labels, completion),
        Series("velero_restore_last_duration_seconds", labels, duration),
        *(Series("velero_restore_last_phase", {**labels, "phase": p}, c) for p, c in phases.items()),
    ]


def state_set(
    name: str, labels: dict[str, str], key: str, spans: list[tuple[float, float | None, str]]
) -> list[Series]:
    """A state set whose current state changes at each span's start (and is absent after its end, if any)."""
    states = sorted({s for _, _, s in spans} | {"passed", "failed", "unvalidated"})
    out = []
    for state in states:
        changes: Changes = []
        for start, end, current in spans:
            changes.append((start, 1.0 if current == state else 0.0))
            if end is not None:
                changes.append((end, None))
        out.append(Series(name, {**labels, key: state}, changes))
    return out


def alert(
    name: str, labels: dict[str, str], firing: tuple[float, float], pending_from: float | None = None
) -> list[Series]:
    """ALERTS (pending, then firing) and ALERTS_FOR_STATE (the time it became active), as a rule writes them."""
    active = pending_from if pending_from is not None else firing[0]
    own = {"alertname": name, **labels}
    out = [
        Series("ALERTS", {**own, "alertstate": "firing"}, [(firing[0], 1.0), (firing[1], None)], None),
        Series("ALERTS_FOR_STATE", own, [(active, active), (firing[1], None)], None),
    ]
    if pending_from is not None:
        out.append(Series("ALERTS", {**own, "alertstate": "pending"}, [(pending_from, 1.0), (firing[0], None)], None))
    return out


R1, R2, R3, R4 = at(3, 10, 20), at(12, 15), at(26, 9, 30), at(18, 3)
R0 = T0 - 2 * DAY


def history() -> list[Series]:
    series = [
        *tier_series("prod", "hot", [(HISTORY_START, 2 * HOUR), (at(25), 90 * MINUTE)], 15 * MINUTE, HOT_BACKUPS),
        *tier_series("prod", "critical", constant(26 * HOUR), HOUR, CRITICAL_BACKUPS),
        *tier_series("prod", "config", constant(HOUR), 30 * MINUTE, CONFIG_BACKUPS),
        *tier_series("prod", "dr", constant(32 * DAY), 2 * HOUR, DR_BACKUPS),
        *tier_series("staging", "hot", constant(2 * HOUR), 15 * MINUTE, STAGING_BACKUPS),
        # R1 (a drill, validated) is deleted with its backup on day 9; R2 failed; R3 is a drill, validated.
        *restore_series(
            "hot",
            "hourly-hot",
            [(R1, at(9, 10), "Completed", 600), (R2, None, "Failed", 300), (R3, None, "Completed", 1200)],
        ),
        *restore_series("critical", "daily-critical", [(R4, None, "PartiallyFailed", 3000)]),
        # before the window: must not be listed
        *restore_series("config", "config-backup", [(R0, None, "Completed", 100)]),
        Series(
            "velero_tier_last_restore_success_timestamp_seconds",
            {"cluster": "prod", "tier": "hot"},
            [(R1, R1), (at(9, 10), None), (R3, R3)],
        ),
        Series(
            "velero_tier_last_restore_success_timestamp_seconds", {"cluster": "prod", "tier": "config"}, constant(R0)
        ),
        Series(
            "velero_tier_last_verified_restore_timestamp_seconds",
            {"cluster": "prod", "tier": "hot"},
            [(R1, R1), (at(9, 10), None), (R3, R3)],
        ),
        *state_set(
            "velero_tier_last_drill_result",
            {"cluster": "prod", "tier": "hot"},
            "result",
            [(R1, at(9, 10), "passed"), (R2, None, "failed"), (R3, None, "passed")],
        ),
        *state_set(
            "velero_tier_last_drill_result", {"cluster": "prod", "tier": "critical"}, "result", [(R4, None, "failed")]
        ),
        Series(
            "velero_bucket_recovery_point_timestamp_seconds",
            {"cluster": "prod", "location": "dr", "bucket": "kailash-velero-dr-backups", "region": "us-west-2"},
            DR_BUCKET,
        ),
        Series(
            "velero_bucket_recovery_point_timestamp_seconds",
            {"cluster": "prod", "location": "default", "bucket": "kailash-velero-backups", "region": "us-east-1"},
            recovery_points(CRITICAL_BACKUPS),
        ),
        Series(
            "velero_snapshot_last_completed_timestamp_seconds",
            {"cluster": "prod", "region": "us-east-1", "tier": "critical"},
            recovery_points(CRITICAL_BACKUPS),
        ),
        Series(
            "velero_snapshot_last_completed_timestamp_seconds",
            {"cluster": "prod", "region": "us-west-2", "tier": "critical"},
            WEST_COPIES,
        ),
        *alert(
            "RPOViolation",
            {"cluster": "prod", "tier": "hot", "reason": "too_old", "severity": "critical"},
            (at(5, 9, 15), at(5, 14, 6)),
            pending_from=at(5, 9),
        ),
        *alert(
            "VeleroRestoreFailure",
            {"cluster": "prod", "tier": "hot", "schedule": "hourly-hot", "severity": "critical"},
            (at(12, 15, 1), at(13, 15, 1)),
        ),
        *alert(
            "VeleroSnapshotCopyStale",
            {"cluster": "prod", "tier": "critical", "region": "us-west-2", "reason": "stale", "severity": "warning"},
            (at(28), END + HOUR),
        ),
        *alert(
            "VeleroRestoreTestOverdue",
            {"cluster": "prod", "tier": "dr", "reason": "never_restored", "severity": "warning"},
            (HISTORY_START, at(1)),
        ),
        # not one of the bundle's alerts: the report leaves it out
        *alert("Watchdog", {"severity": "none"}, (HISTORY_START, END + HOUR)),
    ]
    return series


def scrapes() -> range:
    return range(HISTORY_START + SCRAPE_OFFSET, END + HOUR, SCRAPE)


def _samples(series: Series) -> Iterator[tuple[int, float]]:
    changes = sorted(series.changes, key=lambda c: c[0])
    gaps = GAPS if series.exporter == "prod" else ()
    i, value = 0, None
    for t in scrapes():
        while i < len(changes) and changes[i][0] <= t:
            value = changes[i][1]
            i += 1
        if value is not None and not any(start <= t < end for start, end in gaps):
            yield t, value


def _labels(series: Series) -> str:
    """The series' labels, and the scrape's job label on the exporter's."""
    labels = {**series.labels, "job": "velero-exporter"} if series.exporter else series.labels
    return ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))


def write_openmetrics(series: list[Series], path: Path) -> int:
    """The series as one OpenMetrics file (each family's samples together); returns the number of samples."""
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for name in sorted({s.name for s in series}):
            out.write(f"# TYPE {name} gauge\n")
            for s in (s for s in series if s.name == name):
                prefix = f"{name}{{{_labels(s)}}} "
                lines = [f"{prefix}{value:.15g} {t}\n" for t, value in _samples(s)]
                count += len(lines)
                out.writelines(lines)
        out.write("# EOF\n")
    return count
