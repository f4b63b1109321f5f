"""Basic auth under a password-guessing flood: an authorised scraper's latency, alone and while N connections
send wrong passwords as fast as they are answered (each a new one, so that no answer is cached).

The attackers run in their own process (`python -m benchmarks.auth_flood URL USER CONNECTIONS`) so that their
CPU does not share an event loop with the measured scraper's: it prints "connected" once every connection is
open, guesses until its standard input closes, then prints how many answers it got.
"""

from __future__ import annotations

import asyncio
import base64
import os
import statistics
import sys
import time
from dataclasses import dataclass

import aiohttp


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@dataclass(frozen=True, slots=True)
class Flood:
    unloaded_ms: float  # median latency of the authorised scrapes alone
    loaded_ms: float  # ... while the attackers guess
    guesses: int  # answers the attackers got
    attackers: int

    @property
    def ratio(self) -> float:
        return self.loaded_ms / self.unloaded_ms


async def _guesser(
    connection: tuple[asyncio.StreamReader, asyncio.StreamWriter], host: str, path: str, user: str, answers: list[int]
) -> None:
    """One attacking connection: keep-alive requests with a new wrong password each, until cancelled; each
    answer is counted in `answers`."""
    reader, writer = connection
    try:
        while True:
            password = base64.b64encode(os.urandom(12)).decode()
            writer.write(
                f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {basic(user, password)}\r\n\r\n".encode()
            )
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
            await reader.readexactly(length)
            answers.append(1)
    except (ConnectionError, asyncio.IncompleteReadError):
        pass  # the server closed the connection: this attacker is done
    finally:
        writer.close()


async def attack(url: str, user: str, connections: int) -> int:
    rest = url.split("://", 1)[1]
    address, _, path = rest.partition("/")
    host, _, port = address.rpartition(":")
    opened = [await asyncio.open_connection(host, int(port)) for _ in range(connections)]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_reader(sys.stdin.fileno(), stop.set)  # the parent closes our stdin: time to stop
    answers: list[int] = []
    guessers = [asyncio.create_task(_guesser(c, host, "/" + path, user, answers)) for c in opened]
    print("connected", flush=True)
    await stop.wait()
    for task in guessers:
        task.cancel()  # a guess still queued behind the others' bcrypt is not waited for
    await asyncio.gather(*guessers, return_exceptions=True)
    return len(answers)


async def scrape_latencies(http: aiohttp.ClientSession, url: str, header: str, seconds: float) -> list[float]:
    """Sequential authorised scrapes, 20 a second, for `seconds`: each one's latency in seconds."""
    latencies = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        started = time.perf_counter()
        async with http.get(url, headers={"Authorization": header}) as resp:
            assert resp.status == 200, resp.status
            await resp.read()
        latencies.append(time.perf_counter() - started)
        await asyncio.sleep(0.05)
    return latencies


async def measure(url: str, user: str, password: str, *, attackers: int = 64, seconds: float = 5.0) -> Flood:
    """The authorised scraper's median latency alone, then under `attackers` guessing connections."""
    header = basic(user, password)
    async with aiohttp.ClientSession() as http:
        await scrape_latencies(http, url, header, 0.5)  # the first check pays bcrypt once; then it is cached
        unloaded = await scrape_latencies(http, url, header, seconds)
        flood = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "benchmarks.auth_flood",
            url,
            user,
            str(attackers),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert flood.stdout is not None and flood.stdin is not None
        assert await flood.stdout.readline() == b"connected\n"
        await asyncio.sleep(0.5)  # the bcrypt queue fills
        loaded = await scrape_latencies(http, url, header, seconds)
        flood.stdin.close()
        out, _ = await flood.communicate()
    return Flood(statistics.median(unloaded) * 1000, statistics.median(loaded) * 1000, int(out), attackers)


def main(argv: list[str]) -> int:
    url, user, connections = argv
    print(asyncio.run(attack(url, user, int(connections))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
