"""Listing and reading one target's bucket through AwsApi: pagination, versions, and the target's client."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from velero_exporter.sources.aws.api import AwsApi, Where
from velero_exporter.state.aws_records import BucketTarget, Usage
from velero_exporter.state.store import TargetHealth

# S3's largest page: fewer calls per listing.
PAGE_SIZE = 1000


@dataclass(slots=True, frozen=True)
class S3Object:
    key: str
    size: int
    last_modified: float
    etag: str
    current: bool  # False for a noncurrent version


@dataclass(slots=True, frozen=True)
class Listing:
    objects: list[S3Object]
    prefixes: list[str]  # CommonPrefixes, when listed with the "/" delimiter


def where(target: BucketTarget, service: str) -> Where:
    # A BSL may leave its region out (S3 then redirects); a client still needs one.
    return Where(
        service, target.region or "us-east-1", target.s3_url if service == "s3" else "", target.settings.role_arn
    )


def usage(objects: Iterable[S3Object], measured: float) -> Usage:
    listed = list(objects)
    return Usage(sum(o.size for o in listed), len(listed), measured)


class Bucket:
    """One target's bucket, as its health's calls."""

    def __init__(self, api: AwsApi, target: BucketTarget, health: TargetHealth) -> None:
        self._api = api
        self._target = target
        self._health = health
        self._where = where(target, "s3")
        # ListObjectVersions when noncurrent versions count: each version is an object stored.
        self._versions = target.settings.include_noncurrent

    async def list(self, prefix: str, *, delimiter: bool) -> Listing:
        """Every object under prefix (and, with the delimiter, the next level's prefixes instead of their
        objects), all pages."""
        operation = "ListObjectVersions" if self._versions else "ListObjectsV2"
        params: dict[str, Any] = {"Bucket": self._target.bucket, "Prefix": prefix, "MaxKeys": PAGE_SIZE}
        if delimiter:
            params["Delimiter"] = "/"
        listing = Listing([], [])
        while True:
            page = await self._api.call(self._where, operation, self._health, **params)
            listing.prefixes.extend(p["Prefix"] for p in page.get("CommonPrefixes", ()))
            for item in page.get("Versions" if self._versions else "Contents", ()):
                listing.objects.append(
                    S3Object(
                        key=item["Key"],
                        size=int(item["Size"]),
                        last_modified=item["LastModified"].timestamp(),
                        etag=item.get("ETag", ""),
                        current=bool(item.get("IsLatest", True)),
                    )
                )
            if not page.get("IsTruncated"):
                return listing
            if self._versions:
                params["KeyMarker"] = page["NextKeyMarker"]
                params["VersionIdMarker"] = page["NextVersionIdMarker"]
            else:
                params["ContinuationToken"] = page["NextContinuationToken"]

    async def get(self, key: str) -> bytes:
        result = await self._api.call(self._where, "GetObject", self._health, Bucket=self._target.bucket, Key=key)
        body: bytes = result["Body"]
        return body
