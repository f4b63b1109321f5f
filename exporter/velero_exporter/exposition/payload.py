"""The latest rendered families and their encodings, so that a scrape only writes out bytes.

Rendering (model + families) happens off the scrape path when the store changes; an encoding (text or
OpenMetrics, plain or gzip) is made once per render, on the first scrape that asks for it.
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass, field

from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.exposition import generate_latest as generate_text
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as OPENMETRICS_CONTENT_TYPE
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics

from velero_exporter.metrics.collector import Families
from velero_exporter.metrics.large import Block

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


_EOF = b"# EOF\n"


def _gzip(parts: list[bytes]) -> bytes:
    """gzip of the parts joined, without joining them (a large cluster's exposition is tens of megabytes), at the
    fastest level: on lines this repetitive it compresses nearly as well, in a quarter of the time."""
    compressor = zlib.compressobj(1, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return b"".join([*(compressor.compress(part) for part in parts), compressor.flush()])


@dataclass(slots=True)
class Payload:
    families: Families
    rendered_at: float
    status_page: str = ""
    # Families encoded item by item (metrics/large.py), served after the others.
    large: Block = field(default_factory=Block)
    _encoded: dict[tuple[str, bool], bytes] = field(default_factory=dict)

    def _parts(self, fmt: str) -> list[bytes]:
        if fmt == OPENMETRICS:
            head = generate_openmetrics(self.families)  # type: ignore[no-untyped-call]
            if not self.large.openmetrics:
                return [head]
            return [head.removesuffix(_EOF), *self.large.openmetrics, _EOF]
        return [generate_text(self.families), *self.large.text]

    def body(self, fmt: str, compressed: bool) -> bytes:
        key = (fmt, compressed)
        cached = self._encoded.get(key)
        if cached is None:
            uncompressed = self._encoded.get((fmt, False))
            if compressed:
                cached = gzip.compress(uncompressed, 6) if uncompressed is not None else _gzip(self._parts(fmt))
            else:
                cached = b"".join(self._parts(fmt))
            self._encoded[key] = cached
        return cached

    def prepare(self) -> Payload:
        """Encode every variant now (on the render thread), so that no scrape pays for it. With families encoded
        item by item (a large cluster's coverage) only what Prometheus asks for, OpenMetrics compressed: another
        variant is made on its first request, not kept for nobody."""
        if self.large.text:
            self.body(OPENMETRICS, True)
            return self
        for fmt in (TEXT, OPENMETRICS):
            self.body(fmt, False)
            self.body(fmt, True)
        return self


class Exposition:
    """Holds the newest payload; None until the first render."""

    def __init__(self) -> None:
        self.current: Payload | None = None

    def publish(self, payload: Payload) -> None:
        self.current = payload
