"""Fidelity of the fake Kubernetes API server: the real kubectl (client-go) and raw HTTP against it."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import pathlib
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.faulty_kube_api import FaultyKubeAPI
from velero_exporter.sandbox import cluster_objects as k
from velero_exporter.sandbox import objects
from velero_exporter.sandbox.kube_api import (
    AlreadyExistsError,
    FakeKubeAPI,
    decode_continue,
    encode_continue,
    human_duration,
    running,
)
from velero_exporter.sandbox.monitoring import find_kubectl

BASE = "/apis/velero.io/v1/namespaces/velero"
T0 = 1_700_000_000.0


KUBECTL = find_kubectl()
# The fidelity tests must run: scripts/test.sh installs a kubectl where the machine has none.
needs_kubectl = pytest.mark.usefixtures("kubectl_installed")


@pytest.fixture
def kubectl_installed() -> None:
    if KUBECTL is None:
        pytest.fail("kubectl is not installed: the fake API server's fidelity cannot be checked")


@pytest.fixture
async def api() -> AsyncIterator[FaultyKubeAPI]:
    server = FaultyKubeAPI(bookmark_interval=0.2)
    await server.start()
    for i in range(7):
        server.create(objects.backup(f"b{i}", schedule="daily" if i % 2 else None, started=T0 + i))
    server.create(objects.storage_location("default", bucket="velero-backups", default=True))
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def get_json(http: aiohttp.ClientSession, url: str, **params: str) -> tuple[int, Any]:
    async with http.get(url, params=params) as resp:
        return resp.status, await resp.json()


class Watch:
    """A raw watch stream read line by line."""

    def __init__(self, resp: aiohttp.ClientResponse) -> None:
        self.resp = resp

    async def next(self, wait: float = 5.0) -> dict[str, Any] | None:
        line = await asyncio.wait_for(self.resp.content.readline(), wait)
        return json.loads(line) if line else None

    async def rest(self, wait: float = 5.0) -> list[dict[str, Any]]:
        events = []
        while (event := await self.next(wait)) is not None:
            events.append(event)
        return events


async def open_watch(http: aiohttp.ClientSession, api: FakeKubeAPI, plural: str, **params: str) -> Watch:
    resp = await http.get(f"{api.url}{BASE}/{plural}", params={"watch": "true", **params})
    assert resp.status == 200
    return Watch(resp)


async def start_kubectl(api: FakeKubeAPI, tmp_path: pathlib.Path, *args: str) -> asyncio.subprocess.Process:
    assert KUBECTL is not None
    config = api.write_kubeconfig(tmp_path / "kubeconfig")
    return await asyncio.create_subprocess_exec(
        KUBECTL,
        *("--kubeconfig", str(config), "--cache-dir", str(tmp_path / "cache")),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def kubectl(api: FakeKubeAPI, tmp_path: pathlib.Path, *args: str) -> str:
    proc = await start_kubectl(api, tmp_path, *args)
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    return out.decode()


@contextlib.asynccontextmanager
async def kubectl_watching(api: FakeKubeAPI, tmp_path: pathlib.Path, *args: str) -> AsyncIterator[asyncio.StreamReader]:
    """kubectl running `args` (a `get -w`), its output to read, killed on leaving."""
    proc = await start_kubectl(api, tmp_path, *args)
    try:
        assert proc.stdout is not None
        yield proc.stdout
    finally:
        proc.kill()
        await proc.wait()


async def watch_opened(api: FakeKubeAPI, path: str | None = None) -> None:
    """Until kubectl's watch request (on `path`, or any) reached the server: the printed list comes before it."""
    for _ in range(400):
        if any(r.query.get("watch") == "true" and path in (None, r.path) for r in api.requests):
            return
        await asyncio.sleep(0.05)


def resource_requests(api: FakeKubeAPI, plural: str) -> list[dict[str, str]]:
    return [r.query for r in api.requests if r.path == f"{BASE}/{plural}"]


# --- the real kubectl -------------------------------------------------------------------------------


@needs_kubectl
async def test_kubectl_chunked_list_uses_continue_tokens(api: FakeKubeAPI, tmp_path: pathlib.Path) -> None:
    out = await kubectl(api, tmp_path, "get", "backups.velero.io", "-n", "velero", "--chunk-size=2", "-o", "name")

    assert out.split() == [f"backup.velero.io/b{i}" for i in range(7)]
    lists = resource_requests(api, "backups")
    assert len(lists) == 4
    assert all(q["limit"] == "2" for q in lists)
    assert "continue" not in lists[0]
    tokens = [decode_continue(q["continue"]) for q in lists[1:]]
    # Every page after the first comes from the snapshot taken at the first page's resourceVersion.
    assert tokens == [
        (api.resource_version, "b1\x00"),
        (api.resource_version, "b3\x00"),
        (api.resource_version, "b5\x00"),
    ]


@needs_kubectl
async def test_kubectl_default_output_resolves_short_names(api: FakeKubeAPI, tmp_path: pathlib.Path) -> None:
    backups = (await kubectl(api, tmp_path, "get", "backups", "-n", "velero")).splitlines()
    bsl = (await kubectl(api, tmp_path, "get", "bsl", "-n", "velero")).splitlines()

    assert backups[0].split() == ["NAME", "AGE"]
    assert [line.split()[0] for line in backups[1:]] == [f"b{i}" for i in range(7)]
    assert backups[1].split()[1] == human_duration(time.time() - T0)
    assert bsl[0].split() == ["NAME", "AGE"]
    assert bsl[1].split()[0] == "default"
    # kubectl asked for a Table, and discovery went through the legacy (non-aggregated) fallback.
    assert {"/api", "/apis", "/apis/velero.io/v1"} <= {r.path for r in api.requests}


@needs_kubectl
async def test_kubectl_watch_sees_a_server_side_create(api: FakeKubeAPI, tmp_path: pathlib.Path) -> None:
    watch_args = ("get", "backups.velero.io", "-n", "velero", "-w", "-o", "name")
    async with kubectl_watching(api, tmp_path, *watch_args) as out, asyncio.timeout(20):
        seen: list[str] = []
        while len(seen) < 7:
            seen.append((await out.readline()).decode().strip())
        await watch_opened(api)  # the initial list is printed; change things once the watch is open
        api.create(objects.backup("late-arrival", started=T0 + 100))
        line = (await out.readline()).decode().strip()
    assert seen == [f"backup.velero.io/b{i}" for i in range(7)]
    assert line == "backup.velero.io/late-arrival"
    watch = next(r for r in api.requests if r.query.get("watch") == "true")
    list_rv = api.resource_version - 1
    assert watch.query["resourceVersion"] == str(list_rv)


@needs_kubectl
async def test_kubectl_delete(api: FakeKubeAPI, tmp_path: pathlib.Path) -> None:
    out = await kubectl(api, tmp_path, "delete", "backup", "b3", "-n", "velero")

    assert out.strip() == 'backup.velero.io "b3" deleted'
    assert api.get("backups", "b3") is None
    assert len(api.list("backups")) == 6


# --- the volume data kinds, at their own group versions ---------------------------------------------

V2 = "/apis/velero.io/v2alpha1/namespaces/velero"


def _volume_objects() -> list[objects.Obj]:
    return [
        objects.pod_volume_backup(
            "b1-x7k2p",
            backup="b1",
            pod="db-0",
            pod_namespace="app",
            volume="data",
            progress=objects.Progress(started=T0, completed=T0 + 9),
        ),
        objects.backup_repository("app", last_maintenance=T0, created=T0 - 100),
        objects.data_upload(
            "b1-q9w4z",
            backup="b1",
            pvc="data-db-0",
            pvc_namespace="app",
            progress=objects.Progress(phase="InProgress", started=T0),
        ),
    ]


@needs_kubectl
async def test_kubectl_reads_the_volume_kinds_at_their_group_versions(api: FakeKubeAPI, tmp_path: pathlib.Path) -> None:
    for obj in _volume_objects():
        api.create(obj)
    uploads = json.loads(await kubectl(api, tmp_path, "get", "datauploads", "-n", "velero", "-o", "json"))
    pvbs = (await kubectl(api, tmp_path, "get", "podvolumebackups.velero.io", "-n", "velero", "-o", "name")).split()
    repos = (await kubectl(api, tmp_path, "get", "backuprepositories", "-n", "velero")).splitlines()
    listed = (await kubectl(api, tmp_path, "api-resources", "--api-group=velero.io", "-o", "wide")).splitlines()

    assert [(u["apiVersion"], u["kind"], u["metadata"]["name"]) for u in uploads["items"]] == [
        ("velero.io/v2alpha1", "DataUpload", "b1-q9w4z")
    ]
    assert uploads["items"][0]["metadata"]["labels"] == {"velero.io/backup-name": "b1"}
    assert pvbs == ["podvolumebackup.velero.io/b1-x7k2p"]
    assert [line.split()[0] for line in repos] == ["NAME", "app-default-kopia"]
    versions = {line.split()[0]: line.split()[1] for line in listed[1:]}
    assert versions["datauploads"] == versions["datadownloads"] == "velero.io/v2alpha1"
    assert versions["podvolumebackups"] == versions["backuprepositories"] == "velero.io/v1"
    assert {f"{V2}/datauploads", f"{BASE}/podvolumebackups", "/apis/velero.io/v2alpha1"} <= {
        r.path for r in api.requests
    }


@needs_kubectl
async def test_kubectl_creates_and_watches_a_dataupload(api: FakeKubeAPI, tmp_path: pathlib.Path) -> None:
    manifest = tmp_path / "dataupload.json"
    upload = objects.data_upload(
        "b2-a1b2c", backup="b2", pvc="data-db-0", pvc_namespace="app", progress=objects.Progress(phase=None)
    )
    manifest.write_text(json.dumps(upload))
    watch_args = ("get", "datauploads.velero.io", "-n", "velero", "-w", "-o", "name")
    async with kubectl_watching(api, tmp_path, *watch_args) as watched, asyncio.timeout(20):
        await watch_opened(api, f"{V2}/datauploads")
        # The fake serves no OpenAPI document for kubectl's client-side validation.
        out = await kubectl(api, tmp_path, "create", "--validate=false", "-f", str(manifest))
        line = (await watched.readline()).decode().strip()
    assert out.strip() == "dataupload.velero.io/b2-a1b2c created"
    assert line == "dataupload.velero.io/b2-a1b2c"
    stored = api.get("datauploads", "b2-a1b2c")
    assert stored is not None and stored["apiVersion"] == "velero.io/v2alpha1"


@needs_kubectl
async def test_an_older_velero_serves_no_data_movers(tmp_path: pathlib.Path) -> None:
    async with running(FakeKubeAPI(versions=("v1",))) as older, aiohttp.ClientSession() as http:
        proc = await start_kubectl(older, tmp_path, "get", "datauploads", "-n", "velero")
        _, err = await asyncio.wait_for(proc.communicate(), 30)
        status, body = await get_json(http, f"{older.url}{V2}/datauploads")
        _, groups = await get_json(http, f"{older.url}/apis")
        discovery, _ = await get_json(http, f"{older.url}/apis/velero.io/v2alpha1")
        pvbs, _ = await get_json(http, f"{older.url}{BASE}/podvolumebackups")

    assert proc.returncode == 1
    assert 'the server doesn\'t have a resource type "datauploads"' in err.decode()
    assert (status, body["reason"]) == (404, "NotFound")
    assert [v["version"] for v in groups["groups"][0]["versions"]] == ["v1"]
    assert (discovery, pvbs) == (404, 200)
    with pytest.raises(ValueError, match="not a kind this server serves"):
        older.create(_volume_objects()[2])


def test_a_kind_at_the_wrong_version_is_refused() -> None:
    upload = _volume_objects()[2]
    with pytest.raises(ValueError, match=r"served as velero\.io/v2alpha1"):
        FakeKubeAPI().create({**upload, "apiVersion": "velero.io/v1"})


# --- lists --------------------------------------------------------------------------------------------


async def test_pages_come_from_the_first_pages_snapshot(api: FaultyKubeAPI, http: aiohttp.ClientSession) -> None:
    url = f"{api.url}{BASE}/backups"
    status, page1 = await get_json(http, url, limit="3")
    assert status == 200
    list_rv = page1["metadata"]["resourceVersion"]
    assert list_rv == str(api.resource_version)
    assert page1["kind"] == "BackupList"
    assert page1["metadata"]["remainingItemCount"] == 4
    assert [i["metadata"]["name"] for i in page1["items"]] == ["b0", "b1", "b2"]
    assert {(i["apiVersion"], i["kind"]) for i in page1["items"]} == {("velero.io/v1", "Backup")}

    # Changes after the first page do not show up in the rest of this list, as with etcd.
    api.delete("backups", "b4")
    api.create(objects.backup("b35"))
    _, page2 = await get_json(http, url, limit="3", **{"continue": page1["metadata"]["continue"]})
    _, page3 = await get_json(http, url, limit="3", **{"continue": page2["metadata"]["continue"]})

    assert [i["metadata"]["name"] for i in page2["items"]] == ["b3", "b4", "b5"]
    assert [i["metadata"]["name"] for i in page3["items"]] == ["b6"]
    assert page2["metadata"]["resourceVersion"] == page3["metadata"]["resourceVersion"] == list_rv
    assert "continue" not in page3["metadata"]
    assert "remainingItemCount" not in page3["metadata"]
    # A fresh list sees the changes.
    _, fresh = await get_json(http, url)
    assert [i["metadata"]["name"] for i in fresh["items"]] == ["b0", "b1", "b2", "b3", "b35", "b5", "b6"]


async def test_continue_token_after_compaction_is_expired(api: FaultyKubeAPI, http: aiohttp.ClientSession) -> None:
    url = f"{api.url}{BASE}/backups"
    _, page1 = await get_json(http, url, limit="2")
    api.compact()

    status, body = await get_json(http, url, limit="2", **{"continue": page1["metadata"]["continue"]})

    assert status == 410
    assert body["kind"] == "Status"
    assert body["reason"] == "Expired"
    assert body["code"] == 410
    assert body["message"].startswith("The provided continue parameter is too old")
    # Like the apiserver, it offers a token to carry on inconsistently.
    assert decode_continue(body["metadata"]["continue"]) == (api.resource_version, "b1\x00")


async def test_continue_token_expires_after_ttl(http: aiohttp.ClientSession) -> None:
    server = FakeKubeAPI(continue_ttl=0.1)
    await server.start()
    try:
        for i in range(3):
            server.create(objects.backup(f"b{i}"))
        url = f"{server.url}{BASE}/backups"
        _, page1 = await get_json(http, url, limit="1")
        await asyncio.sleep(0.2)
        status, body = await get_json(http, url, limit="1", **{"continue": page1["metadata"]["continue"]})
        assert (status, body["reason"]) == (410, "Expired")
        status, body = await get_json(http, url, limit="1", **{"continue": "not-a-token"})
        assert (status, body["reason"]) == (400, "BadRequest")
    finally:
        await server.stop()


async def test_rv0_list_ignores_limit_like_the_watch_cache(api: FaultyKubeAPI, http: aiohttp.ClientSession) -> None:
    _, body = await get_json(http, f"{api.url}{BASE}/backups", limit="2", resourceVersion="0")

    assert len(body["items"]) == 7
    assert "continue" not in body["metadata"]


async def test_selectors_get_and_not_found(api: FaultyKubeAPI, http: aiohttp.ClientSession) -> None:
    url = f"{api.url}{BASE}/backups"

    def names(body: dict[str, Any]) -> list[str]:
        return [i["metadata"]["name"] for i in body["items"]]

    assert names((await get_json(http, url, labelSelector="velero.io/schedule-name=daily"))[1]) == [
        "b1",
        "b3",
        "b5",
    ]
    assert names((await get_json(http, url, labelSelector="velero.io/schedule-name!=daily"))[1]) == [
        "b0",
        "b2",
        "b4",
        "b6",
    ]
    assert names((await get_json(http, url, labelSelector="!velero.io/schedule-name"))[1]) == ["b0", "b2", "b4", "b6"]
    assert names((await get_json(http, url, labelSelector="velero.io/schedule-name in (daily,x)"))[1]) == [
        "b1",
        "b3",
        "b5",
    ]
    assert names((await get_json(http, url, fieldSelector="metadata.name=b4"))[1]) == ["b4"]
    # Pagination counts matching items, and omits remainingItemCount under a selector.
    _, page = await get_json(http, url, labelSelector="velero.io/schedule-name", limit="2")
    assert names(page) == ["b1", "b3"]
    assert "remainingItemCount" not in page["metadata"]
    status, body = await get_json(http, url, fieldSelector="spec.ttl=1h")
    assert (status, body["reason"]) == (400, "BadRequest")

    _, all_ns = await get_json(http, f"{api.url}/apis/velero.io/v1/backups")
    assert len(all_ns["items"]) == 7
    _, other_ns = await get_json(http, f"{api.url}/apis/velero.io/v1/namespaces/other/backups")
    assert other_ns["items"] == []

    status, one = await get_json(http, f"{url}/b2")
    assert status == 200
    assert one["metadata"]["name"] == "b2"
    status, missing = await get_json(http, f"{url}/nope")
    assert (status, missing["kind"], missing["reason"]) == (404, "Status", "NotFound")
    status, unknown = await get_json(http, f"{api.url}/openapi/v2")
    assert (status, unknown["reason"]) == (404, "NotFound")


async def test_discovery(api: FaultyKubeAPI, http: aiohttp.ClientSession) -> None:
    _, version = await get_json(http, f"{api.url}/version")
    _, groups = await get_json(http, f"{api.url}/apis")
    _, resources = await get_json(http, f"{api.url}/apis/velero.io/v1")

    _, v2alpha1 = await get_json(http, f"{api.url}/apis/velero.io/v2alpha1")

    assert version["gitVersion"] == "v1.30.0"
    preferred = {g["name"]: g["preferredVersion"]["groupVersion"] for g in groups["groups"]}
    assert preferred == {"storage.k8s.io": "storage.k8s.io/v1", "velero.io": "velero.io/v1"}
    (velero,) = [g for g in groups["groups"] if g["name"] == "velero.io"]
    assert [v["groupVersion"] for v in velero["versions"]] == ["velero.io/v1", "velero.io/v2alpha1"]
    by_name = {r["name"]: r for r in resources["resources"]}
    assert set(by_name) == {
        "backups",
        "restores",
        "schedules",
        "backupstoragelocations",
        "volumesnapshotlocations",
        "podvolumebackups",
        "podvolumerestores",
        "backuprepositories",
    }
    assert v2alpha1["groupVersion"] == "velero.io/v2alpha1"
    assert {r["name"]: r["kind"] for r in v2alpha1["resources"]} == {
        "datauploads": "DataUpload",
        "datadownloads": "DataDownload",
    }
    assert by_name["backupstoragelocations"]["shortNames"] == ["bsl"]
    assert by_name["volumesnapshotlocations"]["kind"] == "VolumeSnapshotLocation"
    assert all(r["namespaced"] for r in by_name.values())
    assert by_name["backups"]["verbs"] == ["get", "list", "watch", "create", "update", "patch", "delete"]


# --- object API -------------------------------------------------------------------------------------


async def test_object_metadata_and_versions() -> None:
    server = FakeKubeAPI()
    created = server.create(objects.backup("a", started=T0))
    meta = created["metadata"]
    assert meta["resourceVersion"] == "1"
    assert meta["generation"] == 1
    assert meta["creationTimestamp"] == "2023-11-14T22:13:20Z"
    assert meta["uid"]
    with pytest.raises(AlreadyExistsError):
        server.create(objects.backup("a"))

    status_only = objects.backup("a", started=T0, phase="Failed")
    replaced = server.replace(status_only)
    assert replaced["metadata"]["resourceVersion"] == "2"
    assert replaced["metadata"]["uid"] == meta["uid"]
    assert replaced["metadata"]["generation"] == 1  # status changes keep the generation
    spec_change = objects.backup("a", started=T0, ttl="1h0m0s")
    assert server.apply(spec_change)["metadata"]["generation"] == 2
    assert server.apply(objects.schedule("s", cron="@daily"))["metadata"]["resourceVersion"] == "4"

    server.delete("backups", "a")
    assert server.get("backups", "a") is None
    with pytest.raises(KeyError):
        server.delete("backups", "a")
    # Returned objects are copies.
    got = server.get("schedules", "s")
    assert got is not None
    got["spec"]["schedule"] = "changed"
    assert server.list("schedules")[0]["spec"]["schedule"] == "@daily"


async def test_http_writes(api: FaultyKubeAPI, http: aiohttp.ClientSession) -> None:
    url = f"{api.url}{BASE}/backups"
    async with http.post(url, json=objects.backup("posted")) as resp:
        assert resp.status == 201
        posted = await resp.json()
    async with http.post(url, json=objects.backup("posted")) as resp:
        assert (resp.status, (await resp.json())["reason"]) == (409, "AlreadyExists")

    stale = dict(posted, metadata={**posted["metadata"], "resourceVersion": "1"})
    async with http.put(f"{url}/posted", json=stale) as resp:
        assert (resp.status, (await resp.json())["reason"]) == (409, "Conflict")
    patch = {"metadata": {"labels": {"tier": "gold"}}}
    headers = {"Content-Type": "application/merge-patch+json"}
    async with http.patch(f"{url}/posted", data=json.dumps(patch), headers=headers) as resp:
        assert resp.status == 200
        assert (await resp.json())["metadata"]["labels"] == {"tier": "gold"}
    async with http.delete(f"{url}/posted") as resp:
        assert resp.status == 200
    assert api.get("backups", "posted") is None


# --- watches ------------------------------------------------------------------------------------------


async def test_watch_replays_history_from_a_resource_version(api: FaultyKubeAPI, http: aiohttp.ClientSession) -> None:
    since = api.resource_version
    api.create(objects.backup("new"))
    api.replace(objects.backup("b1", phase="Deleting"))
    api.create(objects.restore("r1", backup_name="b1"))  # another resource: not in this watch
    api.delete("backups", "b2")

    watch = await open_watch(http, api, "backups", resourceVersion=str(since), timeoutSeconds="0.3")
    events = await watch.rest()

    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "new"),
        ("MODIFIED", "b1"),
        ("DELETED", "b2"),
    ]
    rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert rvs == [since + 1, since + 2, since + 4]
    assert events[1]["object"]["status"]["phase"] == "Deleting"


async def test_watch_from_zero_lists_then_streams_live(api: FaultyKubeAPI, http: aiohttp.ClientSession) -> None:
    watch = await open_watch(http, api, "backups", resourceVersion="0")
    initial = [await watch.next() for _ in range(7)]
    api.create(objects.backup("live"))
    live = await watch.next()
    watch.resp.close()

    assert [e and (e["type"], e["object"]["metadata"]["name"]) for e in initial] == [
        ("ADDED", f"b{i}") for i in range(7)
    ]
    assert live is not None
    assert (live["type"], live["object"]["metadata"]["name"]) == ("ADDED", "live")


async def test_watch_with_selectors_reports_label_transitions(api: FaultyKubeAPI, http: aiohttp.ClientSession) -> None:
    watch = await open_watch(http, api, "backups", resourceVersion=str(api.resource_version), labelSelector="tier=gold")
    named = await open_watch(
        http, api, "backups", resourceVersion=str(api.resource_version), fieldSelector="metadata.name=b0"
    )
    api.replace(objects.backup("b0", labels={"tier": "gold"}))
    api.replace(objects.backup("b0", labels={"tier": "gold"}, phase="Failed"))
    api.replace(objects.backup("b0", labels={"tier": "silver"}))
    api.replace(objects.backup("b1", labels={"tier": "gold"}))
    api.delete("backups", "b1")

    got = [await watch.next() for _ in range(5)]
    got_named = [await named.next() for _ in range(3)]
    watch.resp.close()
    named.resp.close()

    assert [e and (e["type"], e["object"]["metadata"]["name"]) for e in got] == [
        ("ADDED", "b0"),
        ("MODIFIED", "b0"),
        ("DELETED", "b0"),
        ("ADDED", "b1"),
        ("DELETED", "b1"),
    ]
    assert [e and e["type"] for e in got_named] == ["MODIFIED"] * 3


async def test_watch_from_compacted_rv_gets_410_error_event(api: FaultyKubeAPI, http: aiohttp.ClientSession) -> None:
    old = api.resource_version
    api.create(objects.backup("after"))
    api.compact()

    watch = await open_watch(http, api, "backups", resourceVersion=str(old))
    events = await watch.rest()

    assert len(events) == 1
    error = events[0]
    assert error["type"] == "ERROR"
    assert error["object"]["kind"] == "Status"
    assert error["object"]["code"] == 410
    assert error["object"]["reason"] == "Expired"
    assert error["object"]["message"] == f"too old resource version: {old} ({old + 1})"
    # The current resourceVersion is still fine to watch from.
    fresh = await open_watch(http, api, "backups", resourceVersion=str(api.resource_version), timeoutSeconds="0.3")
    assert await fresh.rest() == []


async def test_history_window_is_bounded(http: aiohttp.ClientSession) -> None:
    server = FakeKubeAPI(history_size=3)
    await server.start()
    try:
        for i in range(6):
            server.create(objects.backup(f"b{i}"))
        too_old = await open_watch(http, server, "backups", resourceVersion="2")
        oldest_kept = await open_watch(http, server, "backups", resourceVersion="3", timeoutSeconds="0.3")
        assert [e["object"]["code"] for e in await too_old.rest()] == [410]
        assert [e["object"]["metadata"]["name"] for e in await oldest_kept.rest()] == ["b3", "b4", "b5"]
    finally:
        await server.stop()


async def test_bookmarks(api: FaultyKubeAPI, http: aiohttp.ClientSession) -> None:
    watch = await open_watch(
        http, api, "backups", resourceVersion=str(api.resource_version), allowWatchBookmarks="true"
    )
    api.create(objects.restore("r", backup_name="b0"))  # moves the global resourceVersion only
    event = await watch.next(wait=2)
    watch.resp.close()

    assert event == {
        "type": "BOOKMARK",
        "object": {
            "kind": "Backup",
            "apiVersion": "velero.io/v1",
            "metadata": {"resourceVersion": str(api.resource_version)},
        },
    }
    # Without allowWatchBookmarks there are none.
    quiet = await open_watch(http, api, "backups", resourceVersion=str(api.resource_version), timeoutSeconds="0.5")
    assert await quiet.rest() == []


async def test_send_initial_events_ends_with_an_annotated_bookmark(
    api: FakeKubeAPI, http: aiohttp.ClientSession
) -> None:
    watch = await open_watch(
        http,
        api,
        "backupstoragelocations",
        sendInitialEvents="true",
        allowWatchBookmarks="true",
        resourceVersionMatch="NotOlderThan",
    )
    added, bookmark = await watch.next(), await watch.next()
    watch.resp.close()

    assert added is not None
    assert (added["type"], added["object"]["metadata"]["name"]) == ("ADDED", "default")
    assert bookmark is not None
    assert bookmark["type"] == "BOOKMARK"
    assert bookmark["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


async def test_timeout_seconds_ends_the_stream_cleanly(api: FaultyKubeAPI, http: aiohttp.ClientSession) -> None:
    started = time.monotonic()
    watch = await open_watch(http, api, "backups", resourceVersion=str(api.resource_version), timeoutSeconds="1")
    events = await watch.rest()
    elapsed = time.monotonic() - started

    assert events == []
    assert 0.9 <= elapsed < 3


# --- faults -------------------------------------------------------------------------------------------


async def test_fail_with_retry_after(api: FaultyKubeAPI, http: aiohttp.ClientSession) -> None:
    api.faults.fail(plural="backups", verb="list", status=429, times=2, retry_after=1.5)
    url = f"{api.url}{BASE}/backups"

    async with http.get(f"{api.url}{BASE}/schedules") as other:
        assert other.status == 200
    for _ in range(2):
        async with http.get(url) as resp:
            body = await resp.json()
            assert resp.status == 429
            assert resp.headers["Retry-After"] == "2"
            assert (body["kind"], body["reason"], body["code"]) == ("Status", "TooManyRequests", 429)
            assert body["details"]["retryAfterSeconds"] == 2
    async with http.get(url) as resp:
        assert resp.status == 200
    assert [r.status for r in api.requests if r.path == f"{BASE}/backups"] == [429, 429, 200]

    api.faults.fail(verb="watch", status=503)
    async with http.get(url, params={"watch": "true"}) as resp:
        assert (resp.status, (await resp.json())["reason"]) == (503, "ServiceUnavailable")


async def test_forbid_and_allow(api: FaultyKubeAPI, http: aiohttp.ClientSession) -> None:
    url = f"{api.url}{BASE}/backups"
    api.faults.forbid("backups")

    status, body = await get_json(http, url)
    assert (status, body["reason"]) == (403, "Forbidden")
    assert 'cannot list resource "backups" in API group "velero.io"' in body["message"]
    status, body = await get_json(http, url, watch="true")
    assert (status, body["reason"]) == (403, "Forbidden")
    assert (await get_json(http, f"{api.url}{BASE}/schedules"))[0] == 200

    api.faults.allow("backups")
    assert (await get_json(http, url))[0] == 200


async def test_cut_watches_mid_event_leaves_a_partial_line(api: FaultyKubeAPI, http: aiohttp.ClientSession) -> None:
    watch = await open_watch(http, api, "backups", resourceVersion=str(api.resource_version))
    api.create(objects.backup("first"))
    first = await watch.next()
    assert first is not None
    assert first["object"]["metadata"]["name"] == "first"

    api.faults.cut_watches(mid_event=True)
    received = b""
    with pytest.raises(aiohttp.ClientPayloadError):
        while chunk := await asyncio.wait_for(watch.resp.content.read(1024), 5):
            received += chunk

    assert received
    assert not received.endswith(b"\n")
    with pytest.raises(json.JSONDecodeError):
        json.loads(received)
    assert received.startswith(b'{"type":"BOOKMARK"')


async def test_cut_watches_loses_queued_events_but_history_keeps_them(
    api: FaultyKubeAPI, http: aiohttp.ClientSession
) -> None:
    since = api.resource_version
    watch = await open_watch(http, api, "backups", resourceVersion=str(since))
    await asyncio.sleep(0.05)  # let the stream go live
    api.create(objects.backup("in-flight"))
    api.faults.cut_watches(mid_event=True)
    received = b""
    with pytest.raises(aiohttp.ClientPayloadError):
        while chunk := await asyncio.wait_for(watch.resp.content.read(1024), 5):
            received += chunk
    assert received.startswith(b'{"type":"ADDED","object":{"apiVersion":"velero.io/v1","kind":"Backup"')
    assert b"\n" not in received

    # Re-watching from the last resourceVersion the client saw delivers the half-sent event.
    again = await open_watch(http, api, "backups", resourceVersion=str(since), timeoutSeconds="0.3")
    assert [e["object"]["metadata"]["name"] for e in await again.rest()] == ["in-flight"]


async def test_expire_watches(api: FaultyKubeAPI, http: aiohttp.ClientSession) -> None:
    since = api.resource_version
    watch = await open_watch(http, api, "backups", resourceVersion=str(since))
    await asyncio.sleep(0.05)
    api.faults.expire_watches()

    events = await watch.rest()
    assert [(e["type"], e["object"]["code"], e["object"]["reason"]) for e in events] == [("ERROR", 410, "Expired")]
    # History went with it.
    api.create(objects.backup("x"))
    again = await open_watch(http, api, "backups", resourceVersion=str(since - 1))
    assert [e["type"] for e in await again.rest()] == ["ERROR"]


async def test_stall_watches(api: FaultyKubeAPI, http: aiohttp.ClientSession) -> None:
    rv = str(api.resource_version)
    stalled = await open_watch(http, api, "backups", resourceVersion=rv, allowWatchBookmarks="true")
    await asyncio.sleep(0.05)
    api.faults.stall_watches(0.5)
    during = await open_watch(http, api, "backups", resourceVersion=rv)
    api.create(objects.backup("during-stall"))

    # The new stream says nothing until the stall is over, then delivers.
    with pytest.raises(TimeoutError):
        await during.next(wait=0.3)
    event = await during.next(wait=2)
    assert event is not None
    assert event["object"]["metadata"]["name"] == "during-stall"
    # The stalled stream stays silent: no event, no bookmark, connection held open.
    with pytest.raises(TimeoutError):
        await stalled.next(wait=0.6)
    assert not stalled.resp.content.at_eof()
    stalled.resp.close()
    during.resp.close()


async def test_go_down_and_come_up(api: FaultyKubeAPI, http: aiohttp.ClientSession) -> None:
    url = f"{api.url}{BASE}/backups"
    _, before = await get_json(http, url)
    pre_down_rv = before["metadata"]["resourceVersion"]
    watch = await open_watch(http, api, "backups", resourceVersion=pre_down_rv)
    await asyncio.sleep(0.05)

    await api.go_down()
    with pytest.raises(aiohttp.ClientPayloadError):
        await watch.rest()
    with pytest.raises(aiohttp.ClientConnectionError):
        await get_json(http, url)
    api.delete("backups", "b0")
    api.delete("backups", "b6")

    await api.come_up()
    assert api.url.endswith(f":{api.port}")
    _, after = await get_json(http, url)
    assert [i["metadata"]["name"] for i in after["items"]] == ["b1", "b2", "b3", "b4", "b5"]
    replay = await open_watch(http, api, "backups", resourceVersion=pre_down_rv, timeoutSeconds="0.3")
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in await replay.rest()] == [
        ("DELETED", "b0"),
        ("DELETED", "b6"),
    ]


async def test_stop_closes_open_watches(http: aiohttp.ClientSession) -> None:
    server = FakeKubeAPI()
    await server.start()
    watch = await open_watch(http, server, "backups")
    await asyncio.sleep(0.05)
    started = time.monotonic()
    await server.stop()
    assert await watch.rest() == []
    assert time.monotonic() - started < 1.5


async def test_kubeconfig(tmp_path: pathlib.Path) -> None:
    server = FakeKubeAPI(namespace="backup-system")
    await server.start()
    try:
        config = json.loads(server.write_kubeconfig(tmp_path / "kc").read_text())
    finally:
        await server.stop()
    assert config["clusters"][0]["cluster"]["server"] == server.url
    assert config["contexts"][0]["context"]["namespace"] == "backup-system"
    assert config["users"][0]["user"] == {"token": "sandbox-token"}


async def test_large_list_is_fast(http: aiohttp.ClientSession) -> None:
    server = FakeKubeAPI()
    await server.start()
    try:
        for i in range(20_000):
            server.create(objects.backup(f"backup-{i:06d}", schedule="daily", started=T0 + i))
        url = f"{server.url}{BASE}/backups"
        started = time.monotonic()
        _, page = await get_json(http, url, limit="500")
        while page["metadata"].get("continue"):
            _, page = await get_json(http, url, limit="500", **{"continue": page["metadata"]["continue"]})
        async with http.get(url) as resp:
            assert len((await resp.json())["items"]) == 20_000
        assert time.monotonic() - started < 5
    finally:
        await server.stop()


def test_continue_token_shape() -> None:
    # Same encoding as the apiserver: unpadded base64url of {"v","rv","start"}.
    token = encode_continue(42, "b1\x00")
    padded = token + "=" * (-len(token) % 4)
    assert json.loads(base64.urlsafe_b64decode(padded)) == {"v": "meta.k8s.io/v1", "rv": 42, "start": "b1\x00"}


# --- the cluster's own kinds (core/v1, storage.k8s.io/v1) -----------------------------------------------------


@pytest.fixture
async def cluster() -> AsyncIterator[FakeKubeAPI]:
    """Namespaces with pods and claims, volumes, a storage class and a ConfigMap, beside Velero's objects."""
    server = FakeKubeAPI(bookmark_interval=0.2)
    await server.start()
    for name in ("apps", "data", "velero"):
        server.create(k.namespace(name, created=T0))
    for namespace, count in (("apps", 3), ("data", 2)):
        for i in range(count):
            claim = f"{namespace}-vol-{i}"
            server.create(k.pod(f"pod-{i}", namespace, claims={"v": claim}, created=T0))
            server.create(k.persistent_volume_claim(claim, namespace, volume=f"pv-{claim}", storage_class="gp3"))
            server.create(k.persistent_volume(f"pv-{claim}", claim=(namespace, claim), storage_class="gp3"))
    server.create(k.storage_class("gp3", default=True))
    server.create(k.config_map("volume-policy", "velero", {"policy.yaml": "version: v1\n"}))
    server.create(objects.backup("b0", started=T0))
    try:
        yield server
    finally:
        await server.stop()


@needs_kubectl
async def test_kubectl_lists_pods_across_namespaces_in_pages(cluster: FakeKubeAPI, tmp_path: pathlib.Path) -> None:
    out = await kubectl(cluster, tmp_path, "get", "pods", "-A", "--chunk-size=2", "-o", "name")

    assert out.split() == [f"pod/pod-{i}" for i in range(3)] + [f"pod/pod-{i}" for i in range(2)]
    lists = [r.query for r in cluster.requests if r.path == "/api/v1/pods"]
    assert [q.get("limit") for q in lists] == ["2", "2", "2"]
    # Across namespaces the continue token's start is the key "<namespace>/<name>", as the apiserver's.
    assert [decode_continue(q["continue"])[1] for q in lists[1:]] == ["apps/pod-1\x00", "data/pod-0\x00"]


@needs_kubectl
async def test_kubectl_default_output_of_every_cluster_kind(cluster: FakeKubeAPI, tmp_path: pathlib.Path) -> None:
    namespaces = (await kubectl(cluster, tmp_path, "get", "ns")).splitlines()
    claims = (await kubectl(cluster, tmp_path, "get", "pvc", "-n", "data")).splitlines()
    volumes = (await kubectl(cluster, tmp_path, "get", "pv", "-o", "name")).split()
    classes = (await kubectl(cluster, tmp_path, "get", "storageclasses.storage.k8s.io", "-o", "name")).split()
    maps = (await kubectl(cluster, tmp_path, "get", "cm", "-n", "velero", "-o", "name")).split()
    wide = (await kubectl(cluster, tmp_path, "get", "pods", "-A")).splitlines()

    assert namespaces[0].split() == ["NAME", "AGE"]
    assert [line.split()[0] for line in namespaces[1:]] == ["apps", "data", "velero"]
    assert [line.split()[0] for line in claims[1:]] == ["data-vol-0", "data-vol-1"]  # one namespace only
    assert len(volumes) == 5 and volumes[0] == "persistentvolume/pv-apps-vol-0"
    assert classes == ["storageclass.storage.k8s.io/gp3"]
    assert maps == ["configmap/volume-policy"]
    assert wide[0].split() == ["NAMESPACE", "NAME", "AGE"]
    assert wide[1].split()[:2] == ["apps", "pod-0"]


@needs_kubectl
async def test_kubectl_watches_pods_of_every_namespace(cluster: FakeKubeAPI, tmp_path: pathlib.Path) -> None:
    async with kubectl_watching(cluster, tmp_path, "get", "pods", "-A", "-w", "-o", "name") as out, asyncio.timeout(20):
        for _ in range(5):
            await out.readline()
        await watch_opened(cluster, "/api/v1/pods")
        cluster.create(k.namespace("late", created=T0))
        cluster.create(k.pod("newcomer", "late", claims={"v": "c"}))
        line = (await out.readline()).decode().strip()
    assert line == "pod/newcomer"


@needs_kubectl
async def test_kubectl_deletes_a_pod_in_its_namespace(cluster: FakeKubeAPI, tmp_path: pathlib.Path) -> None:
    out = await kubectl(cluster, tmp_path, "delete", "pod", "pod-1", "-n", "data")

    assert out.strip() == 'pod "pod-1" deleted'
    assert cluster.get("pods", "pod-1", "data") is None
    assert cluster.get("pods", "pod-1", "apps") is not None


async def test_cluster_kinds_over_raw_http(cluster: FakeKubeAPI, http: aiohttp.ClientSession) -> None:
    status, namespace = await get_json(http, f"{cluster.url}/api/v1/namespaces/data")
    assert (status, namespace["kind"], namespace["apiVersion"]) == (200, "Namespace", "v1")
    assert "namespace" not in namespace["metadata"]
    status, claims = await get_json(http, f"{cluster.url}/api/v1/namespaces/apps/persistentvolumeclaims", limit="2")
    assert (status, claims["kind"]) == (200, "PersistentVolumeClaimList")
    assert [i["metadata"]["name"] for i in claims["items"]] == ["apps-vol-0", "apps-vol-1"]
    assert claims["metadata"]["remainingItemCount"] == 1  # counted within the namespace
    assert decode_continue(claims["metadata"]["continue"])[1] == "apps-vol-1\x00"
    _, cluster_wide = await get_json(http, f"{cluster.url}/api/v1/persistentvolumeclaims")
    assert len(cluster_wide["items"]) == 5
    status, policy = await get_json(http, f"{cluster.url}/api/v1/namespaces/velero/configmaps/volume-policy")
    assert (status, policy["data"]) == (200, {"policy.yaml": "version: v1\n"})
    status, missing = await get_json(http, f"{cluster.url}/api/v1/namespaces/velero/configmaps/nope")
    assert (status, missing["message"]) == (404, 'configmaps "nope" not found')
    status, classes = await get_json(http, f"{cluster.url}/apis/storage.k8s.io/v1/storageclasses")
    assert (status, classes["kind"], classes["items"][0]["provisioner"]) == (200, "StorageClassList", "ebs.csi.aws.com")
    # A cluster-scoped kind has no namespaced path.
    status, _ = await get_json(http, f"{cluster.url}/api/v1/namespaces/data/persistentvolumes")
    assert status == 404
    _, core = await get_json(http, f"{cluster.url}/api/v1")
    scopes = {r["name"]: r["namespaced"] for r in core["resources"]}
    assert scopes == {
        "namespaces": False,
        "pods": True,
        "persistentvolumeclaims": True,
        "persistentvolumes": False,
        "configmaps": True,
    }


async def test_a_forbidden_cluster_kind_names_its_api_group(cluster: FakeKubeAPI, http: aiohttp.ClientSession) -> None:
    cluster.forbidden.add("pods")
    status, body = await get_json(http, f"{cluster.url}/api/v1/pods")
    assert status == 403
    assert body["message"] == (
        'pods is forbidden: User "system:serviceaccount:velero:velero-exporter" cannot list resource "pods" '
        'in API group "" at the cluster scope'
    )


async def test_a_watch_of_one_namespace_sees_only_it(cluster: FakeKubeAPI, http: aiohttp.ClientSession) -> None:
    resp = await http.get(
        f"{cluster.url}/api/v1/namespaces/data/pods",
        params={"watch": "true", "resourceVersion": str(cluster.resource_version)},
    )
    watch = Watch(resp)
    cluster.create(k.pod("elsewhere", "apps", claims={"v": "x"}))
    cluster.create(k.pod("here", "data", claims={"v": "y"}))
    event = await watch.next()
    resp.close()
    assert event is not None and (event["type"], event["object"]["metadata"]["name"]) == ("ADDED", "here")
