"""The repository's generators (rules/generate.py, dashboards/generate.py) as modules, for the tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def load_generator(folder: str) -> ModuleType:
    """`<folder>/generate.py` imported once under its own name (they are scripts, not a package)."""
    name = f"velero_{folder}_generate"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / folder / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
