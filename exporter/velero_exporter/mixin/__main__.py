"""Regenerate every file the mixin generates, or check that none has drifted.

python -m velero_exporter.mixin           rewrite the outputs that differ (run from the repository's root)
python -m velero_exporter.mixin --check   exit 1 naming every output that differs
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from velero_exporter.mixin.outputs import drifted, write


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m velero_exporter.mixin", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a generated file is out of date")
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="the repository's root (default: .)")
    args = parser.parse_args(argv)
    if not (args.root / "pyproject.toml").is_file():
        print(f"{args.root}: not the repository's root (no pyproject.toml)", file=sys.stderr)
        return 2
    if args.check:
        stale = drifted(args.root)
        for path in stale:
            print(f"{path} is out of date: run `python -m velero_exporter.mixin`", file=sys.stderr)
        return 1 if stale else 0
    for path in write(args.root):
        print(f"{path}: written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
