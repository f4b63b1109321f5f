"""The AWS sources, each a Poller with its own AwsApi (so calls and errors are counted per source), all sharing
one boto3 session and its clients."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from velero_exporter.config.settings import Config
from velero_exporter.sources.aws import accounts, buckets, posture, repositories, snapshots
from velero_exporter.sources.aws.api import AwsApi, AwsClients, Where
from velero_exporter.sources.aws.polling import Poller, Refresher
from velero_exporter.state.aws_records import BucketTarget
from velero_exporter.state.aws_targets import bucket_targets, snapshot_regions
from velero_exporter.state.store import Store

T = TypeVar("T")


def aws_sources(store: Store, config: Config, *, tick: float = 1.0, backoff_base: float = 0.5) -> list[Poller[Any]]:
    aws = config.aws
    clients = AwsClients(aws)

    def api(source: str) -> AwsApi:
        return AwsApi(aws, store.health.source(source), clients=clients, backoff_base=backoff_base)

    def poller(
        source: str,
        discover: Callable[[Store], Mapping[str, T] | None],
        refresher: Callable[[AwsApi], Refresher[T]],
        interval: float,
    ) -> Poller[T]:
        return Poller(source, store, discover, refresher(api(source)), interval=interval, jitter=aws.jitter, tick=tick)

    # None until the kube source has listed the locations: no verdict on targets that are not known yet.
    def discover_buckets(store: Store) -> dict[str, BucketTarget] | None:
        locations = store.storage_locations
        return bucket_targets(locations.frozen(), aws) if locations.listed else None

    def discover_repositories(store: Store) -> dict[str, BucketTarget] | None:
        buckets = discover_buckets(store)
        return repositories.list_mode(buckets) if buckets is not None else None

    def discover_regions(store: Store) -> dict[str, str] | None:
        locations = store.snapshot_locations
        if not locations.listed:
            return None
        return {region: region for region in snapshot_regions(locations.frozen(), aws)}

    def discover_identities(store: Store) -> dict[str, Where] | None:
        buckets, regions = discover_buckets(store), discover_regions(store)
        if buckets is None or regions is None:
            return None
        return accounts.identities(buckets, list(regions), aws)

    return [
        poller(
            buckets.SOURCE, discover_buckets, lambda a: buckets.BucketRefresher(store, a, aws), aws.buckets_interval
        ),
        poller(
            repositories.SOURCE,
            discover_repositories,
            lambda a: repositories.RepositoryRefresher(store, a),
            aws.repositories_interval,
        ),
        poller(
            snapshots.SOURCE,
            discover_regions,
            lambda a: snapshots.SnapshotRefresher(store, a, config),
            aws.snapshots_interval,
        ),
        poller(posture.SOURCE, discover_buckets, lambda a: posture.PostureRefresher(store, a), aws.posture_interval),
        poller(
            accounts.SOURCE, discover_identities, lambda a: accounts.AccountRefresher(store, a), aws.posture_interval
        ),
    ]
