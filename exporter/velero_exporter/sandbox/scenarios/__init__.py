"""Scenarios by theme: each module here declares its troubles, and in SCENARIOS the clusters of its own that
cannot share the demo's (sandbox/scenario.py says how to add one). A new module is found without registration."""

from __future__ import annotations

import importlib
import pkgutil

from velero_exporter.sandbox.scenario import Scenario


def all_scenarios() -> tuple[Scenario, ...]:
    """The demo's story, then every themed module's scenarios; their names (the clusters) are unique."""
    # Imported here: the story takes its troubles from the themed modules, which import this package.
    story = importlib.import_module("velero_exporter.sandbox.story")
    found: list[Scenario] = [story.DEMO]
    for module in pkgutil.iter_modules(__path__):
        found += importlib.import_module(f"{__name__}.{module.name}").__dict__.get("SCENARIOS", ())
    names = [s.name for s in found]
    if len(set(names)) != len(names):
        raise ValueError(f"scenario names must be unique: {sorted(names)}")
    return tuple(found)
