"""The command line: flags in the Prometheus exporter style, and the check-config, demo and report commands."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections.abc import Sequence

from velero_exporter import __version__
from velero_exporter.app import DEFAULT_PORT, Exporter, Options, StartupError, parse_listen_address
from velero_exporter.config.file import ConfigError, load_config
from velero_exporter.config.settings import Config
from velero_exporter.exposition.http import check_telemetry_path
from velero_exporter.exposition.web_config import WebConfig, load_web_config
from velero_exporter.logs import FORMATS, LEVELS, setup_logging
from velero_exporter.model.objectives import objective_warnings
from velero_exporter.report.command import add_arguments as add_report_arguments
from velero_exporter.report.command import run as run_report

log = logging.getLogger("velero_exporter")


def _add_logging_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--log.level", dest="log_level", choices=LEVELS, default="info")
    parser.add_argument("--log.format", dest="log_format", choices=FORMATS, default="logfmt")


def _add_exporter_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="YAML configuration file (default: the DR plan's five tiers)")
    parser.add_argument(
        "--web.listen-address",
        dest="listen_address",
        default=f":{DEFAULT_PORT}",
        help=f"address to serve metrics on (default :{DEFAULT_PORT})",
    )
    parser.add_argument("--web.telemetry-path", dest="telemetry_path", default="/metrics")
    parser.add_argument(
        "--web.config.file",
        dest="web_config_file",
        help="TLS and basic auth, in the Prometheus exporter-toolkit's web configuration format",
    )
    parser.add_argument(
        "--web.health-address",
        dest="health_address",
        help="also serve /healthz and /readyz here, plain HTTP without auth (for the kubelet's probes)",
    )
    _add_logging_flags(parser)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="velero-exporter",
        description="Prometheus exporter that tells whether Velero backups meet their RPO and RTO objectives.",
    )
    parser.add_argument("--version", action="version", version=f"velero-exporter {__version__}")
    _add_exporter_flags(parser)
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: in-cluster, then $KUBECONFIG)")
    parser.add_argument("--context", help="kubeconfig context (default: the current one)")
    parser.add_argument("--namespace", default="velero", help="Velero's namespace (default velero)")
    commands = parser.add_subparsers(dest="command")
    check = commands.add_parser("check-config", help="validate a configuration file and exit")
    check.add_argument("file")
    demo = commands.add_parser("demo", help="run on the built-in sandbox: no cluster, no AWS account")
    _add_exporter_flags(demo)
    demo.add_argument(
        "--clusters",
        type=int,
        choices=(1, 2),
        default=1,
        help="2: the seed's primary and DR clusters, each with its exporter and a Prometheus agent remote-writing "
        "to a central Prometheus (default 1)",
    )
    report = commands.add_parser(
        "report",
        help="write a compliance report from the exporter's history in Prometheus",
        description="RPO compliance, violations, restores, drills, DR freshness and alerts over a window, from "
        "the exporter's series in Prometheus (or Thanos Query, Mimir). See docs/reports.md.",
    )
    add_report_arguments(report)
    return parser


def check_config(path: str) -> int:
    try:
        config = load_config(path)
    except ConfigError as exc:
        print(f"velero-exporter: {exc}", file=sys.stderr)
        return 1
    warnings = objective_warnings(config, now=time.time())
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    tiers = ", ".join(config.tier_names)
    print(f"{path}: ok ({len(config.tiers)} tiers: {tiers}; {len(warnings)} objective warnings)")
    return 0


async def _serve_until_stopped(exporter: Exporter) -> None:
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    async with exporter:
        waiter = asyncio.create_task(exporter.wait())
        stopper = asyncio.create_task(stopping.wait())
        done, _ = await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
        for task in (waiter, stopper):
            task.cancel()
        if waiter in done and not waiter.cancelled() and waiter.exception() is not None:
            raise waiter.exception()  # type: ignore[misc]
    log.info("stopped")


def _load(path: str | None) -> Config:
    return load_config(path) if path else Config()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "check-config":
        return check_config(args.file)
    if args.command == "report":
        return run_report(args)
    setup_logging(args.log_level, args.log_format)
    try:
        config = _load(args.config)
        host, port = parse_listen_address(args.listen_address)
        telemetry_path = check_telemetry_path(args.telemetry_path)
        health_address = (
            parse_listen_address(args.health_address, "--web.health-address") if args.health_address else None
        )
        web_config = load_web_config(args.web_config_file) if args.web_config_file else WebConfig()
    except (ConfigError, ValueError) as exc:
        print(f"velero-exporter: {exc}", file=sys.stderr)
        return 1
    try:
        with contextlib.suppress(KeyboardInterrupt):
            if args.command == "demo":
                from velero_exporter.sandbox.demo import run_demo  # noqa: PLC0415 (production never loads the sandbox)

                asyncio.run(
                    run_demo(
                        config if args.config else None,
                        host,
                        port,
                        telemetry_path,
                        web_config=web_config,
                        clusters=args.clusters,
                    )
                )
                return 0
            options = Options(
                listen_host=host,
                listen_port=port,
                telemetry_path=telemetry_path,
                kubeconfig=args.kubeconfig,
                context=args.context,
                namespace=args.namespace,
                web_config=web_config,
                health_address=health_address,
            )
            asyncio.run(_serve_until_stopped(Exporter(config, options)))
    except StartupError as exc:
        print(f"velero-exporter: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
