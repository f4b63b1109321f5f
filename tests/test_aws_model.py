"""The AWS sources' pure parts: discovery, error kinds, snapshot summaries, manifests, and the model's joins."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import botocore.exceptions
import pytest

from velero_exporter.config.settings import AwsConfig, BucketSettings, Config, ExtraBucket
from velero_exporter.model.aws import build_aws_model
from velero_exporter.sandbox import objects as o
from velero_exporter.sources.aws.api import error_kind
from velero_exporter.sources.aws.buckets import parse_manifest
from velero_exporter.sources.aws.discovery import bucket_targets, snapshot_regions
from velero_exporter.sources.aws.snapshots import summarize
from velero_exporter.sources.parsing import parse_backup, parse_snapshot_location, parse_storage_location
from velero_exporter.state.aws_records import BackupFolder, BucketTarget, BucketUsage, Usage
from velero_exporter.state.records import Backup
from velero_exporter.state.store import Store

T = 1_790_000_000.0


def at(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def record(obj: o.Obj) -> Backup:
    parsed = parse_backup(obj).record
    assert parsed is not None
    return parsed


def test_discovery_takes_aws_locations_then_extra_buckets() -> None:
    locations = {
        name: r
        for name, r in (
            ("default", parse_storage_location(o.storage_location("default", bucket="primary", prefix="/a/b/"))),
            ("plugin", parse_storage_location(o.storage_location("plugin", bucket="p", provider="velero.io/aws"))),
            ("gcp", parse_storage_location(o.storage_location("gcp", bucket="g", provider="gcp"))),
        )
        for r in [r.record]
        if r is not None
    }
    config = AwsConfig(
        locations=(("default", BucketSettings(mode="cloudwatch")),),
        extra_buckets=(ExtraBucket("dr", "dr-bucket", "us-west-2"), ExtraBucket("default", "shadowed", "eu-west-1")),
    )
    targets = bucket_targets(locations, config)
    assert list(targets) == ["default", "plugin", "dr"]
    assert targets["default"] == BucketTarget(
        "default", "primary", "a/b", "us-east-1", "", BucketSettings(mode="cloudwatch"), discovered=True
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


def test_snapshot_points_join_the_backup_start_else_their_own_time() -> None:
    store = Store()
    store.backups.put(
        "b1",
        record(o.backup("b1", schedule="weekly-full", started=T - 7 * 86400, completed=T - 6 * 86400)),
    )
    store.snapshots.put(
        "us-west-2",
        summarize(
            "us-west-2",
            [
                snapshot("completed", T - 60, **{"velero.io/backup": "b1"}),  # a copy made a minute ago
                snapshot("completed", T - 3600, **{"velero.io/backup": "gone", "backup-tier": "dr"}),
                snapshot("completed", T - 7200, **{"velero.io/backup": "gone2", "backup-tier": "gold"}),
            ],
            "backup-tier",
            T,
        ),
    )
    (region,) = build_aws_model(store.view(), Config(), T).regions
    assert region.last_completed == {"full": T - 7 * 86400, "dr": T - 3600, "unassigned": T - 7200}
    assert region.oldest_pending is None
