"""Velero's object schemas (tests/schemas/velero/), and a validator for the objects the sandbox builds.

The stored files are the openAPIV3Schema of Velero's CustomResourceDefinitions with every description removed:
field names, types, formats, enums and required lists, the facts of Velero's API (tests/schemas/velero/README.md
says which release they come from). `python -m tests.velero_schemas CRD_DIR` derives them again from a folder of
Velero's CRD files.

Validation is stricter than the API server's in one way: where the schema lists an object's properties, a field it
does not list is an error (the API server would silently prune it, so a sandbox object carrying it would hold data
no Velero ever writes). `metadata`, which the CRDs leave open, is checked against the ObjectMeta fields below.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas" / "velero"
Schema = dict[str, Any]

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


# --- derivation from Velero's CRD files ---------------------------------------------------------------------


def strip_descriptions(schema: Schema) -> Schema:
    """The schema without its prose: every `description` keyword goes, a property named description stays."""
    out: Schema = {}
    for key, value in schema.items():
        if key == "description":
            continue
        if key == "properties":
            out[key] = {name: strip_descriptions(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not") and isinstance(value, dict):
            out[key] = strip_descriptions(value)
        elif key in ("anyOf", "allOf", "oneOf"):
            out[key] = [strip_descriptions(sub) for sub in value]
        else:
            out[key] = value
    return out


def derive(crd: Mapping[str, Any]) -> Iterator[tuple[str, Schema]]:
    """(file name, stored document) for each served version of one CustomResourceDefinition."""
    spec = crd["spec"]
    for version in spec["versions"]:
        api_version = f"{spec['group']}/{version['name']}"
        yield (
            f"{spec['names']['plural']}.{version['name']}.json",
            {
                "apiVersion": api_version,
                "kind": spec["names"]["kind"],
                "schema": strip_descriptions(version["schema"]["openAPIV3Schema"]),
            },
        )


def write_derived(crd_dir: Path, out_dir: Path = SCHEMA_DIR) -> list[str]:
    written = []
    for path in sorted(crd_dir.glob("*.yaml")):
        for name, document in derive(yaml.safe_load(path.read_text())):
            (out_dir / name).write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
            written.append(name)
    return written


# --- validation ---------------------------------------------------------------------------------------------


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
    for path in sorted(SCHEMA_DIR.glob("*.json")):
        document = json.loads(path.read_text())
        schema = _strict(document["schema"])
        schema["properties"]["metadata"] = OBJECT_META
        schema["required"] = sorted({*schema.get("required", ()), "apiVersion", "kind", "metadata"})
        schema["properties"]["apiVersion"] = {"const": document["apiVersion"]}
        schema["properties"]["kind"] = {"const": document["kind"]}
        found[document["apiVersion"], document["kind"]] = schema
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


if __name__ == "__main__":
    for written in write_derived(Path(sys.argv[1])):
        print(written)
