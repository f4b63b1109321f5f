"""The families of keyed subjects (one item per cluster object), encoded item by item.

prometheus_client formats a sample in about 15 µs: 150,000 coverage series would take seconds per render, and a
render follows every change. Here each item's sample lines are made once and reused while the model hands over the
same item object (it does, for every namespace and claim whose inputs did not change), so a render of a large
cluster joins cached bytes. A gauge's lines (and, with a plain help, its headers) are the same in the text format
and in OpenMetrics, so one set of lines serves both. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from prometheus_client.utils import floatToGoString

from velero_exporter.metrics.family import Exported, Family, Subject


def _escape(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def sample_lines(family: Family[Any], item: object) -> bytes:
    """The item's samples of the family, labels in name order as prometheus_client writes them."""
    out = []
    order = _label_order(family.labels)
    for labels, value in family.samples(item):
        if len(labels) != len(family.labels):
            raise ValueError(f"{family.name}: {len(labels)} label values for labels {family.labels}")
        pairs = ",".join(f'{family.labels[i]}="{_escape(labels[i])}"' for i in order)
        out.append(f"{family.name}{{{pairs}}} {floatToGoString(value)}\n")  # type: ignore[no-untyped-call]
    return "".join(out).encode()


@lru_cache(maxsize=64)
def _label_order(labels: tuple[str, ...]) -> tuple[int, ...]:
    return tuple(sorted(range(len(labels)), key=labels.__getitem__))


@lru_cache(maxsize=64)
def _headers(family: Family[Any]) -> bytes:
    """HELP and TYPE, the same in both formats for a gauge whose help needs no escaping (the formats escape
    differently), which the families encoded item by item must be."""
    if family.type != "gauge" or any(c in family.help for c in '\\"\n'):
        raise ValueError(f"{family.name}: only a gauge with a plain help is encoded item by item")
    return f"# HELP {family.name} {family.help}\n# TYPE {family.name} gauge\n".encode()


class LargeEncoder:
    """Keeps, per keyed subject, each item's encoded lines (one bytes per family) with the item they came from."""

    def __init__(self) -> None:
        # Per subject and item key: (the item, its lines of each family).
        self._cache: dict[str, dict[str, tuple[Any, ...]]] = {}
        # Per subject, the items of the last encoding and their lines by family: the same items (the model
        # hands over the very same tuple when nothing of the subject changed) are not even walked.
        self._last: dict[str, tuple[object, list[list[bytes]]]] = {}

    def encode(self, exported: Exported, subjects: Sequence[Subject[Any]]) -> list[bytes]:
        """The keyed subjects' families, each its header then its lines: the same bytes in both formats."""
        out: list[bytes] = []
        for subject in subjects:
            if subject.key is None:
                continue
            items = subject.items(exported)
            last = self._last.get(subject.name)
            if last is not None and last[0] is items:
                per_family = last[1]
            else:
                per_family = self._encode_items(subject, items)
                self._last[subject.name] = (items, per_family)
            for family, chunks in zip(subject.families, per_family, strict=True):
                out.append(_headers(family))
                out.extend(chunks)
        return out

    def _encode_items(self, subject: Subject[Any], items: Iterable[Any]) -> list[list[bytes]]:
        assert subject.key is not None
        previous = self._cache.get(subject.name, {})
        current: dict[str, tuple[Any, ...]] = {}
        per_family: list[list[bytes]] = [[] for _ in subject.families]
        for item in items:
            key = subject.key(item)
            held = previous.get(key)
            if held is None or held[0] is not item:
                held = (item, *(sample_lines(family, item) for family in subject.families))
            current[key] = held
            for chunks, chunk in zip(per_family, held[1:], strict=True):
                chunks.append(chunk)
        self._cache[subject.name] = current
        return per_family
