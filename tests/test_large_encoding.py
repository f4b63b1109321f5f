"""Families encoded item by item (metrics/large.py) and served by the payload: the same exposition as
prometheus_client's own encoding, in both formats and compressed, and an item's bytes reused while it is the same
object."""

from __future__ import annotations

import gzip
from typing import TypeVar

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics

from tests.metrics_text import parse_samples
from velero_exporter.config.settings import Config
from velero_exporter.exposition.payload import OPENMETRICS, TEXT, Payload
from velero_exporter.metrics.collector import Families
from velero_exporter.metrics.coverage import NAMESPACES, PVCS
from velero_exporter.metrics.family import Exported, Subject
from velero_exporter.metrics.large import LargeEncoder
from velero_exporter.model.aws import AwsModel
from velero_exporter.model.coverage import CoverageModel, NamespaceCoverage, PvcCoverage
from velero_exporter.model.velero import build_model
from velero_exporter.state.store import Health, Store
from velero_exporter.velero.cron import parse_cron

TIERS = ("hot", "critical")


def exported(namespaces: tuple[NamespaceCoverage, ...], pvcs: tuple[PvcCoverage, ...]) -> Exported:
    model = build_model(Store().view(), Config(tiers=()), 0.0, lambda spec: parse_cron(spec, "UTC"))
    coverage = CoverageModel(synced=True, tiers=TIERS, namespaces=namespaces, pvcs=pvcs)
    return Exported(model, AwsModel(buckets=(), regions=()), Health(), {}, "test", coverage=coverage)


def namespace(name: str, *covered: str, state: str = "protected") -> NamespaceCoverage:
    return NamespaceCoverage(name, tuple((t, t in covered) for t in TIERS), state)


def claim(namespace: str, name: str, *protected: tuple[str, str], reason: str | None = None) -> PvcCoverage:
    state = "protected" if protected else "unprotected"
    return PvcCoverage(namespace, name, "gp3", tuple(protected), reason, state)


ITEMS = (
    (namespace("app", "hot", "critical"), namespace('we"ird\\ns', state="unprotected")),
    (claim("app", "db", ("hot", "fs-backup"), ("critical", "snapshot")), claim("app", "cache", reason="policy_skip")),
)

T = TypeVar("T")


def reference(namespaces: tuple[NamespaceCoverage, ...], pvcs: tuple[PvcCoverage, ...]) -> Families:
    """The same families built the ordinary way, through prometheus_client."""
    data = exported(namespaces, pvcs)
    return Families([*gauges(NAMESPACES, data), *gauges(PVCS, data)])


def gauges(subject: Subject[T], data: Exported) -> list[GaugeMetricFamily]:
    out = []
    for family in subject.families:
        metric = GaugeMetricFamily(family.name, family.help, labels=list(family.labels))
        for item in subject.items(data):
            for labels, value in family.samples(item):
                metric.add_metric(list(labels), value)
        out.append(metric)
    return out


def test_item_by_item_equals_prometheus_clients_encoding_in_both_formats() -> None:
    lines = LargeEncoder().encode(exported(*ITEMS), (NAMESPACES, PVCS))
    assert b"".join(lines).decode() == generate_latest(reference(*ITEMS)).decode()
    payload = Payload(Families([]), 0.0, "", lines)
    assert payload.body(TEXT, False) == generate_latest(reference(*ITEMS))
    openmetrics = payload.body(OPENMETRICS, False).decode()
    assert openmetrics == generate_openmetrics(reference(*ITEMS)).decode()
    assert list(parse_openmetrics(openmetrics))  # a valid OpenMetrics document, `# EOF` last
    assert (
        parse_samples(payload.body(TEXT, False).decode())[
            (
                "velero_pvc_unprotected",
                frozenset({("namespace", "app"), ("persistentvolumeclaim", "cache"), ("reason", "policy_skip")}),
            )
        ]
        == 1.0
    )


def test_every_variant_is_derived_from_the_prepared_body_alone() -> None:
    lines = LargeEncoder().encode(exported(*ITEMS), (NAMESPACES, PVCS))
    small = Families([GaugeMetricFamily("velero_exporter_build_info", "v", value=1.0)])
    payload = Payload(small, 0.0, "", lines).prepare()
    assert payload.large == []  # the prepared compressed body holds the lines now
    for fmt in (TEXT, OPENMETRICS):
        assert gzip.decompress(payload.body(fmt, True)) == payload.body(fmt, False)
    text = payload.body(TEXT, False)
    assert text == generate_latest(small) + b"".join(lines)
    openmetrics = payload.body(OPENMETRICS, False).decode()
    assert openmetrics.startswith("# HELP velero_exporter_build_info") and openmetrics.endswith("# EOF\n")
    assert list(parse_openmetrics(openmetrics))


def test_an_items_bytes_are_reused_while_it_is_the_same_object() -> None:
    encoder = LargeEncoder()
    namespaces, pvcs = ITEMS
    first = encoder.encode(exported(namespaces, pvcs), (NAMESPACES, PVCS))
    again = encoder.encode(exported(namespaces, pvcs), (NAMESPACES, PVCS))
    assert all(a is b for a, b in zip(first, again, strict=True))
    # A new result for "app" (equal or not) is encoded again; the unchanged items keep their bytes.
    changed = (namespace("app", "hot"), namespaces[1])
    third = encoder.encode(exported(changed, pvcs), (NAMESPACES, PVCS))
    reused = [a is b for a, b in zip(first, third, strict=True)]
    assert reused.count(False) == 2  # app's velero_namespace_covered and velero_namespace_unprotected lines
    assert 'velero_namespace_covered{namespace="app",tier="critical"} 0.0' in b"".join(third).decode()
    # A gone item leaves nothing behind.
    fourth = encoder.encode(exported(changed[:1], pvcs[:1]), (NAMESPACES, PVCS))
    assert "cache" not in b"".join(fourth).decode()
