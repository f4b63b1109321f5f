"""Exponential backoff with full jitter: the reflectors' retries and the renderer's."""

from __future__ import annotations

import random
import time


class Backoff:
    """Exponential backoff with full jitter, reset after `reset_after` seconds without a failure."""

    def __init__(self, initial: float, maximum: float, rng: random.Random, reset_after: float) -> None:
        self.initial = initial
        self.maximum = maximum
        self.reset_after = reset_after
        self._rng = rng
        self._attempt = 0
        self._last_failure: float | None = None

    def next(self) -> float:
        now = time.monotonic()
        if self._last_failure is not None and now - self._last_failure > self.reset_after:
            self._attempt = 0
        self._last_failure = now
        cap = min(self.maximum, self.initial * (2**self._attempt))
        self._attempt = min(self._attempt + 1, 32)
        return self._rng.uniform(0, cap)
