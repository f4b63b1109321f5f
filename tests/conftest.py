"""Suite-wide: no test may reach a real AWS account, whatever credentials the machine running it holds."""

from __future__ import annotations

import pytest

from tests.scenario_run import Run, run_every_scenario

# A closed port on loopback: an AWS call that no sandbox redirected fails at once, and says so.
NOWHERE = "http://127.0.0.1:9"


@pytest.fixture(autouse=True)
def no_real_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", NOWHERE)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "not-a-real-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-a-real-secret")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(scope="session")
def scenario_run() -> Run:
    """Every scenario, run once end to end (tests/scenario_run.py), for the end-to-end and dashboard tests."""
    return run_every_scenario()
