"""The endpoint under abuse: it keeps answering everyone else, and bad requests get clean HTTP errors."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import sys
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.test_metric_values import fixture_objects, load
from velero_exporter.config.settings import Config, Limits
from velero_exporter.exposition.http import AcceptErrors, build_app, serve
from velero_exporter.exposition.payload import Exposition, Payload
from velero_exporter.exposition.renderer import Renderer
from velero_exporter.metrics.collector import Families


@pytest.fixture
async def endpoint() -> AsyncIterator[tuple[str, int, bytes]]:
    store = load(fixture_objects())
    exposition = Exposition()
    renderer = Renderer(store, Config(), exposition, version="test")
    await renderer.render_now()
    assert exposition.current is not None
    body = exposition.current.body("text", False)
    runner = await serve(build_app(exposition), "127.0.0.1", 0)
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


# --- clients that never finish, too many clients, and what the server says about itself ----------------------


@contextlib.asynccontextmanager
async def limited(limits: Limits) -> AsyncIterator[tuple[str, int]]:
    exposition = Exposition()
    exposition.publish(Payload(Families([]), 0.0, "<p>status</p>"))
    runner = await serve(build_app(exposition), "127.0.0.1", 0, limits=limits)
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}", port
    finally:
        await runner.cleanup()


async def closed_by_server(reader: asyncio.StreamReader, within: float) -> bool:
    """True when the server closes the connection (EOF, or a reset) within the time."""
    try:
        async with asyncio.timeout(within):
            while await reader.read(1024):
                pass
    except TimeoutError:
        return False
    except ConnectionError:
        pass
    return True


async def test_clients_without_a_complete_request_are_disconnected() -> None:
    """Sockets that never sent a byte were once open 6 minutes later; 1,100 of them exhausted the descriptors."""
    async with limited(Limits(request_timeout_seconds=1.0)) as (url, port):
        silent = [await asyncio.open_connection("127.0.0.1", port) for _ in range(20)]
        slow = []
        for _ in range(5):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # and never the end of the headers
            slow.append((reader, writer))
        # a keep-alive client that got its answer, then dribbles the next request
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await reader.readuntil(b"ok\n")).startswith(b"HTTP/1.1 200")
        writer.write(b"GET /metrics HTTP/1.1\r\n")
        started = time.monotonic()
        results = await asyncio.gather(*(closed_by_server(r, 10) for r, _ in [*silent, *slow, (reader, writer)]))
        assert all(results)
        assert time.monotonic() - started < 5  # about the 1 s timeout, with room for a slow machine
        async with aiohttp.ClientSession() as http, http.get(f"{url}/metrics") as resp:
            assert resp.status == 200
        for _, w in [*silent, *slow, (reader, writer)]:
            w.close()


async def test_past_the_connection_cap_new_clients_get_503_and_the_rest_are_served(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with limited(Limits(connections=10)) as (url, port):
        held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(10)]
        await asyncio.sleep(0.1)
        refused = []
        for _ in range(50):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            refused.append((reader, writer))
        answers = [await asyncio.wait_for(r.read(), 5) for r, _ in refused]
        assert {a.split(b"\r\n")[0] for a in answers} == {b"HTTP/1.1 503 Service Unavailable"}
        lines = [r.getMessage() for r in caplog.records if "connection_refused" in r.getMessage()]
        assert len(lines) == 1  # 50 refusals in well under a second: one line, with its count
        assert "limit=10 count=1" in lines[0]
        for _, writer in held[:5]:
            writer.close()
        await asyncio.sleep(0.2)
        async with aiohttp.ClientSession() as http, http.get(f"{url}/metrics") as resp:
            assert resp.status == 200
        for _, writer in [*held, *refused]:
            writer.close()


def test_accept_errors_are_logged_once_a_second_with_a_count(caplog: pytest.LogCaptureFixture) -> None:
    handler = AcceptErrors()
    loop = asyncio.new_event_loop()
    try:
        error = OSError(errno.EMFILE, "Too many open files")
        for _ in range(1000):
            handler(loop, {"message": "socket.accept() out of system resource", "exception": error})
        lines = [r.getMessage() for r in caplog.records]
        assert lines == ["event=accept_failed error=OSError count=1"]
        time.sleep(1.0)
        handler(loop, {"message": "socket.accept() out of system resource", "exception": error})
        assert [r.getMessage() for r in caplog.records][1] == "event=accept_failed error=OSError count=1000"
    finally:
        loop.close()


ACCEPT_FLOOD = """
import asyncio, resource, sys
from velero_exporter.config.settings import Limits
from velero_exporter.exposition.http import AcceptErrors, build_app, serve
from velero_exporter.exposition.payload import Exposition
from velero_exporter.logs import setup_logging

async def main():
    setup_logging()
    asyncio.get_running_loop().set_exception_handler(AcceptErrors())
    # the cap far above the open-file limit: what the descriptors' exhaustion itself looks like
    runner = await serve(build_app(Exposition()), "127.0.0.1", 0, limits=Limits(connections=10_000))
    print(runner.addresses[0][1], flush=True)
    await asyncio.sleep(float(sys.argv[1]))
    await runner.cleanup()

resource.setrlimit(resource.RLIMIT_NOFILE, (48, 48))
asyncio.run(main())
"""


async def test_running_out_of_descriptors_logs_a_line_a_second_not_one_per_attempt() -> None:
    """1,100 idle sockets once made the log take 148,219 "Too many open files" lines in 30 s."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", ACCEPT_FLOOD, "4", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None
    port = int(await asyncio.wait_for(proc.stdout.readline(), 30))
    sockets = []
    for _ in range(150):  # far past 48 descriptors; the kernel's backlog queues what the server cannot accept
        try:
            sockets.append(await asyncio.open_connection("127.0.0.1", port))
        except ConnectionRefusedError:  # the backlog is full too
            break
    assert len(sockets) > 60
    _, stderr = await asyncio.wait_for(proc.communicate(), 30)
    for _, writer in sockets:
        writer.close()
    lines = stderr.decode().splitlines()
    assert lines, "the exhaustion must be reported"
    assert all("event=accept_failed error=OSError" in line for line in lines)
    assert len(lines) <= 6  # at most one a second over the 4 s run
    assert "Traceback" not in stderr.decode()


async def test_no_server_header_names_a_version(endpoint: tuple[str, int, bytes]) -> None:
    _, port, _ = endpoint
    for request in (
        b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n",
        b"BREW /metrics HTCPCP/1.0\r\n\r\n",  # answered by aiohttp's parser, before any handler
    ):
        answer = await raw(port, request)
        headers = answer.split(b"\r\n\r\n")[0].split(b"\r\n")[1:]
        server = [h for h in headers if h.lower().startswith(b"server:")]
        assert server == [b"Server: velero-exporter"], answer
