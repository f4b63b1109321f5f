"""The baseline: an aiohttp handler that serves fixed bytes from memory, in its own process.

Started with the exact body and headers the exporter answered, so that the only difference between the two
targets under the same load is what the exporter does per scrape beyond writing out bytes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from aiohttp import web


def build(body: bytes, headers: dict[str, str]) -> web.Application:
    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=body, headers=headers)

    async def ready(_: web.Request) -> web.Response:
        return web.Response(text="ready\n")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/readyz", ready)
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--body", type=Path, required=True)
    parser.add_argument("--header", action="append", default=[], help="Name: value")
    args = parser.parse_args(argv)
    headers = dict(h.split(": ", 1) for h in args.header)
    web.run_app(build(args.body.read_bytes(), headers), host="127.0.0.1", port=args.port, access_log=None, print=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
