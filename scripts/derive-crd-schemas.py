"""Derive the JSON schemas of the Velero objects the exporter reads from Velero's CRDs, descriptions stripped.

    python scripts/derive-crd-schemas.py CRD_FOLDER...  write tests/schemas/<plural>.json from the CRD_FOLDERs

A CRD_FOLDER holds Velero's generated CRDs (config/crd/v1/bases/velero.io_<plural>.yaml in Velero's repository,
and config/crd/v2alpha1/bases/ for the data movers' DataUploads and DataDownloads); each kind is taken from the
first folder that has it.
The schemas keep the structure (types, properties, enums, formats, required fields) and none of the prose. The
fuzzer (tests/test_fuzz_render_path.py) generates objects from them; tests/schemas/README.md records the Velero
commit they were taken from. Needs PyYAML (a runtime dependency).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "tests" / "schemas"
# The kinds the exporter lists and watches (sources/kube/source.py's RESOURCES).
PLURALS = (
    "backups",
    "restores",
    "schedules",
    "backupstoragelocations",
    "volumesnapshotlocations",
    "podvolumebackups",
    "podvolumerestores",
    "datauploads",
    "datadownloads",
    "backuprepositories",
)


def without_prose(node: Any) -> Any:
    """A schema with every `description` dropped; a property that is itself named `description` stays."""
    if isinstance(node, list):
        return [without_prose(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "description" and isinstance(value, str):
            continue
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: without_prose(schema) for name, schema in value.items()}
        else:
            out[key] = without_prose(value)
    return out


def schema(crd_file: Path) -> dict[str, Any]:
    crd = yaml.safe_load(crd_file.read_text(encoding="utf-8"))
    (version,) = [v for v in crd["spec"]["versions"] if v.get("storage")]
    result: dict[str, Any] = without_prose(version["schema"]["openAPIV3Schema"])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("crd_folders", type=Path, nargs="+")
    args = parser.parse_args(argv)
    TARGET.mkdir(parents=True, exist_ok=True)
    for plural in PLURALS:
        found = [f / f"velero.io_{plural}.yaml" for f in args.crd_folders if (f / f"velero.io_{plural}.yaml").exists()]
        if not found:
            parser.error(f"no velero.io_{plural}.yaml in {', '.join(map(str, args.crd_folders))}")
        derived = schema(found[0])
        (TARGET / f"{plural}.json").write_text(json.dumps(derived, indent=1, sort_keys=True) + "\n")
        print(f"tests/schemas/{plural}.json", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
