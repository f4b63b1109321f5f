"""moto in server mode: S3, EC2, CloudWatch and STS over HTTP on 127.0.0.1, for tests, the demo and benchmarks.

The exporter reaches it as it would reach AWS, through AWS_ENDPOINT_URL. moto runs in a child process (`python -m
moto.server`, port 0), so that its state is its own and it does not share this process's interpreter lock with
the exporter under test.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import urllib.request
from typing import IO, Any

import boto3

# What moto accepts; the exporter finds them in the environment like any credentials.
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
_LISTENING = re.compile(r"Running on (http://127\.0\.0\.1:[0-9]+)")
START_TIMEOUT = 30.0


class MotoServerError(RuntimeError):
    pass


class MotoServer:
    def __init__(self) -> None:
        self._process: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self) -> str:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", "0"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self._process.stderr is not None
        found = threading.Event()
        threading.Thread(target=self._read_log, args=(self._process.stderr, found), daemon=True).start()
        if not found.wait(START_TIMEOUT) or not self.url:
            self.stop()
            raise MotoServerError("moto.server did not start listening")
        return self.url

    def _read_log(self, stream: IO[str], found: threading.Event) -> None:
        """Find the port werkzeug reports, then keep draining its request log so that moto never blocks on it."""
        for line in stream:
            if not found.is_set() and (match := _LISTENING.search(line)):
                self.url = match.group(1)
                found.set()
        found.set()  # the process ended

    def reset(self) -> None:
        """Forget every bucket, snapshot and metric."""
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=10)

    def client(self, service: str, region: str = "us-east-1") -> Any:
        """A boto3 client talking straight to moto (not through any proxy), for laying out fixtures."""
        return boto3.client(
            service,
            region_name=region,
            endpoint_url=self.url,
            aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )


def aws_environment(endpoint_url: str) -> dict[str, str]:
    """The environment that points boto3 at endpoint_url with dummy credentials and nothing else: no profile,
    no instance metadata (which would take seconds to time out)."""
    return {
        **DUMMY_CREDENTIALS,
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
