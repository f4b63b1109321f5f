"""The baseline for a sync: the plainest client that reads the same objects, in its own process.

`python -m benchmarks.rawlist URL PATH [PATH ...]` lists each collection path in pages of 500 (a GET per page,
following metadata.continue), decodes each page with json.loads and walks its items, one collection after the
other. No parsing into records, no store, no watch: what any reader of those objects must at least do. Prints one
JSON object: the seconds from its first request to the last page decoded, and the objects seen per path.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

import aiohttp

PAGE = 500


async def list_all(session: aiohttp.ClientSession, url: str) -> int:
    seen = 0
    token = ""
    while True:
        params = {"limit": str(PAGE), **({"continue": token} if token else {})}
        async with session.get(url, params=params) as resp:
            resp.raise_for_status()
            page = json.loads(await resp.read())
        for item in page["items"]:
            seen += 1 if item["metadata"]["name"] else 0
        token = page["metadata"].get("continue") or ""
        if not token:
            return seen


async def main_async(base: str, paths: list[str]) -> dict[str, object]:
    async with aiohttp.ClientSession() as session:
        started = time.perf_counter()
        counts = {path: await list_all(session, base + path) for path in paths}
        return {"seconds": time.perf_counter() - started, "objects": counts}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("paths", nargs="+")
    args = parser.parse_args(argv)
    print(json.dumps(asyncio.run(main_async(args.url.rstrip("/"), args.paths))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
