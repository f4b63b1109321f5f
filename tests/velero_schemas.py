"""Velero's object schemas (tests/schemas/<plural>.json, derived by scripts/derive-crd-schemas.py) and a validator for
the objects the sandbox builds.

The stored files are the openAPIV3Schema of Velero's CustomResourceDefinitions with every description removed:
field names, types, formats, enums and required lists, the facts of Velero's API (tests/schemas/README.md says
which release they come from).

Validation is stricter than the API server's in one way: where the schema lists an object's properties, a field it
does not list is an error (the API server would silently prune it, so a sandbox object carrying it would hold data
no Velero ever writes). `metadata`, which the CRDs leave open, is checked against the ObjectMeta fields below.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

Schema = dict[str, Any]
SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
API_VERSION = "velero.io/v1"
# The kinds the exporter reads, by their plural: the files of SCHEMA_DIR.
KINDS = {
    "backups": "Backup",
    "restores": "Restore",
    "schedules": "Schedule",
    "backupstoragelocations": "BackupStorageLocation",
    "volumesnapshotlocations": "VolumeSnapshotLocation",
    "podvolumebackups": "PodVolumeBackup",
    "podvolumerestores": "PodVolumeRestore",
    "datauploads": "DataUpload",
    "datadownloads": "DataDownload",
    "backuprepositories": "BackupRepository",
}
# Each kind's group version: velero.io/v1, but for the data movers' (Velero 1.12+).
API_VERSIONS = {
    plural: "velero.io/v2alpha1" if plural in ("datauploads", "datadownloads") else API_VERSION for plural in KINDS
}
# Each kind's schema as stored, by plural.
SCHEMA: dict[str, Schema] = {plural: json.loads((SCHEMA_DIR / f"{plural}.json").read_text()) for plural in KINDS}

# Kubernetes' ObjectMeta as the API server serves it (k8s.io/apimachinery/pkg/apis/meta/v1), the fields objects
# carry; the CRDs declare metadata only as `type: object`.
_STRING_MAP: Schema = {"type": "object", "additionalProperties": {"type": "string"}}
_TIME: Schema = {"type": "string", "format": "date-time"}
OBJECT_META: Schema = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "generateName": {"type": "string"},
        "namespace": {"type": "string"},
        "uid": {"type": "string"},
        "resourceVersion": {"type": "string"},
        "generation": {"type": "integer"},
        "creationTimestamp": _TIME,
        "deletionTimestamp": _TIME,
        "deletionGracePeriodSeconds": {"type": "integer"},
        "labels": _STRING_MAP,
        "annotations": _STRING_MAP,
        "finalizers": {"type": "array", "items": {"type": "string"}},
        "ownerReferences": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["apiVersion", "kind", "name", "uid"],
                "additionalProperties": False,
                "properties": {
                    "apiVersion": {"type": "string"},
                    "kind": {"type": "string"},
                    "name": {"type": "string"},
                    "uid": {"type": "string"},
                    "controller": {"type": "boolean"},
                    "blockOwnerDeletion": {"type": "boolean"},
                },
            },
        },
        "managedFields": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "manager": {"type": "string"},
                    "operation": {"type": "string", "enum": ["Apply", "Update"]},
                    "apiVersion": {"type": "string"},
                    "time": _TIME,
                    "fieldsType": {"type": "string", "enum": ["FieldsV1"]},
                    "fieldsV1": {"type": "object"},
                    "subresource": {"type": "string"},
                },
            },
        },
    },
}


def _strict(schema: Schema) -> Schema:
    """Kubernetes' structural schema as JSON Schema, closed where it lists properties (see the module's doc)."""
    out: Schema = {}
    for key, value in schema.items():
        if key == "properties":
            out[key] = {name: _strict(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = _strict(value)
        elif key in ("anyOf", "allOf", "oneOf"):
            out[key] = [_strict(sub) for sub in value]
        elif key.startswith("x-kubernetes-"):
            continue
        else:
            out[key] = value
    if schema.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    if (
        "properties" in schema
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    out.pop("nullable", None)
    return out


@cache
def schemas() -> dict[tuple[str, str], Schema]:
    """The stored schemas by (apiVersion, kind), made strict and with metadata checked."""
    found: dict[tuple[str, str], Schema] = {}
    for plural, kind in KINDS.items():
        schema = _strict(SCHEMA[plural])
        schema["properties"]["metadata"] = OBJECT_META
        schema["required"] = sorted({*schema.get("required", ()), "apiVersion", "kind", "metadata"})
        schema["properties"]["apiVersion"] = {"const": API_VERSIONS[plural]}
        schema["properties"]["kind"] = {"const": kind}
        found[API_VERSIONS[plural], kind] = schema
    return found


def violations(obj: Mapping[str, Any]) -> list[str]:
    """What in one object Velero's schema rejects, one line per problem (empty: it validates)."""
    key = (obj.get("apiVersion"), obj.get("kind"))
    schema = schemas().get(key)  # type: ignore[arg-type]
    if schema is None:
        return [f"no Velero schema for apiVersion {key[0]!r} kind {key[1]!r}"]
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    name = obj.get("metadata", {}).get("name", "?")
    return [
        f"{key[1]} {name}: {'.'.join(str(p) for p in error.absolute_path) or '(root)'}: {error.message}"
        for error in sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path)))
    ]
