"""The AWS sources' pure parts: discovery, error kinds, snapshot summaries, manifests, and the model's joins."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import botocore.exceptions
import pytest

from velero_exporter.config.settings import AwsConfig, BucketSettings, Config, ExtraBucket
from velero_exporter.model.aws import build_aws_model
from velero_exporter.sandbox import objects as o
from velero_exporter.sources.aws import posture
from velero_exporter.sources.aws.api import error_kind
from velero_exporter.sources.aws.buckets import parse_manifest
from velero_exporter.sources.aws.snapshots import summarize
from velero_exporter.sources.parsing import parse_backup, parse_snapshot_location, parse_storage_location
from velero_exporter.state.aws_records import (
    DEFAULT_IDENTITY,
    BackupFolder,
    BucketPosture,
    BucketTarget,
    BucketUsage,
    Checked,
    ObjectLock,
    Replication,
    Usage,
)
from velero_exporter.state.aws_targets import bucket_targets, snapshot_regions
from velero_exporter.state.records import Backup, StorageLocation
from velero_exporter.state.store import Store

T = 1_790_000_000.0


def at(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def record(obj: o.Obj) -> Backup:
    parsed = parse_backup(obj).record
    assert parsed is not None
    return parsed


def test_discovery_takes_aws_locations_then_extra_buckets() -> None:
    parsed = (
        ("default", parse_storage_location(o.storage_location("default", bucket="primary", prefix="/a/b/"))),
        ("plugin", parse_storage_location(o.storage_location("plugin", bucket="p", provider="velero.io/aws"))),
        ("gcp", parse_storage_location(o.storage_location("gcp", bucket="g", provider="gcp"))),
    )
    locations = {name: p.record for name, p in parsed if p.record is not None}
    config = AwsConfig(
        locations=(("default", BucketSettings(mode="cloudwatch")),),
        extra_buckets=(ExtraBucket("dr", "dr-bucket", "us-west-2"), ExtraBucket("default", "shadowed", "eu-west-1")),
    )
    targets = bucket_targets(locations, config)
    assert list(targets) == ["default", "plugin", "dr"]
    assert targets["default"] == BucketTarget(
        "default",
        "primary",
        "a/b",
        "us-east-1",
        "",
        BucketSettings(mode="cloudwatch"),
        discovered=True,
        written_by_velero=True,
    )
    assert targets["default"].path("backups", "x") == "a/b/backups/x/"
    assert targets["dr"].path() == "" and targets["dr"].path("kopia") == "kopia/"
    assert not targets["dr"].discovered
    vsls = {
        n: r
        for n, region, provider in (("a", "us-east-1", "aws"), ("b", "eu-west-1", "gcp"), ("c", "", "aws"))
        for r in [parse_snapshot_location(o.snapshot_location(n, region=region, provider=provider)).record]
        if r is not None
    }
    assert snapshot_regions(vsls, AwsConfig(extra_regions=("us-west-2", "us-east-1"))) == ["us-east-1", "us-west-2"]


def client_error(code: str, status: int) -> botocore.exceptions.ClientError:
    return botocore.exceptions.ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op"
    )


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (client_error("SlowDown", 503), "throttled"),
        (client_error("RequestLimitExceeded", 503), "throttled"),
        (client_error("Throttling", 400), "throttled"),
        (client_error("Whatever", 429), "throttled"),
        (client_error("AccessDenied", 403), "forbidden"),
        (client_error("UnauthorizedOperation", 403), "forbidden"),
        (client_error("ExpiredToken", 400), "unauthorized"),
        (client_error("InvalidAccessKeyId", 403), "unauthorized"),
        (client_error("NoSuchBucket", 404), "not_found"),
        (client_error("InternalError", 500), "server_error"),
        (client_error("InvalidParameterValue", 400), "client_error"),
        (client_error("", 404), "not_found"),
        (botocore.exceptions.NoCredentialsError(), "no_credentials"),
        (botocore.exceptions.EndpointConnectionError(endpoint_url="http://x"), "unreachable"),
        (botocore.exceptions.ConnectionClosedError(endpoint_url="http://x"), "unreachable"),
        (botocore.exceptions.ConnectTimeoutError(endpoint_url="http://x"), "timeout"),
        (botocore.exceptions.ReadTimeoutError(endpoint_url="http://x"), "timeout"),
        (ValueError("a bug"), None),
    ],
)
def test_error_kinds(exc: Exception, kind: str | None) -> None:
    assert error_kind(exc) == kind


def snapshot(state: str, start: float, **tags: str) -> dict[str, Any]:
    return {"State": state, "StartTime": at(start), "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}


def test_snapshot_summary_counts_states_and_groups_completed_by_backup() -> None:
    tier = {"backup-tier": "critical", "velero.io/schedule-name": "daily-critical", "velero.io/pv": "pv-1"}
    summary = summarize(
        "us-east-1",
        [
            snapshot("pending", T - 50, **{"velero.io/backup": "b3"}),
            snapshot("pending", T - 90, **{"velero.io/backup": "b3"}),
            snapshot("error", T - 500),
            snapshot("completed", T - 300, **{"velero.io/backup": "b1"}, **tier),
            snapshot("completed", T - 200, **{"velero.io/backup": "b1"}, **tier),
            snapshot("completed", T - 100, **{"backup-tier": "hot"}),
            snapshot("archived", T - 999),  # a state this exporter does not know is still counted
        ],
        "backup-tier",
        T,
    )
    assert summary.by_state == {
        "pending": 2,
        "completed": 3,
        "error": 1,
        "recoverable": 0,
        "recovering": 0,
        "archived": 1,
    }
    assert summary.oldest_pending == T - 90
    groups = {(g.backup, g.labels): (g.newest_start, g.count) for g in summary.completed}
    assert groups == {
        ("b1", (("backup-tier", "critical"), ("velero.io/schedule-name", "daily-critical"))): (T - 200, 2),
        (None, (("backup-tier", "hot"),)): (T - 100, 1),
    }


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"kind": "Backup"}', b"\xff\xfe"])
def test_a_manifest_that_is_not_a_backup_reads_as_none(body: bytes) -> None:
    assert parse_manifest(body) is None


def test_a_manifest_is_the_backup_object() -> None:
    obj = o.backup("b1", schedule="hourly-hot", labels={"backup-tier": "hot"}, started=T, completed=T + 60)
    parsed = parse_manifest(json.dumps(obj).encode())
    assert parsed is not None and (parsed.name, parsed.phase, parsed.started) == ("b1", "Completed", T)


def target(location: str = "default", discovered: bool = True) -> BucketTarget:
    return BucketTarget(location, "bkt", "", "us-east-1", "", BucketSettings(), discovered)


def folder(nbytes: int, *, present: bool = True, manifest: Backup | None = None) -> BackupFolder:
    return BackupFolder(nbytes, 2, T, manifest, present)


def test_missing_folders_count_completed_backups_listed_before_and_not_present() -> None:
    store = Store()
    backups = [
        o.backup("here", started=T - 900, completed=T - 800),
        o.backup("deleted-version", started=T - 900, completed=T - 800),  # only noncurrent versions left
        o.backup("lost", started=T - 900, completed=T - 800),
        o.backup("failed-lost", phase="Failed", started=T - 900, completed=T - 800),
        o.backup("after-listing", started=T - 10, completed=T + 5),
        o.backup("other-location", storage_location="dr", started=T - 900, completed=T - 800),
    ]
    for b in backups:
        store.backups.put(b["metadata"]["name"], record(b))
    folders = {"here": folder(10), "deleted-version": folder(20, present=False)}
    usage = {"backups": Usage(30, 4, T)}
    for t in (target(), target("extra", discovered=False)):
        store.buckets.put(t.key, BucketUsage(t, None, usage, MappingProxyType(folders), T, None))
    model = build_aws_model(store.view(), Config(), T)
    missing = {b.target.location: b.missing_backups for b in model.buckets}
    assert missing == {"default": 2, "extra": None}
    # Without the repositories measured, no total: a partial sum would understate the bucket.
    assert [b.total for b in model.buckets] == [None, None]


def test_snapshot_points_join_a_known_backups_start_and_nothing_else() -> None:
    """velero-plugin-for-aws copies a snapshot's tags onto the volume restored from it, so a snapshot of that
    volume (DLM, AWS Backup) names an old backup: only a backup the exporter knows makes it a recovery point."""
    store = Store()
    store.backups.put(
        "b1",
        record(o.backup("b1", schedule="weekly-full", started=T - 7 * 86400, completed=T - 6 * 86400)),
    )
    # a DR cluster's bucket holds the primary's backup, which this cluster does not
    manifest = record(o.backup("b2", labels={"backup-tier": "dr"}, started=T - 2 * 86400, completed=T - 86000))
    dr = target("dr", discovered=False)
    folders = MappingProxyType({"b2": folder(30, manifest=manifest)})
    store.buckets.put(dr.key, BucketUsage(dr, None, {"backups": Usage(30, 4, T)}, folders, T, None))
    store.snapshots.put(
        "us-west-2",
        summarize(
            "us-west-2",
            [
                snapshot("completed", T - 60, **{"velero.io/backup": "b1"}),  # a copy made a minute ago
                snapshot("completed", T - 120, **{"velero.io/backup": "b2"}),
                # a snapshot of a volume restored from backup "gone", taken an hour ago by DLM
                snapshot("completed", T - 3600, **{"velero.io/backup": "gone", "backup-tier": "critical"}),
                # made by the EBS CSI driver (tag filter ebs.csi.aws.com/cluster): no backup to join
                snapshot("completed", T - 7200, **{"ebs.csi.aws.com/cluster": "true", "backup-tier": "hot"}),
            ],
            "backup-tier",
            T,
        ),
    )
    (region,) = build_aws_model(store.view(), Config(), T).regions
    assert region.last_completed == {"full": T - 7 * 86400, "dr": T - 2 * 86400, "hot": T - 7200}
    # still counted by state, and by tier for encryption: only not as a recovery point
    assert region.by_state["completed"] == 4
    assert region.unencrypted["critical"] == 1
    assert region.oldest_pending is None


# --- posture: the answers as S3 spells them, and the model's joins ------------------------------------------

LOCATION = BucketTarget("default", "bkt", "cluster-a", "us-east-1", "", BucketSettings(), True, written_by_velero=True)


def lifecycle(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"Rules": list(rules)}


def expire(days: int | None = None, *, status: str = "Enabled", **rule: Any) -> dict[str, Any]:
    expiration = {"Days": days} if days is not None else {"Date": at(T)}
    return {"ID": "r", "Status": status, "Expiration": expiration, **rule}


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (None, None),  # no lifecycle configuration
        (lifecycle(expire(30, Filter={"Prefix": "cluster-a/backups/"})), ("cluster-a/backups/", 30)),
        # a rule on the whole bucket, or on the location's prefix, reaches backups/; a rule on a deeper prefix
        # reaches some of them
        (lifecycle(expire(60, Filter={}), expire(40, Filter={"Prefix": "cluster-a/"})), ("cluster-a/", 40)),
        (lifecycle(expire(9, Filter={"Prefix": "cluster-a/backups/daily-"})), ("cluster-a/backups/daily-", 9)),
        # another location's folders, a disabled rule, a rule on noncurrent versions only: none reaches them
        (lifecycle(expire(1, Filter={"Prefix": "cluster-b/backups/"})), None),
        (lifecycle(expire(1, status="Disabled", Filter={})), None),
        (
            lifecycle(
                {"ID": "n", "Status": "Enabled", "Filter": {}, "NoncurrentVersionExpiration": {"NoncurrentDays": 1}}
            ),
            None,
        ),
        # a rule limited to tags or sizes deletes the backup objects it matches: it counts
        (
            lifecycle(expire(5, Filter={"And": {"Prefix": "cluster-a/", "Tags": [{"Key": "k", "Value": "v"}]}})),
            ("cluster-a/", 5),
        ),
        (lifecycle(expire(6, Filter={"ObjectSizeGreaterThan": 1024})), ("", 6)),
        # a rule written before Filter existed; a rule with a date deletes everything from that date
        (lifecycle(expire(7, Prefix="cluster-a/backups")), ("cluster-a/backups", 7)),
        (lifecycle(expire(None, Filter={})), ("", 0)),
    ],
)
def test_the_lifecycle_rule_that_expires_backups_soonest(
    answer: dict[str, Any] | None, expected: tuple[str, int] | None
) -> None:
    found = posture.read_lifecycle(answer, LOCATION)
    assert (None if found is None else (found.prefix, found.seconds)) == (
        None if expected is None else (expected[0], expected[1] * 86400.0)
    )


def replication(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"ReplicationConfiguration": {"Role": "arn:aws:iam::1:role/r", "Rules": list(rules)}}


def to(bucket: str, *, status: str = "Enabled", **rule: Any) -> dict[str, Any]:
    return {"ID": bucket, "Status": status, "Destination": {"Bucket": f"arn:aws:s3:::{bucket}"}, **rule}


def test_replication_covers_backups_only_through_an_enabled_rule_on_all_of_them() -> None:
    answer = replication(
        to("whole", Filter={"Prefix": ""}),
        to("location", Filter={"Prefix": "cluster-a/"}),
        to("legacy", Prefix="cluster-a/backups/"),
        to("deeper", Filter={"Prefix": "cluster-a/backups/daily-"}),  # some backups only
        to("tagged", Filter={"And": {"Prefix": "", "Tags": [{"Key": "k", "Value": "v"}]}}),  # Velero tags nothing
        to("off", status="Disabled", Filter={}),
        to("other", Filter={"Prefix": "cluster-b/"}),
        to("whole", status="Disabled", Filter={}),  # another rule to an already covered destination
    )
    destinations = dict(posture.read_replication(answer, LOCATION).destinations)
    assert destinations == {
        "whole": True,
        "location": True,
        "legacy": True,
        "deeper": False,
        "tagged": False,
        "off": False,
        "other": False,
    }
    assert posture.read_replication(None, LOCATION).destinations == {}


def test_object_lock_encryption_versioning_and_public_access_answers() -> None:
    def lock(**rule: Any) -> dict[str, Any]:
        return {"ObjectLockConfiguration": {"ObjectLockEnabled": "Enabled", **rule}}

    assert posture.read_object_lock(None, LOCATION) is None
    assert posture.read_object_lock({"ObjectLockConfiguration": {}}, LOCATION) is None
    assert posture.read_object_lock(lock(), LOCATION) == ObjectLock("none", 0.0)
    years = lock(Rule={"DefaultRetention": {"Mode": "COMPLIANCE", "Years": 2}})
    assert posture.read_object_lock(years, LOCATION) == ObjectLock("COMPLIANCE", 2 * 365 * 86400.0)
    assert posture.read_encryption(None, LOCATION) == "none"
    kms = {
        "ServerSideEncryptionConfiguration": {
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]
        }
    }
    assert posture.read_encryption(kms, LOCATION) == "aws:kms"
    assert posture.read_versioning({}, LOCATION) is False  # never enabled
    assert posture.read_versioning({"Status": "Suspended"}, LOCATION) is False
    assert posture.read_versioning({"Status": "Enabled"}, LOCATION) is True
    three = dict.fromkeys(posture.PUBLIC_ACCESS_FLAGS[:3], True)
    assert posture.read_access_block({"PublicAccessBlockConfiguration": three}, LOCATION) is False
    four = dict.fromkeys(posture.PUBLIC_ACCESS_FLAGS, True)
    assert posture.read_access_block({"PublicAccessBlockConfiguration": four}, LOCATION) is True
    assert posture.read_access_block(None, LOCATION) is False


def bucket_location(name: str, bucket: str, region: str, access_mode: str = "ReadWrite") -> StorageLocation:
    parsed = parse_storage_location(o.storage_location(name, bucket=bucket, region=region, access_mode=access_mode))
    assert parsed.record is not None
    return parsed.record


def listed(names: dict[str, Backup | None], *, at_time: float = T, present: bool = True) -> BucketUsage:
    folders = {name: BackupFolder(10, 2, T - 86400, manifest, present) for name, manifest in names.items()}
    return BucketUsage(LOCATION, None, {}, MappingProxyType(folders), at_time, None)


def posture_of(target: BucketTarget, destinations: dict[str, bool] | None = None) -> BucketPosture:
    found = None if destinations is None else Checked(Replication(MappingProxyType(destinations)), T)
    return BucketPosture(target, replication=found)


def test_replicas_are_declared_or_found_and_miss_only_completed_folders_past_the_grace() -> None:
    store = Store()
    for name, loc in (
        ("default", bucket_location("default", "primary", "us-east-1")),
        ("dr", bucket_location("dr", "replica", "us-west-2", access_mode="ReadOnly")),
        ("other", bucket_location("other", "unrelated", "us-east-1")),
    ):
        store.storage_locations.put(name, loc)
    done = {
        name: record(o.backup(name, started=T - 86400, completed=completed))
        for name, completed in (("old", T - 86000), ("older", T - 86300), ("fresh", T - 600))
    }
    failed = record(o.backup("failed", phase="Failed", started=T - 86400, completed=T - 86000))
    for backup in (*done.values(), failed):
        store.backups.put(backup.name, backup)
    config = Config(aws=AwsConfig(extra_buckets=(ExtraBucket("vault", "vault", "us-east-1", replica_of="default"),)))
    targets = bucket_targets(store.storage_locations.frozen(), config.aws)
    # The primary holds them all; one more only by its manifest (a backup this cluster does not hold).
    adopted = record(o.backup("adopted", started=T - 90000, completed=T - 89000))
    primary = listed({"old": None, "older": None, "fresh": None, "failed": None, "adopted": adopted})
    store.buckets.put(targets["default"].key, primary)
    store.buckets.put(targets["dr"].key, listed({"old": None, "older": None}, present=True))
    store.buckets.put(targets["vault"].key, listed({"old": None}))
    store.buckets.put(targets["other"].key, listed({}))
    # The primary replicates to the DR bucket; "other" replicates to "unrelated"'s name but itself is no replica.
    store.posture.put(targets["default"].key, posture_of(targets["default"], {"replica": True, "nowhere": True}))
    store.posture.put(targets["other"].key, posture_of(targets["other"], {"replica": False}))
    model = build_aws_model(store.view(), config, T)
    # fresh completed 10 minutes before the listing: still within the grace (1h). failed: not Completed.
    assert {(r.bucket, r.replica_bucket): r.missing_backups for r in model.replicas} == {
        ("primary", "replica"): 1,  # adopted
        ("primary", "vault"): 2,  # older, adopted
    }
    store.buckets.put(targets["dr"].key, listed({"old": None, "older": None, "adopted": None}, present=False))
    model = build_aws_model(store.view(), config, T)  # a folder left with noncurrent versions only is not there
    assert {(r.bucket, r.replica_bucket): r.missing_backups for r in model.replicas}[("primary", "replica")] == 3


def test_dr_targets_and_their_accounts() -> None:
    store = Store()
    store.storage_locations.put("default", bucket_location("default", "primary", "us-east-1"))
    store.storage_locations.put("dr", bucket_location("dr", "replica", "us-west-2", access_mode="ReadOnly"))
    for name, region in (("a", "us-east-1"), ("b", "us-west-2")):
        parsed = parse_snapshot_location(o.snapshot_location(name, region=region)).record
        assert parsed is not None
        store.snapshot_locations.put(name, parsed)
    dr_role = "arn:aws:iam::210987654321:role/dr"
    aws = AwsConfig(
        require_separate_dr_account=True,
        require_dr_object_lock=True,
        locations=(("dr", BucketSettings(role_arn=dr_role)),),
        extra_regions=("eu-west-1",),
    )
    config = Config(aws=aws)
    targets = bucket_targets(store.storage_locations.frozen(), aws)
    store.posture.put(targets["default"].key, posture_of(targets["default"], {"replica": True}))
    store.posture.put(targets["dr"].key, posture_of(targets["dr"]))

    def flags() -> dict[tuple[str, str], tuple[bool, str | None, bool | None]]:
        return {
            (t.source, t.name): (t.dr, t.account, t.in_primary_account)
            for t in build_aws_model(store.view(), config, T).targets
        }

    # No account known yet: nothing to compare.
    assert flags() == {
        ("buckets", "default"): (False, None, None),
        ("buckets", "dr"): (True, None, None),
        ("snapshots", "eu-west-1"): (True, None, None),  # an extra region: where the DR copies are kept
        ("snapshots", "us-east-1"): (False, None, None),
        ("snapshots", "us-west-2"): (True, None, None),  # the DR replica's region
    }
    store.accounts.put(DEFAULT_IDENTITY, "111111111111")
    store.accounts.put(dr_role, "210987654321")
    assert flags() == {
        ("buckets", "default"): (False, "111111111111", None),
        ("buckets", "dr"): (True, "210987654321", False),
        ("snapshots", "eu-west-1"): (True, "111111111111", True),
        ("snapshots", "us-east-1"): (False, "111111111111", None),
        ("snapshots", "us-west-2"): (True, "111111111111", True),
    }
    model = build_aws_model(store.view(), config, T)
    # The DR replica is expected to carry Object Lock; the primary, which Velero writes to, never is.
    assert {p.posture.target.location: p.object_lock_required for p in model.posture} == {"default": False, "dr": True}
    # Without the requirement, no comparison is made.
    relaxed = Config(aws=replace(aws, require_separate_dr_account=False, require_dr_object_lock=False))
    assert all(t.in_primary_account is None for t in build_aws_model(store.view(), relaxed, T).targets)
    assert not any(p.object_lock_required for p in build_aws_model(store.view(), relaxed, T).posture)


def test_snapshot_encryption_and_locks_per_tier() -> None:
    tier = {"backup-tier": "full"}
    snapshots = [
        {**snapshot("completed", T - 100, **{"velero.io/backup": "b1"}, **tier), "Encrypted": True, "SnapshotId": "s1"},
        {
            **snapshot("completed", T - 100, **{"velero.io/backup": "b1"}, **tier),
            "Encrypted": False,
            "SnapshotId": "s2",
        },
        {**snapshot("error", T - 100, **{"velero.io/backup": "b1"}, **tier), "Encrypted": False, "SnapshotId": "s3"},
        {**snapshot("completed", T - 100, **{"backup-tier": "hot"}), "SnapshotId": "s4"},  # no Encrypted: not
    ]
    summary = summarize("us-east-1", snapshots, "backup-tier", T, locked={"s1", "s3", "elsewhere"})
    assert summary.unencrypted_by_state["completed"] == 2 and summary.by_state["completed"] == 3
    assert summary.unencrypted_by_state["error"] == 1
    store = Store()
    store.snapshots.put("us-east-1", summary)
    store.snapshots.put("us-west-2", summarize("us-west-2", snapshots, "backup-tier", T, locked=None))
    east, west = build_aws_model(store.view(), Config(), T).regions
    assert (east.unencrypted, east.locked) == ({"full": 1, "hot": 1}, {"full": 1, "hot": 0})
    assert (west.unencrypted, west.locked) == ({"full": 1, "hot": 1}, {})  # locks unknown: absent, not 0
