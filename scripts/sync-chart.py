"""Copy the Grafana dashboards into the Helm chart, which cannot read files outside its own folder.

    python scripts/sync-chart.py           copy dashboards/*.json to chart/velero-exporter/dashboards/
    python scripts/sync-chart.py --check   exit 1 naming the chart's dashboards that differ, are missing or stale

The chart's rules are not copied here: rules/generate.py writes chart/velero-exporter/files/rules.yaml itself.
While dashboards/ does not exist the chart ships no dashboard, and that is in sync. Standard library only.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = Path("dashboards")
TARGET = Path("chart/velero-exporter/dashboards")


def expected(root: Path = ROOT) -> dict[str, bytes]:
    """The chart's dashboards as they should be: file name to content."""
    source = root / SOURCE
    if not source.is_dir():
        return {}
    return {path.name: path.read_bytes() for path in sorted(source.glob("*.json"))}


def actual(root: Path = ROOT) -> dict[str, bytes]:
    """The chart's dashboards as they are."""
    target = root / TARGET
    if not target.is_dir():
        return {}
    return {path.name: path.read_bytes() for path in sorted(target.glob("*.json"))}


def differences(root: Path = ROOT) -> list[str]:
    """One line per chart dashboard that is missing, different or no longer in dashboards/."""
    want, have = expected(root), actual(root)
    problems = []
    for name in sorted(want.keys() | have.keys()):
        path = TARGET / name
        if name not in have:
            problems.append(f"{path} is missing")
        elif name not in want:
            problems.append(f"{path} is stale: {SOURCE / name} no longer exists")
        elif want[name] != have[name]:
            problems.append(f"{path} differs from {SOURCE / name}")
    return problems


def sync(root: Path = ROOT) -> list[str]:
    """Make the chart's dashboards equal to dashboards/*.json; returns what changed."""
    changed = differences(root)
    want = expected(root)
    target = root / TARGET
    for name in actual(root).keys() - want.keys():
        (target / name).unlink()
    if want:
        target.mkdir(parents=True, exist_ok=True)
        for name, content in want.items():
            if not (target / name).exists() or (target / name).read_bytes() != content:
                (target / name).write_bytes(content)
    elif target.is_dir() and not any(target.iterdir()):
        target.rmdir()
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="exit 1 if the chart's dashboards are out of date")
    args = parser.parse_args(argv)
    if args.check:
        problems = differences()
        for problem in problems:
            print(f"{problem}: run `python scripts/sync-chart.py`", file=sys.stderr)
        return 1 if problems else 0
    for line in sync():
        print(f"{line}: synced")
    return 0


if __name__ == "__main__":
    sys.exit(main())
