"""The package's layout shows its data flow, one way: sources → state → model → metrics → exposition. A module
may import its own layer and the layers below it, never one above: a model that reached into a source, or a
renderer that asked a source whether it had synced, would tie the layers together again."""

from __future__ import annotations

import ast
from pathlib import Path

from velero_exporter.sources.kube.coverage import RESOURCES as COVERAGE_RESOURCES
from velero_exporter.state.coverage_sync import CLUSTER_KINDS

PACKAGE = Path(__file__).resolve().parent.parent / "exporter" / "velero_exporter"

# Each runtime package, and what it may import besides itself. `velero` (Velero's own semantics: cron, durations,
# selection), `config`, `logs`, `backoff` and `client_auth` are the foundation every layer may use.
FOUNDATION = {"velero", "config", "logs", "backoff", "client_auth"}
MAY_IMPORT: dict[str, set[str]] = {
    "velero": set(),
    "config": {"velero"},
    "state": FOUNDATION,
    "sources": FOUNDATION | {"state"},
    "model": FOUNDATION | {"state"},
    "metrics": FOUNDATION | {"state", "model"},
    # The status page reads the mixin's thresholds and windows (mixin/config.py), as the rules do.
    "exposition": FOUNDATION | {"state", "model", "metrics", "mixin.config"},
}
# The product never depends on its demo or on the report command.
NEVER = {"sandbox", "report", "app", "cli"}


def imported(path: Path) -> set[str]:
    """The velero_exporter modules a file imports, as dotted paths below the package."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        out |= {name.removeprefix("velero_exporter.") for name in names if name.startswith("velero_exporter.")}
    return out


def allowed(layer: str, module: str) -> bool:
    top = module.split(".", maxsplit=1)[0]
    if top == layer:
        return True
    return any(module == dep or module.startswith(f"{dep}.") for dep in MAY_IMPORT[layer])


def test_every_layer_imports_only_itself_and_the_layers_below() -> None:
    wrong = []
    for layer in MAY_IMPORT:
        for path in sorted((PACKAGE / layer).rglob("*.py")):
            for module in sorted(imported(path)):
                if not allowed(layer, module) or module.split(".")[0] in NEVER:
                    wrong.append(f"{path.relative_to(PACKAGE)} imports {module}")
    assert wrong == []


def test_the_check_sees_a_wrong_import() -> None:
    """The test above would pass on a package it cannot read: it must see the imports it forbids."""
    assert not allowed("model", "sources.aws.polling")
    assert not allowed("exposition", "sources.kube.coverage")
    assert not allowed("state", "model.velero")
    assert allowed("exposition", "mixin.config") and not allowed("exposition", "mixin.rules")
    renderer = imported(PACKAGE / "exposition" / "renderer.py")
    assert "state.coverage_sync" in renderer and any(m.startswith("model.") for m in renderer)


def test_the_coverage_source_lists_the_kinds_its_sync_waits_for() -> None:
    assert tuple(r.plural for r in COVERAGE_RESOURCES) == CLUSTER_KINDS
