"""The whole render path under objects shaped by Velero's CRDs, with hostile values where the schema allows any.

Objects come from the schemas in tests/schemas/ (Velero's own, descriptions stripped): every property of the
right type, enums from their enum, and the free values chosen to hurt: timestamps anywhere in years 1-9999 with
any offset (year 0 once the offset is applied, 2099, a few minutes ahead), strings of control characters, markup,
quotes and kilobytes, integers up to 64 bits. Each example goes through parsing into the store, the model, the
metric families, both expositions and the status page; the outputs are read back with prometheus_client's
parsers (the OpenMetrics one is strict), and a sample of them with `promtool check metrics`.

The budget is fixed (derandomized, a set number of examples) so that the run takes the same time, and finds the
same things, every time.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from datetime import UTC, datetime, timedelta, timezone
from html.parser import HTMLParser
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_text

from tests.test_metric_values import NOW, load
from tests.velero_schemas import API_VERSIONS, KINDS, SCHEMA
from velero_exporter.config.settings import Config
from velero_exporter.exposition.payload import OPENMETRICS, TEXT, Exposition
from velero_exporter.exposition.renderer import Renderer
from velero_exporter.model.velero import EARLIEST_TIMESTAMP
from velero_exporter.sandbox import objects as o

# Names from small pools, so that backups meet their schedules, restores their backups, tiers their labels.
NAMES = ("hourly-hot", "daily-critical", "weekly-full", "config-backup", "monthly-dr", "default", "b1", "b2", "x")
TIERS = ("hot", "critical", "full", "config", "dr", "unknown-tier")
MAX_DEPTH = 4
EXAMPLES = 120
PROMTOOL_EVERY = 15  # examples between two `promtool check metrics` runs

# --- values that hurt ------------------------------------------------------------------------------------------

NASTY_TEXT = st.sampled_from(
    [
        "",
        " ",
        "<script>alert(1)</script>",
        '"quoted" \\ back\\slash',
        "line\nbreak\r\ncarriage",
        "tab\there",
        "\x00\x01\x1f\x7f",
        "é中文🙂",
        "{{template}}",
        "a" * 3000,
        "é" * 700,
    ]
)
TEXT_VALUES = st.one_of(
    NASTY_TEXT, st.text(max_size=40), st.from_regex(r"[a-z0-9]([-a-z0-9.]{0,20}[a-z0-9])?", fullmatch=True)
)


def _rfc3339(moment: datetime, fraction: bool) -> str:
    offset = moment.utcoffset() or timedelta()
    if offset == timedelta() and moment.tzinfo is UTC:
        zone = "Z"
    else:
        minutes = int(offset.total_seconds()) // 60
        sign = "+" if minutes >= 0 else "-"
        zone = f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{moment.year:04d}{text[4:]}{f'.{moment.microsecond:06d}' if fraction else ''}{zone}"


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    """RFC 3339 as Kubernetes serialises it, anywhere datetime can hold it, with any offset up to 23:59."""
    kind = draw(st.sampled_from(["near", "near", "any", "edge", "malformed"]))
    if kind == "malformed":
        return draw(st.sampled_from(["yesterday", "2026-11-26", "2026-11-26 12:00:00Z", "2026-13-01T00:00:00Z"]))
    if kind == "edge":
        return draw(
            st.sampled_from(
                [
                    "0001-01-01T00:00:00+14:00",  # year 0 in UTC: the crash of issue 18
                    "0001-01-01T00:00:00Z",
                    "9999-12-31T23:59:59-14:00",  # year 10000 in UTC
                    "2099-01-01T00:00:00Z",  # forged freshness
                    _rfc3339(datetime.fromtimestamp(NOW + 300, UTC), False),  # within the clock-skew allowance
                    _rfc3339(datetime.fromtimestamp(NOW + 3600, UTC), False),  # beyond it
                ]
            )
        )
    minutes = draw(st.integers(-(23 * 60 + 59), 23 * 60 + 59))
    zone = UTC if minutes == 0 else timezone(timedelta(minutes=minutes))
    if kind == "near":
        seconds = draw(st.floats(NOW - 60 * 86400, NOW + 60, allow_nan=False))
        moment = datetime.fromtimestamp(seconds, UTC).astimezone(zone)
    else:
        moment = draw(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30))).replace(tzinfo=zone)
    return _rfc3339(moment, draw(st.booleans()))


def _strategy(schema: dict[str, Any], depth: int) -> st.SearchStrategy[Any]:
    """Values of the schema's shape; the free ones from the hostile pools above."""
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if schema.get("x-kubernetes-int-or-string"):
        return st.one_of(st.integers(-1000, 10**6), TEXT_VALUES)
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties", {})
        if not properties:
            if depth >= MAX_DEPTH or schema.get("x-kubernetes-preserve-unknown-fields"):
                return st.dictionaries(TEXT_VALUES, TEXT_VALUES, max_size=3)
            values = schema.get("additionalProperties") or {"type": "string"}
            return st.dictionaries(TEXT_VALUES, _strategy(values, depth + 1), max_size=3)
        required = set(schema.get("required", ()))
        if depth >= MAX_DEPTH:
            properties = {k: v for k, v in properties.items() if k in required}
        return st.fixed_dictionaries(
            {k: _strategy(v, depth + 1) for k, v in properties.items() if k in required},
            optional={k: _strategy(v, depth + 1) for k, v in properties.items() if k not in required},
        )
    if kind == "array":
        if depth >= MAX_DEPTH:
            return st.just([])
        return st.lists(_strategy(schema.get("items", {}), depth + 1), max_size=3)
    if kind == "string":
        return timestamps() if schema.get("format") == "date-time" else TEXT_VALUES
    if kind == "integer":
        return st.one_of(st.integers(0, 1000), st.integers(-(2**63), 2**63 - 1))
    if kind == "number":
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    return st.none() | st.booleans() | st.integers() | TEXT_VALUES


@st.composite
def metadata(draw: st.DrawFn) -> dict[str, Any]:
    labels = {}
    if draw(st.booleans()):
        labels["velero.io/schedule-name"] = draw(st.sampled_from(NAMES))
    if draw(st.booleans()):
        labels["backup-tier"] = draw(st.sampled_from(TIERS))
    meta: dict[str, Any] = {"name": draw(st.sampled_from(NAMES)), "namespace": "velero", "labels": labels}
    if draw(st.integers(0, 9)):
        meta["creationTimestamp"] = draw(timestamps())
    return meta


def objects_of(plural: str) -> st.SearchStrategy[dict[str, Any]]:
    schema = SCHEMA[plural]["properties"]
    body = st.fixed_dictionaries(
        {"metadata": metadata()},
        optional={"spec": _strategy(schema["spec"], 1), "status": _strategy(schema["status"], 1)},
    )
    return body.map(lambda obj: {"apiVersion": API_VERSIONS[plural], "kind": KINDS[plural], **obj})


CLUSTERS = st.fixed_dictionaries({plural: st.lists(objects_of(plural), max_size=4) for plural in KINDS})

# --- reading the outputs back ----------------------------------------------------------------------------------


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)


PAGE_TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "p", "a", "table", "caption", "thead", "tbody"}
PAGE_TAGS |= {"tr", "th", "td", "strong"}


def _check(exposition: Exposition, now: float) -> str:
    payload = exposition.current
    assert payload is not None
    text = payload.body(TEXT, False).decode()
    families = list(parse_text(text))
    openmetrics = payload.body(OPENMETRICS, False).decode()
    assert len(list(parse_openmetrics(openmetrics))) == len(families)
    latest = now + Config().clock_skew_seconds
    limit = Config().limits.label_value_bytes
    for family in families:
        for sample in family.samples:
            assert not math.isnan(sample.value), sample
            for value in sample.labels.values():
                assert len(value.encode()) <= max(limit, 253), sample  # a Kubernetes name may be 253
            if family.name.endswith("_timestamp_seconds"):
                # every time the exporter shows is one Velero could have written, or its own clock's
                assert EARLIEST_TIMESTAMP <= sample.value <= latest, sample
    page = Page()
    page.feed(payload.status_page)
    assert set(page.tags) <= PAGE_TAGS, set(page.tags) - PAGE_TAGS  # input never becomes markup
    return text


SAMPLES: list[str] = []


def render(cluster: dict[str, list[dict[str, Any]]]) -> str:
    store = load(cluster)
    exposition = Exposition()
    renderer = Renderer(store, Config(), exposition, version="fuzz")
    # The synchronous render raises what the exporter's loop would count: the fuzzer wants to see it.
    exposition.publish(renderer.render(store.view(), store.health, renderer.resource_stats(), NOW))
    return _check(exposition, NOW)


YEAR_0_LOCATION = {
    "backupstoragelocations": [
        {
            **o.storage_location("default", bucket="b"),
            "status": {"phase": "Available", "lastValidationTime": "0001-01-01T00:00:00+14:00"},
        }
    ]
}
FORGED_BACKUP = {
    "backups": [o.backup("b1", labels={"backup-tier": "hot"}, started=4070908800.0, completed=4070908860.0)]
}


@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
@example(YEAR_0_LOCATION)
@example(FORGED_BACKUP)
@given(CLUSTERS)
def test_any_crd_shaped_cluster_renders_and_reads_back(cluster: dict[str, list[dict[str, Any]]]) -> None:
    text = render(cluster)
    if len(SAMPLES) % PROMTOOL_EVERY == 0:
        promtool_check(text)
    SAMPLES.append(text)


def promtool_check(text: str) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool not found (apt-get install prometheus: scripts/test.sh installs it)")
    result = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60, check=False
    )
    # promtool exits 3 for lint warnings (naming advice) and 1 for a text it cannot parse: the latter fails.
    assert result.returncode in (0, 3), result.stderr
    assert "error while linting" not in result.stderr, result.stderr


def test_the_schemas_are_velero_crds_without_prose() -> None:
    backups = SCHEMA["backups"]
    phases = backups["properties"]["status"]["properties"]["phase"]["enum"]
    assert phases[:3] == ["New", "Queued", "ReadyToStart"]
    assert backups["properties"]["status"]["properties"]["startTimestamp"]["format"] == "date-time"
    assert all('"description"' not in json.dumps(schema) for schema in SCHEMA.values())
