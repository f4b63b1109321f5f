"""A Velero release as the exporter models it: (major, minor), 1.12 to 1.18 (config: velero_version, read and
checked by config/file.py).

Where Velero's behaviour differs between releases (which namespace patterns a backup accepts, which volume policy
conditions and actions exist), the configured release decides.
"""

from __future__ import annotations

VeleroVersion = tuple[int, int]
