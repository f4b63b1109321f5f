"""What the rules, dashboards, status page and runbooks read, checked against the family tables.

A PromQL expression is parsed with a real PromQL parser (promql-parser, the Rust one behind GreptimeDB), and
the labels each sub-expression can carry are followed as Prometheus computes them: a selector has its family's
labels plus the target labels; `by (...)` keeps those labels; one-to-one matching `on (...)` keeps the
matching labels; `group_left (...)` adds labels from the other side; label_replace adds its destination. A
label named in a matcher, a grouping or a matching clause that the expression below it cannot carry is a
contract violation, as is a metric name that no table declares and no recording rule defines.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import promql_parser as promql

from velero_exporter.metrics.catalog import families

# Labels that Prometheus attaches to every scraped series (target labels), and the external `cluster` label
# that Thanos, Mimir and remote write add.
TARGET_LABELS = frozenset({"job", "instance", "cluster", "namespace", "pod", "service", "container", "endpoint"})
# Series that Prometheus itself produces: their labels are not the exporter's to declare (None: any label).
BUILTIN: dict[str, frozenset[str] | None] = {
    "up": frozenset(),
    "scrape_duration_seconds": frozenset(),
    "scrape_samples_scraped": frozenset(),
    "ALERTS": None,
    "ALERTS_FOR_STATE": None,
}
# Velero's own families (its server's /metrics, which some panels read): not ours to declare.
NATIVE = Path(__file__).with_name("velero_native_metrics.txt")
for _name in (line for line in NATIVE.read_text().splitlines() if line and not line.startswith("#")):
    for _suffix in ("", "_total", "_bucket", "_count", "_sum"):
        BUILTIN[_name + _suffix] = None
# Grafana's macros, replaced by a value of their kind before parsing.
GRAFANA_MACROS = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1d"}

Labels = frozenset[str] | None  # None: any label may be there (an unknown source)


@dataclass(slots=True)
class Contract:
    """The declared names and, once analysed, the labels of each recording rule."""

    declared: Mapping[str, frozenset[str]] = field(default_factory=dict)
    counters: frozenset[str] = frozenset()
    recorded: dict[str, Labels] = field(default_factory=dict)

    @classmethod
    def from_tables(cls) -> Contract:
        table = families()
        declared = {}
        for name, family in table.items():
            served = f"{name}_total" if family.type == "counter" else name
            declared[served] = frozenset(family.labels)
        counters = frozenset(f"{n}_total" for n, f in table.items() if f.type == "counter")
        return cls(declared, counters)

    def family_of(self, name: str) -> str:
        return name.removesuffix("_total") if name in self.counters else name

    def add_recording_rules(self, rules: Iterable[Mapping[str, Any]]) -> list[str]:
        """Analyse the recording rules in order (each may read earlier ones and itself); returns problems."""
        ordered = [(rule["record"], rule["expr"]) for rule in rules]
        for name, _ in ordered:
            self.recorded.setdefault(name, None)
        problems: list[str] = []
        for name, expr in ordered:
            labels, found = self.check(expr)
            self.recorded[name] = labels
            problems += [f"recording rule {name}: {p}" for p in found]
        return problems

    def check(self, expr: str) -> tuple[Labels, list[str]]:
        """The labels the expression's result can carry, and the contract violations in it."""
        for macro, value in GRAFANA_MACROS.items():
            expr = expr.replace(macro, value)
        problems: list[str] = []
        labels = self._walk(promql.parse(expr), problems)
        return labels, problems

    def names(self, expr: str) -> set[str]:
        for macro, value in GRAFANA_MACROS.items():
            expr = expr.replace(macro, value)
        found: set[str] = set()
        _selectors(promql.parse(expr), found)
        return found

    # -- the walk

    def _selector(self, node: Any, problems: list[str]) -> Labels:
        name = node.name
        matchers = [m.name for m in node.matchers.matchers]
        if name is None:
            return None
        if name in self.declared:
            labels: Labels = self.declared[name] | TARGET_LABELS
        elif name in self.recorded:
            labels = self.recorded[name]
        elif name in BUILTIN:
            builtin = BUILTIN[name]
            labels = None if builtin is None else builtin | TARGET_LABELS
        else:
            problems.append(f"{name}: no family declares it and no recording rule defines it")
            return None
        for matcher in matchers:
            if labels is not None and matcher not in labels and matcher != "__name__":
                problems.append(f"{name}{{{matcher}=...}}: {name} has no label {matcher!r}")
        return labels

    def _walk(self, node: Any, problems: list[str]) -> Labels:
        kind = type(node).__name__
        if kind == "VectorSelector":
            return self._selector(node, problems)
        if kind == "MatrixSelector":
            return self._selector(node.vector_selector, problems)
        if kind in ("ParenExpr", "UnaryExpr", "SubqueryExpr"):
            return self._walk(node.expr, problems)
        if kind in ("NumberLiteral", "StringLiteral"):
            return frozenset()
        if kind == "AggregateExpr":
            return self._aggregate(node, problems)
        if kind == "BinaryExpr":
            return self._binary(node, problems)
        if kind == "Call":
            return self._call(node, problems)
        raise TypeError(f"unexpected PromQL node {kind}")

    def _aggregate(self, node: Any, problems: list[str]) -> Labels:
        inner = self._walk(node.expr, problems)
        if node.param is not None:
            self._walk(node.param, problems)
        modifier = node.modifier
        grouping = frozenset(modifier.labels) if modifier is not None else frozenset()
        without = modifier is not None and str(modifier.type).endswith("Without")
        if not without:
            _require(grouping, inner, f"{node.op} by ({', '.join(sorted(grouping))})", problems)
        if without:
            out: Labels = None if inner is None else inner - grouping
        else:
            out = grouping
        if str(node.op) == "count_values" and out is not None:
            out = out | {str(node.param).strip('"')}
        return out

    def _binary(self, node: Any, problems: list[str]) -> Labels:
        lhs = self._walk(node.lhs, problems)
        rhs = self._walk(node.rhs, problems)
        lhs_vector = _is_vector(node.lhs)
        rhs_vector = _is_vector(node.rhs)
        if not (lhs_vector and rhs_vector):
            return lhs if lhs_vector else rhs if rhs_vector else frozenset()
        op = str(node.op)
        modifier = node.modifier
        matching = modifier.matching if modifier is not None else None
        on = matching is not None and str(matching.type).endswith("Include")
        match_labels = frozenset(matching.labels) if matching is not None else frozenset()
        if on:
            _require(match_labels, lhs, f"{op} on ({', '.join(sorted(match_labels))}), left side", problems)
            _require(match_labels, rhs, f"{op} on ({', '.join(sorted(match_labels))}), right side", problems)
        if op in ("or",):
            return None if lhs is None or rhs is None else lhs | rhs
        if op in ("and", "unless"):
            return lhs
        card = str(modifier.card) if modifier is not None else "OneToOne"
        included = frozenset(modifier.group_labels) if modifier is not None and modifier.group_labels else frozenset()
        if card.endswith("ManyToOne"):
            _require(included, rhs, f"group_left ({', '.join(sorted(included))})", problems)
            return None if lhs is None else lhs | included
        if card.endswith("OneToMany"):
            _require(included, lhs, f"group_right ({', '.join(sorted(included))})", problems)
            return None if rhs is None else rhs | included
        if on:
            return match_labels
        return None if lhs is None else lhs - match_labels

    def _call(self, node: Any, problems: list[str]) -> Labels:
        name = node.func.name
        args = list(node.args)
        inputs = [self._walk(arg, problems) for arg in args]
        if name in ("time", "vector", "scalar", "pi"):
            return frozenset()
        if name == "absent":
            selector = args[0]
            if type(selector).__name__ == "VectorSelector":
                return frozenset(m.name for m in selector.matchers.matchers if str(m.op).endswith("Equal"))
            return frozenset()
        if name in ("label_replace", "label_join"):
            source = inputs[0]
            destination = str(args[1]).strip('"')
            sources = [str(a).strip('"') for a in (args[3:4] if name == "label_replace" else args[3:])]
            _require(frozenset(s for s in sources if s), source, f"{name} source", problems)
            return None if source is None else source | {destination}
        vectors = [labels for arg, labels in zip(args, inputs, strict=True) if _is_vector(arg)]
        return vectors[0] if vectors else frozenset()


def _require(labels: frozenset[str], available: Labels, where: str, problems: list[str]) -> None:
    if available is None:
        return
    missing = sorted(labels - available - {"__name__"})
    if missing:
        problems.append(f"{where}: {', '.join(missing)} not carried by the expression below it")


def _is_vector(node: Any) -> bool:
    kind = type(node).__name__
    if kind in ("NumberLiteral", "StringLiteral"):
        return False
    if kind in ("ParenExpr", "UnaryExpr"):
        return _is_vector(node.expr)
    if kind == "Call":
        return node.func.name not in ("scalar", "pi", "time")
    if kind == "BinaryExpr":
        return _is_vector(node.lhs) or _is_vector(node.rhs)
    return True


def _selectors(node: Any, found: set[str]) -> None:
    kind = type(node).__name__
    if kind == "VectorSelector":
        if node.name:
            found.add(node.name)
    elif kind == "MatrixSelector":
        _selectors(node.vector_selector, found)
    elif kind in ("ParenExpr", "UnaryExpr", "SubqueryExpr", "AggregateExpr"):
        _selectors(node.expr, found)
    elif kind == "BinaryExpr":
        _selectors(node.lhs, found)
        _selectors(node.rhs, found)
    elif kind == "Call":
        for arg in node.args:
            _selectors(arg, found)


LABEL_VALUES = re.compile(r"label_values\((?P<selector>.+),\s*(?P<label>\w+)\)")


def check_variable(contract: Contract, query: str) -> list[str]:
    """A Grafana variable's `label_values(selector, label)`: the selector and the label it reads."""
    match = LABEL_VALUES.fullmatch(query.strip())
    if match is None:
        return contract.check(query)[1]
    labels, problems = contract.check(match["selector"])
    _require(frozenset({match["label"]}), labels, f"label_values(..., {match['label']})", problems)
    return problems
