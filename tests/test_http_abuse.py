"""The endpoint under abuse: it keeps answering everyone else, and bad requests get clean HTTP errors."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.test_metric_values import fixture_objects, load
from velero_exporter.config.settings import Config
from velero_exporter.exposition.http import build_app, serve
from velero_exporter.exposition.payload import Exposition
from velero_exporter.exposition.renderer import Renderer


@pytest.fixture
async def endpoint() -> AsyncIterator[tuple[str, int, bytes]]:
    store = load(fixture_objects())
    exposition = Exposition()
    renderer = Renderer(store, Config(), exposition, version="test")
    await renderer.render_now()
    assert exposition.current is not None
    body = exposition.current.body("text", False)
    runner = await serve(build_app(exposition, ready=lambda: True), "127.0.0.1", 0)
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}", port, body
    finally:
        await runner.cleanup()


async def raw(port: int, data: bytes, *, read: bool = True) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(200), 10) if read else b""
    writer.close()
    return answer


async def test_many_concurrent_scrapes_get_the_same_bytes(endpoint: tuple[str, int, bytes]) -> None:
    url, _, body = endpoint
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def scrape() -> bytes:
            async with http.get(f"{url}/metrics", headers={"Accept-Encoding": "identity"}) as resp:
                assert resp.status == 200
                return await resp.read()

        bodies = await asyncio.gather(*(scrape() for _ in range(300)))
    assert set(bodies) == {body}


async def test_slow_clients_do_not_block_others(endpoint: tuple[str, int, bytes]) -> None:
    url, port, _ = endpoint
    slow: list[asyncio.StreamWriter] = []
    for _ in range(50):
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # and never finish the headers
        slow.append(writer)
    try:
        async with aiohttp.ClientSession() as http:
            started = time.monotonic()
            async with http.get(f"{url}/metrics") as resp:
                assert resp.status == 200
                await resp.read()
            assert time.monotonic() - started < 5
    finally:
        for writer in slow:
            writer.close()


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", b"400"),
        (b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 100_000 + b"\r\n\r\n", b"400"),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n", b"400"),
        (b"BREW /metrics HTCPCP/1.0\r\n\r\n", b"400"),
        (b"GET /metrics HTTP/1.1\r\nContent-Length: -5\r\n\r\n", b"400"),
    ],
)
async def test_malformed_and_oversized_requests(
    endpoint: tuple[str, int, bytes], request_bytes: bytes, status: bytes
) -> None:
    url, port, body = endpoint
    answer = await raw(port, request_bytes)
    assert answer.split(b" ")[1] == status
    async with aiohttp.ClientSession() as http, http.get(f"{url}/metrics") as resp:
        assert resp.status == 200
        assert await resp.read() == body


async def test_unknown_paths_and_methods(endpoint: tuple[str, int, bytes]) -> None:
    url, _, _ = endpoint
    async with aiohttp.ClientSession() as http:
        for method, path, status in (
            ("GET", "/nope", 404),
            ("GET", "/metrics/../../etc/passwd", 404),
            ("PUT", "/metrics", 405),
            ("DELETE", "/", 405),
            ("POST", "/healthz", 405),
            ("HEAD", "/metrics", 200),
        ):
            async with http.request(method, f"{url}{path}") as resp:
                assert (method, path, resp.status) == (method, path, status)
        # a large body on a GET is not read into memory
        async with http.get(f"{url}/metrics", data=b"x" * 5_000_000) as resp:
            assert resp.status == 200
