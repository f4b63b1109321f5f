"""The cluster's objects into slim records (sources/cluster_parsing.py): what is kept, and every bad input as a
counted problem or a skipped object."""

from __future__ import annotations

import json
from typing import Any

import pytest

from velero_exporter.sandbox import cluster_objects as k
from velero_exporter.sandbox import objects as o
from velero_exporter.sources.cluster_parsing import (
    parse_namespace,
    parse_persistent_volume,
    parse_persistent_volume_claim,
    parse_pod,
)
from velero_exporter.sources.parsing import parse_schedule
from velero_exporter.state.coverage_records import (
    Namespace,
    PersistentVolume,
    PersistentVolumeClaim,
    Pod,
    PodVolume,
)

T0 = 1_700_000_000.0


def test_a_namespace() -> None:
    parsed = parse_namespace(
        k.namespace("team", created=T0, labels={"env": "prod"}, annotations={"velero-exporter.io/coverage": "ignore"})
    )
    assert parsed.name == "team" and parsed.problems == ()
    assert parsed.record == Namespace(
        "team", (("env", "prod"), ("kubernetes.io/metadata.name", "team")), T0, terminating=False, ignored=True
    )
    assert parse_namespace(k.namespace("going", phase="Terminating")).record.terminating  # type: ignore[union-attr]


def test_a_pod_with_claims_keeps_only_what_selection_reads() -> None:
    obj = k.pod(
        "api-0",
        "team",
        claims={"data": "data-api-0", "cache": "cache"},
        labels={"app": "api"},
        annotations={"backup.velero.io/backup-volumes": "data,cache", "backup.velero.io/backup-volumes-excludes": "x"},
    )
    obj["spec"]["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": "/d"}]
    obj["spec"]["containers"][0]["volumeDevices"] = [{"name": "cache", "devicePath": "/dev/xvdb"}]
    parsed = parse_pod(obj)
    assert parsed.name == "team/api-0" and parsed.problems == ()
    assert parsed.record == Pod(
        namespace="team",
        name="api-0",
        labels=(("app", "api"),),
        volumes=(PodVolume("data", "data-api-0", mounted=True, block=False), PodVolume("cache", "cache", False, True)),
        opted_in=("data", "cache"),
        opted_out=("x",),
        running=True,
    )


@pytest.mark.parametrize(
    ("phase", "node", "running"), [("Running", "n1", True), ("Pending", "n1", False), ("Running", "", False)]
)
def test_a_pod_runs_when_scheduled_and_running(phase: str, node: str, running: bool) -> None:
    record = parse_pod(k.pod("p", "team", claims={"d": "c"}, phase=phase, node=node)).record
    assert record is not None and record.running is running


def test_a_pod_without_claims_is_not_kept_and_not_a_problem() -> None:
    assert parse_pod(k.pod("web-0", "team")) == parse_pod(k.pod("web-0", "team"))
    parsed = parse_pod(k.pod("web-0", "team"))
    assert (parsed.name, parsed.record, parsed.problems) == ("team/web-0", None, ())


def test_a_claim_and_its_volume() -> None:
    pvc = parse_persistent_volume_claim(
        k.persistent_volume_claim("data", "team", volume="pv-1", storage_class="gp3", labels={"a": "b"}, created=T0)
    )
    assert pvc.name == "team/data"
    assert pvc.record == PersistentVolumeClaim("team", "data", (("a", "b"),), "pv-1", "gp3", "Bound", T0, False)
    pv = parse_persistent_volume(
        k.persistent_volume("pv-1", claim=("team", "data"), storage_class="gp3", handle="vol-1")
    )
    assert pv.record == PersistentVolume(
        name="pv-1",
        labels=(),
        storage_class="gp3",
        capacity="10Gi",
        volume_type="csi",
        csi_driver="ebs.csi.aws.com",
        csi_attributes=(("storage.kubernetes.io/csiProvisionerIdentity", "1700000000000-ebs.csi.aws.com"),),
        nfs=None,
    )
    nfs = parse_persistent_volume(k.persistent_volume("pv-2", claim=("t", "d"), storage_class="nfs", nfs=("fs", "/x")))
    assert nfs.record is not None and (nfs.record.volume_type, nfs.record.nfs, nfs.record.csi_driver) == (
        "nfs",
        ("fs", "/x"),
        None,
    )
    # The first volume source in Velero's order names the type.
    ebs: dict[str, Any] = {
        "kind": "PersistentVolume",
        "metadata": {"name": "old"},
        "spec": {"awsElasticBlockStore": {"volumeID": "vol-9"}},
    }
    assert parse_persistent_volume(ebs).record.volume_type == "awsElasticBlockStore"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("parse", "obj", "problems"),
    [
        (parse_namespace, "not an object", ("not_an_object",)),
        (parse_namespace, {"metadata": {}}, ("missing_name",)),
        (parse_pod, {"metadata": {"name": "p"}, "spec": {}}, ("missing_name",)),  # a pod without namespace
        (parse_persistent_volume_claim, {"metadata": {"name": "c", "namespace": "t"}, "spec": []}, ("bad_field_type",)),
        (parse_namespace, {"metadata": {"name": "n", "labels": {"a": 1}}}, ("bad_field_type",)),
        (
            parse_persistent_volume_claim,
            {"metadata": {"name": "c", "namespace": "t", "annotations": {"velero-exporter.io/coverage": "ingore"}}},
            ("bad_annotation",),
        ),
        (
            parse_pod,
            {
                "metadata": {"name": "p", "namespace": "t"},
                "spec": {"volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": 7}}], "containers": "x"},
            },
            ("bad_field_type",),
        ),
    ],
)
def test_bad_objects_are_counted(parse: Any, obj: object, problems: tuple[str, ...]) -> None:
    assert parse(obj).problems == problems


def test_a_bad_annotation_value_neither_ignores_nor_passes_silently() -> None:
    parsed = parse_namespace(k.namespace("team", annotations={"velero-exporter.io/coverage": "true"}))
    assert parsed.record is not None and not parsed.record.ignored
    assert parsed.problems == ("bad_annotation",)


def test_a_schedule_keeps_its_templates_selection_as_canonical_json() -> None:
    schedule = o.schedule(
        "s",
        cron="@daily",
        included_namespaces=["a"],
        selection={"snapshotVolumes": False, "labelSelector": {"matchLabels": {"x": "y"}}, "hooks": {"resources": []}},
    )
    record = parse_schedule(schedule).record
    assert record is not None
    assert json.loads(record.selection) == {
        "includedNamespaces": ["a"],
        "labelSelector": {"matchLabels": {"x": "y"}},
        "snapshotVolumes": False,
    }
    assert record.selection == json.dumps(json.loads(record.selection), sort_keys=True, separators=(",", ":"))
