"""Velero's label values: how it names a Backup or Restore in the labels of the objects it makes for them.

Velero writes a name into a label (velero.io/backup-name, velero.io/restore-name ...) through
pkg/label.GetValidName (the same in 1.12 through 1.18): a name of at most 63 characters (a label value's limit)
unchanged, a longer one cut to 57 characters and followed by the first six hex digits of its SHA-256. A join of
those objects to their Backup must compare with the same value, or it misses backups with long names.
"""

from __future__ import annotations

import hashlib

LABEL_VALUE_MAX = 63  # k8s.io/apimachinery validation.DNS1035LabelMaxLength
HASH_DIGITS = 6


def label_value(name: str) -> str:
    """The value Velero gives a label naming an object (label.GetValidName)."""
    if len(name) <= LABEL_VALUE_MAX:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()
    return name[: LABEL_VALUE_MAX - HASH_DIGITS] + digest[:HASH_DIGITS]
