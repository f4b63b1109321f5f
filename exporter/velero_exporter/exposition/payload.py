"""The latest rendered families and their encodings, so that a scrape only writes out bytes.

Rendering (model + families) happens off the scrape path when the store changes; an encoding (text or
OpenMetrics, plain or gzip) is made once per render, on the first scrape that asks for it.
"""

from __future__ import annotations

import asyncio
import gzip
import zlib
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


_EOF = b"# EOF\n"


def _gzip(parts: list[bytes]) -> bytes:
    """gzip of the parts joined, without joining them (a large cluster's exposition is tens of megabytes), at the
    fastest level: on lines this repetitive it compresses nearly as well, in a quarter of the time."""
    compressor = zlib.compressobj(1, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return b"".join([*(compressor.compress(part) for part in parts), compressor.flush()])


@dataclass(slots=True)
class Payload:
    """One render's exposition. Families encoded item by item (`large`, the same lines in both formats) are kept
    only until the compressed OpenMetrics body is made: the other variants are derived from it on request, so that
    a render does not hold tens of megabytes of lines twice (its own and, while it is being replaced, the next's)."""

    families: Families
    rendered_at: float
    status_page: str = ""
    large: list[bytes] = field(default_factory=list)
    ready: bool = False  # rendered from complete objects: the sources' first lists had ended (/readyz)
    _encoded: dict[tuple[str, bool], bytes] = field(default_factory=dict)
    _large_at: int | None = None  # where the large lines start in the uncompressed OpenMetrics body, once made

    def body(self, fmt: str, compressed: bool) -> bytes:
        key = (fmt, compressed)
        cached = self._encoded.get(key)
        if cached is None:
            cached = self._large_body(fmt, compressed) if self._has_large else self._small_body(fmt, compressed)
            self._encoded[key] = cached
        return cached

    @property
    def _has_large(self) -> bool:
        return bool(self.large) or self._large_at is not None

    def _small_body(self, fmt: str, compressed: bool) -> bytes:
        if compressed:
            return gzip.compress(self.body(fmt, False), compresslevel=6)
        if fmt == OPENMETRICS:
            return generate_openmetrics(self.families)  # type: ignore[no-untyped-call,no-any-return]
        return generate_text(self.families)

    def _large_body(self, fmt: str, compressed: bool) -> bytes:
        if fmt == OPENMETRICS and compressed:
            head = generate_openmetrics(self.families).removesuffix(_EOF)  # type: ignore[no-untyped-call]
            self._large_at = len(head)
            body = _gzip([head, *self.large, _EOF])
            self.large = []  # from now on, the compressed body holds them
            return body
        openmetrics = gzip.decompress(self.body(OPENMETRICS, True))
        if fmt == OPENMETRICS:
            return gzip.compress(openmetrics, 1) if compressed else openmetrics
        assert self._large_at is not None
        text = generate_text(self.families) + openmetrics[self._large_at : -len(_EOF)]
        return gzip.compress(text, 1) if compressed else text

    def prepare(self) -> Payload:
        """Encode now (on the render thread), so that no scrape pays for it: every variant, or with families encoded
        item by item (a large cluster's coverage) what Prometheus asks for, OpenMetrics compressed."""
        if self._has_large:
            self.body(OPENMETRICS, True)
            return self
        for fmt in (TEXT, OPENMETRICS):
            self.body(fmt, False)
            self.body(fmt, True)
        return self


class Exposition:
    """Holds the newest payload; None until the first render. Ready once a ready payload is served."""

    def __init__(self) -> None:
        self.current: Payload | None = None
        self._ready = asyncio.Event()

    def publish(self, payload: Payload) -> None:
        self.current = payload
        if payload.ready:
            self._ready.set()

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    async def wait_ready(self) -> None:
        await self._ready.wait()
