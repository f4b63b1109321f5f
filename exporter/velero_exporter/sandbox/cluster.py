"""A World made live: the fake Kubernetes API holding its objects (and its RBAC), moto holding its buckets and EBS
snapshots (the DR account's through its role, as the sandbox's STS grants it), and optionally the exporter that
reads them.

`apply` turns the live cluster into another World by applying the difference, as Velero, an operator or an outage
would: objects created, replaced or deleted through the API's store (watches see each event), buckets set up, keys
put or deleted, snapshots taken, copied or deleted, the API server or the exporter stopped or started again on the
same port (the exporter also when its configuration changes, as a pod whose ConfigMap changed).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

import boto3

from velero_exporter.sandbox import cloud, objects
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
        exporter: Callable[[Mapping[str, Any]], Runnable] | None = None,
    ) -> None:
        """`exporter` makes the exporter for a configuration (the World's): the cluster then runs it when the
        World says it runs, and restarts it when its configuration changes."""
        self.world = World(world.now)  # what is live: nothing yet
        self._target = world
        self.api = FakeKubeAPI(namespace="velero")
        self.moto = moto
        self.kubeconfig = kubeconfig
        self._new_exporter = exporter
        self.exporter: Runnable | None = None
        self._clients: dict[tuple[str, str, str], Any] = {}
        self._snapshot_ids: dict[tuple[str, str, str, str], str] = {}  # (region, role, backup, pv) -> id
        self._volumes: dict[tuple[str, str, bool], str] = {}  # (region, role, encrypted) -> a volume to snapshot
        self._versions: dict[tuple[str, str], list[str]] = {}  # (bucket, key) -> the versions put

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
        for key in old.objects.keys() - world.objects.keys():
            gone = old.objects[key]
            self.api.delete(gone["kind"].lower(), objects.name_of(gone), gone["metadata"].get("namespace"))
        self.api.forbidden = set(world.forbidden)
        if old.buckets != world.buckets or old.snapshots != world.snapshots:
            await asyncio.to_thread(self._apply_cloud, old, world)
        if old.api_up and not world.api_up:
            await self.api.stop()
        elif world.api_up and not old.api_up:
            await self.api.start(self.api.host, self.api.port)
        if self._new_exporter is not None:
            restart = self.exporter is not None and world.config != old.config
            if self.exporter is not None and (restart or not world.exporter_up):
                exporter, self.exporter = self.exporter, None
                await exporter.stop()
            if self.exporter is None and world.exporter_up:
                self.exporter = self._new_exporter(world.config)
                await self.exporter.start()
        self.world = world

    def snapshot_id(self, snapshot: Snapshot) -> str:
        """The id EC2 gave the World's snapshot."""
        return self._snapshot_ids[snapshot.region, snapshot.role, snapshot.backup, snapshot.pv]

    # -- AWS

    def _client(self, service: str, region: str, role: str = "") -> Any:
        """A client of the exporter's own account, or of the account reached through `role` (the DR account)."""
        if self.moto is None:
            raise RuntimeError("this World holds buckets or snapshots: the cluster needs moto")
        key = (service, region, role)
        if key not in self._clients:
            if not role:
                self._clients[key] = self.moto.client(service, region)
            else:
                keys = self._client("sts", region).assume_role(RoleArn=role, RoleSessionName="sandbox")["Credentials"]
                self._clients[key] = boto3.client(
                    service,
                    region_name=region,
                    endpoint_url=self.moto.url,
                    aws_access_key_id=keys["AccessKeyId"],
                    aws_secret_access_key=keys["SecretAccessKey"],
                    aws_session_token=keys["SessionToken"],
                )
        return self._clients[key]

    def _s3(self, bucket: Bucket) -> Any:
        return self._client("s3", bucket.region, bucket.role)

    def _apply_cloud(self, old: World, new: World) -> None:
        created = {name: bucket for name, bucket in new.buckets.items() if name not in old.buckets}
        # Every new bucket first, so that a replication rule finds its destination; set up before it holds
        # anything, since moto takes an Object Lock retention only on an empty bucket.
        for name, bucket in created.items():
            cloud.create_bucket(self._s3(bucket), name, bucket.region)
        for name, bucket in created.items():
            cloud.set_up_bucket(self._s3(bucket), name, bucket.setup)
        for name, bucket in new.buckets.items():
            before = Bucket(bucket.region, {}, bucket.setup) if name in created else old.buckets[name]
            if bucket.setup != before.setup:
                before = self._set_up(name, before, bucket)
            put = cloud.put_objects(
                self._s3(bucket), name, {k: v for k, v in bucket.keys.items() if before.keys.get(k) != v}
            )
            for key, version in put.items():
                self._versions.setdefault((name, key), []).append(version)
            self._delete_keys(name, bucket, before.keys.keys() - bucket.keys.keys())
        for name in old.buckets.keys() - new.buckets.keys():
            self._delete_bucket(name, old.buckets[name])
        gone = set(old.snapshots) - set(new.snapshots)
        for snapshot in gone:
            taken = self._snapshot_ids.pop((snapshot.region, snapshot.role, snapshot.backup, snapshot.pv))
            self._client("ec2", snapshot.region, snapshot.role).delete_snapshot(SnapshotId=taken)
        added = [s for s in new.snapshots if s not in set(old.snapshots)]
        # Copies after the snapshots they are copied from.
        for snapshot in sorted(added, key=lambda s: s.source_region is not None):
            self._take(snapshot)

    def _set_up(self, name: str, before: Bucket, after: Bucket) -> Bucket:
        """Apply a changed setup; returns what the bucket then holds. An Object Lock retention added to a bucket
        that holds objects: moto takes it only on an empty bucket (AWS takes it any time), so the bucket is
        emptied, set up, and filled again."""
        s3 = self._s3(after)
        if after.setup.object_lock_days != before.setup.object_lock_days and before.keys:
            self._delete_versions(s3, name)
            before = Bucket(before.region, {}, before.setup, before.role)
        cloud.set_up_bucket(s3, name, after.setup)
        return before

    def _delete_keys(self, name: str, bucket: Bucket, keys: Iterable[str]) -> None:
        """Every version of the keys. Velero's delete leaves older versions noncurrent in a versioned bucket, which
        S3 no longer lists; moto still lists the folder they are in (as a CommonPrefix), so they go too."""
        batch: list[dict[str, str]] = []
        for key in sorted(keys):
            versions = self._versions.pop((name, key), [])
            batch += [{"Key": key, "VersionId": v} for v in versions] or [{"Key": key}]
        for start in range(0, len(batch), 1000):
            objects = batch[start : start + 1000]
            self._s3(bucket).delete_objects(Bucket=name, Delete={"Objects": objects, "Quiet": True})

    def _delete_versions(self, s3: Any, name: str) -> None:
        """Every version and delete marker: the bucket is empty after."""
        doomed = [
            {"Key": version["Key"], "VersionId": version["VersionId"]}
            for page in s3.get_paginator("list_object_versions").paginate(Bucket=name)
            for version in (*page.get("Versions", ()), *page.get("DeleteMarkers", ()))
        ]
        for start in range(0, len(doomed), 1000):
            s3.delete_objects(Bucket=name, Delete={"Objects": doomed[start : start + 1000], "Quiet": True})
        self._versions = {(bucket, key): v for (bucket, key), v in self._versions.items() if bucket != name}

    def _delete_bucket(self, name: str, bucket: Bucket) -> None:
        s3 = self._s3(bucket)
        self._delete_versions(s3, name)
        s3.delete_bucket(Bucket=name)

    def _take(self, snapshot: Snapshot) -> None:
        ec2 = self._client("ec2", snapshot.region, snapshot.role)
        tags = [{"ResourceType": "snapshot", "Tags": [{"Key": k, "Value": v} for k, v in snapshot.tags]}]
        source = None
        if snapshot.source_region is not None:
            source = self._snapshot_ids.get((snapshot.source_region, snapshot.role, snapshot.backup, snapshot.pv))
        if source is not None:
            # CopySnapshot copies no tags: the script passes the source's (as the DR plan's does). A copy is as
            # encrypted as its source unless asked to be encrypted.
            encrypted = {"Encrypted": True} if snapshot.encrypted else {}
            taken = ec2.copy_snapshot(
                SourceSnapshotId=source, SourceRegion=snapshot.source_region, TagSpecifications=tags, **encrypted
            )
        else:
            volume = (snapshot.region, snapshot.role, snapshot.encrypted)
            if volume not in self._volumes:
                self._volumes[volume] = ec2.create_volume(
                    AvailabilityZone=f"{snapshot.region}a", Size=10, Encrypted=snapshot.encrypted
                )["VolumeId"]
            taken = ec2.create_snapshot(VolumeId=self._volumes[volume], TagSpecifications=tags)
        self._snapshot_ids[snapshot.region, snapshot.role, snapshot.backup, snapshot.pv] = taken["SnapshotId"]


@contextlib.asynccontextmanager
async def running(cluster: Cluster) -> AsyncIterator[Cluster]:
    """`async with running(Cluster(...)) as cluster:` starts it and always stops it."""
    await cluster.start()
    try:
        yield cluster
    finally:
        await cluster.stop()
