"""A wire-level fake Kubernetes API server for Velero's resources (velero.io/v1, and velero.io/v2alpha1 for the
data movers' DataUploads and DataDownloads since Velero 1.12: a server made to play an older Velero serves v1 only,
and answers 404 for the rest as the real one does) and the cluster objects Velero's selection reads (namespaces,
pods, PersistentVolumeClaims, PersistentVolumes, ConfigMaps, StorageClasses).

It speaks what client-go (and so kubectl) expects: discovery, paginated lists with continue tokens
served from a snapshot, watches with history replay, bookmarks and 410 Expired, Table output, and
create/replace/patch/delete, with RBAC's 403 for the resources the client may not read (`forbidden`). Namespaced
objects live in any namespace (Velero's are created in the server's `namespace` unless they say otherwise) and are
keyed as the apiserver keys them, namespace then name. An open watch can be closed, cut (mid-event), expired or
muted: the stream primitives a subclass uses to inject the failure modes of a real apiserver
(tests/faulty_kube_api.py), through the hooks `_refusal` (answer a request with an error instead),
`_continue_survives` (a paginated list's snapshot outlives its first page) and `_watch_expires_at_once`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import bisect
import builtins
import collections
import contextlib
import dataclasses
import json
import pathlib
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from aiohttp import web

GROUP = "velero.io"
VERSION = "v1"
V2ALPHA1 = "v2alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
# Velero's group versions, the preferred one first (Velero's CRDs make v1 the storage version of its kinds).
VERSIONS: tuple[str, ...] = (VERSION, V2ALPHA1)
Obj = dict[str, Any]

_JSON = "application/json"
_INITIAL_EVENTS_END = "k8s.io/initial-events-end"
_ALL_VERBS = ["get", "list", "watch", "create", "update", "patch", "delete"]


@dataclasses.dataclass(frozen=True)
class Resource:
    plural: str
    singular: str
    kind: str
    short_names: tuple[str, ...] = ()
    group: str = GROUP  # "" for the core group
    version: str = VERSION
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """As the apiserver names the resource in messages: "backups.velero.io", "pods"."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


RESOURCES: tuple[Resource, ...] = (
    Resource("backups", "backup", "Backup"),
    Resource("restores", "restore", "Restore"),
    Resource("schedules", "schedule", "Schedule"),
    Resource("backupstoragelocations", "backupstoragelocation", "BackupStorageLocation", ("bsl",)),
    Resource("volumesnapshotlocations", "volumesnapshotlocation", "VolumeSnapshotLocation", ("vsl",)),
    Resource("podvolumebackups", "podvolumebackup", "PodVolumeBackup"),
    Resource("podvolumerestores", "podvolumerestore", "PodVolumeRestore"),
    Resource("backuprepositories", "backuprepository", "BackupRepository"),
    Resource("datauploads", "dataupload", "DataUpload", version=V2ALPHA1),
    Resource("datadownloads", "datadownload", "DataDownload", version=V2ALPHA1),
)
STORAGE_GROUP = "storage.k8s.io"
# What a cluster holds besides Velero's objects and Velero's selection reads (the coverage source's kinds).
CLUSTER_RESOURCES: tuple[Resource, ...] = (
    Resource("namespaces", "namespace", "Namespace", ("ns",), group="", namespaced=False),
    Resource("pods", "pod", "Pod", ("po",), group=""),
    Resource("persistentvolumeclaims", "persistentvolumeclaim", "PersistentVolumeClaim", ("pvc",), group=""),
    Resource("persistentvolumes", "persistentvolume", "PersistentVolume", ("pv",), group="", namespaced=False),
    Resource("configmaps", "configmap", "ConfigMap", ("cm",), group=""),
    Resource("storageclasses", "storageclass", "StorageClass", ("sc",), group=STORAGE_GROUP, namespaced=False),
)
_ALL = (*RESOURCES, *CLUSTER_RESOURCES)
_BY_PLURAL = {r.plural: r for r in _ALL}
_BY_KIND = {r.kind: r for r in _ALL}
_BY_PATH = {(r.group, r.version, r.plural): r for r in _ALL}

_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


class AlreadyExistsError(ValueError):
    """create() of a name that is already stored."""


@dataclasses.dataclass
class RequestRecord:
    method: str
    path: str
    query: dict[str, str]
    # 0 until answered; streamed watches get theirs when their headers go out.
    status: int = 0


def _now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def status_body(code: int, message: str, *, reason: str | None = None, **extra: Any) -> Obj:
    body: Obj = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason or _REASONS.get(code, "Unknown"),
        "code": code,
    }
    body.update(extra)
    return body


def _status_response(
    code: int, message: str, *, headers: Mapping[str, str] | None = None, **extra: Any
) -> web.Response:
    return web.Response(
        status=code, body=_dumps(status_body(code, message, **extra)), content_type=_JSON, headers=headers
    )


def _json_response(obj: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=_dumps(obj), content_type=_JSON)


# --- stored objects and events ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class _Entry:
    """One version of one object; the encoded bytes are made once and reused by every list/watch."""

    name: str
    namespace: str  # "" for a cluster-scoped object
    labels: Mapping[str, str]
    created: str
    raw: bytes

    @property
    def key(self) -> str:
        return _key(self.namespace, self.name)

    def decode(self) -> Obj:
        obj: Obj = json.loads(self.raw)
        return obj


def _key(namespace: str, name: str) -> str:
    """The store key, in the apiserver's order: a namespaced object by namespace, then name."""
    return f"{namespace}/{name}" if namespace else name


@dataclasses.dataclass(frozen=True, slots=True)
class _Event:
    rv: int
    type: Literal["ADDED", "MODIFIED", "DELETED"]
    plural: str
    entry: _Entry
    # The previous version, so that label-selected watches can turn MODIFIED into ADDED/DELETED.
    prev: _Entry | None


@dataclasses.dataclass(frozen=True, slots=True)
class _Snapshot:
    names: list[str]  # never mutated: the store replaces its sorted list instead
    entries: dict[str, _Entry]
    taken: float


# --- selectors ------------------------------------------------------------------------------------


class SelectorError(ValueError):
    pass


_LABEL_REQ = re.compile(
    r"^\s*(?P<not>!)?\s*(?P<key>[A-Za-z0-9][-A-Za-z0-9_./]*)\s*"
    r"(?:(?P<op>==|=|!=)\s*(?P<value>[-A-Za-z0-9_.]*)|\s+(?P<setop>in|notin)\s*\((?P<values>[^)]*)\))?\s*$"
)


def _split_top_level(text: str) -> Iterator[str]:
    depth, start = 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            yield text[start:i]
            start = i + 1
    yield text[start:]


@dataclasses.dataclass(frozen=True)
class Selector:
    """labelSelector and fieldSelector (metadata.name / metadata.namespace) of a request."""

    labels: tuple[tuple[str, str, frozenset[str]], ...] = ()
    fields: tuple[tuple[str, bool, str], ...] = ()  # (field, equal?, value)

    @property
    def trivial(self) -> bool:
        return not self.labels and not self.fields

    @classmethod
    def parse(cls, label_selector: str, field_selector: str) -> Selector:
        labels: list[tuple[str, str, frozenset[str]]] = []
        if label_selector.strip():
            for part in _split_top_level(label_selector):
                m = _LABEL_REQ.match(part)
                if m is None:
                    raise SelectorError(f"unable to parse requirement: {part!r}")
                if m["not"]:
                    if m["op"] or m["setop"]:
                        raise SelectorError(f"unable to parse requirement: {part!r}")
                    labels.append((m["key"], "!exists", frozenset()))
                elif m["op"]:
                    op = "!=" if m["op"] == "!=" else "="
                    labels.append((m["key"], op, frozenset([m["value"]])))
                elif m["setop"]:
                    values = frozenset(v.strip() for v in m["values"].split(",") if v.strip())
                    labels.append((m["key"], m["setop"], values))
                else:
                    labels.append((m["key"], "exists", frozenset()))
        fields: list[tuple[str, bool, str]] = []
        if field_selector.strip():
            for part in field_selector.split(","):
                m2 = re.match(r"^\s*([A-Za-z.]+)\s*(==|=|!=)\s*(.*?)\s*$", part)
                if m2 is None:
                    raise SelectorError(f"invalid selector: {part!r}")
                if m2[1] not in ("metadata.name", "metadata.namespace"):
                    raise SelectorError(f'field label not supported: "{m2[1]}"')
                fields.append((m2[1], m2[2] != "!=", m2[3]))
        return cls(tuple(labels), tuple(fields))

    def matches(self, entry: _Entry) -> bool:
        for field, equal, value in self.fields:
            actual = entry.name if field == "metadata.name" else entry.namespace
            if (actual == value) != equal:
                return False
        for key, op, values in self.labels:
            present = key in entry.labels
            if op == "exists":
                ok = present
            elif op == "!exists":
                ok = not present
            elif op in ("=", "in"):
                ok = present and entry.labels[key] in values
            else:  # "!=" and "notin" also match objects without the label, as in Kubernetes
                ok = not present or entry.labels[key] not in values
            if not ok:
                return False
        return True


# --- watches --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class _Control:
    kind: Literal["cut", "cut_partial", "expire", "close"]
    # For cut_partial: the event that was in flight, half of which goes out before the cut.
    in_flight: _Event | None = None


_Item = _Event | _Control


@dataclasses.dataclass(eq=False)
class _Watcher:
    plural: str
    namespace: str | None
    selector: Selector
    table: bool
    queue: asyncio.Queue[_Item] = dataclasses.field(default_factory=asyncio.Queue)
    # Only live watchers receive events; a watcher waiting out a stall is not live yet.
    live: bool = False
    # A stalled watcher never sends anything again; it only reacts to cut/close.
    muted: bool = False
    sent_header: bool = False

    def wants(self, entry: _Entry) -> bool:
        if self.namespace is not None and entry.namespace != self.namespace:
            return False
        return self.selector.matches(entry)


# --- Table output (what `kubectl get` asks for) -----------------------------------------------------

_TABLE_COLUMNS = [
    {
        "name": "Name",
        "type": "string",
        "format": "name",
        "description": "Name must be unique within a namespace.",
        "priority": 0,
    },
    {
        "name": "Age",
        "type": "date",
        "format": "",
        "description": "CreationTimestamp is a timestamp representing the server time when this object was created.",
        "priority": 0,
    },
]


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration, which kubectl shows as AGE."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = hours // 24
        return f"{days // 365}y{days % 365}d" if days % 365 else f"{days // 365}y"
    return f"{hours // 24 // 365}y"


def _age(created: str, now: float) -> str:
    try:
        t = datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return "<unknown>"
    return human_duration(now - t)


def _table_row(entry: _Entry, include: str, now: float) -> Obj:
    row: Obj = {"cells": [entry.name, _age(entry.created, now)]}
    if include == "Object":
        row["object"] = entry.decode()
    elif include != "None":
        meta = entry.decode()["metadata"]
        row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": meta}
    return row


def _wants_table(request: web.Request) -> bool:
    # kubectl's human-readable output sends "application/json;as=Table;v=v1;g=meta.k8s.io,...".
    return "as=Table" in request.headers.get("Accept", "")


# --- continue tokens ------------------------------------------------------------------------------


def encode_continue(rv: int, start: str) -> str:
    """Same shape as the apiserver's: base64url(JSON{v, rv, start}) where start is the next key."""
    raw = _dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_continue(token: str) -> tuple[int, str]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        rv, start = int(data["rv"]), str(data["start"])
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"continue key is not valid: {exc}") from exc
    return rv, start


_EXPIRED_CONTINUE = (
    "The provided continue parameter is too old to display a consistent list result. You can start a new "
    "list without the continue parameter, or use the continue token in this response to retrieve the "
    "remainder of the results. Continuing with the provided token results in an inconsistent list - objects "
    "that were created, modified, or deleted between the time the first chunk was returned and now may show "
    "up in the list."
)


# --- the server -----------------------------------------------------------------------------------


def _api_group(group: str, versions: builtins.list[str]) -> Obj:
    return {
        "name": group,
        "versions": [{"groupVersion": f"{group}/{v}", "version": v} for v in versions],
        "preferredVersion": {"groupVersion": f"{group}/{versions[0]}", "version": versions[0]},
    }


def _resource_list(resources: Iterable[Resource], group_version: str, group: str, version: str) -> Obj:
    """The APIResourceList of one group version, as discovery serves it."""
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": [
            {
                "name": r.plural,
                "singularName": r.singular,
                "namespaced": r.namespaced,
                "kind": r.kind,
                "verbs": _ALL_VERBS,
                **({"shortNames": list(r.short_names)} if r.short_names else {}),
                **({"categories": ["velero"]} if r.group == GROUP else {}),
            }
            for r in resources
            if (r.group, r.version) == (group, version)
        ],
    }


def _route(parts: builtins.list[str]) -> tuple[Resource, str | None, str | None] | None:
    """(resource, namespace, name) of a resource path: /api/v1/... (the core group) or /apis/<group>/<version>/...,
    then [namespaces/<namespace>/]<plural>[/<name>]; /api/v1/namespaces/<name> is a namespace itself."""
    if parts[:2] == ["api", "v1"]:
        group, version, rest = "", "v1", parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    namespace: str | None = None
    if rest[:1] == ["namespaces"] and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 2:
        return None
    resource = _BY_PATH.get((group, version, rest[0]))
    if resource is None or (namespace is not None and not resource.namespaced):
        return None
    return resource, namespace, rest[1] if len(rest) == 2 else None


class FakeKubeAPI:
    """In-memory apiserver of Velero's kinds and the cluster's.  Mutate it from the event loop's thread.

    `versions` are the Velero group versions it serves: ("v1",) plays a Velero older than 1.12, without the data
    movers.
    """

    def __init__(
        self,
        namespace: str = "velero",
        *,
        history_size: int = 10000,
        bookmark_interval: float = 5.0,
        continue_ttl: float = 300.0,
        versions: tuple[str, ...] = VERSIONS,
    ) -> None:
        self.namespace = namespace
        self.versions = tuple(v for v in VERSIONS if v in versions)
        self.resources = (*(r for r in RESOURCES if r.version in self.versions), *CLUSTER_RESOURCES)
        self.history_size = history_size
        self.bookmark_interval = bookmark_interval
        self.continue_ttl = continue_ttl
        self.url = ""
        self.port = 0
        self.host = "127.0.0.1"
        # RBAC: the resources (plural) the client's Role does not grant; every request for them answers 403.
        self.forbidden: set[str] = set()
        self.requests: list[RequestRecord] = []
        self._records: dict[int, RequestRecord] = {}  # by id() of the request being handled
        self._rv = 0
        self._objects: dict[str, dict[str, _Entry]] = {r.plural: {} for r in _ALL}  # by key
        self._sorted: dict[str, list[str] | None] = {r.plural: None for r in _ALL}
        self._history: collections.deque[_Event] = collections.deque(maxlen=history_size)
        # Events with rv <= this are forgotten; a watch must start at or after it.
        self._compacted_rv = 0
        self._snapshots: dict[tuple[str, int], _Snapshot] = {}
        self._watchers: set[_Watcher] = set()
        self._stall_until = 0.0
        self._runner: web.AppRunner | None = None

    # -- lifecycle --

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        app = web.Application(middlewares=[self._middleware])
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        # handler_cancellation: a watch handler learns at once that its client went away.
        runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        site = web.TCPSite(runner, host, port, reuse_address=True)
        await site.start()
        self._runner = runner
        self.port = int(runner.addresses[0][1])  # the one picked by the OS when port=0
        self.url = f"http://{host}:{self.port}"

    async def stop(self) -> None:
        self._control_watchers(_Control("close"), include_muted=True)
        await self._shutdown()

    async def _shutdown(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    def write_kubeconfig(self, path: pathlib.Path, *, token: str | None = "sandbox-token") -> pathlib.Path:
        # JSON is YAML, and kubectl/client-go read either.
        user: Obj = {"token": token} if token is not None else {}
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "sandbox", "cluster": {"server": self.url}}],
            "users": [{"name": "sandbox", "user": user}],
            "contexts": [
                {
                    "name": "sandbox",
                    "context": {"cluster": "sandbox", "user": "sandbox", "namespace": self.namespace},
                }
            ],
            "current-context": "sandbox",
        }
        path.write_text(json.dumps(config, indent=2))
        return path

    # -- object API --

    @property
    def resource_version(self) -> int:
        return self._rv

    def create(self, obj: Obj) -> Obj:
        """Store a new object (ADDED); returns it with uid, resourceVersion etc. filled in. A namespaced object
        without a namespace goes to the server's `namespace`."""
        res = self._resource_of(obj)
        name = self._name_of(obj)
        meta = dict(obj.get("metadata") or {})
        if res.namespaced:
            meta["namespace"] = meta.get("namespace") or self.namespace
        else:
            meta.pop("namespace", None)
        if _key(meta.get("namespace", ""), name) in self._objects[res.plural]:
            raise AlreadyExistsError(f'{res.qualified} "{name}" already exists')
        meta["uid"] = meta.get("uid") or str(uuid.uuid4())
        meta["creationTimestamp"] = meta.get("creationTimestamp") or _now_rfc3339()
        meta["generation"] = 1
        entry, stored = self._store(res.plural, obj, meta)
        self._sorted[res.plural] = None
        self._emit(res.plural, "ADDED", entry, None)
        return stored

    def replace(self, obj: Obj) -> Obj:
        res = self._resource_of(obj)
        old = self._objects[res.plural].get(self._key_of(res, obj))
        if old is None:
            raise KeyError(f'{res.qualified} "{self._name_of(obj)}" not found')
        old_obj = old.decode()
        old_meta = old_obj["metadata"]
        meta = dict(obj.get("metadata") or {})
        if res.namespaced:
            meta["namespace"] = old_meta["namespace"]
        meta["uid"] = old_meta["uid"]
        meta.setdefault("creationTimestamp", old_meta["creationTimestamp"])
        # As for CRDs with a status subresource: only spec changes bump the generation.
        changed = obj.get("spec") != old_obj.get("spec")
        meta["generation"] = int(old_meta.get("generation", 1)) + (1 if changed else 0)
        entry, stored = self._store(res.plural, obj, meta)
        self._emit(res.plural, "MODIFIED", entry, old)
        return stored

    def apply(self, obj: Obj) -> Obj:
        res = self._resource_of(obj)
        if self._key_of(res, obj) in self._objects[res.plural]:
            return self.replace(obj)
        return self.create(obj)

    def delete(self, plural: str, name: str, namespace: str | None = None) -> None:
        """Delete an object (KeyError if absent); a namespaced one in `namespace`, else the server's."""
        plural = self._plural(plural)
        self._delete(plural, self._key_for(plural, name, namespace))

    def get(self, plural: str, name: str, namespace: str | None = None) -> Obj | None:
        plural = self._plural(plural)
        entry = self._objects[plural].get(self._key_for(plural, name, namespace))
        return entry.decode() if entry is not None else None

    def list(self, plural: str) -> builtins.list[Obj]:
        """Every object of the resource, in every namespace."""
        plural = self._plural(plural)
        objs = self._objects[plural]
        return [objs[n].decode() for n in self._sorted_names(plural)]

    def compact(self) -> None:
        """Forget watch history and list snapshots: older resourceVersions and continue tokens get 410."""
        self._history.clear()
        self._compacted_rv = self._rv
        self._snapshots.clear()

    # -- store internals --

    def _key_for(self, plural: str, name: str, namespace: str | None) -> str:
        return _key((namespace or self.namespace) if _BY_PLURAL[plural].namespaced else "", name)

    def _key_of(self, res: Resource, obj: Obj) -> str:
        namespace = (obj.get("metadata") or {}).get("namespace")
        return self._key_for(res.plural, self._name_of(obj), namespace)

    def _plural(self, plural: str) -> str:
        for r in self.resources:
            if plural in (r.plural, r.singular, r.kind.lower(), *r.short_names):
                return r.plural
        raise KeyError(f"unknown resource {plural!r}")

    def _resource_of(self, obj: Obj) -> Resource:
        kind = obj.get("kind")
        resource = _BY_KIND.get(kind) if isinstance(kind, str) else None
        if resource is None or resource not in self.resources:
            raise ValueError(f"not a kind this server serves: {kind!r}")
        if obj.get("apiVersion", resource.api_version) != resource.api_version:
            raise ValueError(f"{kind} is served as {resource.api_version}, not {obj.get('apiVersion')!r}")
        return resource

    @staticmethod
    def _name_of(obj: Obj) -> str:
        name = (obj.get("metadata") or {}).get("name")
        if not isinstance(name, str) or not name:
            raise ValueError("metadata.name is required")
        return name

    def _store(self, plural: str, obj: Obj, meta: Obj) -> tuple[_Entry, Obj]:
        self._rv += 1
        meta["resourceVersion"] = str(self._rv)
        # Only the bytes (and a copy of the labels) are kept, so a shallow copy is enough: changing the
        # argument or the returned dict later cannot reach the store.  Saves a deep copy per object.
        resource = _BY_PLURAL[plural]
        stored = {**obj, "apiVersion": resource.api_version, "kind": resource.kind, "metadata": meta}
        entry = _Entry(
            name=meta["name"],
            namespace=meta.get("namespace", ""),
            labels=dict(meta.get("labels") or {}),
            created=meta["creationTimestamp"],
            raw=_dumps(stored),
        )
        self._objects[plural][entry.key] = entry
        return entry, stored

    def _delete(self, plural: str, key: str) -> _Entry:
        old = self._objects[plural].pop(key)  # KeyError if absent, as documented
        self._sorted[plural] = None
        obj = old.decode()
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)
        entry = dataclasses.replace(old, raw=_dumps(obj))
        self._emit(plural, "DELETED", entry, old)
        return entry

    def _sorted_names(self, plural: str) -> builtins.list[str]:
        names = self._sorted[plural]
        if names is None:
            # Rebuilt (not mutated) on the next list after a create/delete; snapshots share it.
            names = self._sorted[plural] = sorted(self._objects[plural])
        return names

    def _emit(
        self, plural: str, type_: Literal["ADDED", "MODIFIED", "DELETED"], entry: _Entry, prev: _Entry | None
    ) -> None:
        event = _Event(self._rv, type_, plural, entry, prev)
        if self.history_size <= 0:
            self._compacted_rv = event.rv
        else:
            if len(self._history) == self.history_size:
                self._compacted_rv = self._history[0].rv
            self._history.append(event)
        for w in self._watchers:
            if w.live and not w.muted and w.plural == plural:
                w.queue.put_nowait(event)

    def _control_watchers(self, control: _Control, *, include_muted: bool) -> None:
        for w in list(self._watchers):
            if w.muted and not include_muted:
                continue
            item = control
            if control.kind in ("cut", "cut_partial"):
                # Abrupt: whatever is still queued is lost in transit (the first event goes out by half).
                pending = []
                while not w.queue.empty():
                    pending.append(w.queue.get_nowait())
                first = next((p for p in pending if isinstance(p, _Event)), None)
                item = dataclasses.replace(control, in_flight=first)
            w.queue.put_nowait(item)

    def _stall(self, seconds: float) -> None:
        self._stall_until = max(self._stall_until, time.monotonic() + seconds)
        for w in self._watchers:
            w.muted = True

    def _snapshot(self, plural: str, rv: int) -> _Snapshot | None:
        now = time.monotonic()
        for key in [k for k, s in self._snapshots.items() if now - s.taken > self.continue_ttl]:
            del self._snapshots[key]
        return self._snapshots.get((plural, rv))

    # -- HTTP --

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        record = RequestRecord(request.method, request.path, dict(request.query))
        self.requests.append(record)
        self._records[id(request)] = record
        try:
            resp = await handler(request)
        except web.HTTPException as exc:
            record.status = exc.status
            return _status_response(exc.status, exc.reason)
        finally:
            del self._records[id(request)]
        if not record.status:
            record.status = resp.status
        return resp

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        parts = [p for p in request.path.split("/") if p]
        if request.method == "GET":
            discovery = self._discovery(parts)
            if discovery is not None:
                return _json_response(discovery)
        routed = _route(parts)
        if routed is not None and routed[0] in self.resources:
            resource, namespace, name = routed
            return await self._resource(request, resource.plural, namespace, name)
        return _status_response(404, "the server could not find the requested resource", details={})

    def _discovery(self, parts: builtins.list[str]) -> Obj | None:
        path = "/".join(parts)
        if path == "version":
            return {
                "major": "1",
                "minor": "30",
                "gitVersion": "v1.30.0",
                "gitCommit": "7c48c2bd72b9bf5c44d21d7338cc7bea77d0ad2a",
                "gitTreeState": "clean",
                "buildDate": "2024-04-17T17:27:03Z",
                "goVersion": "go1.22.2",
                "compiler": "gc",
                "platform": "linux/amd64",
            }
        if path == "api":
            return {
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [
                    {"clientCIDR": "0.0.0.0/0", "serverAddress": f"{self.host}:{self.port}"}
                ],
            }
        if path == "api/v1":
            return _resource_list(self.resources, "v1", "", "v1")
        versions: dict[str, builtins.list[str]] = {}
        for r in self.resources:
            if r.group and r.version not in versions.setdefault(r.group, []):
                versions[r.group].append(r.version)
        groups = [_api_group(group, found) for group, found in sorted(versions.items())]
        if path == "apis":
            return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
        for group, found in versions.items():
            if path == f"apis/{group}":
                return {"kind": "APIGroup", "apiVersion": "v1", **_api_group(group, found)}
            for version in found:
                if path == f"apis/{group}/{version}":
                    return _resource_list(self.resources, f"{group}/{version}", group, version)
        return None

    async def _resource(
        self, request: web.Request, plural: str, namespace: str | None, name: str | None
    ) -> web.StreamResponse:
        q = request.query
        watching = q.get("watch") in ("true", "1")
        method = request.method
        if method == "GET":
            verb = "watch" if watching else ("get" if name else "list")
        else:
            verb = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(method, "")
        if not verb or (verb in ("list", "watch", "create")) != (name is None):
            return _status_response(405, "the server does not allow this method on the requested resource")
        refusal = self._refusal(plural, verb, namespace)
        if refusal is not None:
            return refusal
        if verb in ("list", "watch"):
            try:
                selector = Selector.parse(q.get("labelSelector", ""), q.get("fieldSelector", ""))
            except SelectorError as exc:
                return _status_response(400, str(exc))
            if verb == "watch":
                return await self._watch(request, plural, namespace, selector)
            return self._list(request, plural, namespace, selector)
        assert name is not None or verb == "create"
        if verb == "get":
            entry = self._objects[plural].get(_key(namespace or "", name or ""))
            if entry is None:
                return self._not_found(plural, name or "")
            return web.Response(body=entry.raw, content_type=_JSON)
        if verb == "delete":
            entry = self._objects[plural].get(_key(namespace or "", name or ""))
            if entry is None:
                return self._not_found(plural, name or "")
            return web.Response(body=self._delete(plural, entry.key).raw, content_type=_JSON)
        return await self._write(request, verb, plural, namespace, name)

    def _refusal(self, plural: str, verb: str, namespace: str | None) -> web.Response | None:
        """The error that answers a resource request instead of its result, if any: RBAC's 403 here."""
        if plural not in self.forbidden:
            return None
        resource = _BY_PLURAL[plural]
        where = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
        return _status_response(
            403,
            f'{resource.qualified} is forbidden: User "system:serviceaccount:velero:velero-exporter" '
            f'cannot {verb} resource "{plural}" in API group "{resource.group}"{where}',
            details={"group": resource.group, "kind": plural},
        )

    def _continue_survives(self, plural: str) -> bool:
        """Whether a paginated list's snapshot outlives its first page (until continue_ttl): it does here."""
        return True

    def _watch_expires_at_once(self, plural: str) -> bool:
        """Whether a new watch answers 410 Expired at once, though its resourceVersion is known: never here."""
        return False

    @staticmethod
    def _not_found(plural: str, name: str) -> web.Response:
        resource = _BY_PLURAL[plural]
        return _status_response(
            404,
            f'{resource.qualified} "{name}" not found',
            details={"name": name, "group": resource.group, "kind": plural},
        )

    async def _write(
        self, request: web.Request, verb: str, plural: str, namespace: str | None, name: str | None
    ) -> web.Response:
        try:
            body = json.loads(await request.read())
        except ValueError as exc:
            return _status_response(400, f"invalid JSON body: {exc}")
        if not isinstance(body, dict):
            return _status_response(400, "the body must be a JSON object")
        kind = _BY_PLURAL[plural].kind
        if verb == "patch":
            ctype = request.content_type
            if ctype != "application/merge-patch+json":
                return _status_response(
                    415,
                    "the body of the request was in an unknown format - accepted media types include: "
                    f"application/merge-patch+json (got {ctype})",
                )
            current = self._objects[plural].get(_key(namespace or "", name or ""))
            if current is None:
                return self._not_found(plural, name or "")
            body = _merge_patch(current.decode(), body)
        meta = body.setdefault("metadata", {})
        body.setdefault("kind", kind)
        if body.get("kind") != kind:
            return _status_response(400, f"the kind {body.get('kind')!r} does not match {kind!r}")
        if namespace is not None:
            meta["namespace"] = namespace
        if name is not None:
            meta.setdefault("name", name)
            if meta["name"] != name:
                return _status_response(400, "the name of the object does not match the name on the URL")
        try:
            if verb == "create":
                return _json_response(self.create(body), 201)
            current = self._objects[plural].get(_key(namespace or "", str(meta.get("name"))))
            if current is None:
                return self._not_found(plural, name or "")
            expected = meta.get("resourceVersion")
            if verb == "update" and expected and expected != current.decode()["metadata"]["resourceVersion"]:
                return _status_response(
                    409,
                    f'Operation cannot be fulfilled on {_BY_PLURAL[plural].qualified} "{name}": '
                    "the object has been modified; please apply your changes to the latest version and "
                    "try again",
                )
            return _json_response(self.replace(body))
        except AlreadyExistsError as exc:
            return _status_response(409, str(exc), reason="AlreadyExists")
        except ValueError as exc:
            return _status_response(422, str(exc))

    def _list(self, request: web.Request, plural: str, namespace: str | None, selector: Selector) -> web.Response:
        q = request.query
        try:
            limit = max(0, int(q.get("limit") or 0))
        except ValueError:
            return _status_response(400, f"invalid limit: {q.get('limit')!r}")
        token = q.get("continue")
        if token:
            try:
                list_rv, start = decode_continue(token)
            except ValueError as exc:
                return _status_response(400, str(exc))
            snap = self._snapshot(plural, list_rv)
            if snap is None:
                # Like etcd after compaction; the body offers an inconsistent continuation from now.
                self._take_snapshot(plural)
                return _status_response(410, _EXPIRED_CONTINUE, metadata={"continue": encode_continue(self._rv, start)})
            names, entries = snap.names, snap.entries
        else:
            if q.get("resourceVersion") == "0":
                # The 1.30 watch cache serves RV=0 lists whole, ignoring limit (client-go copes).
                limit = 0
            list_rv, start = self._rv, ""
            names, entries = self._sorted_names(plural), self._objects[plural]
        # A namespace's objects are the keys "<namespace>/..."; a continue token's start is relative to that prefix,
        # as the apiserver's (etcd3 store encodeContinue trims the list's key prefix).
        prefix = f"{namespace}/" if namespace is not None else ""
        i = bisect.bisect_left(names, prefix + start)
        end = bisect.bisect_left(names, f"{namespace}0") if prefix else len(names)  # "0" follows "/"
        items: list[_Entry] = []
        while i < end and (not limit or len(items) < limit):
            entry = entries[names[i]]
            i += 1
            if selector.matches(entry):
                items.append(entry)
        meta: Obj = {"resourceVersion": str(list_rv)}
        if limit and i < end:
            if not token:
                self._take_snapshot(plural)
                if not self._continue_survives(plural):
                    self._snapshots.pop((plural, list_rv), None)
            meta["continue"] = encode_continue(list_rv, names[i - 1][len(prefix) :] + "\x00")
            if selector.trivial:  # the apiserver cannot count what a selector would keep
                meta["remainingItemCount"] = end - i
        if _wants_table(request):
            now = time.time()
            include = q.get("includeObject", "Metadata")
            table = {
                "kind": "Table",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": meta,
                "columnDefinitions": _TABLE_COLUMNS,
                "rows": [_table_row(e, include, now) for e in items],
            }
            return _json_response(table)
        resource = _BY_PLURAL[plural]
        head = _dumps({"apiVersion": resource.api_version, "kind": f"{resource.kind}List", "metadata": meta})
        # Splice the cached item bytes in rather than re-encoding every object.
        body = b"".join([head[:-1], b',"items":[', b",".join(e.raw for e in items), b"]}"])
        return web.Response(body=body, content_type=_JSON)

    def _take_snapshot(self, plural: str) -> _Snapshot:
        key = (plural, self._rv)
        snap = self._snapshots.get(key)
        if snap is None:
            snap = _Snapshot(self._sorted_names(plural), dict(self._objects[plural]), time.monotonic())
        else:
            # A list starting now at an unchanged revision: its tokens live continue_ttl from now, as a real
            # server's would (its revision moves on all the time, so a new list never starts at an old one).
            snap = dataclasses.replace(snap, taken=time.monotonic())
        self._snapshots[key] = snap
        return snap

    # -- watch --

    async def _watch(
        self, request: web.Request, plural: str, namespace: str | None, selector: Selector
    ) -> web.StreamResponse:
        q = request.query
        try:
            timeout = float(q["timeoutSeconds"]) if q.get("timeoutSeconds") else None
        except ValueError:
            return _status_response(400, f"invalid timeoutSeconds: {q.get('timeoutSeconds')!r}")
        rv_param = q.get("resourceVersion", "")
        try:
            from_rv = int(rv_param) if rv_param not in ("", "0") else None
        except ValueError:
            return _status_response(400, f"invalid resource version: {rv_param!r}")
        bookmarks = q.get("allowWatchBookmarks") in ("true", "1")
        send_initial = q.get("sendInitialEvents") == "true"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout if timeout is not None else None

        resp = web.StreamResponse(status=200, headers={"Content-Type": _JSON})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        self._records[id(request)].status = 200
        watcher = _Watcher(plural, namespace, selector, _wants_table(request))
        self._watchers.add(watcher)
        try:
            stall = self._stall_until - time.monotonic()
            if stall > 0:
                # A stall started: say nothing until it is over, but still obey cut/close.
                item = await self._next(watcher, stall)
                if isinstance(item, _Control):
                    await self._do_control(request, resp, watcher, item)
                    return resp
            # Computing the initial events and going live happen in one step, so nothing is missed.
            lines = self._initial_lines(watcher, from_rv, send_initial and bookmarks)
            watcher.live = True
            watcher.muted = False
            if lines is None or self._watch_expires_at_once(plural):
                await resp.write(self._expired_line(from_rv or 0))
                return resp
            await self._write_batched(resp, lines)
            await self._pump(request, resp, watcher, deadline, bookmarks)
        except ConnectionError:
            # The client went away, or a fault cut the connection: nothing more can be said.
            return resp
        finally:
            self._watchers.discard(watcher)
        return resp

    def _initial_lines(self, w: _Watcher, from_rv: int | None, initial_end: bool) -> builtins.list[bytes] | None:
        if from_rv is None:
            objs = self._objects[w.plural]
            lines = [self._line(w, "ADDED", objs[n]) for n in self._sorted_names(w.plural) if w.wants(objs[n])]
            if initial_end:
                lines.append(self._bookmark_line(w, initial_end=True))
            return lines
        if from_rv < self._compacted_rv:
            return None
        lines = []
        for ev in self._history:
            if ev.rv > from_rv and ev.plural == w.plural:
                line = self._event_line(w, ev)
                if line:
                    lines.append(line)
        return lines

    async def _write_batched(self, resp: web.StreamResponse, lines: Iterable[bytes]) -> None:
        batch: list[bytes] = []
        size = 0
        for line in lines:
            batch.append(line)
            size += len(line)
            if size >= 1 << 20:
                await resp.write(b"".join(batch))
                batch, size = [], 0
        if batch:
            await resp.write(b"".join(batch))

    @staticmethod
    async def _next(w: _Watcher, wait: float | None) -> _Item | None:
        if wait is not None and wait <= 0:
            return None if w.queue.empty() else w.queue.get_nowait()
        try:
            return await asyncio.wait_for(w.queue.get(), wait)
        except TimeoutError:
            return None

    async def _pump(
        self,
        request: web.Request,
        resp: web.StreamResponse,
        w: _Watcher,
        deadline: float | None,
        bookmarks: bool,
    ) -> None:
        loop = asyncio.get_running_loop()
        next_bookmark = loop.time() + self.bookmark_interval
        while True:
            now = loop.time()
            waits = []
            if not w.muted:  # a stalled stream neither times out nor sends bookmarks
                if deadline is not None:
                    waits.append(deadline - now)
                if bookmarks:
                    waits.append(next_bookmark - now)
            item = await self._next(w, max(0.0, min(waits)) if waits else None)
            if item is None:
                now = loop.time()
                if w.muted:
                    continue
                if deadline is not None and now >= deadline:
                    return
                if bookmarks and now >= next_bookmark:
                    await resp.write(self._bookmark_line(w))
                    next_bookmark = now + self.bookmark_interval
                continue
            if isinstance(item, _Control):
                await self._do_control(request, resp, w, item)
                return
            if w.muted:
                continue
            # Drain what is already queued into one write: cheap fan-out under heavy churn.
            out = [self._event_line(w, item)]
            while not w.queue.empty():
                nxt = w.queue.get_nowait()
                if isinstance(nxt, _Control):
                    await resp.write(b"".join(out))
                    await self._do_control(request, resp, w, nxt)
                    return
                out.append(self._event_line(w, nxt))
            data = b"".join(out)
            if data:
                await resp.write(data)

    async def _do_control(self, request: web.Request, resp: web.StreamResponse, w: _Watcher, c: _Control) -> None:
        if c.kind == "expire":
            await resp.write(self._expired_line(None))
        elif c.kind == "close":
            return
        else:
            if c.kind == "cut_partial":
                line = self._event_line(w, c.in_flight) if c.in_flight is not None else b""
                line = line or self._bookmark_line(w)
                await resp.write(line[: len(line) // 2])
            transport = request.transport
            if transport is not None:
                # Close (not abort) so the half line is flushed before the FIN, without a chunk terminator.
                transport.close()
            raise ConnectionResetError("watch cut by fault injection")

    def _expired_line(self, from_rv: int | None) -> bytes:
        if from_rv is None:
            message = "The resourceVersion for the provided watch is too old."
        else:
            message = f"too old resource version: {from_rv} ({self._compacted_rv})"
        return _dumps({"type": "ERROR", "object": status_body(410, message)}) + b"\n"

    def _line(self, w: _Watcher, type_: str, entry: _Entry) -> bytes:
        if w.table:
            table: Obj = {
                "kind": "Table",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": {"resourceVersion": json.loads(entry.raw)["metadata"]["resourceVersion"]},
                "rows": [_table_row(entry, "Metadata", time.time())],
            }
            # The apiserver sends the column definitions with the first event only.
            if not w.sent_header:
                table["columnDefinitions"] = _TABLE_COLUMNS
                w.sent_header = True
            return _dumps({"type": type_, "object": table}) + b"\n"
        return b'{"type":"' + type_.encode() + b'","object":' + entry.raw + b"}\n"

    def _event_line(self, w: _Watcher, ev: _Event) -> bytes:
        if w.namespace is not None and ev.entry.namespace != w.namespace:
            return b""
        if w.selector.trivial:
            return self._line(w, ev.type, ev.entry)
        now_in = w.selector.matches(ev.entry) and ev.type != "DELETED"
        was_in = ev.prev is not None and w.selector.matches(ev.prev)
        if ev.type == "DELETED":
            return self._line(w, "DELETED", ev.entry) if was_in else b""
        # A label change moves an object into or out of a selected watch, as the apiserver reports it.
        if now_in and was_in:
            return self._line(w, "MODIFIED", ev.entry)
        if now_in:
            return self._line(w, "ADDED", ev.entry)
        if was_in:
            return self._line(w, "DELETED", ev.entry)
        return b""

    def _bookmark_line(self, w: _Watcher, *, initial_end: bool = False) -> bytes:
        meta: Obj = {"resourceVersion": str(self._rv)}
        if initial_end:
            meta["annotations"] = {_INITIAL_EVENTS_END: "true"}
        resource = _BY_PLURAL[w.plural]
        obj = {"kind": resource.kind, "apiVersion": resource.api_version, "metadata": meta}
        return _dumps({"type": "BOOKMARK", "object": obj}) + b"\n"


def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch, what `kubectl patch --type merge` and label/annotate send for CRDs."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge_patch(result.get(key), value)
    return result


@contextlib.asynccontextmanager
async def running(api: FakeKubeAPI, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[FakeKubeAPI]:
    """`async with running(FakeKubeAPI()) as api:` starts and always stops it."""
    await api.start(host, port)
    try:
        yield api
    finally:
        await api.stop()
