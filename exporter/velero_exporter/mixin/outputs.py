"""Every file the mixin generates, by its path in the repository: rules, their chart copy, the Alertmanager
inhibitions, the dashboards, their chart copies and the reference pages."""

from __future__ import annotations

from pathlib import Path

from velero_exporter.mixin import dashboards, reference, rules
from velero_exporter.mixin.config import DEFAULT, MixinConfig

CHART = Path("chart/velero-exporter")


def outputs(cfg: MixinConfig = DEFAULT) -> dict[Path, str]:
    """Path (relative to the repository's root) to content. The chart cannot read files outside its folder,
    so it gets copies."""
    rule_file = rules.render_rule_file(cfg)
    files = {
        Path("rules/velero-exporter.rules.yml"): rule_file,
        Path("rules/velero-exporter.prometheusrule.yaml"): rules.render_prometheusrule(cfg),
        Path("rules/alertmanager-inhibit.yml"): rules.render_inhibit_rules(cfg),
        CHART / "files" / "rules.yaml": rule_file,
    }
    boards = dashboards.dashboards()
    for board in boards:
        text = dashboards.render_dashboard(board)
        files[Path("dashboards") / board.file] = text
        files[CHART / "dashboards" / board.file] = text
    files[Path("docs/dashboards.md")] = dashboards.render_docs(boards)
    files[Path("docs/metrics.md")] = reference.render_metrics_reference(cfg, boards)
    return files


def drifted(root: Path, cfg: MixinConfig = DEFAULT) -> list[Path]:
    """The generated files that differ from what cfg generates, are missing, or are stale copies."""
    want = outputs(cfg)
    stale = [path for path, text in want.items() if _read(root / path) != text]
    for folder in ("dashboards", CHART / "dashboards"):
        stale += [
            p.relative_to(root) for p in sorted((root / folder).glob("*.json")) if p.relative_to(root) not in want
        ]
    return stale


def write(root: Path, cfg: MixinConfig = DEFAULT) -> list[Path]:
    """Write every output and delete stale dashboard copies; returns what changed."""
    changed = drifted(root, cfg)
    want = outputs(cfg)
    for path in changed:
        if path in want:
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_text(want[path], encoding="utf-8")
        else:
            (root / path).unlink()
    return changed


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
