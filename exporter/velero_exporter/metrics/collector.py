"""Builds the families a render exports by walking the subjects' tables (metrics/catalog.py).

Families are built fresh on every render (client_python's custom-collector pattern), so an object that is gone
leaves no series behind. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from velero_exporter.metrics.catalog import SUBJECTS
from velero_exporter.metrics.family import Exported, Family, Subject


class Families(Collector):
    """A fixed list of families, in the shape prometheus_client's encoders take."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterable[Metric]:
        return self._families


def _metric(family: Family[Any]) -> GaugeMetricFamily | CounterMetricFamily:
    if family.type == "counter":
        return CounterMetricFamily(family.name, family.help, labels=list(family.labels))
    return GaugeMetricFamily(family.name, family.help, labels=list(family.labels))


def collect(exported: Exported, subjects: Sequence[Subject[Any]] = SUBJECTS) -> Families:
    """The families of the subjects without a key (the keyed ones are metrics/large.py's)."""
    out: list[Metric] = []
    for subject in subjects:
        if subject.key is not None:
            continue
        built = [(family, _metric(family)) for family in subject.families]
        for item in subject.items(exported):
            for family, metric in built:
                for labels, value in family.samples(item):
                    if len(labels) != len(family.labels):
                        # prometheus_client would zip them silently into wrong series.
                        raise ValueError(f"{family.name}: {len(labels)} label values for labels {family.labels}")
                    metric.add_metric(list(labels), value)
        out.extend(metric for _, metric in built)
    return Families(out)
