"""The Velero releases the exporter models (1.12 to 1.18) and how a configuration names one ("1.18", "v1.16.2").

Where Velero's behaviour differs between releases (which namespace patterns a backup accepts, which volume policy
actions exist, how fs-backup and snapshots share a volume), the configured release decides.
"""

from __future__ import annotations

import re

VeleroVersion = tuple[int, int]

OLDEST: VeleroVersion = (1, 12)
NEWEST: VeleroVersion = (1, 18)
SUPPORTED: tuple[VeleroVersion, ...] = tuple((1, minor) for minor in range(OLDEST[1], NEWEST[1] + 1))

_VERSION = re.compile(r"v?(\d+)\.(\d+)(?:\.\d+)?")


def parse_velero_version(text: str) -> VeleroVersion:
    """ "1.18", "1.18.1" or "v1.18.0" as (1, 18); ValueError names the supported releases otherwise."""
    match = _VERSION.fullmatch(text.strip())
    if match is not None and (version := (int(match[1]), int(match[2]))) in SUPPORTED:
        return version
    supported = f"{format_version(OLDEST)} to {format_version(NEWEST)}"
    raise ValueError(f"{text!r} is not a supported Velero release ({supported})")


def format_version(version: VeleroVersion) -> str:
    return f"{version[0]}.{version[1]}"
