"""The command line as an operator meets it: every bad start-up input is one line on stderr and exit 1, never a
traceback (a traceback in a pod's log says "bug", when the fix is in the operator's hands)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.test_web_config import PASSWORD, basic, encrypted_key, make_cert, write_web_config

# No tiers: no objective warnings, so that stderr holds the error alone.
NO_TIERS = "tiers: {}\n"
KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "http://127.0.0.1:9"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: c, user: u, namespace: velero}}]
current-context: c
"""


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "velero_exporter.cli", "--log.level=warn", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "KUBERNETES_SERVICE_HOST": ""},
        check=False,
    )


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def files(tmp_path: Path) -> dict[str, Path]:
    make_cert(tmp_path)
    encrypted_key(tmp_path)
    written = {
        "config": NO_TIERS,
        "kubeconfig": KUBECONFIG,
        "deep": "tiers: " + "[" * 100_000 + "]" * 100_000 + "\n",
        "digits": "limits:\n  connections: " + "9" * 5000 + "\n",
        "web": "tls_server_config: {cert_file: tls.crt, key_file: encrypted.key}\n",
    }
    for name, text in written.items():
        (tmp_path / name).write_text(text)
    return {name: tmp_path / name for name in written}


def test_each_bad_start_up_input_is_one_line(tmp_path: Path, taken_port: int) -> None:
    f = files(tmp_path)
    base = [f"--config={f['config']}", f"--kubeconfig={f['kubeconfig']}", "--web.listen-address=127.0.0.1:0"]
    cases = {
        "encrypted TLS key": (
            [*base, f"--web.config.file={f['web']}"],
            f"velero-exporter: {f['web']}: tls_server_config.key_file: the key is encrypted: give an unencrypted "
            "key (the exporter has no passphrase)",
        ),
        "port in use": (
            [*base, f"--web.listen-address=127.0.0.1:{taken_port}"],
            f"velero-exporter: cannot listen on 127.0.0.1:{taken_port}: Address already in use",
        ),
        "bad telemetry path": (
            [*base, "--web.telemetry-path=metrics"],
            "velero-exporter: --web.telemetry-path: 'metrics' is not a path such as /metrics (it starts with '/', "
            "has no spaces, '?' or '#', and is none of /, /healthz, /readyz)",
        ),
        "telemetry path on another endpoint": ([*base, "--web.telemetry-path=/healthz"], "is none of /, /healthz"),
        "100k-deep YAML": (
            [f"--config={f['deep']}", *base[1:]],
            f"velero-exporter: {f['deep']}: invalid YAML: nested too deeply",
        ),
        "5,000-digit integer": (
            [f"--config={f['digits']}", *base[1:]],
            f"velero-exporter: {f['digits']}: invalid YAML: Exceeds the limit (4300 digits) for integer string "
            "conversion",
        ),
        "no kubeconfig": (
            [base[0], f"--kubeconfig={tmp_path / 'missing'}", base[2]],
            "velero-exporter: cannot load the Kubernetes configuration: ",
        ),
    }
    for case, (args, expected) in cases.items():
        result = run(*args)
        assert result.returncode == 1, (case, result.stderr)
        assert "Traceback" not in result.stderr, case
        (line,) = result.stderr.splitlines()
        assert line.startswith(expected) if expected.endswith(": ") else expected in line, (case, line)


def test_check_config_is_one_line_too(tmp_path: Path) -> None:
    f = files(tmp_path)
    for name in ("deep", "digits"):
        result = subprocess.run(
            [sys.executable, "-m", "velero_exporter.cli", "check-config", str(f[name])],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 1
        assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr


async def test_demo_honours_the_web_config(tmp_path: Path) -> None:
    """`demo --web.config.file` was once silently ignored: the demo served plain HTTP to anyone."""
    web = write_web_config(tmp_path)  # TLS and basic auth
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "velero_exporter.cli",
        "demo",
        f"--web.config.file={web}",
        f"--web.listen-address=127.0.0.1:{port}",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    try:
        lines: list[str] = []
        async with asyncio.timeout(120):
            while not any("prometheus:" in line for line in lines):
                lines.append((await proc.stdout.readline()).decode())
        assert f"https://127.0.0.1:{port}/" in "".join(lines)
        assert any("prometheus:       not started (--web.config.file" in line for line in lines)
        tls = ssl.create_default_context(cafile=str(tmp_path / "tls.crt"))
        tls.check_hostname = False  # the test certificate names localhost
        async with aiohttp.ClientSession() as http:
            async with http.get(f"https://127.0.0.1:{port}/metrics", ssl=tls) as resp:
                assert resp.status == 401
            async with http.get(
                f"https://127.0.0.1:{port}/healthz", ssl=tls, headers=basic("prometheus", PASSWORD)
            ) as resp:
                assert resp.status == 200
    finally:
        proc.send_signal(signal.SIGINT)
        await asyncio.wait_for(proc.wait(), 60)


def test_the_demo_runs_one_or_two_clusters() -> None:
    for value, problem in (("3", "invalid choice: 3 (choose from 1, 2)"), ("two", "invalid int value: 'two'")):
        result = run("demo", "--clusters", value)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert result.stderr.splitlines()[-1] == f"velero-exporter demo: error: argument --clusters: {problem}"
