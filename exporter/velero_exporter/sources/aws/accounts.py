"""The accounts source: the AWS account of each identity the exporter reads with (its own, and each role a bucket
or region names), from STS GetCallerIdentity through that role, once per role: an identity's account never
changes. The model compares them to tell whether the DR copies live in another account than the primary's."""

from __future__ import annotations

from collections.abc import Mapping

from velero_exporter.config.settings import AwsConfig
from velero_exporter.sources.aws.api import AwsApi, Where
from velero_exporter.state.aws_records import DEFAULT_IDENTITY, BucketTarget
from velero_exporter.state.store import Store, TargetHealth

SOURCE = "accounts"


def identities(buckets: Mapping[str, BucketTarget], regions: list[str], config: AwsConfig) -> dict[str, Where]:
    """Targets: one per identity (a role's ARN, or DEFAULT_IDENTITY), asked in the region of the first bucket or
    region that reads with it."""
    found: dict[str, Where] = {}
    for target in buckets.values():
        role = target.settings.role_arn
        found.setdefault(role or DEFAULT_IDENTITY, Where("sts", target.region or "us-east-1", role_arn=role))
    for region in regions:
        role = config.region_settings(region).role_arn
        found.setdefault(role or DEFAULT_IDENTITY, Where("sts", region, role_arn=role))
    return found


class AccountRefresher:
    def __init__(self, store: Store, api: AwsApi) -> None:
        self._store = store
        self._api = api

    def forget(self, targets: Mapping[str, Where]) -> None:
        self._store.accounts.retain(targets)

    async def refresh(self, name: str, target: Where, health: TargetHealth) -> None:
        if self._store.accounts.get(name) is not None:
            return  # asked once: an identity's account never changes
        answer = await self._api.call(target, "GetCallerIdentity", health)
        self._store.accounts.put(name, str(answer["Account"]))
