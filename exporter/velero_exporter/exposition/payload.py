"""The latest rendered families and their encodings, so that a scrape only writes out bytes.

Rendering (model + families) happens off the scrape path when the store changes; an encoding (text or
OpenMetrics, plain or gzip) is made once per render, on the first scrape that asks for it.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field

from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.exposition import generate_latest as generate_text
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as OPENMETRICS_CONTENT_TYPE
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics

from velero_exporter.metrics.collector import Families

TEXT = "text"
OPENMETRICS = "openmetrics"


def negotiate(accept: str) -> str:
    """OpenMetrics when the scraper asks for it (Prometheus does), else the classic text format."""
    for part in accept.split(","):
        media = part.split(";")[0].strip()
        if media == "application/openmetrics-text":
            return OPENMETRICS
    return TEXT


def content_type(fmt: str) -> str:
    return OPENMETRICS_CONTENT_TYPE if fmt == OPENMETRICS else CONTENT_TYPE_LATEST


@dataclass(slots=True)
class Payload:
    families: Families
    rendered_at: float
    status_page: str = ""
    _encoded: dict[tuple[str, bool], bytes] = field(default_factory=dict)

    def body(self, fmt: str, compressed: bool) -> bytes:
        key = (fmt, compressed)
        cached = self._encoded.get(key)
        if cached is None:
            if compressed:
                cached = gzip.compress(self.body(fmt, False), compresslevel=6)
            elif fmt == OPENMETRICS:
                cached = generate_openmetrics(self.families)  # type: ignore[no-untyped-call]
            else:
                cached = generate_text(self.families)
            self._encoded[key] = cached
        return cached

    def prepare(self) -> Payload:
        """Encode every variant now (on the render thread), so that no scrape pays for it."""
        for fmt in (TEXT, OPENMETRICS):
            self.body(fmt, True)
        return self


class Exposition:
    """Holds the newest payload; None until the first render."""

    def __init__(self) -> None:
        self.current: Payload | None = None

    def publish(self, payload: Payload) -> None:
        self.current = payload
