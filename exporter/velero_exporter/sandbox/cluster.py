"""A World made live: the fake Kubernetes API holding its objects (and its RBAC), moto holding its buckets and EBS
snapshots, and optionally the exporter that reads them.

`apply` turns the live cluster into another World by applying the difference, as Velero, an operator or an outage
would: objects created, replaced or deleted through the API's store (watches see each event), bucket keys put or
deleted, snapshots taken, copied or deleted, the API server or the exporter stopped or started again on the same
port.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

from velero_exporter.sandbox import cloud
from velero_exporter.sandbox.kube_api import FakeKubeAPI
from velero_exporter.sandbox.moto_server import MotoServer
from velero_exporter.sandbox.world import Bucket, Snapshot, World


class Runnable(Protocol):
    """What the cluster starts and stops: an Exporter."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class Cluster:
    def __init__(
        self,
        world: World,
        moto: MotoServer | None,
        kubeconfig: Path,
        *,
        exporter: Callable[[], Runnable] | None = None,
    ) -> None:
        self.world = World(world.now)  # what is live: nothing yet
        self._target = world
        self.api = FakeKubeAPI(namespace="velero")
        self.moto = moto
        self.kubeconfig = kubeconfig
        self._new_exporter = exporter
        self.exporter: Runnable | None = None
        self._clients: dict[tuple[str, str], Any] = {}
        self._snapshot_ids: dict[tuple[str, str, str], str] = {}  # (region, backup, pv) -> id
        self._volumes: dict[str, str] = {}  # region -> the volume the snapshots are taken of

    async def start(self) -> None:
        await self.api.start()
        self.api.write_kubeconfig(self.kubeconfig)
        self.world.exporter_up = False
        await self.apply(self._target)

    async def stop(self) -> None:
        if self.exporter is not None:
            await self.exporter.stop()
            self.exporter = None
        await self.api.stop()

    async def apply(self, world: World) -> None:
        """Make the live cluster what `world` says (the World is kept; change a copy for the next step)."""
        old = self.world
        for key, obj in world.objects.items():
            if key not in old.objects:
                self.api.create(obj)
            elif old.objects[key] != obj:
                self.api.replace(obj)
        for kind, name in old.objects.keys() - world.objects.keys():
            self.api.delete(kind.lower(), name)
        self.api.forbidden = set(world.forbidden)
        if old.buckets != world.buckets or old.snapshots != world.snapshots:
            await asyncio.to_thread(self._apply_cloud, old, world)
        if old.api_up and not world.api_up:
            await self.api.stop()
        elif world.api_up and not old.api_up:
            await self.api.start(self.api.host, self.api.port)
        if self._new_exporter is not None and world.exporter_up != (self.exporter is not None):
            if world.exporter_up:
                self.exporter = self._new_exporter()
                await self.exporter.start()
            else:
                exporter, self.exporter = self.exporter, None
                assert exporter is not None
                await exporter.stop()
        self.world = world

    # -- AWS

    def _client(self, service: str, region: str) -> Any:
        if self.moto is None:
            raise RuntimeError("this World holds buckets or snapshots: the cluster needs moto")
        if (service, region) not in self._clients:
            self._clients[service, region] = self.moto.client(service, region)
        return self._clients[service, region]

    def _apply_cloud(self, old: World, new: World) -> None:
        for name, bucket in new.buckets.items():
            before = old.buckets.get(name)
            s3 = self._client("s3", bucket.region)
            if before is None:
                cloud.upload(s3, name, bucket.keys, region=bucket.region, versioned=bucket.versioned)
                continue
            cloud.put_objects(s3, name, {k: v for k, v in bucket.keys.items() if before.keys.get(k) != v})
            self._delete_keys(name, before, before.keys.keys() - bucket.keys.keys())
        for name in old.buckets.keys() - new.buckets.keys():
            self._delete_bucket(name, old.buckets[name])
        gone = set(old.snapshots) - set(new.snapshots)
        for snapshot in gone:
            key = (snapshot.region, snapshot.backup, snapshot.pv)
            self._client("ec2", snapshot.region).delete_snapshot(SnapshotId=self._snapshot_ids.pop(key))
        added = [s for s in new.snapshots if s not in set(old.snapshots)]
        # Copies after the snapshots they are copied from.
        for snapshot in sorted(added, key=lambda s: s.source_region is not None):
            self._take(snapshot)

    def _delete_keys(self, name: str, bucket: Bucket, keys: Iterable[str]) -> None:
        """As Velero deletes: in a versioned bucket the current version goes, the older ones stay noncurrent."""
        s3 = self._client("s3", bucket.region)
        batch = sorted(keys)
        for start in range(0, len(batch), 1000):
            objects = [{"Key": key} for key in batch[start : start + 1000]]
            s3.delete_objects(Bucket=name, Delete={"Objects": objects, "Quiet": True})

    def _delete_bucket(self, name: str, bucket: Bucket) -> None:
        s3 = self._client("s3", bucket.region)
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
            for version in (*page.get("Versions", ()), *page.get("DeleteMarkers", ())):
                s3.delete_object(Bucket=name, Key=version["Key"], VersionId=version["VersionId"])
        s3.delete_bucket(Bucket=name)

    def _take(self, snapshot: Snapshot) -> None:
        ec2 = self._client("ec2", snapshot.region)
        tags = [{"ResourceType": "snapshot", "Tags": [{"Key": k, "Value": v} for k, v in snapshot.tags]}]
        if snapshot.source_region is None:
            if snapshot.region not in self._volumes:
                volume = ec2.create_volume(AvailabilityZone=f"{snapshot.region}a", Size=10)
                self._volumes[snapshot.region] = volume["VolumeId"]
            taken = ec2.create_snapshot(VolumeId=self._volumes[snapshot.region], TagSpecifications=tags)
        else:
            source = self._snapshot_ids[snapshot.source_region, snapshot.backup, snapshot.pv]
            # CopySnapshot copies no tags: the script passes the source's (as the DR plan's does).
            taken = ec2.copy_snapshot(
                SourceSnapshotId=source, SourceRegion=snapshot.source_region, TagSpecifications=tags
            )
        self._snapshot_ids[snapshot.region, snapshot.backup, snapshot.pv] = taken["SnapshotId"]


@contextlib.asynccontextmanager
async def running(cluster: Cluster) -> AsyncIterator[Cluster]:
    """`async with running(Cluster(...)) as cluster:` starts it and always stops it."""
    await cluster.start()
    try:
        yield cluster
    finally:
        await cluster.stop()
