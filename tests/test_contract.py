"""The contract between the parts: the families declared in the tables are what the rules, dashboards, status
page and runbooks read, with the labels they have; every family is used or says why not; nothing generated has
drifted from its source."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.contract import Contract, check_variable
from velero_exporter.config.file import _SECTIONS as CONFIG_KEYS
from velero_exporter.exposition.status_page import SECTION_FAMILIES
from velero_exporter.metrics.catalog import SUBJECTS, families
from velero_exporter.mixin import dashboards, reference
from velero_exporter.mixin.config import DEFAULT
from velero_exporter.mixin.outputs import drifted, outputs, write

ROOT = Path(__file__).resolve().parent.parent
RULE_FILE = ROOT / "rules" / "velero-exporter.rules.yml"
RUNBOOKS = ROOT / "docs" / "runbooks.md"


def _rules() -> list[dict[str, Any]]:
    return [rule for group in yaml.safe_load(RULE_FILE.read_text())["groups"] for rule in group["rules"]]


def _contract(contract: Contract | None = None) -> Contract:
    contract = contract or Contract.from_tables()
    problems = contract.add_recording_rules(r for r in _rules() if "record" in r)
    assert problems == []
    return contract


def _rule_problems(contract: Contract) -> list[str]:
    return [
        f"{rule['alert']} ({rule['labels'].get('reason', '')}): {problem}"
        for rule in _rules()
        if "alert" in rule
        for problem in contract.check(rule["expr"])[1]
    ]


def _dashboard_queries() -> list[tuple[str, str, str]]:
    """(dashboard, panel or variable, query) of the shipped dashboards."""
    out = []
    for path in sorted((ROOT / "dashboards").glob("*.json")):
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            for target in panel.get("targets", ()):
                out.append((path.name, panel["title"], target["expr"]))
        for variable in board["templating"]["list"]:
            query = variable.get("query")
            if isinstance(query, dict):
                out.append((path.name, f"variable {variable['name']}", query["query"]))
    return out


def test_nothing_generated_has_drifted() -> None:
    assert drifted(ROOT) == [], "run `python -m velero_exporter.mixin`"


def test_drift_is_detected_and_repaired(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "velero-exporter.rules.yml").write_text("groups: []\n")
    (tmp_path / "dashboards").mkdir()
    (tmp_path / "dashboards" / "gone.json").write_text("{}")
    stale = drifted(tmp_path)
    assert set(stale) == {*outputs(), Path("dashboards/gone.json")}
    write(tmp_path)
    assert drifted(tmp_path) == []
    assert not (tmp_path / "dashboards" / "gone.json").exists()


def test_rules_read_only_declared_families_with_their_labels() -> None:
    assert _rule_problems(_contract()) == []


def test_dashboards_read_only_declared_families_with_their_labels() -> None:
    contract = _contract()
    problems = [
        f"{board} / {title}: {problem}"
        for board, title, query in _dashboard_queries()
        for problem in (check_variable(contract, query) if title.startswith("variable") else contract.check(query)[1])
    ]
    assert problems == []


def test_status_page_sections_present_declared_families() -> None:
    declared = families()
    for section, names in SECTION_FAMILIES.items():
        assert names, section
        assert [n for n in names if n not in declared] == [], section


def test_runbooks_name_only_declared_families_and_recording_rules() -> None:
    contract = _contract()
    # Metric names: not paths such as exporter/velero_exporter/mixin, nor the exporter's config keys (velero_timezone).
    names = set(re.findall(r"(?<![/\w])velero(?:_[a-z0-9]+|:[a-z0-9_:]+)+\b(?!/|\.\w)", RUNBOOKS.read_text()))
    known = {*contract.declared, *contract.recorded, *CONFIG_KEYS}
    assert sorted(names - known) == []


def test_every_family_is_used_or_says_why_not() -> None:
    found = reference.usage(DEFAULT, dashboards.dashboards())
    for subject in SUBJECTS:
        for family in subject.families:
            used = bool(found.get(family.name))
            assert used or family.ad_hoc, f"{family.name}: no alert, panel or status page reads it; mark it ad_hoc"
            assert not (used and family.ad_hoc), f"{family.name} is used: drop its ad_hoc note"


def test_family_names_are_unique_and_follow_the_conventions() -> None:
    names = [family.name for subject in SUBJECTS for family in subject.families]
    assert len(names) == len(set(names))
    for subject in SUBJECTS:
        for family in subject.families:
            assert re.fullmatch(r"velero_[a-z0-9_]+", family.name), family.name
            assert not family.name.endswith("_total"), f"{family.name}: the exposition adds _total to counters"
            assert family.help.endswith("."), family.name
            assert len(set(family.labels)) == len(family.labels), family.name


# --- the contract catches what it must: each case is a mistake once made or easily made ----------------------


def _renamed(old: str, new: str) -> Contract:
    contract = Contract.from_tables()
    declared = dict(contract.declared)
    declared[new] = declared.pop(old)
    return _contract(replace(contract, declared=declared, recorded={}))


def test_a_renamed_family_fails_the_rules_that_read_it() -> None:
    """The experiment of issue 11: renaming the unfinished-backups family silently killed VeleroBackupStuck."""
    problems = _rule_problems(
        _renamed("velero_backup_unfinished_since_timestamp_seconds", "velero_backup_unfinished_since_seconds")
    )
    assert problems and all(p.startswith("VeleroBackupStuck") for p in problems), problems


def test_a_dropped_label_fails_the_rules_that_group_by_it() -> None:
    contract = Contract.from_tables()
    declared = dict(contract.declared)
    declared["velero_schedule_last_backup_phase"] = frozenset({"schedule", "phase"})  # tier dropped
    problems = _rule_problems(_contract(replace(contract, declared=declared, recorded={})))
    assert any(p.startswith("VeleroBackupFailure") and "tier" in p for p in problems), problems


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("velero_tier_rpo_seconds{schedule='x'}", "has no label 'schedule'"),
        ("max by (cluster, schedule) (velero_tier_rpo_seconds)", "max by (cluster, schedule)"),
        ("velero_tier_rpo_seconds * on (cluster, tier) group_left (cron) velero_tier_rto_seconds", "group_left"),
        ("velero_no_such_family", "no family declares it"),
        ("velero:no_such_rule > 0", "no recording rule defines it"),
    ],
)
def test_the_checker_finds(query: str, problem: str) -> None:
    problems = _contract().check(query)[1]
    assert any(problem in p for p in problems), problems
