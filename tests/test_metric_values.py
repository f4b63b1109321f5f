"""Exact metric values for a fixed set of Velero objects: parsing -> store -> model -> exposition.

The object set (the issue's list): the seed's five schedules, a failed daily backup, a PartiallyFailed weekly
one, a running hourly one after a failed one, a Completed backup with zero items, ad-hoc backups with and
without a tier label, a schedule whose backups have all been deleted, an unavailable location, a CRON_TZ
schedule and an @every one.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.metrics_text import Samples, parse_samples, series, value
from velero_exporter.config.settings import Config
from velero_exporter.exposition.payload import TEXT, Exposition
from velero_exporter.exposition.renderer import Renderer
from velero_exporter.model.velero import UNASSIGNED
from velero_exporter.sandbox import objects as o
from velero_exporter.sources.kube.source import RESOURCES, RecordSink
from velero_exporter.state.store import Store
from velero_exporter.state.vocabulary import ALL_BACKUP_PHASES, VALIDATION_ANNOTATION

NOW = datetime(2026, 11, 26, 12, 0, 30, tzinfo=UTC).timestamp()
H = 3600.0
D = 86400.0
TODAY_0200 = datetime(2026, 11, 26, 2, 0, tzinfo=UTC).timestamp()
TIER = "backup-tier"


def t(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def fixture_objects() -> dict[str, list[o.Obj]]:
    backups = [
        o.backup("hourly-hot-1", schedule="hourly-hot", started=NOW - 2 * H - 30, completed=NOW - 2 * H + 70),
        o.backup(
            "hourly-hot-2",
            schedule="hourly-hot",
            phase="Failed",
            started=NOW - H - 30,
            completed=NOW - H + 20,
        ),
        o.backup("hourly-hot-3", schedule="hourly-hot", phase="InProgress", started=NOW - 30, items_backed_up=10),
        o.backup(
            "daily-critical-1",
            schedule="daily-critical",
            started=TODAY_0200 - D,
            completed=TODAY_0200 - D + 1200,
            volume_snapshots_attempted=4,
            volume_snapshots_completed=4,
            hooks_attempted=2,
        ),
        o.backup(
            "daily-critical-2",
            schedule="daily-critical",
            phase="Failed",
            started=TODAY_0200,
            completed=TODAY_0200 + 600,
            items_backed_up=1404,
            items_total=3120,
            errors=1,
            volume_snapshots_attempted=6,
            volume_snapshots_completed=2,
            hooks_attempted=2,
            hooks_failed=1,
        ),
        o.backup(
            "weekly-full-1",
            schedule="weekly-full",
            phase="PartiallyFailed",
            started=NOW - 4 * D,
            completed=NOW - 4 * D + 3 * H,
            errors=2,
            warnings=5,
            csi_snapshots_attempted=3,
            csi_snapshots_completed=1,
        ),
        o.backup(
            "config-backup-1",
            schedule="config-backup",
            started=NOW - 10 * 60,
            completed=NOW - 10 * 60 + 15,
            items_backed_up=0,
            items_total=0,
            ttl="24h0m0s",
        ),
        o.backup("adhoc-critical", labels={TIER: "critical"}, started=NOW - 3 * H, completed=NOW - 3 * H + 900),
        o.backup("adhoc-plain", started=NOW - 5 * H, completed=NOW - 5 * H + 60),
        o.backup(
            "adhoc-gold",
            labels={TIER: "gold"},
            phase="Failed",
            started=NOW - 6 * H,
            completed=NOW - 6 * H + 5,
        ),
        # Expired 3 hours ago and still there: Velero's garbage collection did not delete it.
        o.backup(
            "every-6h-old",
            schedule="every-6h",
            started=NOW - 40 * D,
            completed=NOW - 40 * D + 60,
            expiration=NOW - 3 * H,
        ),
    ]
    schedules = [
        o.schedule(
            "hourly-hot",
            cron="0 * * * *",
            tier_label=(TIER, "hot"),
            last_backup=NOW - 30,
            created=NOW - 90 * D,
        ),
        o.schedule("daily-critical", cron="0 2 * * *", last_backup=TODAY_0200, created=NOW - 90 * D),
        o.schedule("weekly-full", cron="0 3 * * 0", last_backup=t("2026-11-22T03:00:00+00:00"), created=NOW - 90 * D),
        o.schedule("config-backup", cron="*/30 * * * *", last_backup=NOW - 630, created=NOW - 90 * D),
        # Every backup of monthly-dr has been deleted.
        o.schedule("monthly-dr", cron="0 4 1 * *", last_backup=t("2026-11-01T04:00:00+00:00"), created=NOW - 90 * D),
        o.schedule(
            "tz-critical",
            cron="CRON_TZ=Europe/Berlin 0 3 * * *",
            tier_label=(TIER, "critical"),
            last_backup=TODAY_0200,
            created=NOW - 10 * D,
        ),
        o.schedule("every-6h", cron="@every 6h", last_backup=NOW - H, created=NOW - 50 * D, paused=True),
        o.schedule("broken-cron", cron="61 * * * *", phase="FailedValidation", created=NOW - D),
    ]
    restores = [
        o.restore(
            "restore-failed",
            backup_name="daily-critical-1",
            phase="Failed",
            started=NOW - 2 * H,
            completed=NOW - 2 * H + 300,
        ),
        o.restore("drill-hot", backup_name="hourly-hot-1", started=NOW - H, completed=NOW - H + 540),
    ]
    locations = [
        o.storage_location("default", bucket="primary", default=True, last_validated=NOW - 30, last_synced=NOW - 45),
        o.storage_location("dr", bucket="dr-bucket", region="us-west-2", phase="Unavailable"),
    ]
    return {
        "backups": backups,
        "restores": restores,
        "schedules": schedules,
        "backupstoragelocations": locations,
        "volumesnapshotlocations": [o.snapshot_location("default", region="us-east-1")],
    }


def render(store: Store, config: Config | None = None, now: float = NOW) -> Samples:
    renderer = Renderer(store, config or Config(), Exposition(), version="test")
    payload = renderer.render(store.view(), store.health, renderer.resource_stats(), now)
    return parse_samples(payload.body(TEXT, False).decode())


def load(objs: dict[str, list[o.Obj]]) -> Store:
    store = Store()
    collections = store.collections()
    for resource in RESOURCES:
        RecordSink(collections[resource.plural], resource.parse).replace(objs.get(resource.plural, []))
    return store


@pytest.fixture(scope="module")
def samples() -> Samples:
    return render(load(fixture_objects()))


def test_tier_objectives_come_from_config(samples: Samples) -> None:
    assert series(samples, "velero_tier_rpo_seconds") == {
        frozenset({("tier", "hot")}): H,
        frozenset({("tier", "critical")}): 4 * H,
        frozenset({("tier", "full")}): 24 * H,
        frozenset({("tier", "config")}): 30 * 60,
        frozenset({("tier", "dr")}): 24 * H,
    }
    assert value(samples, "velero_tier_rto_seconds", tier="hot") == 15 * 60
    assert value(samples, "velero_tier_retention_seconds", tier="dr") == 365 * D
    assert value(samples, "velero_tier_partially_failed_accepted", tier="full") == 0


def test_tier_recovery_points(samples: Samples) -> None:
    # hot: the Failed run and the running one do not move the recovery point.
    assert value(samples, "velero_tier_last_success_timestamp_seconds", tier="hot") == NOW - 2 * H + 70
    assert value(samples, "velero_tier_recovery_point_timestamp_seconds", tier="hot") == NOW - 2 * H - 30
    # critical: the labelled ad-hoc backup is newer than the last Completed daily run.
    assert value(samples, "velero_tier_recovery_point_timestamp_seconds", tier="critical") == NOW - 3 * H
    assert value(samples, "velero_tier_oldest_recovery_point_timestamp_seconds", tier="critical") == TODAY_0200 - D
    # config: Completed with zero items still counts (its own metric shows it is empty).
    assert value(samples, "velero_tier_recovery_point_timestamp_seconds", tier="config") == NOW - 600
    assert value(samples, "velero_tier_recovery_point_timestamp_seconds", tier=UNASSIGNED) == NOW - 5 * H
    # full (only PartiallyFailed) and dr (all deleted): unknown, so absent, never 0.
    for tier in ("full", "dr"):
        assert value(samples, "velero_tier_recovery_point_timestamp_seconds", tier=tier) is None
        assert value(samples, "velero_tier_last_success_timestamp_seconds", tier=tier) is None


def test_partially_failed_counts_when_the_tier_accepts_it() -> None:
    seed = Config()
    tiers = tuple(
        tier
        if tier.name != "full"
        else type(tier)(**{**{f: getattr(tier, f) for f in tier.__slots__}, "accept_partially_failed": True})
        for tier in seed.tiers
    )
    samples = render(load(fixture_objects()), Config(tiers=tiers))
    assert value(samples, "velero_tier_recovery_point_timestamp_seconds", tier="full") == NOW - 4 * D
    assert value(samples, "velero_tier_partially_failed_accepted", tier="full") == 1


def test_tier_backups_by_phase_are_initialised(samples: Samples) -> None:
    counts = series(samples, "velero_tier_backups")
    tiers = ("hot", "critical", "full", "config", "dr", UNASSIGNED)
    assert len(counts) == len(tiers) * len(ALL_BACKUP_PHASES)
    assert value(samples, "velero_tier_backups", tier="hot", phase="Completed") == 1
    assert value(samples, "velero_tier_backups", tier="hot", phase="Failed") == 1
    assert value(samples, "velero_tier_backups", tier="hot", phase="InProgress") == 1
    assert value(samples, "velero_tier_backups", tier="critical", phase="Completed") == 2
    assert value(samples, "velero_tier_backups", tier="dr", phase="Completed") == 0
    # adhoc-plain, adhoc-gold (unknown tier name) and the @every schedule's backup.
    assert value(samples, "velero_tier_backups", tier=UNASSIGNED, phase="Completed") == 2
    assert value(samples, "velero_tier_backups", tier=UNASSIGNED, phase="Failed") == 1


def test_schedule_last_backup_phase_keeps_a_failure_while_a_new_run_is_going(samples: Samples) -> None:
    phases = ("Completed", "PartiallyFailed", "Failed", "FailedValidation")

    def state(schedule: str, tier: str) -> dict[str, float | None]:
        return {
            p: value(samples, "velero_schedule_last_backup_phase", schedule=schedule, tier=tier, phase=p)
            for p in phases
        }

    assert state("hourly-hot", "hot") == {
        "Completed": 0,
        "PartiallyFailed": 0,
        "Failed": 1,
        "FailedValidation": 0,
    }
    assert state("daily-critical", "critical") == {
        "Completed": 0,
        "PartiallyFailed": 0,
        "Failed": 1,
        "FailedValidation": 0,
    }
    assert state("weekly-full", "full")["PartiallyFailed"] == 1
    assert state("config-backup", "config")["Completed"] == 1
    # all deleted: initialised to 0 everywhere
    assert state("monthly-dr", "dr") == dict.fromkeys(phases, 0)


def test_schedule_success_and_failure_times(samples: Samples) -> None:
    assert value(samples, "velero_schedule_last_success_timestamp_seconds", schedule="hourly-hot") == NOW - 2 * H + 70
    assert value(samples, "velero_schedule_last_failure_timestamp_seconds", schedule="hourly-hot") == NOW - H + 20
    assert (
        value(samples, "velero_schedule_last_failure_timestamp_seconds", schedule="weekly-full") == NOW - 4 * D + 3 * H
    )
    assert value(samples, "velero_schedule_last_success_timestamp_seconds", schedule="weekly-full") is None
    assert value(samples, "velero_schedule_last_success_timestamp_seconds", schedule="monthly-dr") is None
    assert value(samples, "velero_schedule_backups", schedule="monthly-dr", phase="Completed") == 0
    assert value(samples, "velero_schedule_exists", schedule="monthly-dr", tier="dr") == 1


def test_schedule_next_run_follows_velero_cron_grammar(samples: Samples) -> None:
    assert value(samples, "velero_schedule_next_run_timestamp_seconds", schedule="hourly-hot") == t(
        "2026-11-26T13:00:00+00:00"
    )
    assert value(samples, "velero_schedule_next_run_timestamp_seconds", schedule="daily-critical") == t(
        "2026-11-27T02:00:00+00:00"
    )
    assert value(samples, "velero_schedule_next_run_timestamp_seconds", schedule="weekly-full") == t(
        "2026-11-29T03:00:00+00:00"
    )
    assert value(samples, "velero_schedule_next_run_timestamp_seconds", schedule="monthly-dr") == t(
        "2026-12-01T04:00:00+00:00"
    )
    # 03:00 in Berlin is 02:00 UTC in winter
    assert value(samples, "velero_schedule_next_run_timestamp_seconds", schedule="tz-critical") == t(
        "2026-11-27T02:00:00+00:00"
    )
    assert value(samples, "velero_schedule_next_run_timestamp_seconds", schedule="every-6h") == NOW - H + 6 * H
    assert value(samples, "velero_schedule_next_run_timestamp_seconds", schedule="broken-cron") is None
    assert value(samples, "velero_schedule_interval_seconds", schedule="hourly-hot") == H
    assert value(samples, "velero_schedule_interval_seconds", schedule="weekly-full") == 7 * D
    assert value(samples, "velero_schedule_interval_seconds", schedule="monthly-dr") == 31 * D
    # the DST change in a year of Berlin nights makes one gap 25 hours
    assert value(samples, "velero_schedule_interval_seconds", schedule="tz-critical") == 25 * H
    assert value(samples, "velero_schedule_interval_seconds", schedule="every-6h") == 6 * H
    assert value(samples, "velero_schedule_interval_seconds", schedule="broken-cron") is None


def test_schedule_state_and_membership(samples: Samples) -> None:
    assert value(samples, "velero_schedule_paused", schedule="every-6h") == 1
    assert value(samples, "velero_schedule_paused", schedule="hourly-hot") == 0
    assert value(samples, "velero_schedule_phase", schedule="broken-cron", phase="FailedValidation") == 1
    assert value(samples, "velero_schedule_phase", schedule="broken-cron", phase="Enabled") == 0
    assert (
        value(
            samples,
            "velero_schedule_info",
            schedule="tz-critical",
            tier="critical",
            cron="CRON_TZ=Europe/Berlin 0 3 * * *",
        )
        == 1
    )
    assert value(samples, "velero_schedule_info", schedule="every-6h", tier=UNASSIGNED, cron="@every 6h") == 1
    assert value(samples, "velero_schedule_created_timestamp_seconds", schedule="every-6h") == NOW - 50 * D


def test_newest_finished_backup_details(samples: Samples) -> None:
    s = "daily-critical"
    assert value(samples, "velero_schedule_last_backup_start_timestamp_seconds", schedule=s) == TODAY_0200
    assert value(samples, "velero_schedule_last_backup_duration_seconds", schedule=s) == 600
    assert value(samples, "velero_schedule_last_backup_items_backed_up", schedule=s) == 1404
    assert value(samples, "velero_schedule_last_backup_items_expected", schedule=s) == 3120
    assert value(samples, "velero_schedule_last_backup_errors", schedule=s) == 1
    assert value(samples, "velero_schedule_last_backup_hooks_attempted", schedule=s) == 2
    assert value(samples, "velero_schedule_last_backup_hooks_failed", schedule=s) == 1
    assert value(samples, "velero_schedule_last_backup_volume_snapshots_attempted", schedule=s, method="native") == 6
    assert value(samples, "velero_schedule_last_backup_volume_snapshots_completed", schedule=s, method="native") == 2
    assert (
        value(
            samples,
            "velero_schedule_last_backup_volume_snapshots_attempted",
            schedule="weekly-full",
            method="csi",
        )
        == 3
    )
    assert (
        value(
            samples,
            "velero_schedule_last_backup_volume_snapshots_completed",
            schedule="weekly-full",
            method="csi",
        )
        == 1
    )
    assert value(samples, "velero_schedule_last_backup_warnings", schedule="weekly-full") == 5
    # "Completed but empty" is visible
    assert value(samples, "velero_schedule_last_backup_items_backed_up", schedule="config-backup") == 0
    assert value(samples, "velero_schedule_last_backup_items_expected", schedule="config-backup") == 0
    # no finished backup: no details at all
    assert value(samples, "velero_schedule_last_backup_duration_seconds", schedule="monthly-dr") is None


def test_unfinished_backups(samples: Samples) -> None:
    assert series(samples, "velero_backup_unfinished_since_timestamp_seconds") == {
        frozenset(
            {("backup", "hourly-hot-3"), ("schedule", "hourly-hot"), ("tier", "hot"), ("phase", "InProgress")}
        ): NOW - 30
    }


def test_ad_hoc_backups(samples: Samples) -> None:
    assert value(samples, "velero_tier_last_adhoc_backup_phase", tier="critical", phase="Completed") == 1
    assert value(samples, "velero_tier_last_adhoc_backup_phase", tier=UNASSIGNED, phase="Completed") == 1
    assert value(samples, "velero_tier_last_adhoc_backup_phase", tier="hot", phase="Completed") == 0


def test_restores(samples: Samples) -> None:
    assert value(samples, "velero_restore_last_phase", tier="critical", schedule="daily-critical", phase="Failed") == 1
    assert (
        value(
            samples,
            "velero_restore_last_failure_timestamp_seconds",
            tier="critical",
            schedule="daily-critical",
        )
        == NOW - 2 * H + 300
    )
    assert value(samples, "velero_restore_last_phase", tier="hot", schedule="hourly-hot", phase="Completed") == 1
    assert value(samples, "velero_restore_last_duration_seconds", tier="hot", schedule="hourly-hot") == 540
    assert value(samples, "velero_restore_last_failure_timestamp_seconds", tier="hot", schedule="hourly-hot") is None
    assert value(samples, "velero_tier_last_restore_success_timestamp_seconds", tier="hot") == NOW - H + 540
    assert value(samples, "velero_tier_last_restore_success_timestamp_seconds", tier="critical") is None
    assert value(samples, "velero_restores", tier="critical", phase="Failed") == 1
    assert value(samples, "velero_restores", tier="dr", phase="Failed") == 0


def test_retention_evidence(samples: Samples) -> None:
    # config-backup-1 keeps 24h against the config tier's 3d
    assert value(samples, "velero_tier_backups_ttl_below_retention", tier="config") == 1
    assert value(samples, "velero_tier_backups_ttl_below_retention", tier="dr") == 0
    assert value(samples, "velero_tier_backups_past_expiration", tier=UNASSIGNED) == 1
    assert value(samples, "velero_tier_backups_past_expiration", tier="hot") == 0


def test_storage_locations(samples: Samples) -> None:
    assert value(samples, "velero_storage_location_available", location="default") == 1
    assert value(samples, "velero_storage_location_available", location="dr") == 0
    assert value(samples, "velero_storage_location_last_validation_timestamp_seconds", location="default") == NOW - 30
    assert value(samples, "velero_storage_location_last_validation_timestamp_seconds", location="dr") is None
    assert (
        value(
            samples,
            "velero_storage_location_info",
            location="dr",
            provider="aws",
            bucket="dr-bucket",
            prefix="",
            region="us-west-2",
            default="false",
            access_mode="ReadWrite",
        )
        == 1
    )


def test_a_configured_schedule_that_is_gone() -> None:
    objs = fixture_objects()
    objs["schedules"] = [s for s in objs["schedules"] if s["metadata"]["name"] != "monthly-dr"]
    samples = render(load(objs))
    assert value(samples, "velero_schedule_exists", schedule="monthly-dr", tier="dr") == 0
    assert value(samples, "velero_schedule_next_run_timestamp_seconds", schedule="monthly-dr") is None


def test_no_timestamp_is_ever_zero(samples: Samples) -> None:
    for (name, _), v in samples.items():
        if name.endswith("_timestamp_seconds"):
            assert v > 1e9, name


NATIVE_METRICS = Path(__file__).with_name("velero_native_metrics.txt")


def test_no_family_reuses_a_name_velero_exports(samples: Samples) -> None:
    native = {line.strip() for line in NATIVE_METRICS.read_text().splitlines() if line and not line.startswith("#")}
    assert len(native) > 30
    ours = {name.removesuffix("_total").removesuffix("_created") for name, _ in samples}
    ours |= {name for name, _ in samples}
    assert not ours & native


def test_series_do_not_grow_with_completed_backups() -> None:
    def count(n: int) -> int:
        objs = fixture_objects()
        objs["backups"] += [
            o.backup(
                f"hourly-hot-x{i}",
                schedule="hourly-hot",
                started=NOW - 10 * D + i,
                completed=NOW - 10 * D + i + 1,
            )
            for i in range(n)
        ]
        return len(render(load(objs)))

    assert count(10) == count(1000)


def drill_objects() -> dict[str, list[o.Obj]]:
    """The fixture's backups with restore drills instead of its restores: one tier per case."""
    objs = fixture_objects()
    objs["restores"] = [
        # hot: the validation job found the restored application working
        o.restore("drill-hot", backup_name="hourly-hot-1", completed=NOW - H, drill=True, validation="passed"),
        # critical: passed ten days ago, failed its validation two days ago; a plain restore since is no drill
        o.restore("drill-c-1", backup_name="daily-critical-1", completed=NOW - 10 * D, drill=True, validation="passed"),
        o.restore("drill-c-2", backup_name="daily-critical-1", completed=NOW - 2 * D, drill=True, validation="failed"),
        o.restore("restore-c", backup_name="daily-critical-1", completed=NOW - D),
        # config: Completed, the validation job has not annotated it yet; and one still running
        o.restore("drill-config", backup_name="config-backup-1", completed=NOW - 3 * H, drill=True),
        o.restore("drill-config-2", backup_name="config-backup-1", phase="InProgress", started=NOW - 60, drill=True),
        # full: the restore itself failed (its validation annotation cannot make it pass); and a drill label
        # that says false is no drill
        o.restore(
            "drill-full",
            backup_name="weekly-full-1",
            phase="PartiallyFailed",
            completed=NOW - 5 * H,
            drill=True,
            validation="passed",
        ),
        o.restore(
            "not-a-drill",
            backup_name="weekly-full-1",
            completed=NOW - H,
            labels={"velero-exporter.io/drill": "false"},
            annotations={VALIDATION_ANNOTATION: "passed"},
        ),
        # unassigned: a validation value the exporter does not know is counted, and the drill is unvalidated
        o.restore("drill-odd", backup_name="adhoc-plain", completed=NOW - 4 * H, drill=True, validation="looks fine"),
        # case as a person may type it
        o.restore(
            "drill-gold",
            backup_name="adhoc-gold",
            completed=NOW - 2 * H,
            labels={"velero-exporter.io/drill": "True"},
            annotations={VALIDATION_ANNOTATION: "Passed"},
        ),
    ]
    return objs


def test_restore_drills() -> None:
    config = dataclasses.replace(
        Config(), tiers=tuple(dataclasses.replace(t, require_validation=t.name == "dr") for t in Config().tiers)
    )
    samples = render(load(drill_objects()), config)
    verified = "velero_tier_last_verified_restore_timestamp_seconds"
    assert series(samples, verified) == {
        frozenset({("tier", "hot")}): NOW - H,
        frozenset({("tier", "critical")}): NOW - 10 * D,
        frozenset({("tier", UNASSIGNED)}): NOW - 2 * H,
    }

    def results(tier: str) -> dict[str, float]:
        return {
            labels["result"]: v
            for labels, v in ((dict(k), v) for k, v in series(samples, "velero_tier_last_drill_result").items())
            if labels["tier"] == tier
        }

    assert results("hot") == {"passed": 1, "failed": 0, "unvalidated": 0}
    assert results("critical") == {"passed": 0, "failed": 1, "unvalidated": 0}
    assert results("config") == {"passed": 0, "failed": 0, "unvalidated": 1}
    assert results("full") == {"passed": 0, "failed": 1, "unvalidated": 0}
    assert results("dr") == {"passed": 0, "failed": 0, "unvalidated": 0}  # no drill: initialised, none is 1
    assert results(UNASSIGNED) == {"passed": 1, "failed": 0, "unvalidated": 0}  # drill-gold is the newer
    assert value(samples, "velero_exporter_invalid_objects", resource="restores", reason="bad_validation") == 1
    assert series(samples, "velero_tier_drill_validation_required") == {
        frozenset({("tier", name)}): float(name == "dr") for name in ("hot", "critical", "full", "config", "dr")
    }
    # a drill is a restore like any other in the restore families
    assert value(samples, "velero_tier_last_restore_success_timestamp_seconds", tier="critical") == NOW - D
    assert value(samples, "velero_restores", tier="full", phase="PartiallyFailed") == 1


def test_the_drill_label_is_configurable() -> None:
    objs = drill_objects()
    config = dataclasses.replace(Config(), drill_label="example.com/drill")
    assert series(render(load(objs), config), "velero_tier_last_verified_restore_timestamp_seconds") == {}
    for restore in objs["restores"]:
        restore["metadata"]["labels"] = {"example.com/drill": "true"}
    assert value(render(load(objs), config), "velero_tier_last_verified_restore_timestamp_seconds", tier="hot") == (
        NOW - H
    )


def test_the_newest_recovery_points_expiration_is_velero_s_even_while_newer_backups_fail() -> None:
    backups = [
        o.backup(
            "full-old", schedule="weekly-full", started=NOW - 14 * D, completed=NOW - 14 * D + H, expiration=NOW + H
        ),
        o.backup(
            "full-good", schedule="weekly-full", started=NOW - 7 * D, completed=NOW - 7 * D + H, expiration=NOW + 5 * H
        ),
        o.backup("full-failed", schedule="weekly-full", phase="Failed", started=NOW - H, expiration=NOW + 30 * D),
        o.backup("hot-no-expiration", schedule="hourly-hot", started=NOW - H, completed=NOW - H + 60),
    ]
    samples = render(load({"backups": backups}))
    assert series(samples, "velero_tier_recovery_point_expiration_timestamp_seconds") == {
        frozenset({("tier", "full")}): NOW + 5 * H  # full-good's: the failed run is no recovery point
    }
