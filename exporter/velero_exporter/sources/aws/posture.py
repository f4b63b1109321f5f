"""The posture source: how each bucket is set up to keep its backups, one call of each kind per bucket and refresh,
on its own (hourly) interval: versioning, Object Lock, default encryption, public access block, replication and
lifecycle.

S3 answers a question about a configuration the bucket does not have (no lifecycle rules, no replication ...)
with an error code of its own: that is an answer ("none"), not a failure. A call that fails (a bucket policy that
denies it: kind `forbidden`) keeps that check's previous value and time, the other checks of the refresh go
ahead, and then the target is reported down with the failure.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from velero_exporter.sources.aws.api import AwsApi
from velero_exporter.sources.aws.s3 import where
from velero_exporter.state.aws_records import (
    BACKUPS,
    NO_ENCRYPTION,
    BucketPosture,
    BucketTarget,
    Checked,
    LifecycleExpiration,
    ObjectLock,
    Replication,
)
from velero_exporter.state.store import Store, TargetHealth

SOURCE = "posture"
DAY = 86400.0
# S3 Object Lock counts a retention of Years as 365 days each.
YEAR = 365 * DAY
PUBLIC_ACCESS_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")

Answer = Mapping[str, Any] | None


def read_versioning(answer: Answer, target: BucketTarget) -> bool:
    """Enabled; a bucket whose versioning was never enabled answers without a Status, a suspended one Suspended."""
    return answer is not None and answer.get("Status") == "Enabled"


def read_object_lock(answer: Answer, target: BucketTarget) -> ObjectLock | None:
    if answer is None:
        return None
    config = answer["ObjectLockConfiguration"]
    if config.get("ObjectLockEnabled") != "Enabled":
        return None
    retention = (config.get("Rule") or {}).get("DefaultRetention")
    if not retention:
        return ObjectLock("none", 0.0)  # objects are locked only when their writer asks: Velero never does
    days, years = int(retention.get("Days") or 0), int(retention.get("Years") or 0)
    return ObjectLock(str(retention["Mode"]), days * DAY + years * YEAR)


def read_encryption(answer: Answer, target: BucketTarget) -> str:
    """The default encryption's algorithm (AES256, aws:kms, aws:kms:dsse), or none."""
    if answer is None:
        return NO_ENCRYPTION
    for rule in answer["ServerSideEncryptionConfiguration"]["Rules"]:
        default = rule.get("ApplyServerSideEncryptionByDefault")
        if default:
            return str(default["SSEAlgorithm"])
    return NO_ENCRYPTION


def read_access_block(answer: Answer, target: BucketTarget) -> bool:
    """All four flags set (the account's own block, which S3 also applies, is not read)."""
    if answer is None:
        return False
    flags = answer["PublicAccessBlockConfiguration"]
    return all(flags.get(flag) is True for flag in PUBLIC_ACCESS_FLAGS)


def rule_filter(rule: Mapping[str, Any]) -> tuple[str, bool]:
    """A lifecycle or replication rule's prefix, and whether it has a further condition (tags, object size) that
    limits it to some objects. Rules written before Filter existed carry Prefix themselves."""
    if "Filter" not in rule:
        return str(rule.get("Prefix") or ""), False
    found = rule["Filter"] or {}
    conditions = found.get("And", found)
    conditional = any(key in conditions for key in ("Tag", "Tags", "ObjectSizeGreaterThan", "ObjectSizeLessThan"))
    return str(conditions.get("Prefix") or ""), conditional


def read_replication(answer: Answer, target: BucketTarget) -> Replication:
    if answer is None:
        return Replication(MappingProxyType({}))
    backups = target.path(BACKUPS)
    destinations: dict[str, bool] = {}
    for rule in answer["ReplicationConfiguration"]["Rules"]:
        bucket = str(rule["Destination"]["Bucket"]).rpartition(":")[2]  # arn:aws:s3:::<bucket>
        prefix, conditional = rule_filter(rule)
        # Velero writes its objects without tags: a rule on tagged objects only replicates none of them.
        covers = rule.get("Status") == "Enabled" and backups.startswith(prefix) and not conditional
        destinations[bucket] = destinations.get(bucket, False) or covers
    return Replication(MappingProxyType(dict(sorted(destinations.items()))))


def read_lifecycle(answer: Answer, target: BucketTarget) -> LifecycleExpiration | None:
    """The shortest current-version expiration among the enabled rules that reach backups/. A rule limited to
    tags or object sizes counts (it deletes the backup objects it matches); a rule with an expiration date
    counts as 0 (from that date it deletes every object it matches, however new). Noncurrent-version rules do not
    count: Velero reads current versions only."""
    if answer is None:
        return None
    backups = target.path(BACKUPS)
    shortest: LifecycleExpiration | None = None
    for rule in answer["Rules"]:
        expiration = rule.get("Expiration") or {}
        if rule.get("Status") != "Enabled" or not ({"Days", "Date"} & expiration.keys()):
            continue
        prefix, _ = rule_filter(rule)
        if not (backups.startswith(prefix) or prefix.startswith(backups)):
            continue
        found = LifecycleExpiration(prefix, int(expiration["Days"]) * DAY if "Days" in expiration else 0.0)
        if shortest is None or (found.seconds, found.prefix) < (shortest.seconds, shortest.prefix):
            shortest = found
    return shortest


@dataclass(slots=True, frozen=True)
class Check:
    name: str  # the BucketPosture field, one of POSTURE_CHECKS
    operation: str
    absent: str  # the error code that means "the bucket has none" ("" where there is no such answer)
    read: Callable[[Answer, BucketTarget], object]


CHECKS: tuple[Check, ...] = (
    Check("versioning", "GetBucketVersioning", "", read_versioning),
    Check("object_lock", "GetObjectLockConfiguration", "ObjectLockConfigurationNotFoundError", read_object_lock),
    Check("encryption", "GetBucketEncryption", "ServerSideEncryptionConfigurationNotFoundError", read_encryption),
    Check("public_access_block", "GetPublicAccessBlock", "NoSuchPublicAccessBlockConfiguration", read_access_block),
    Check("replication", "GetBucketReplication", "ReplicationConfigurationNotFoundError", read_replication),
    Check("lifecycle", "GetBucketLifecycleConfiguration", "NoSuchLifecycleConfiguration", read_lifecycle),
)


class PostureRefresher:
    def __init__(self, store: Store, api: AwsApi, *, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._api = api
        self._clock = clock

    def forget(self, targets: Mapping[str, BucketTarget]) -> None:
        self._store.posture.retain({t.key for t in targets.values()})

    async def refresh(self, name: str, target: BucketTarget, health: TargetHealth) -> None:
        s3 = where(target, "s3")
        kept = self._store.posture.get(target.key)
        values: dict[str, Checked[Any] | None] = {check.name: None for check in CHECKS}
        if kept is not None and kept.target == target:
            values.update(kept.checked())
        failure: Exception | None = None
        for check in CHECKS:
            try:
                answer = await self._api.call_unless(s3, check.operation, health, {check.absent}, Bucket=target.bucket)
                values[check.name] = Checked(check.read(answer, target), self._clock())
            except Exception as exc:  # the first is raised below, once the other checks have been asked
                failure = failure or exc
        self._store.posture.put(target.key, BucketPosture(target, **values))
        if failure is not None:
            raise failure
