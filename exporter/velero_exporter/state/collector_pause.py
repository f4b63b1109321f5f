"""Pausing Python's cyclic garbage collector over a stretch that creates many objects that all stay alive.

Decoding a list page (500 pods are some 15,000 dicts and lists) and parsing it into records, or computing the
coverage of 50,000 claims, allocate containers so fast that the collector runs dozens of times per stretch, and
each full collection walks every record the store already holds: at 150,000 objects that was most of a sync's
CPU. None of it is cyclic garbage (records, JSON, results are trees), so the collector finds nothing. Paused, it
runs once right after the stretch instead, over what survived it: nothing is left uncollected. Freeing a container
takes it off the count that starts a collection, so a stretch that also lets go of what it decoded (a list page,
parsed into records and released) leaves the collector only the records to walk.

The collector is process-wide: a stretch restores what it found, so that overlapping stretches (the event loop's
and the render thread's) end with the collector running.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
