"""A load generator: N concurrent scrapers, each scraping as fast as it can over its own keep-alive connection.

Runs in its own process (`python -m benchmarks.load URL ...`) so that the client's CPU neither shares an event
loop with the benchmark's fake API server nor skews one target against the other: both the exporter and the
baseline are measured with this same process. Prints one JSON object: latencies in ms and the request rate.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

import aiohttp


async def _scraper(url: str, headers: dict[str, str], warmup_end: float, end: float, out: list[float]) -> int:
    errors = 0
    connector = aiohttp.TCPConnector(limit=1)
    async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as session:
        while (started := time.perf_counter()) < end:
            try:
                async with session.get(url, headers=headers) as resp:
                    await resp.read()
                    ok = resp.status == 200
            except aiohttp.ClientError:
                ok = False
            elapsed = time.perf_counter() - started
            if not ok:
                errors += 1
            elif started >= warmup_end:
                out.append(elapsed * 1000.0)
    return errors


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100.0 * len(ordered) + 0.5)))
    return ordered[rank - 1]


async def run(url: str, concurrency: int, duration: float, warmup: float, headers: dict[str, str]) -> dict[str, float]:
    start = time.perf_counter()
    warmup_end = start + warmup
    end = warmup_end + duration
    latencies: list[float] = []
    errors = await asyncio.gather(*(_scraper(url, headers, warmup_end, end, latencies) for _ in range(concurrency)))
    return {
        "count": len(latencies),
        "errors": sum(errors),
        "p50_ms": percentile(latencies, 50) if latencies else float("nan"),
        "p99_ms": percentile(latencies, 99) if latencies else float("nan"),
        "max_ms": max(latencies) if latencies else float("nan"),
        "rps": len(latencies) / duration,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--header", action="append", default=[], help="Name: value")
    args = parser.parse_args(argv)
    headers = dict(h.split(": ", 1) for h in args.header)
    result = asyncio.run(run(args.url, args.concurrency, args.duration, args.warmup, headers))
    json.dump(result, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
