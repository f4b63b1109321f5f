"""Logging set-up: one line per event, logfmt or JSON (--log.format), as Prometheus exporters do."""

from __future__ import annotations

import json
import logging
import sys
import time

LEVELS = ("debug", "info", "warn", "error")
FORMATS = ("logfmt", "json")


def logfmt_value(value: str) -> str:
    """A value as logfmt writes it: bare when it can be, else quoted, with backslashes, quotes and newlines
    escaped (so that a value from a peer, an error's text, stays on its line and in its field)."""
    if value and not any(c in value for c in ' "=\n'):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _timestamp(record: logging.LogRecord) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"


class LogfmtFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = (
            f"ts={_timestamp(record)} level={record.levelname.lower()} "
            f"logger={record.name} msg={logfmt_value(record.getMessage())}"
        )
        if record.exc_info:
            line += " error=" + logfmt_value(repr(record.exc_info[1]))
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["error"] = repr(record.exc_info[1])
        return json.dumps(entry)


def setup_logging(level: str = "info", fmt: str = "logfmt") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else LogfmtFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel({"warn": logging.WARNING}.get(level, level.upper()))
    # aiohttp's access log and botocore's chatter are not ours to print at info.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("botocore").setLevel(logging.WARNING)
