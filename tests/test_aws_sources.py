"""The AWS sources against moto in server mode, over HTTP, through the fault proxy that counts every call.

The fixture lays out buckets as Velero does (sandbox/cloud.py) and snapshots in two regions (DR copies made
with CopySnapshot and copied tags); every expected value is what the fixture implies.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.fault_proxy import Fault, FaultProxy
from tests.metrics_text import Samples, parse_samples, series, value
from velero_exporter.app import Exporter, Options
from velero_exporter.config.settings import AwsConfig, BucketSettings, Config, ExtraBucket, RegionSettings
from velero_exporter.exposition.payload import TEXT, Exposition
from velero_exporter.exposition.renderer import Renderer
from velero_exporter.sandbox import cloud
from velero_exporter.sandbox import objects as o
from velero_exporter.sandbox.kube_api import FakeKubeAPI
from velero_exporter.sandbox.moto_server import MotoServer, aws_environment
from velero_exporter.sources.aws.api import AwsClients, Where
from velero_exporter.sources.aws.polling import Poller
from velero_exporter.sources.aws.sources import aws_sources
from velero_exporter.sources.kube.source import RESOURCES, RecordSink
from velero_exporter.sources.parsing import parse_backup, parse_snapshot_location
from velero_exporter.state.store import Store, TargetHealth

H = 3600.0
D = 86400.0
NOW = float(int(time.time()))
PRIMARY = "kailash-velero-backups"
DR = "kailash-velero-dr-backups"
SHARED = "kailash-velero-shared"  # two locations under their own prefixes (Velero refuses other top-level folders)
ARCHIVE = "kailash-velero-archive"  # measured from CloudWatch only: it does not exist in moto's S3
TIER = "backup-tier"


def backup(name: str, schedule: str | None, tier: str | None, started: float, **kw: Any) -> o.Obj:
    labels = {TIER: tier} if tier else {}
    return o.backup(name, schedule=schedule, labels=labels, started=started, completed=started + 600, **kw)


HOT_1 = backup("hot-1", "hourly-hot", "hot", NOW - 2 * H, items_backed_up=10)
HOT_2 = backup("hot-2", "hourly-hot", "hot", NOW - H, items_backed_up=20)
CRIT_1 = backup("crit-1", "daily-critical", "critical", NOW - 26 * H, items_backed_up=30, volume_snapshots_completed=2)
CRIT_2 = backup("crit-2", "daily-critical", "critical", NOW - 30 * 60, phase="Failed", items_backed_up=5)
FULL_1 = backup("full-1", "weekly-full", "full", NOW - 5 * D, items_backed_up=50, volume_snapshots_completed=1)
ADHOC = backup("adhoc-x", None, None, NOW - 3 * H, storage_location="secondary", items_backed_up=7)
# In the DR bucket only: a backup this cluster does not hold; its tier comes from its velero-backup.json.
DR_ONLY = backup("dr-only-1", "monthly-dr", "dr", NOW - 40 * D, items_backed_up=60)
RESTORE = o.restore("r1", backup_name="hot-1", started=NOW - H, completed=NOW - H + 60)
KOPIA = cloud.kopia_repository(blobs=3, blob_bytes=1000)
RESTIC = {"config": bytes(100), "data/ab/abcdef": bytes(5000)}
STRAY = {"notes/readme.txt": b"kept by hand"}

# full-1's folder is gone from the primary bucket (a lifecycle rule shorter than its TTL).
PRIMARY_KEYS = {
    # In the order the backups ended, as Velero uploads them (an upload that spans a second keeps that order).
    **cloud.layout(
        [CRIT_1, HOT_1, HOT_2, CRIT_2], [RESTORE], {"kopia/kailash-app": KOPIA, "restic/monitoring": RESTIC}
    ),
    **STRAY,
}
SECONDARY_KEYS = cloud.layout([ADHOC], prefix="cluster-b")
TERTIARY_KEYS = cloud.layout([], prefix="cluster-c")
DR_KEYS = cloud.layout([DR_ONLY, CRIT_1])


def size(keys: dict[str, bytes], start: str = "", exclude: tuple[str, ...] = ()) -> tuple[int, int]:
    """(bytes, objects) of the keys under start, outside exclude."""
    chosen = [v for k, v in keys.items() if k.startswith(start) and not k.startswith(exclude)]
    return sum(len(v) for v in chosen), len(chosen)


def kube_objects() -> dict[str, list[o.Obj]]:
    return {
        "backups": [HOT_1, HOT_2, CRIT_1, CRIT_2, FULL_1, ADHOC],
        "restores": [RESTORE],
        "backupstoragelocations": [
            o.storage_location("default", bucket=PRIMARY, region="us-east-1", default=True),
            o.storage_location("secondary", bucket=SHARED, prefix="cluster-b", region="us-east-1"),
            o.storage_location("tertiary", bucket=SHARED, prefix="/cluster-c/", region="us-east-1"),
            o.storage_location("azure", bucket="elsewhere", provider="azure"),
        ],
        "volumesnapshotlocations": [o.snapshot_location("default", region="us-east-1")],
    }


def config(**aws: Any) -> Config:
    base = AwsConfig(
        buckets_interval=0.0,  # every tick refreshes: the tests decide when
        repositories_interval=0.0,
        snapshots_interval=0.0,
        posture_interval=0.0,
        max_attempts=3,
        extra_buckets=(
            ExtraBucket("dr", DR, "us-west-2"),
            ExtraBucket("archive", ARCHIVE, "us-east-1", settings=BucketSettings(mode="cloudwatch")),
        ),
        extra_regions=("us-west-2",),
    )
    return Config(aws=dataclasses.replace(base, **aws))


@dataclass
class Peers:
    moto: MotoServer
    proxy: FaultProxy
    snapshots: dict[str, dict[str, list[str]]]  # region -> backup -> snapshot ids


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[MotoServer, FaultProxy]]:
    moto = MotoServer()
    moto.start()
    proxy = FaultProxy(moto.url)
    proxy.start()
    yield moto, proxy
    proxy.stop()
    moto.stop()


def lay_out(moto: MotoServer) -> dict[str, dict[str, list[str]]]:
    moto.reset()
    s3 = moto.client("s3")
    dr_s3 = moto.client("s3", "us-west-2")
    # Folders are uploaded in the order their backups ended; S3's LastModified has one-second resolution.
    newest, newest_dr = (
        {k: v for k, v in keys.items() if k.startswith(f"backups/{name}/")}
        for keys, name in ((PRIMARY_KEYS, "crit-2"), (DR_KEYS, "crit-1"))
    )
    cloud.upload(s3, PRIMARY, {k: v for k, v in PRIMARY_KEYS.items() if k not in newest}, region="us-east-1")
    cloud.upload(dr_s3, DR, {k: v for k, v in DR_KEYS.items() if k not in newest_dr}, region="us-west-2")
    time.sleep(1.1)
    cloud.put_objects(s3, PRIMARY, newest)
    cloud.put_objects(dr_s3, DR, newest_dr)
    cloud.upload(s3, SHARED, {**SECONDARY_KEYS, **TERTIARY_KEYS}, region="us-east-1")
    east, west = moto.client("ec2", "us-east-1"), moto.client("ec2", "us-west-2")
    taken = cloud.take_snapshots(east, [CRIT_1], per_backup=2, encrypted=True)
    taken |= cloud.take_snapshots(east, [FULL_1])
    # A snapshot of a backup the cluster no longer holds: its point in time is its own StartTime.
    gone = backup("gone-backup", None, "hot", NOW - 10 * D)
    taken |= cloud.take_snapshots(east, [gone])
    copies = cloud.copy_snapshots(east, west, taken["full-1"])
    # A copy tool that drops the tags: the filter cannot see it as Velero's.
    west.copy_snapshot(SourceSnapshotId=taken["crit-1"][0], SourceRegion="us-east-1")
    day = dt.datetime.fromtimestamp(NOW, dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    points = [
        ("BucketSizeBytes", "StandardStorage", day - dt.timedelta(days=2), 1000.0),
        ("BucketSizeBytes", "StandardIAStorage", day - dt.timedelta(days=2), 500.0),
        ("BucketSizeBytes", "StandardStorage", day - dt.timedelta(days=3), 900.0),  # older: not summed
        ("NumberOfObjects", "AllStorageTypes", day - dt.timedelta(days=2), 42.0),
    ]
    moto.client("cloudwatch").put_metric_data(
        Namespace="AWS/S3",
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": [{"Name": "BucketName", "Value": ARCHIVE}, {"Name": "StorageType", "Value": kind}],
                "Timestamp": at,
                "Value": v,
            }
            for metric, kind, at, v in points
        ],
    )
    return {"us-east-1": taken, "us-west-2": {"full-1": copies}}


@pytest.fixture
def peers(servers: tuple[MotoServer, FaultProxy], monkeypatch: pytest.MonkeyPatch) -> Iterator[Peers]:
    moto, proxy = servers
    snapshots = lay_out(moto)
    proxy.clear()
    proxy.reset_calls()
    for key, val in aws_environment(proxy.url).items():
        monkeypatch.setenv(key, val)
    yield Peers(moto, proxy, snapshots)
    proxy.clear()


class Rig:
    """A store fed with the kube objects, the AWS pollers over it, and the metrics they render."""

    def __init__(self, cfg: Config, objs: dict[str, list[o.Obj]]) -> None:
        self.config = cfg
        self.store = Store()
        collections = self.store.collections()
        for resource in RESOURCES:
            RecordSink(collections[resource.plural], resource.parse).replace(objs.get(resource.plural, []))
        self.pollers: dict[str, Poller[Any]] = {p.source: p for p in aws_sources(self.store, cfg, backoff_base=0.0)}

    async def refresh(self, *sources: str) -> Samples:
        for source in sources or tuple(self.pollers):
            await self.pollers[source].tick()
        renderer = Renderer(self.store, self.config, Exposition(), version="test")
        payload = renderer.render(self.store.view(), self.store.health, renderer.resource_stats(), time.time())
        return parse_samples(payload.body(TEXT, False).decode())


class NothingToMeasure:
    async def refresh(self, name: str, target: str, health: TargetHealth) -> None:
        raise AssertionError(f"no target was discovered, yet {name} was refreshed")

    def forget(self, targets: Mapping[str, str]) -> None:
        pass


def discover_regions(store: Store) -> dict[str, str] | None:
    return {} if store.snapshot_locations.listed else None


def test_forgetting_credentials_never_waits_for_a_client_being_made() -> None:
    """The event loop forgets refused credentials; a worker thread may be holding the clients' lock for the tens
    of milliseconds a boto3 session takes to make a client. Forgetting once waited for it, and every list and
    scrape of the exporter with it (0.85 s of a 100k-backup sync without credentials)."""
    clients = AwsClients(AwsConfig())
    where = Where("s3", "us-east-1")
    made = clients.client(where, None)
    holding, release = threading.Event(), threading.Event()

    def make_a_client_slowly() -> None:
        with clients._lock:
            holding.set()
            release.wait(10)

    worker = threading.Thread(target=make_a_client_slowly)
    worker.start()
    holding.wait(10)
    forgetter = threading.Thread(target=clients.forget)
    forgetter.start()
    forgetter.join(5)
    forgot_at_once = not forgetter.is_alive()
    release.set()
    worker.join(10)
    forgetter.join(10)
    assert forgot_at_once
    assert clients.client(where, None) is not made  # the next call resolves afresh


async def test_a_source_with_nothing_to_measure_is_up_after_its_first_discovery() -> None:
    """A cluster without a VolumeSnapshotLocation gives the snapshots source no region: not a fault to alert on
    (it once stayed down for good, as if it had never run)."""
    store = Store()
    poller = Poller("snapshots", store, discover_regions, NothingToMeasure(), interval=60.0, jitter=0.0)
    store.health.source("snapshots")  # as Poller.run lists it: down before any verdict
    await poller.tick()  # the locations are not listed yet: no verdict
    assert store.health.sources["snapshots"].up is False
    RecordSink(store.snapshot_locations, parse_snapshot_location).replace([])
    await poller.tick()
    assert store.health.sources["snapshots"].up is True
    assert store.health.targets == {}


def where(location: str, bucket: str, region: str = "us-east-1") -> dict[str, str]:
    return {"location": location, "bucket": bucket, "region": region}


def snapshot_counts(samples: Samples, region: str, state: str) -> tuple[float | None, float | None]:
    """(encrypted, not encrypted) snapshots of the region in the state."""
    encrypted = value(samples, "velero_snapshots", region=region, state=state, encrypted="true")
    return encrypted, value(samples, "velero_snapshots", region=region, state=state, encrypted="false")


async def test_bucket_sizes_follow_velero_layout_exactly(peers: Peers) -> None:
    rig = Rig(config(), kube_objects())
    before = time.time()
    samples = await rig.refresh()
    default = where("default", PRIMARY)
    backups = size(PRIMARY_KEYS, "backups/")
    restores = size(PRIMARY_KEYS, "restores/")
    kopia, restic = size(PRIMARY_KEYS, "kopia/"), size(PRIMARY_KEYS, "restic/")
    other = size(PRIMARY_KEYS, exclude=("backups/", "restores/", "kopia/", "restic/"))
    assert other == (len(b"a1b2c3d4-velero-revision") + len(b"kept by hand"), 2)  # metadata/revision, notes/
    for kind, (nbytes, count) in {
        "backups": backups,
        "restores": restores,
        "kopia": kopia,
        "restic": restic,
        "other": other,
    }.items():
        assert value(samples, "velero_bucket_prefix_size_bytes", **default, kind=kind) == nbytes, kind
        assert value(samples, "velero_bucket_prefix_objects", **default, kind=kind) == count, kind
    assert value(samples, "velero_bucket_size_bytes", **default) == size(PRIMARY_KEYS)[0]
    assert value(samples, "velero_bucket_objects", **default) == len(PRIMARY_KEYS)
    measured = value(samples, "velero_bucket_measured_timestamp_seconds", **default)
    assert measured is not None and before <= measured <= time.time()
    # The second location in the same bucket, under its prefix, stays apart.
    secondary, tertiary = where("secondary", SHARED), where("tertiary", SHARED)
    assert value(samples, "velero_bucket_size_bytes", **secondary) == size(SECONDARY_KEYS)[0]
    assert value(samples, "velero_bucket_objects", **secondary) == len(SECONDARY_KEYS) == 8
    assert value(samples, "velero_bucket_info", **secondary, prefix="cluster-b", mode="list") == 1
    assert value(samples, "velero_bucket_size_bytes", **tertiary) == len(b"a1b2c3d4-velero-revision")
    assert value(samples, "velero_bucket_info", **tertiary, prefix="cluster-c", mode="list") == 1
    # One series per repository (namespace), never per object.
    assert series(samples, "velero_bucket_repository_size_bytes") == {
        frozenset({*default.items(), ("kind", "kopia"), ("repository", "kailash-app")}): kopia[0],
        frozenset({*default.items(), ("kind", "restic"), ("repository", "monitoring")}): restic[0],
    }
    assert kopia == (1000 + 30 + 3 * 1000, 5)
    # The DR bucket is an extra bucket of the config; the Azure location is not AWS's.
    assert value(samples, "velero_bucket_size_bytes", **where("dr", DR, "us-west-2")) == size(DR_KEYS)[0]
    assert not [labels for labels in series(samples, "velero_bucket_info") if ("location", "azure") in labels]
    for source, target in [("buckets", "default"), ("buckets", "dr"), ("repositories", "default")]:
        assert value(samples, "velero_exporter_target_up", source=source, target=target) == 1


async def test_tiers_missing_folders_and_dr_freshness(peers: Peers) -> None:
    rig = Rig(config(), kube_objects())
    samples = await rig.refresh()
    default, dr = where("default", PRIMARY), where("dr", DR, "us-west-2")

    def folder(keys: dict[str, bytes], name: str, prefix: str = "") -> int:
        return size(keys, f"{prefix}backups/{name}/")[0]

    assert {
        labels: v for labels, v in series(samples, "velero_bucket_tier_size_bytes").items() if default.items() <= labels
    } == {
        frozenset({*default.items(), ("tier", "hot")}): folder(PRIMARY_KEYS, "hot-1") + folder(PRIMARY_KEYS, "hot-2"),
        frozenset({*default.items(), ("tier", "critical")}): folder(PRIMARY_KEYS, "crit-1")
        + folder(PRIMARY_KEYS, "crit-2"),
        frozenset({*default.items(), ("tier", "full")}): 0,
        frozenset({*default.items(), ("tier", "config")}): 0,
        frozenset({*default.items(), ("tier", "dr")}): 0,
        frozenset({*default.items(), ("tier", "unassigned")}): 0,
    }
    assert value(samples, "velero_bucket_tier_size_bytes", **where("secondary", SHARED), tier="unassigned") == folder(
        SECONDARY_KEYS, "adhoc-x", "cluster-b/"
    )
    # dr-only-1 is not in the cluster: its velero-backup.json names its tier.
    assert value(samples, "velero_bucket_tier_size_bytes", **dr, tier="dr") == folder(DR_KEYS, "dr-only-1")
    assert value(samples, "velero_bucket_tier_size_bytes", **dr, tier="critical") == folder(DR_KEYS, "crit-1")
    # full-1 is Completed in location default, and its folder is gone.
    assert value(samples, "velero_bucket_missing_backups", **default) == 1
    assert value(samples, "velero_bucket_missing_backups", **where("secondary", SHARED)) == 0
    assert value(samples, "velero_bucket_missing_backups", **dr) is None  # not a location of this cluster
    # The newest Completed backup by its velero-backup.json: crit-2 is newer but Failed.
    assert value(samples, "velero_bucket_recovery_point_timestamp_seconds", **default) == NOW - H
    assert value(samples, "velero_bucket_recovery_point_timestamp_seconds", **dr) == NOW - 26 * H
    primary_point = value(samples, "velero_bucket_recovery_point_timestamp_seconds", **default)
    dr_point = value(samples, "velero_bucket_recovery_point_timestamp_seconds", **dr)
    assert primary_point is not None and dr_point is not None and primary_point - dr_point > D


async def test_cloudwatch_mode_sums_the_newest_day_of_every_storage_type(peers: Peers) -> None:
    rig = Rig(config(), kube_objects())
    samples = await rig.refresh("buckets")
    archive = where("archive", ARCHIVE)
    day = NOW - NOW % D
    assert value(samples, "velero_bucket_size_bytes", **archive) == 1500
    assert value(samples, "velero_bucket_objects", **archive) == 42
    assert value(samples, "velero_bucket_measured_timestamp_seconds", **archive) == day - 2 * D
    assert value(samples, "velero_bucket_info", **archive, prefix="", mode="cloudwatch") == 1
    assert not [k for k in series(samples, "velero_bucket_prefix_size_bytes") if ("location", "archive") in k]
    calls = peers.proxy.count(lambda c: c.operation == "GetMetricStatistics" and c.region == "us-east-1")
    assert calls == 23  # 22 storage types and the object count


async def test_versioned_bucket_counts_current_versions_unless_asked(peers: Peers) -> None:
    s3 = peers.moto.client("s3")
    cloud.upload(s3, "versioned-backups", cloud.layout([HOT_1]), region="us-east-1", versioned=True)
    json_key = "backups/hot-1/velero-backup.json"
    s3.put_object(Bucket="versioned-backups", Key=json_key, Body=b"{}")  # the old version becomes noncurrent
    current = {**cloud.layout([HOT_1]), json_key: b"{}"}
    everything = size(current)[0] + len(cloud.layout([HOT_1])[json_key])
    locations = [o.storage_location("v", bucket="versioned-backups")]
    for include, expected in ((False, (size(current)[0], len(current))), (True, (everything, len(current) + 1))):
        settings = (("v", BucketSettings(include_noncurrent=include)),)
        rig = Rig(config(locations=settings, extra_buckets=()), {"backupstoragelocations": locations})
        samples = await rig.refresh("buckets", "repositories")
        v = where("v", "versioned-backups")
        got = (value(samples, "velero_bucket_size_bytes", **v), value(samples, "velero_bucket_objects", **v))
        assert got == expected, include


async def test_snapshot_freshness_joins_the_backup_start_per_region_and_tier(peers: Peers) -> None:
    rig = Rig(config(), kube_objects())
    samples = await rig.refresh("snapshots")
    assert series(samples, "velero_snapshot_last_completed_timestamp_seconds") == {
        frozenset({("region", "us-east-1"), ("tier", "critical")}): NOW - 26 * H,
        frozenset({("region", "us-east-1"), ("tier", "full")}): NOW - 5 * D,
        # gone-backup's snapshot (hot) names a backup the exporter does not know: no recovery point
        # the DR copy was made just now; the data it holds is full-1's
        frozenset({("region", "us-west-2"), ("tier", "full")}): NOW - 5 * D,
    }
    assert snapshot_counts(samples, "us-east-1", "completed") == (2, 2)  # crit-1's encrypted, full-1's and gone's not
    assert snapshot_counts(samples, "us-east-1", "pending") == (0, 0)
    assert snapshot_counts(samples, "us-west-2", "completed") == (0, 1)  # the untagged copy: not
    assert value(samples, "velero_snapshot_oldest_pending_timestamp_seconds", region="us-east-1") is None
    # moto ignores MaxResults and OwnerIds: what the exporter asks is shown instead of a page count.
    describes = peers.proxy.recorded()
    asked = [c.params for c in describes if c.operation == "DescribeSnapshots"]
    assert len(asked) == 2
    for params in asked:
        assert {k: params[k] for k in ("Owner.1", "MaxResults", "Filter.1.Name", "Filter.1.Value.1")} == {
            "Owner.1": "self",
            "MaxResults": "1000",
            "Filter.1.Name": "tag-key",
            "Filter.1.Value.1": "velero.io/backup",
        }


async def test_a_tag_value_filter_matches_csi_driver_snapshots(peers: Peers) -> None:
    east = peers.moto.client("ec2", "us-east-1")
    volume = east.create_volume(AvailabilityZone="us-east-1a", Size=1)["VolumeId"]
    # What the EBS CSI driver tags (plus extra tags from the VolumeSnapshotClass), not velero.io/backup.
    csi_tags = [{"Key": "ebs.csi.aws.com/cluster", "Value": "true"}, {"Key": "CSIVolumeSnapshotName", "Value": "x"}]
    east.create_snapshot(VolumeId=volume, TagSpecifications=[{"ResourceType": "snapshot", "Tags": csi_tags}])
    rig = Rig(config(snapshot_tag_key="ebs.csi.aws.com/cluster", snapshot_tag_value="true"), kube_objects())
    samples = await rig.refresh("snapshots")
    assert snapshot_counts(samples, "us-east-1", "completed") == (0, 1)
    assert snapshot_counts(samples, "us-west-2", "completed") == (0, 0)
    asked = [c.params for c in peers.proxy.recorded() if c.operation == "DescribeSnapshots"]
    assert {(p["Filter.1.Name"], p["Filter.1.Value.1"]) for p in asked} == {("tag:ebs.csi.aws.com/cluster", "true")}


def lists(proxy: FaultProxy, bucket: str) -> int:
    return proxy.count(lambda c: c.bucket == bucket and c.operation.startswith("List"))


@pytest.mark.slow
async def test_steady_state_lists_in_proportion_to_new_backups_not_objects(peers: Peers) -> None:
    bucket, count = "big-velero-backups", 2000
    runs = [backup(f"hourly-{i:05d}", "hourly-hot", "hot", NOW - (count - i) * H) for i in range(count)]

    def folder(b: o.Obj) -> dict[str, bytes]:
        name = o.name_of(b)
        files = cloud.backup_folder(b)
        return {f"backups/{name}/{f}": files[f] for f in ("velero-backup.json", f"{name}.tar.gz")}

    keys = {k: v for b in runs for k, v in folder(b).items()}
    cloud.upload(peers.moto.client("s3"), bucket, keys, region="us-east-1")
    objs = {"backups": runs, "backupstoragelocations": [o.storage_location("big", bucket=bucket)]}
    rig = Rig(config(extra_buckets=(), extra_regions=()), objs)

    peers.proxy.reset_calls()
    samples = await rig.refresh("buckets")
    first = lists(peers.proxy, bucket)
    assert value(samples, "velero_bucket_prefix_objects", **where("big", bucket), kind="backups") == 2 * count
    # root, two pages of folder names, then one flat listing of 4,000 objects (4 pages) rather than 2,000
    assert first == 1 + 2 + 4

    peers.proxy.reset_calls()
    await rig.refresh("buckets")
    assert lists(peers.proxy, bucket) == 1 + 2  # nothing new: the root and the folder names

    new = backup("hourly-new", "hourly-hot", "hot", NOW)
    cloud.put_objects(peers.moto.client("s3"), bucket, folder(new))
    record = parse_backup(new).record
    assert record is not None
    rig.store.backups.put("hourly-new", record)
    peers.proxy.reset_calls()
    samples = await rig.refresh("buckets")
    steady = lists(peers.proxy, bucket)
    assert steady == 1 + 3 + 1  # the root, 2,001 folder names (three pages) and the new folder
    assert peers.proxy.count(lambda c: c.operation == "GetObject") == 1  # its velero-backup.json
    assert value(samples, "velero_bucket_prefix_objects", **where("big", bucket), kind="backups") == 2 * count + 2
    assert value(samples, "velero_bucket_recovery_point_timestamp_seconds", **where("big", bucket)) == NOW
    calls = series(samples, "velero_exporter_api_calls_total")
    assert calls[frozenset({("source", "buckets"), ("operation", "ListObjectsV2")})] == first + 3 + steady
    print(f"LIST calls with {count} backups: first refresh {first}, steady state {steady}")


IAM_POLICY = Path(__file__).resolve().parent.parent / "docs" / "iam-policy.json"
# The IAM action each operation needs (the S3 operations' actions are not named after them); None: none at all.
ACTIONS: dict[str, str | None] = {
    "ListObjectsV2": "s3:ListBucket",
    "ListObjectVersions": "s3:ListBucketVersions",
    "GetObject": "s3:GetObject",
    "GetBucketVersioning": "s3:GetBucketVersioning",
    "GetObjectLockConfiguration": "s3:GetBucketObjectLockConfiguration",
    "GetBucketEncryption": "s3:GetEncryptionConfiguration",
    "GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
    "GetBucketReplication": "s3:GetReplicationConfiguration",
    "GetBucketLifecycleConfiguration": "s3:GetLifecycleConfiguration",
    "GetMetricStatistics": "cloudwatch:GetMetricStatistics",
    "DescribeSnapshots": "ec2:DescribeSnapshots",
    "DescribeLockedSnapshots": "ec2:DescribeLockedSnapshots",
    "AssumeRole": "sts:AssumeRole",
    # STS answers GetCallerIdentity to any identity, whatever its policies say.
    "GetCallerIdentity": None,
}


async def test_the_documented_iam_policy_is_exactly_what_the_sources_call(peers: Peers) -> None:
    role = "arn:aws:iam::210987654321:role/velero-exporter-dr-reader"
    settings = (("secondary", BucketSettings(include_noncurrent=True)),)
    extras = (
        ExtraBucket("dr", DR, "us-west-2", settings=BucketSettings(role_arn=role)),
        ExtraBucket("archive", ARCHIVE, "us-east-1", settings=BucketSettings(mode="cloudwatch")),
    )
    create_archive(peers.moto)
    rig = Rig(config(locations=settings, extra_buckets=extras), kube_objects())
    samples = await rig.refresh()
    assert all(v == 1 for v in series(samples, "velero_exporter_target_up").values())
    made = {c.operation for c in peers.proxy.recorded()}
    assert made == set(ACTIONS)
    counted = {dict(labels)["operation"] for labels in series(samples, "velero_exporter_api_calls_total")}
    assert counted == made
    policy = json.loads(IAM_POLICY.read_text())
    granted = {action for statement in policy["Statement"] for action in statement["Action"]}
    # kms:Decrypt is not a call of the exporter's: S3 makes it when GetObject reads an SSE-KMS object.
    assert granted == {action for action in ACTIONS.values() if action} | {"kms:Decrypt"}
    assume = next(s for s in policy["Statement"] if "sts:AssumeRole" in s["Action"])
    # Once by each source that reads with the DR bucket's role (buckets, repositories, posture, accounts): each
    # keeps its own credentials.
    assumed = [c.params["RoleArn"] for c in peers.proxy.recorded() if c.operation == "AssumeRole"]
    assert assumed == [role] * 4
    assert assume["Resource"] != "*"  # only the roles named in the config


def up(samples: Samples, source: str, target: str) -> float | None:
    return value(samples, "velero_exporter_target_up", source=source, target=target)


def errors(samples: Samples, source: str, target: str, kind: str) -> float | None:
    return value(samples, "velero_exporter_target_errors_total", source=source, target=target, kind=kind)


async def test_throttling_is_retried_and_counted(peers: Peers) -> None:
    rig = Rig(config(), kube_objects())
    peers.proxy.add(Fault(503, "SlowDown", bucket=DR, times=2))
    peers.proxy.add(Fault(503, "RequestLimitExceeded", service="ec2", region="us-west-2", times=2))
    samples = await rig.refresh("buckets", "snapshots")
    assert up(samples, "buckets", "dr") == 1  # the third attempt went through
    assert errors(samples, "buckets", "dr", "throttled") == 2
    assert up(samples, "snapshots", "us-west-2") == 1
    assert errors(samples, "snapshots", "us-west-2", "throttled") == 2
    assert value(samples, "velero_exporter_source_errors_total", source="snapshots", kind="throttled") == 2

    peers.proxy.add(Fault(503, "SlowDown", bucket=DR))  # for good
    samples = await rig.refresh("buckets")
    assert up(samples, "buckets", "dr") == 0
    assert errors(samples, "buckets", "dr", "throttled") == 2 + 3
    assert value(samples, "velero_exporter_source_up", source="buckets") == 0
    dr_backups = value(samples, "velero_bucket_prefix_size_bytes", **where("dr", DR, "us-west-2"), kind="backups")
    assert dr_backups == size(DR_KEYS, "backups/")[0]  # the last measurement stays


async def test_access_denied_on_one_bucket_leaves_the_others_and_recovers(peers: Peers) -> None:
    rig = Rig(config(), kube_objects())
    peers.proxy.add(Fault(403, "AccessDenied", bucket=DR))
    samples = await rig.refresh()
    assert up(samples, "buckets", "dr") == 0
    assert up(samples, "repositories", "dr") == 0
    assert errors(samples, "buckets", "dr", "forbidden") == 1  # not retried
    assert up(samples, "buckets", "default") == 1
    assert value(samples, "velero_bucket_size_bytes", **where("default", PRIMARY)) == size(PRIMARY_KEYS)[0]
    assert value(samples, "velero_bucket_size_bytes", **where("dr", DR, "us-west-2")) is None  # never measured
    peers.proxy.clear()
    samples = await rig.refresh()
    assert up(samples, "buckets", "dr") == 1
    assert value(samples, "velero_bucket_size_bytes", **where("dr", DR, "us-west-2")) == size(DR_KEYS)[0]
    assert value(samples, "velero_exporter_source_up", source="buckets") == 1


async def test_an_unreachable_region_is_reported_and_recovers(peers: Peers) -> None:
    rig = Rig(config(), kube_objects())
    samples = await rig.refresh("snapshots")
    assert snapshot_counts(samples, "us-west-2", "completed") == (0, 1)
    peers.proxy.add(Fault(None, region="us-west-2"))  # every call signed for us-west-2: connection dropped
    samples = await rig.refresh("snapshots", "buckets")
    assert up(samples, "snapshots", "us-west-2") == 0
    assert errors(samples, "snapshots", "us-west-2", "unreachable") == 3  # retried, then given up
    assert up(samples, "buckets", "dr") == 0
    assert up(samples, "snapshots", "us-east-1") == 1
    # The last values stay, with the time they were measured.
    assert snapshot_counts(samples, "us-west-2", "completed") == (0, 1)
    assert value(samples, "velero_snapshot_last_completed_timestamp_seconds", region="us-west-2", tier="full") == (
        NOW - 5 * D
    )
    peers.proxy.clear()
    samples = await rig.refresh("snapshots")
    assert up(samples, "snapshots", "us-west-2") == 1


async def test_missing_credentials_report_no_credentials_then_recover(
    peers: Peers, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_archive(peers.moto)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    rig = Rig(config(), kube_objects())
    samples = await rig.refresh()
    for source, target, calls in [
        ("buckets", "default", 1),
        ("repositories", "dr", 1),
        ("snapshots", "us-west-2", 1),
        ("posture", "dr", 6),  # each check is asked
        ("accounts", "default", 1),
    ]:
        assert up(samples, source, target) == 0
        assert errors(samples, source, target, "no_credentials") == calls
    assert peers.proxy.count() == 0  # nothing was sent
    assert value(samples, "velero_bucket_size_bytes", **where("default", PRIMARY)) is None
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    samples = await rig.refresh()
    assert all(v == 1 for v in series(samples, "velero_exporter_target_up").values())
    assert value(samples, "velero_bucket_size_bytes", **where("default", PRIMARY)) == size(PRIMARY_KEYS)[0]


async def test_a_source_with_nothing_to_measure_is_up(peers: Peers) -> None:
    """A cluster without VolumeSnapshotLocations (file-system or CSI backups only) has no region to look at: the
    snapshots source is healthy, not down forever (found by the bucket-gone scenario, whose snapshots source
    paged)."""
    objs = kube_objects()
    objs["volumesnapshotlocations"] = []
    rig = Rig(config(extra_regions=()), objs)
    samples = await rig.refresh("snapshots")
    assert value(samples, "velero_exporter_source_up", source="snapshots") == 1
    assert not series(samples, "velero_exporter_target_up")


async def test_a_target_that_goes_leaves_no_series(peers: Peers) -> None:
    objs = kube_objects()
    rig = Rig(config(), objs)
    await rig.refresh()
    rig.store.storage_locations.remove("secondary")
    samples = await rig.refresh()
    assert not [k for k in series(samples, "velero_bucket_info") if ("location", "secondary") in k]
    assert not [k for k in series(samples, "velero_exporter_target_up") if ("target", "secondary") in k]


async def test_the_exporter_keeps_serving_through_a_bucket_fault_and_recovers(peers: Peers, tmp_path: Path) -> None:
    api = FakeKubeAPI(bookmark_interval=0.5)
    await api.start()
    for objs in kube_objects().values():
        for obj in objs:
            api.create(obj)
    fast = config(buckets_interval=0.2, repositories_interval=0.2, snapshots_interval=0.2)
    options = Options(
        listen_host="127.0.0.1",
        listen_port=0,
        kubeconfig=str(api.write_kubeconfig(tmp_path / "kubeconfig")),
        aws_options={"tick": 0.05, "backoff_base": 0.0},
    )
    default_size = size(PRIMARY_KEYS)[0]
    try:
        async with Exporter(fast, options) as exporter, aiohttp.ClientSession() as http:

            async def until(check: Callable[[Samples], bool], what: str) -> Samples:
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    if exporter.exposition.current is None:  # the first render is still on its way
                        await asyncio.sleep(0.05)
                        continue
                    async with http.get(f"{exporter.url}/metrics") as resp:
                        assert resp.status == 200
                        samples = parse_samples(await resp.text())
                    if check(samples):
                        return samples
                    await asyncio.sleep(0.05)
                raise AssertionError(f"timed out waiting for {what}")

            dr = where("dr", DR, "us-west-2")
            await until(
                lambda s: (
                    value(s, "velero_bucket_size_bytes", **dr) == size(DR_KEYS)[0]
                    and value(s, "velero_bucket_size_bytes", **where("default", PRIMARY)) == default_size
                ),
                "the buckets",
            )
            peers.proxy.add(Fault(403, "AccessDenied", bucket=DR))
            samples = await until(lambda s: up(s, "buckets", "dr") == 0, "the fault")
            assert (errors(samples, "buckets", "dr", "forbidden") or 0) >= 1
            assert value(samples, "velero_bucket_size_bytes", **where("default", PRIMARY)) == default_size
            assert up(samples, "buckets", "default") == 1
            assert value(samples, "velero_exporter_source_up", source="buckets") == 0
            peers.proxy.clear()
            await until(
                lambda s: up(s, "buckets", "dr") == 1 and value(s, "velero_exporter_source_up", source="buckets") == 1,
                "the recovery",
            )
    finally:
        await api.stop()


@pytest.mark.parametrize(
    ("source", "target", "fault"),
    [
        # well-formed, but a listed object without its size
        (
            "buckets",
            "dr",
            Fault(200, body=b"<ListBucketResult><Contents><Key>k</Key></Contents></ListBucketResult>", bucket=DR),
        ),
        # not XML (botocore calls it a parse error; an S3 body it cannot parse it reports as a 500 instead)
        ("snapshots", "us-west-2", Fault(200, body=b"<DescribeSnapshotsResponse><snapshotSet>", region="us-west-2")),
        # a snapshot without its StartTime
        (
            "snapshots",
            "us-west-2",
            Fault(
                200,
                body=b"<DescribeSnapshotsResponse><snapshotSet><item><snapshotId>snap-1</snapshotId>"
                b"<status>completed</status></item></snapshotSet></DescribeSnapshotsResponse>",
                region="us-west-2",
            ),
        ),
    ],
)
async def test_a_response_not_shaped_as_documented_is_a_bad_response(
    peers: Peers, source: str, target: str, fault: Fault
) -> None:
    rig = Rig(config(), kube_objects())
    peers.proxy.add(fault)
    samples = await rig.refresh(source)
    assert up(samples, source, target) == 0
    assert errors(samples, source, target, "bad_response") == 1
    assert all(
        v == 1
        for (labels, v) in series(samples, "velero_exporter_target_up").items()
        if ("target", target) not in labels
    )
    peers.proxy.clear()
    samples = await rig.refresh(source)
    assert up(samples, source, target) == 1


# --- posture: how the buckets keep the backups, the replicas, snapshot encryption and locks, accounts ----------

VAULT = "kailash-velero-vault"  # a declared replica of the primary, with Object Lock
POSTURE_OPERATIONS = (
    "GetBucketVersioning",
    "GetObjectLockConfiguration",
    "GetBucketEncryption",
    "GetPublicAccessBlock",
    "GetBucketReplication",
    "GetBucketLifecycleConfiguration",
)
DAY_S = int(D)


def set_up_posture(moto: MotoServer) -> None:
    """The primary: versioned, SSE-KMS, private, lifecycle rules of which one reaches backups/ soonest, replicating
    to the DR bucket. The DR bucket: none of it (never versioned, no encryption, no block, no rules). The shared
    bucket: versioning suspended, a rule on cluster-b's backups only. The vault: Object Lock in governance mode."""
    s3 = moto.client("s3")
    cloud.set_up_bucket(
        s3, PRIMARY, cloud.BucketSetup(encryption="aws:kms", replicate_to=DR, expire_backups_after_days=None)
    )
    rules = [
        {"ID": "all", "Filter": {}, "Status": "Enabled", "Expiration": {"Days": 60}},
        {"ID": "logs", "Filter": {"Prefix": "logs/"}, "Status": "Enabled", "Expiration": {"Days": 1}},
        {"ID": "backups", "Filter": {"Prefix": "backups/"}, "Status": "Enabled", "Expiration": {"Days": 30}},
        {"ID": "off", "Filter": {"Prefix": "backups/"}, "Status": "Disabled", "Expiration": {"Days": 2}},
        {"ID": "old", "Filter": {}, "Status": "Enabled", "NoncurrentVersionExpiration": {"NoncurrentDays": 1}},
    ]
    s3.put_bucket_lifecycle_configuration(Bucket=PRIMARY, LifecycleConfiguration={"Rules": rules})
    s3.put_bucket_versioning(Bucket=SHARED, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_versioning(Bucket=SHARED, VersioningConfiguration={"Status": "Suspended"})
    only_b = {"ID": "b", "Filter": {"Prefix": "cluster-b/backups/"}, "Status": "Enabled", "Expiration": {"Days": 10}}
    s3.put_bucket_lifecycle_configuration(Bucket=SHARED, LifecycleConfiguration={"Rules": [only_b]})
    s3.create_bucket(Bucket=VAULT)
    cloud.set_up_bucket(s3, VAULT, cloud.SEED_SETUP)
    create_archive(moto)
    lock = {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Years": 1}}}
    s3.put_object_lock_configuration(Bucket=VAULT, ObjectLockConfiguration=lock)


def create_archive(moto: MotoServer) -> None:
    """The cloudwatch-mode bucket, empty, for its posture (moto then makes up storage metrics of its own for it:
    not for the tests of the sizes)."""
    moto.client("s3").create_bucket(Bucket=ARCHIVE)


def posture_config(**aws: Any) -> Config:
    vault = ExtraBucket("vault", VAULT, "us-east-1", replica_of="default")
    base = config().aws
    return config(extra_buckets=(*base.extra_buckets, vault), **aws)


async def test_bucket_posture_is_what_moto_holds_one_call_of_each_kind_per_bucket(peers: Peers) -> None:
    set_up_posture(peers.moto)
    rig = Rig(posture_config(), kube_objects())
    before = time.time()
    samples = await rig.refresh("posture")
    after = time.time()
    default, dr, vault = where("default", PRIMARY), where("dr", DR, "us-west-2"), where("vault", VAULT)
    secondary, tertiary, archive = where("secondary", SHARED), where("tertiary", SHARED), where("archive", ARCHIVE)
    assert {dict(k)["location"]: v for k, v in series(samples, "velero_bucket_versioning_enabled").items()} == {
        "default": 1,
        "dr": 0,  # never enabled
        "secondary": 0,  # suspended
        "tertiary": 0,
        "vault": 1,
        "archive": 0,
    }
    assert series(samples, "velero_bucket_encryption") == {
        frozenset({*default.items(), ("algorithm", "aws:kms")}): 1,
        frozenset({*dr.items(), ("algorithm", "none")}): 1,
        frozenset({*secondary.items(), ("algorithm", "none")}): 1,
        frozenset({*tertiary.items(), ("algorithm", "none")}): 1,
        frozenset({*vault.items(), ("algorithm", "AES256")}): 1,
        frozenset({*archive.items(), ("algorithm", "none")}): 1,
    }
    blocked = {dict(k)["location"]: v for k, v in series(samples, "velero_bucket_public_access_blocked").items()}
    assert blocked == {"default": 1, "dr": 0, "secondary": 0, "tertiary": 0, "vault": 1, "archive": 0}
    assert series(samples, "velero_bucket_object_lock_retention_seconds") == {
        frozenset({*vault.items(), ("mode", "GOVERNANCE")}): 365 * DAY_S
    }
    # The rule on backups/ (30d) is the shortest of those that reach backups/: logs/ does not, the disabled one
    # does not count, nor the one on noncurrent versions. cluster-b's rule reaches only its own location.
    assert series(samples, "velero_bucket_lifecycle_expiration_seconds") == {
        frozenset({*default.items(), ("prefix", "backups/")}): 30 * DAY_S,
        frozenset({*secondary.items(), ("prefix", "cluster-b/backups/")}): 10 * DAY_S,
    }
    replication = series(samples, "velero_bucket_replication_enabled")
    assert replication[frozenset({*default.items(), ("destination_bucket", DR)})] == 1
    assert replication[frozenset({*dr.items(), ("destination_bucket", "")})] == 0
    assert len(replication) == 6  # one per bucket: the others replicate nowhere
    measured = series(samples, "velero_bucket_posture_measured_timestamp_seconds")
    assert len(measured) == 6 * 6
    assert all(before <= t <= after for t in measured.values())
    # Exactly one call of each kind per bucket and refresh; the shared bucket is asked once per location.
    calls = peers.proxy.recorded()
    for bucket, locations in ((PRIMARY, 1), (DR, 1), (SHARED, 2), (VAULT, 1), (ARCHIVE, 1)):
        asked = sorted(c.operation for c in calls if c.bucket == bucket)
        assert asked == sorted(POSTURE_OPERATIONS * locations), bucket
    assert all(v == 1 for k, v in series(samples, "velero_exporter_target_up").items() if ("source", "posture") in k)
    # None of the answers that say "there is none" is an error.
    posture_errors = value(samples, "velero_exporter_source_errors_total", source="posture", kind="not_found")
    assert posture_errors == 0


async def test_a_bucket_that_denies_the_posture_calls_reports_forbidden_and_keeps_its_sizes(peers: Peers) -> None:
    set_up_posture(peers.moto)
    rig = Rig(posture_config(), kube_objects())
    for operation in POSTURE_OPERATIONS:
        peers.proxy.add(Fault(403, "AccessDenied", bucket=DR, operation=operation))
    samples = await rig.refresh()
    dr = where("dr", DR, "us-west-2")
    assert up(samples, "posture", "dr") == 0
    assert errors(samples, "posture", "dr", "forbidden") == 6  # every call asked once, none retried
    assert value(samples, "velero_exporter_source_up", source="posture") == 0
    assert not [k for k in series(samples, "velero_bucket_posture_measured_timestamp_seconds") if dr.items() <= k]
    # The sizes of the same bucket, and the other buckets' posture, are there.
    assert up(samples, "buckets", "dr") == 1
    assert value(samples, "velero_bucket_size_bytes", **dr) == size(DR_KEYS)[0]
    assert value(samples, "velero_bucket_versioning_enabled", **where("default", PRIMARY)) == 1
    assert up(samples, "posture", "default") == 1

    # Allowed again, then only encryption denied: it keeps its value and time, the other checks move on.
    peers.proxy.clear()
    samples = await rig.refresh("posture")
    assert up(samples, "posture", "dr") == 1
    first = value(samples, "velero_bucket_posture_measured_timestamp_seconds", **dr, check="encryption")
    peers.proxy.add(Fault(403, "AccessDenied", bucket=DR, operation="GetBucketEncryption"))
    samples = await rig.refresh("posture")
    assert up(samples, "posture", "dr") == 0
    assert errors(samples, "posture", "dr", "forbidden") == 6 + 1
    assert value(samples, "velero_bucket_encryption", **dr, algorithm="none") == 1
    assert value(samples, "velero_bucket_posture_measured_timestamp_seconds", **dr, check="encryption") == first
    versioning_read = value(samples, "velero_bucket_posture_measured_timestamp_seconds", **dr, check="versioning")
    assert first is not None and versioning_read is not None and versioning_read > first


async def test_replicas_declared_or_found_miss_the_folders_absent_from_them_at_no_extra_call(peers: Peers) -> None:
    set_up_posture(peers.moto)
    cloud.put_objects(peers.moto.client("s3"), VAULT, {k: v for k, v in PRIMARY_KEYS.items() if "hot-1/" in k})
    grace0 = posture_config(replica_grace=0.0)
    rig = Rig(grace0, kube_objects())
    samples = await rig.refresh("buckets", "posture")  # posture finds the replication; listings are then kept
    samples = await rig.refresh("buckets")
    # Completed in the primary: hot-1, hot-2, crit-1 (crit-2 failed). The DR bucket (found through the primary's
    # replication) holds crit-1; the vault (declared replica_of: default) holds hot-1.
    assert series(samples, "velero_bucket_replica_missing_backups") == {
        frozenset({("bucket", PRIMARY), ("replica_bucket", DR)}): 2,
        frozenset({("bucket", PRIMARY), ("replica_bucket", VAULT)}): 2,
    }
    # With the default grace (1h), hot-2 (completed 50 minutes ago) may still be replicating.
    rig = Rig(posture_config(), kube_objects())
    await rig.refresh("buckets", "posture")
    samples = await rig.refresh("buckets")
    missing = series(samples, "velero_bucket_replica_missing_backups")
    assert missing[frozenset({("bucket", PRIMARY), ("replica_bucket", DR)})] == 1
    # Computed from the listings the buckets source keeps anyway: the same calls with or without replicas.
    made = []
    for cfg in (grace0, config(extra_buckets=(*config().aws.extra_buckets, ExtraBucket("vault", VAULT, "us-east-1")))):
        peers.proxy.reset_calls()
        await Rig(cfg, kube_objects()).refresh("buckets")
        made.append(sorted((c.operation, c.bucket, c.params.get("prefix", "")) for c in peers.proxy.recorded()))
    assert made[0] == made[1]


async def test_snapshot_encryption_is_counted_per_state_and_tier(peers: Peers) -> None:
    rig = Rig(config(snapshot_lock=False), kube_objects())
    samples = await rig.refresh("snapshots")
    assert series(samples, "velero_snapshot_unencrypted") == {
        frozenset({("region", "us-east-1"), ("tier", "critical")}): 0,  # crit-1's two are encrypted
        frozenset({("region", "us-east-1"), ("tier", "full")}): 1,
        frozenset({("region", "us-east-1"), ("tier", "hot")}): 1,
        frozenset({("region", "us-west-2"), ("tier", "full")}): 1,  # a copy of an unencrypted snapshot
    }
    assert snapshot_counts(samples, "us-east-1", "completed") == (2, 2)
    assert not series(samples, "velero_snapshot_locked")  # not asked
    assert not peers.proxy.count(lambda c: c.operation == "DescribeLockedSnapshots")


def locked_snapshots(*snapshot_ids: str) -> bytes:
    """DescribeLockedSnapshots' answer as EC2 spells it (moto does not implement the operation)."""
    items = "".join(
        f"<item><ownerId>123456789012</ownerId><snapshotId>{i}</snapshotId><lockState>compliance</lockState></item>"
        for i in snapshot_ids
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><DescribeLockedSnapshotsResponse '
        'xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId>'
        f"<snapshotSet>{items}</snapshotSet></DescribeLockedSnapshotsResponse>"
    ).encode()


async def test_snapshot_locks_are_joined_where_the_api_answers_and_absent_where_it_does_not(peers: Peers) -> None:
    # moto answers DescribeLockedSnapshots with an HTML page of status 500 that botocore cannot read: counted, and
    # the locks are unknown; the region's snapshots are there all the same.
    rig = Rig(config(), kube_objects())
    samples = await rig.refresh("snapshots")
    assert up(samples, "snapshots", "us-east-1") == 1
    assert errors(samples, "snapshots", "us-east-1", "bad_response") == 1
    assert not series(samples, "velero_snapshot_locked")
    assert snapshot_counts(samples, "us-east-1", "completed") == (2, 2)

    # Where it answers (an answer shaped as EC2's): one of crit-1's two snapshots and a stranger's are locked.
    crit = peers.snapshots["us-east-1"]["crit-1"]
    body = locked_snapshots(crit[0], "snap-0000000000000000f")
    peers.proxy.add(Fault(200, body=body, service="ec2", region="us-east-1", operation="DescribeLockedSnapshots"))
    samples = await rig.refresh("snapshots")
    assert {k: v for k, v in series(samples, "velero_snapshot_locked").items() if ("region", "us-east-1") in k} == {
        frozenset({("region", "us-east-1"), ("tier", "critical")}): 1,
        frozenset({("region", "us-east-1"), ("tier", "full")}): 0,
        frozenset({("region", "us-east-1"), ("tier", "hot")}): 0,
    }
    asked = [c.params for c in peers.proxy.recorded() if c.operation == "DescribeLockedSnapshots"]
    assert asked[-1]["Filter.1.Name"] == "lock-state"

    # A region that does not know the operation says so once and is not asked again.
    peers.proxy.clear()
    peers.proxy.add(Fault(400, "InvalidAction", service="ec2", region="us-west-2", operation="DescribeLockedSnapshots"))
    for _ in range(2):
        samples = await rig.refresh("snapshots")
    assert errors(samples, "snapshots", "us-west-2", "client_error") == 1
    assert up(samples, "snapshots", "us-west-2") == 1
    assert not [k for k in series(samples, "velero_snapshot_locked") if ("region", "us-west-2") in k]


async def test_each_role_is_asked_its_account_once_and_dr_copies_are_compared_with_the_primary(
    peers: Peers,
) -> None:
    set_up_posture(peers.moto)
    dr_role = "arn:aws:iam::210987654321:role/velero-exporter-dr-reader"
    extras = (ExtraBucket("dr", DR, "us-west-2", settings=BucketSettings(role_arn=dr_role)),)
    # Snapshots: us-east-1 (the VolumeSnapshotLocation) and us-west-2 (an extra region: the DR region).
    rig = Rig(config(extra_buckets=extras, require_separate_dr_account=True, snapshot_lock=False), kube_objects())
    for _ in range(2):
        samples = await rig.refresh("accounts")
    identities = [c for c in peers.proxy.recorded() if c.operation == "GetCallerIdentity"]
    assert len(identities) == 2  # the exporter's own identity and the DR role, once each
    assert up(samples, "accounts", "default") == 1 and up(samples, "accounts", dr_role) == 1
    assert series(samples, "velero_aws_target_info") == {
        frozenset({("source", "buckets"), ("target", t), ("account_id", a)}): 1
        for t, a in (("default", "123456789012"), ("secondary", "123456789012"), ("tertiary", "123456789012"))
    } | {
        frozenset({("source", "buckets"), ("target", "dr"), ("account_id", "210987654321")}): 1,
        frozenset({("source", "snapshots"), ("target", "us-east-1"), ("account_id", "123456789012")}): 1,
        frozenset({("source", "snapshots"), ("target", "us-west-2"), ("account_id", "123456789012")}): 1,
    }
    # The DR bucket is the primary's replica (its replication says so) and lives apart; the DR region is read with
    # the primary's account, so its copies are the primary account's own.
    await rig.refresh("posture")
    samples = await rig.refresh("accounts")
    assert series(samples, "velero_aws_dr_target_in_primary_account") == {
        frozenset({("source", "buckets"), ("target", "dr")}): 0,
        frozenset({("source", "snapshots"), ("target", "us-west-2")}): 1,
    }
    # Given the DR region's role, it is apart too.
    regions = (("us-west-2", RegionSettings(dr_role)),)
    rig = Rig(config(extra_buckets=extras, require_separate_dr_account=True, regions=regions), kube_objects())
    await rig.refresh("posture")
    samples = await rig.refresh("accounts", "snapshots")
    assert series(samples, "velero_aws_dr_target_in_primary_account") == {
        frozenset({("source", "buckets"), ("target", "dr")}): 0,
        frozenset({("source", "snapshots"), ("target", "us-west-2")}): 0,
    }
    # The region is read through the role: the DR account holds no snapshot of the primary account's.
    assert snapshot_counts(samples, "us-west-2", "completed") == (0, 0)
