"""The three AWS sources, each a Poller with its own AwsApi (so calls and errors are counted per source), all
sharing one boto3 session and its clients."""

from __future__ import annotations

from typing import Any

from velero_exporter.config.settings import Config
from velero_exporter.sources.aws import buckets, repositories, snapshots
from velero_exporter.sources.aws.api import AwsApi, AwsClients
from velero_exporter.sources.aws.discovery import bucket_targets, snapshot_regions
from velero_exporter.sources.aws.polling import Poller
from velero_exporter.state.aws_records import BucketTarget
from velero_exporter.state.store import Store


def aws_sources(store: Store, config: Config, *, tick: float = 1.0, backoff_base: float = 0.5) -> list[Poller[Any]]:
    aws = config.aws
    clients = AwsClients(aws)

    def api(source: str) -> AwsApi:
        return AwsApi(aws, store.health.source(source), clients=clients, backoff_base=backoff_base)

    def discover_buckets(store: Store) -> dict[str, BucketTarget]:
        return bucket_targets(store.storage_locations.frozen(), aws)

    def discover_repositories(store: Store) -> dict[str, BucketTarget]:
        return repositories.list_mode(discover_buckets(store))

    def discover_regions(store: Store) -> dict[str, str]:
        return {region: region for region in snapshot_regions(store.snapshot_locations.frozen(), aws)}

    bucket_poller: Poller[BucketTarget] = Poller(
        buckets.SOURCE,
        store,
        discover_buckets,
        buckets.BucketRefresher(store, api(buckets.SOURCE), aws),
        interval=aws.buckets_interval,
        jitter=aws.jitter,
        tick=tick,
    )
    repository_poller: Poller[BucketTarget] = Poller(
        repositories.SOURCE,
        store,
        discover_repositories,
        repositories.RepositoryRefresher(store, api(repositories.SOURCE)),
        interval=aws.repositories_interval,
        jitter=aws.jitter,
        tick=tick,
    )
    snapshot_poller: Poller[str] = Poller(
        snapshots.SOURCE,
        store,
        discover_regions,
        snapshots.SnapshotRefresher(store, api(snapshots.SOURCE), config),
        interval=aws.snapshots_interval,
        jitter=aws.jitter,
        tick=tick,
    )
    return [bucket_poller, repository_poller, snapshot_poller]
