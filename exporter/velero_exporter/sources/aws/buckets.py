"""The buckets source: what each location's bucket holds, by Velero's layout, and its newest Completed backup.

list mode, per refresh (Velero's layout under the location's prefix):
- the prefix's first level with the "/" delimiter: its loose objects and its folders (backups/, restores/, ...);
- backups/ with the delimiter: one entry per backup folder, 1,000 per call;
- a folder is listed again only while it can still change: a completed backup's folder never does, so its size
  is kept by name and only new or unfinished folders are listed (or, when that would take more calls, all of
  backups/ in one flat listing); entries of folders that are gone are dropped;
- restores/ and any other folder, whole (they are small); kopia/ and restic/ are the repositories source's;
- velero-backup.json of the newest folders (by LastModified), until a Completed backup is found: the bucket's
  recovery point; then those of folders whose backup the cluster does not hold (their tier). Each is read once
  (kept by ETag), at most `manifest_reads` per refresh. A long backup that
  ends after a shorter, later one hides it until the next backup: the recovery point shown is then older than
  the true one, never newer.
cloudwatch mode: S3's free daily storage metrics (BucketSizeBytes of every StorageType, NumberOfObjects).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType

from velero_exporter.config.settings import AwsConfig
from velero_exporter.sources.aws.api import AwsApi
from velero_exporter.sources.aws.s3 import PAGE_SIZE, Bucket, S3Object, usage, where
from velero_exporter.sources.parsing import parse_backup
from velero_exporter.state.aws_records import (
    BACKUPS,
    KOPIA,
    OTHER,
    RESTIC,
    RESTORES,
    BackupFolder,
    BucketTarget,
    BucketUsage,
    Usage,
)
from velero_exporter.state.records import Backup
from velero_exporter.state.store import Store, TargetHealth
from velero_exporter.state.vocabulary import FINISHED_BACKUP_PHASES

SOURCE = "buckets"
MANIFEST = "velero-backup.json"
# Until the first folders are listed: Velero writes about a dozen objects per backup.
OBJECTS_PER_FOLDER_GUESS = 12
# S3 storage metrics are daily and published 24 to 48 hours late: look back far enough to find the newest.
CLOUDWATCH_LOOKBACK = 3 * 86400.0
DAY = 86400
# Every StorageType of BucketSizeBytes (S3 user guide, "Amazon S3 daily storage metrics for buckets").
STORAGE_TYPES: tuple[str, ...] = (
    "StandardStorage",
    "IntelligentTieringFAStorage",
    "IntelligentTieringIAStorage",
    "IntelligentTieringAAStorage",
    "IntelligentTieringAIAStorage",
    "IntelligentTieringDAAStorage",
    "StandardIAStorage",
    "StandardIASizeOverhead",
    "StandardIAObjectOverhead",
    "OneZoneIAStorage",
    "OneZoneIASizeOverhead",
    "ReducedRedundancyStorage",
    "GlacierInstantRetrievalStorage",
    "GlacierIRSizeOverhead",
    "GlacierStorage",
    "GlacierStagingStorage",
    "GlacierObjectOverhead",
    "GlacierS3ObjectOverhead",
    "DeepArchiveStorage",
    "DeepArchiveObjectOverhead",
    "DeepArchiveS3ObjectOverhead",
    "DeepArchiveStagingStorage",
)


@dataclass(slots=True, frozen=True)
class _Folder:
    """A listed backup folder, kept between refreshes while it cannot change."""

    bytes: int
    objects: int
    last_modified: float
    manifest_etag: str | None  # of its current velero-backup.json; None while there is none
    present: bool


def _folder(objects: list[S3Object]) -> _Folder:
    manifests = [o.etag for o in objects if o.current and o.key.endswith(f"/{MANIFEST}")]
    return _Folder(
        bytes=sum(o.size for o in objects),
        objects=len(objects),
        last_modified=max(o.last_modified for o in objects),
        manifest_etag=manifests[0] if manifests else None,
        present=any(o.current for o in objects),
    )


def parse_manifest(body: bytes) -> Backup | None:
    """velero-backup.json is the Backup object as JSON; None when it is not one."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return parse_backup(data).record


class BucketRefresher:
    def __init__(self, store: Store, api: AwsApi, config: AwsConfig, *, clock: Callable[[], float] = time.time):
        self._store = store
        self._api = api
        self._manifest_reads = config.manifest_reads
        self._clock = clock
        self._folders: dict[str, dict[str, _Folder]] = {}  # by target, by folder name
        self._manifests: dict[str, dict[str, tuple[str, Backup | None]]] = {}  # by target, folder: (ETag, parsed)

    def forget(self, targets: Mapping[str, BucketTarget]) -> None:
        for cache in (self._folders, self._manifests):
            for name in [n for n in cache if n not in targets]:
                del cache[name]
        self._store.buckets.retain({t.key for t in targets.values()})

    async def refresh(self, name: str, target: BucketTarget, health: TargetHealth) -> None:
        if target.settings.mode == "cloudwatch":
            total = await self._cloudwatch(target, health)
            self._store.buckets.put(target.key, BucketUsage(target, total, {}, {}, None, None))
            return
        bucket = Bucket(self._api, target, health)
        root = await bucket.list(target.path(), delimiter=True)
        other: list[S3Object] = list(root.objects)
        restores: list[S3Object] = []
        for prefix in root.prefixes:
            kind = prefix.removeprefix(target.path()).rstrip("/")
            if kind not in (BACKUPS, KOPIA, RESTIC):
                (restores if kind == RESTORES else other).extend((await bucket.list(prefix, delimiter=False)).objects)
        if target.path(BACKUPS) in root.prefixes:
            loose, listed_at = await self._list_folders(name, target, bucket)
        else:
            loose, listed_at = [], self._clock()
            self._folders[name] = {}
        folders = self._folders[name]
        newest = await self._newest_completed(name, target, bucket, folders)
        manifests = self._manifests[name]
        measured = self._clock()
        backups = usage(loose, measured)
        kinds = {
            BACKUPS: Usage(
                backups.bytes + sum(f.bytes for f in folders.values()),
                backups.objects + sum(f.objects for f in folders.values()),
                measured,
            ),
            RESTORES: usage(restores, measured),
            OTHER: usage(other, measured),
        }
        shown = {
            folder_name: BackupFolder(
                f.bytes,
                f.objects,
                f.last_modified,
                manifest=_matching(manifests.get(folder_name), f.manifest_etag),
                present=f.present,
            )
            for folder_name, f in folders.items()
        }
        self._store.buckets.put(
            target.key, BucketUsage(target, None, kinds, MappingProxyType(shown), listed_at, newest)
        )

    async def _list_folders(self, name: str, target: BucketTarget, bucket: Bucket) -> tuple[list[S3Object], float]:
        """Bring the folder cache up to date; the loose objects of backups/ and when the names were listed."""
        base = target.path(BACKUPS)
        enumeration = await bucket.list(base, delimiter=True)
        listed_at = self._clock()
        names = [p.removeprefix(base).rstrip("/") for p in enumeration.prefixes]
        cached = self._folders.get(name, {})
        folders = {n: cached[n] for n in names if n in cached}  # folders that are gone are dropped
        stale = [n for n in names if n not in folders or not self._settled(name, n, folders[n], target)]
        if stale:
            per_object = (
                sum(f.objects for f in folders.values()) / len(folders) if folders else OBJECTS_PER_FOLDER_GUESS
            )
            flat_calls = math.ceil(len(names) * per_object / PAGE_SIZE)
            if flat_calls < len(stale):
                grouped: dict[str, list[S3Object]] = {}
                for obj in (await bucket.list(base, delimiter=False)).objects:
                    folder_name, slash, _ = obj.key.removeprefix(base).partition("/")
                    if slash:
                        grouped.setdefault(folder_name, []).append(obj)
                folders = {n: _folder(objs) for n, objs in grouped.items()}
            else:
                for n in stale:
                    objects = (await bucket.list(f"{base}{n}/", delimiter=False)).objects
                    if objects:  # deleted between the two listings: gone
                        folders[n] = _folder(objects)
                    else:
                        folders.pop(n, None)
        self._folders[name] = folders
        return enumeration.objects, listed_at

    def _settled(self, name: str, folder_name: str, folder: _Folder, target: BucketTarget) -> bool:
        """Whether a listed folder can no longer change, so that it need not be listed again."""
        if target.settings.include_noncurrent:
            return False  # lifecycle rules expire noncurrent versions of folders that look unchanged
        record = self._store.backups.get(folder_name)
        if record is not None:
            return record.phase in FINISHED_BACKUP_PHASES
        manifest = _matching(self._manifests.get(name, {}).get(folder_name), folder.manifest_etag)
        if manifest is not None:
            return manifest.phase in FINISHED_BACKUP_PHASES
        # A backup this cluster does not hold (a DR copy): Velero uploads velero-backup.json with the rest of the
        # folder, and the newest folders' manifests are read, so an unfinished one is found there.
        return folder.manifest_etag is not None

    async def _newest_completed(
        self, name: str, target: BucketTarget, bucket: Bucket, folders: Mapping[str, _Folder]
    ) -> Backup | None:
        """The first Completed backup among the folders' velero-backup.json, newest folder first (LastModified:
        Velero uploads the folder when the backup ends, failed or not, so the phase must be read). Reads left
        over go to folders of backups the cluster does not hold, whose tier only their manifest names."""
        cache = {n: m for n, m in self._manifests.get(name, {}).items() if n in folders}
        self._manifests[name] = cache
        newest: Backup | None = None
        reads = 0
        for folder_name in sorted(folders, key=lambda n: self._recency(n, folders[n]), reverse=True):
            folder = folders[folder_name]
            if folder.manifest_etag is None or not folder.present:
                continue  # still being uploaded, or deleted (a versioned bucket keeps the old versions)
            cached = cache.get(folder_name)
            if cached is None or cached[0] != folder.manifest_etag:
                if newest is not None and self._store.backups.get(folder_name) is not None:
                    continue
                if reads >= self._manifest_reads:
                    break  # the next refresh goes on from the cache
                reads += 1
                body = await bucket.get(f"{target.path(BACKUPS, folder_name)}{MANIFEST}")
                cached = cache[folder_name] = (folder.manifest_etag, parse_manifest(body))
            if newest is None and cached[1] is not None and cached[1].phase == "Completed":
                newest = cached[1]
        return newest

    def _recency(self, folder_name: str, folder: _Folder) -> tuple[float, float, str]:
        """LastModified has one-second resolution and a bulk copy gives many folders the same: the start of the
        backup, where the cluster holds it, orders those."""
        record = self._store.backups.get(folder_name)
        started = (record.started or record.created or 0.0) if record is not None else 0.0
        return (folder.last_modified, started, folder_name)

    async def _cloudwatch(self, target: BucketTarget, health: TargetHealth) -> Usage | None:
        """The newest daily datapoints: bytes summed over the storage types of the newest day, and the count."""
        client = where(target, "cloudwatch")
        end = self._clock()

        async def datapoints(metric: str, storage_type: str) -> list[tuple[float, float]]:
            result = await self._api.call(
                client,
                "GetMetricStatistics",
                health,
                Namespace="AWS/S3",
                MetricName=metric,
                Dimensions=[
                    {"Name": "BucketName", "Value": target.bucket},
                    {"Name": "StorageType", "Value": storage_type},
                ],
                StartTime=datetime.fromtimestamp(end - CLOUDWATCH_LOOKBACK, UTC),
                EndTime=datetime.fromtimestamp(end, UTC),
                Period=DAY,
                Statistics=["Average"],
            )
            return [(p["Timestamp"].timestamp(), float(p["Average"])) for p in result.get("Datapoints", ())]

        sizes = [point for storage_type in STORAGE_TYPES for point in await datapoints("BucketSizeBytes", storage_type)]
        counts = await datapoints("NumberOfObjects", "AllStorageTypes")
        if not sizes or not counts:
            return None  # S3 publishes a bucket's first datapoints a day or two after it is created
        newest = max(t for t, _ in sizes)
        counted_at, count = max(counts)
        return Usage(
            bytes=round(sum(v for t, v in sizes if t == newest)),
            objects=round(count),
            measured=min(newest, counted_at),
        )


def _matching(cached: tuple[str, Backup | None] | None, etag: str | None) -> Backup | None:
    """A kept manifest, if it is of the folder's current velero-backup.json."""
    return cached[1] if cached is not None and cached[0] == etag else None
