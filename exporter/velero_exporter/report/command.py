"""`velero-exporter report`: its flags, and the run from flags to the written report.

A client of Prometheus' query API, not part of the exporter: it needs no cluster and no configuration file,
only a Prometheus-compatible endpoint that holds the exporter's series.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit, urlunsplit

from velero_exporter import __version__
from velero_exporter.mixin.config import DEFAULT as MIXIN
from velero_exporter.report.document import Report
from velero_exporter.report.evidence import Selection, assemble, expressions
from velero_exporter.report.prometheus import Connection, Progress, PrometheusClient, QueryError
from velero_exporter.report.render_csv import render_csv
from velero_exporter.report.render_html import render_html
from velero_exporter.report.render_json import render_json
from velero_exporter.report.render_markdown import render_markdown
from velero_exporter.report.window import Window, WindowError, make_window

RENDERERS: dict[str, Callable[[Report], str]] = {
    "html": render_html,
    "json": render_json,
    "csv": render_csv,
    "markdown": render_markdown,
}
SUFFIXES = {".html": "html", ".htm": "html", ".json": "json", ".csv": "csv", ".md": "markdown"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--prometheus", required=True, metavar="URL", help="Prometheus, Thanos Query or Mimir URL")
    parser.add_argument("--from", dest="start", default="30d", help="RFC 3339 time or duration before now (30d)")
    parser.add_argument("--to", dest="end", default="now", help="RFC 3339 time or duration before now (now)")
    parser.add_argument("--step", default="1m", help="resolution; at least the scrape interval (1m)")
    parser.add_argument("--cluster", help="report on this cluster only (the cluster label's value)")
    parser.add_argument(
        "--cluster-label",
        default=MIXIN.cluster_label,
        help=f"the label that tells clusters apart ({MIXIN.cluster_label}, as the mixin's rules)",
    )
    parser.add_argument("--format", choices=sorted(RENDERERS), help="default: from --output's suffix, else json")
    parser.add_argument("--output", metavar="FILE", help="write the report here (default: standard output)")
    tls = parser.add_argument_group("TLS and authentication")
    tls.add_argument("--ca-file", help="CA certificates to verify Prometheus' certificate")
    tls.add_argument("--cert-file", help="client certificate (with --key-file)")
    tls.add_argument("--key-file", help="client certificate's key")
    tls.add_argument("--insecure-skip-verify", action="store_true", help="do not verify Prometheus' certificate")
    tls.add_argument("--bearer-token-file", help="file holding a bearer token")
    tls.add_argument("--basic-auth-user", help="basic auth user name")
    tls.add_argument("--basic-auth-password-file", help="file holding the basic auth password")
    tls.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra HTTP header, repeatable (Mimir's tenant: X-Scope-OrgID=<tenant>)",
    )


def _headers(values: list[str]) -> tuple[tuple[str, str], ...]:
    headers = []
    for value in values:
        name, sep, content = value.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--header {value!r}: write it as NAME=VALUE")
        headers.append((name.strip(), content))
    return tuple(headers)


def connection(args: argparse.Namespace) -> Connection:
    if bool(args.cert_file) != bool(args.key_file):
        raise ValueError("--cert-file and --key-file go together")
    if args.basic_auth_password_file and not args.basic_auth_user:
        raise ValueError("--basic-auth-password-file needs --basic-auth-user")
    if args.bearer_token_file and args.basic_auth_user:
        raise ValueError("--bearer-token-file and --basic-auth-user exclude each other (one Authorization header)")
    return Connection(
        url=args.prometheus,
        ca_file=args.ca_file,
        cert_file=args.cert_file,
        key_file=args.key_file,
        insecure=args.insecure_skip_verify,
        bearer_token_file=args.bearer_token_file,
        basic_auth_user=args.basic_auth_user,
        basic_auth_password_file=args.basic_auth_password_file,
        headers=_headers(args.header),
    )


def without_credentials(url: str) -> str:
    """The URL as the report may show it: no user or password."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))


async def gather(
    conn: Connection, window: Window, selection: Selection, *, now: float, progress: Progress | None = None
) -> Report:
    async with PrometheusClient(conn) as client:
        rows = await client.rows(expressions(selection, window), window, progress)
    return assemble(
        rows,
        window,
        selection,
        generated_at=now,
        source=without_credentials(conn.url),
        generator=f"velero-exporter {__version__}",
    )


def terminal_progress(stream: TextIO) -> Progress | None:
    """Chunks answered so far, on one line, where a person watches; nothing in a pipe or a log."""
    if not stream.isatty():
        return None

    def show(done: int, total: int) -> None:
        end = "\n" if done == total else ""
        print(f"\rquerying Prometheus: {done}/{total} range queries", end=end, file=stream, flush=True)

    return show


def output_format(args: argparse.Namespace) -> str:
    if args.format:
        return str(args.format)
    if args.output:
        return SUFFIXES.get(Path(args.output).suffix.lower(), "json")
    return "json"


def run(args: argparse.Namespace) -> int:
    now = time.time()
    try:
        window = make_window(args.start, args.end, args.step, now)
        conn = connection(args)
        selection = Selection(args.cluster_label, args.cluster)
        report = asyncio.run(gather(conn, window, selection, now=now, progress=terminal_progress(sys.stderr)))
        text = RENDERERS[output_format(args)](report)
        if args.output:
            Path(args.output).write_text(text, encoding="utf-8")
        else:
            sys.stdout.write(text)
    except (WindowError, QueryError, ValueError, OSError) as exc:
        print(f"velero-exporter report: {exc}", file=sys.stderr)
        return 1
    return 0
