"""Families of the AWS accounts the exporter reads each bucket and region with, and whether the DR copies live
apart from the primary's account."""

from __future__ import annotations

from velero_exporter.metrics.family import Labels, Subject, gauge, known
from velero_exporter.model.aws import AwsTarget


def _target(target: AwsTarget) -> Labels:
    return (target.source, target.name)


AWS_TARGETS: Subject[AwsTarget] = Subject(
    "AWS accounts",
    lambda exported: exported.aws.targets,
    (
        gauge(
            "velero_aws_target_info",
            "1 for each bucket (source buckets, by location) and region (source snapshots) with the account the "
            "exporter reads it with (STS GetCallerIdentity through its role, once per role).",
            ("source", "target", "account_id"),
            known(lambda t: (*_target(t), t.account or ""), lambda t: 1.0 if t.account else None),
        ),
        gauge(
            "velero_aws_dr_target_in_primary_account",
            "For a DR copy's bucket or region: 1 when it is read with an account of the primary's, 0 when apart; "
            "only when aws.require_separate_dr_account is set.",
            ("source", "target"),
            known(_target, lambda t: None if t.in_primary_account is None else float(t.in_primary_account)),
        ),
    ),
    notes="A DR bucket is a replica Velero does not write to; a DR region holds DR replicas or is one of "
    "`aws.extra_regions`, unless a primary bucket is there. The primary's accounts are those of the buckets "
    "Velero writes to and of the other regions. An identity reads only what its account owns (snapshots: "
    "`OwnerIds=self`), so a DR copy kept in another account needs a `role_arn` in that account.",
)
