"""What a Backup spec selects, in Velero's terms: namespace filters with their glob patterns, label selectors, and
resource filters, each with the validation that makes Velero fail a backup instead of running it.

Velero's sources: pkg/util/collections/includes_excludes.go (filters and their validation, every release),
pkg/util/wildcard/expand.go (1.18: `?` and `[...]` in namespace patterns), pkg/backup/item_collector.go (what is
listed) and pkg/backup/item_backupper.go (what an item that arrives as another item's additional item must pass).
Nothing here does I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from velero_exporter.velero.version import VeleroVersion

PODS = "pods"
PERSISTENT_VOLUME_CLAIMS = "persistentvolumeclaims"
PERSISTENT_VOLUMES = "persistentvolumes"
NAMESPACES = "namespaces"

# What Velero's discovery helper resolves (plural, singular, kind or short name, case-insensitively) for the
# resources whose selection decides a volume's fate; any other item stays as written and is matched as a glob.
_ALIASES = {
    alias: resource
    for resource, aliases in {
        PODS: ("pod", "po"),
        PERSISTENT_VOLUME_CLAIMS: ("persistentvolumeclaim", "pvc"),
        PERSISTENT_VOLUMES: ("persistentvolume", "pv"),
        NAMESPACES: ("namespace", "ns"),
    }.items()
    for alias in (resource, *aliases)
}
# Cluster-scoped resources of a plain cluster, which Velero's scoped filters drop from the other scope's list.
_CLUSTER_SCOPED = frozenset(
    {
        PERSISTENT_VOLUMES,
        NAMESPACES,
        "nodes",
        "storageclasses.storage.k8s.io",
        "clusterroles.rbac.authorization.k8s.io",
        "clusterrolebindings.rbac.authorization.k8s.io",
        "customresourcedefinitions.apiextensions.k8s.io",
        "priorityclasses.scheduling.k8s.io",
        "volumesnapshotclasses.snapshot.storage.k8s.io",
        "volumesnapshotcontents.snapshot.storage.k8s.io",
    }
)
_SHORT_CLUSTER_NAMES = {
    "storageclasses": "storageclasses.storage.k8s.io",
    "sc": "storageclasses.storage.k8s.io",
    "clusterroles": "clusterroles.rbac.authorization.k8s.io",
    "clusterrolebindings": "clusterrolebindings.rbac.authorization.k8s.io",
    "customresourcedefinitions": "customresourcedefinitions.apiextensions.k8s.io",
    "crd": "customresourcedefinitions.apiextensions.k8s.io",
    "priorityclasses": "priorityclasses.scheduling.k8s.io",
}

EXCLUDE_FROM_BACKUP_LABEL = "velero.io/exclude-from-backup"


class SelectionError(ValueError):
    """A spec that Velero rejects: the backup ends FailedValidation and selects nothing."""


# --- globs (github.com/gobwas/glob without separators, as Velero compiles every filter item) ---------------


@lru_cache(maxsize=4096)
def compile_glob(pattern: str) -> re.Pattern[str] | None:
    """`*` any run, `?` one character, `[a-z]`/`[!a-z]` a class, `{a,b}` alternatives, `\\` escapes; None when
    the pattern does not compile (gobwas' error, on which Velero's set match answers "no")."""
    out, pos = _glob_sequence(pattern, 0, top=True)
    if out is None or pos != len(pattern):
        return None
    return re.compile(out, re.DOTALL)


def _glob_sequence(p: str, i: int, *, top: bool) -> tuple[str | None, int]:
    parts: list[str] = []
    while i < len(p):
        c = p[i]
        if not top and c in ",}":
            return "".join(parts), i
        if c == "*":
            parts.append(".*")
        elif c == "?":
            parts.append(".")
        elif c == "\\":
            if i + 1 >= len(p):
                return None, i
            i += 1
            parts.append(re.escape(p[i]))
        elif c == "[":
            end = p.find("]", i + 1)
            if end < 0 or end == i + 1:
                return None, i
            body = p[i + 1 : end]
            negate = body.startswith("!")
            body = body[1:] if negate else body
            if not body:
                return None, i
            escaped = "".join("-" if ch == "-" else re.escape(ch) for ch in body)
            parts.append(f"[{'^' if negate else ''}{escaped}]")
            i = end
        elif c == "{":
            alternatives = []
            i += 1
            while True:
                alt, i = _glob_sequence(p, i, top=False)
                if alt is None or i >= len(p):
                    return None, i
                alternatives.append(alt)
                if p[i] == "}":
                    break
                i += 1  # the comma
            parts.append(f"(?:{'|'.join(alternatives)})")
        else:
            parts.append(re.escape(c))
        i += 1
    return ("".join(parts), i) if top else (None, i)


@dataclass(frozen=True, slots=True)
class GlobSet:
    """Velero's globStringSet: unique items; `*` alone means everything where a caller checks for it."""

    items: tuple[str, ...] = ()

    @classmethod
    def of(cls, items: Iterable[str]) -> GlobSet:
        return cls(tuple(sorted(set(items))))

    def __len__(self) -> int:
        return len(self.items)

    def has(self, item: str) -> bool:
        return item in self.items

    def match(self, name: str) -> bool:
        for item in self.items:  # sorted, as sets.String.List() walks them
            compiled = compile_glob(item)
            if compiled is None:
                return False  # Velero gives up on the whole set at the first item that does not compile
            if compiled.fullmatch(name):
                return True
        return False


# --- namespaces --------------------------------------------------------------------------------------------

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def _list_errors(includes: Sequence[str], excludes: Sequence[str]) -> list[str]:
    """ValidateIncludesExcludes: `*` only alone among the includes, never among the excludes, no item in both."""
    errors = []
    if len(set(includes)) > 1 and "*" in includes:
        errors.append("includes list must either contain '*' only, or a non-empty list of items")
    if "*" in excludes:
        errors.append("excludes list cannot contain '*'")
    errors.extend(
        f"excludes list cannot contain an item in the includes list: {item}"
        for item in sorted(set(includes) & set(excludes))
    )
    return errors


def _namespace_pattern_errors(pattern: str, version: VeleroVersion) -> list[str]:
    if pattern == "":
        return []  # Velero reads "" as "no namespace"
    if version >= (1, 18):
        # 1.18 validates `?` and `[...]` patterns itself (pkg/util/wildcard/expand.go) and refuses the rest of glob.
        if any(c in pattern for c in "|(){}!,"):
            return [f"invalid namespace {pattern!r}: wildcard pattern contains unsupported characters"]
        if "**" in pattern:
            return [f"invalid namespace {pattern!r}: consecutive asterisks"]
        depth_ok = re.fullmatch(r"[^\[\]]*(\[[^\[\]]+\][^\[\]]*)*", pattern) is not None
        if not depth_ok:
            return [f"invalid namespace {pattern!r}: unbalanced or empty bracket pattern"]
        stand_in = re.sub(r"[*?\[\]]", "x", pattern)
    else:
        # 1.12-1.17 replace `*` by a letter and require a namespace name: `?` and `[` fail validation.
        stand_in = pattern.replace("*", "x")
    if len(stand_in) > 63 or _DNS_LABEL.fullmatch(stand_in) is None:
        return [f"invalid namespace {pattern!r}: not a DNS-1123 label once its wildcards are replaced"]
    return []


@dataclass(frozen=True, slots=True)
class NamespaceFilter:
    """spec.includedNamespaces / excludedNamespaces. Matching is the same glob in every release (1.18 expands the
    patterns against the active namespaces first, which selects the same names); validation differs."""

    includes: GlobSet
    excludes: GlobSet

    @classmethod
    def build(cls, includes: Sequence[str], excludes: Sequence[str], version: VeleroVersion) -> NamespaceFilter:
        errors = _list_errors(includes, excludes)
        for pattern in sorted({*includes, *excludes}):
            errors.extend(_namespace_pattern_errors(pattern, version))
        if errors:
            raise SelectionError("; ".join(errors))
        return cls(GlobSet.of(includes), GlobSet.of(excludes))

    def includes_namespace(self, name: str) -> bool:
        if self.excludes.match(name):
            return False
        return len(self.includes) == 0 or self.includes.has("*") or self.includes.match(name)

    @property
    def include_everything(self) -> bool:
        return len(self.excludes) == 0 and (len(self.includes) == 0 or self.includes.items == ("*",))


# --- label selectors (metav1.LabelSelectorAsSelector) ------------------------------------------------------

_LABEL_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")

Requirement = tuple[str, str, frozenset[str]]  # key, operator, values


def _check_key(key: str) -> None:
    prefix, slash, name = key.rpartition("/")
    if (
        len(name) > 63
        or not _LABEL_NAME.fullmatch(name)
        or (slash and (len(prefix) > 253 or not _DNS_SUBDOMAIN.fullmatch(prefix)))
    ):
        raise SelectionError(f"invalid label key {key!r}")


def _check_value(value: str) -> None:
    if len(value) > 63 or (value and not _LABEL_NAME.fullmatch(value)):
        raise SelectionError(f"invalid label value {value!r}")


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """A metav1.LabelSelector: every requirement must hold; an empty selector selects everything."""

    requirements: tuple[Requirement, ...]

    @classmethod
    def build(cls, selector: Mapping[str, object]) -> LabelSelector:
        """From the spec's JSON; SelectionError where Velero's conversion (and so its list) fails."""
        requirements: list[Requirement] = []
        match_labels = selector.get("matchLabels") or {}
        if not isinstance(match_labels, Mapping):
            raise SelectionError("matchLabels is not a mapping")
        for key, value in match_labels.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise SelectionError("matchLabels holds a value that is not a string")
            _check_key(key)
            _check_value(value)
            requirements.append((key, "In", frozenset({value})))
        expressions = selector.get("matchExpressions") or []
        if not isinstance(expressions, list):
            raise SelectionError("matchExpressions is not a list")
        for expression in expressions:
            requirements.append(_requirement(expression))
        return cls(tuple(requirements))

    def matches(self, labels: Mapping[str, str]) -> bool:
        for key, operator, values in self.requirements:
            value = labels.get(key)
            if operator == "In":
                ok = value is not None and value in values
            elif operator == "NotIn":
                ok = value is None or value not in values
            elif operator == "Exists":
                ok = value is not None
            else:
                ok = value is None
            if not ok:
                return False
        return True


def _requirement(expression: object) -> Requirement:
    if not isinstance(expression, Mapping):
        raise SelectionError("a matchExpressions item is not a mapping")
    key, operator, values = expression.get("key"), expression.get("operator"), expression.get("values") or []
    if not isinstance(key, str) or not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise SelectionError("a matchExpressions item has a key or values of the wrong type")
    if operator not in _OPERATORS:
        raise SelectionError(f"{operator!r} is not a valid label selector operator")
    _check_key(key)
    if operator in ("In", "NotIn") and not values:
        raise SelectionError(f"values: must be specified for {operator}")
    if operator in ("Exists", "DoesNotExist") and values:
        raise SelectionError(f"values: may not be specified for {operator}")
    for value in values:
        _check_value(value)
    return key, str(operator), frozenset(values)


@dataclass(frozen=True, slots=True)
class ObjectSelector:
    """spec.labelSelector or spec.orLabelSelectors, applied to every listed resource (item_collector.go): an object
    is listed when it matches the selector, or any of the or-selectors; without either, everything is listed."""

    any_of: tuple[LabelSelector, ...] | None  # None: no selector at all

    @classmethod
    def build(
        cls, label_selector: Mapping[str, object] | None, or_selectors: Sequence[Mapping[str, object]] | None
    ) -> ObjectSelector:
        if label_selector is not None and or_selectors is not None:
            raise SelectionError(
                "encountered labelSelector as well as orLabelSelectors in backup spec, only one can be specified"
            )
        if or_selectors is not None:
            return cls(tuple(LabelSelector.build(s) for s in or_selectors))
        if label_selector is not None:
            return cls((LabelSelector.build(label_selector),))
        return cls(None)

    @property
    def selects_everything(self) -> bool:
        return self.any_of is None

    def matches(self, labels: Mapping[str, str]) -> bool:
        return self.any_of is None or any(s.matches(labels) for s in self.any_of)


# --- resources ---------------------------------------------------------------------------------------------


def _resolve(item: str) -> tuple[str, bool | None]:
    """What Velero's discovery helper makes of a filter item, and whether that resource is namespaced; an item it
    cannot resolve stays as written (None: scope unknown) and is then matched as a glob, as Velero does."""
    base = item.lower().removesuffix(".")  # "pods." names the core group explicitly
    resolved = _ALIASES.get(base) or _SHORT_CLUSTER_NAMES.get(base) or (base if base in _CLUSTER_SCOPED else None)
    if resolved is None:
        return item, None
    return resolved, resolved not in _CLUSTER_SCOPED


def resolve_resource(item: str) -> str:
    return _resolve(item)[0]


def _scoped(items: Sequence[str], namespaced: bool) -> list[str]:
    """scopeResourceMapFunc: an item of the other scope is dropped; one that cannot be resolved is kept."""
    out = []
    for item in items:
        resolved, item_namespaced = _resolve(item)
        if item_namespaced is None or item_namespaced == namespaced:
            out.append(resolved)
    return out


@dataclass(frozen=True, slots=True)
class _Filter:
    includes: GlobSet
    excludes: GlobSet

    def should_include(self, resource: str) -> bool:
        if self.excludes.match(resource):
            return False
        return len(self.includes) == 0 or self.includes.has("*") or self.includes.match(resource)

    @property
    def include_everything(self) -> bool:
        return len(self.excludes) == 0 and (len(self.includes) == 0 or self.includes.items == ("*",))


@dataclass(frozen=True, slots=True)
class ResourceFilter:
    """The backup's resource filters: the old ones (includedResources, excludedResources,
    includeClusterResources: GlobalIncludesExcludes) or the scoped ones (ScopeIncludesExcludes, 1.11+)."""

    old_style: bool
    resources: _Filter  # old style
    include_cluster_resources: bool | None  # old style
    namespaced: _Filter  # scoped style
    cluster: _Filter  # scoped style
    namespaces_include_everything: bool

    @classmethod
    def build(
        cls,
        spec: Mapping[str, object],
        namespaces: NamespaceFilter,
        policy_scopes: Mapping[str, Sequence[str]] | None = None,
    ) -> ResourceFilter:
        """From a Backup spec; `policy_scopes` is a resource policy's includeExcludePolicy (1.17+)."""

        def strings(key: str) -> list[str]:
            value = spec.get(key) or []
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise SelectionError(f"{key} is not a list of strings")
            return value

        old = {k: strings(k) for k in ("includedResources", "excludedResources")}
        scoped = {
            k: strings(k)
            for k in (
                "includedClusterScopedResources",
                "excludedClusterScopedResources",
                "includedNamespaceScopedResources",
                "excludedNamespaceScopedResources",
            )
        }
        include_cluster = spec.get("includeClusterResources")
        if include_cluster is not None and not isinstance(include_cluster, bool):
            raise SelectionError("includeClusterResources is not a boolean")
        old_style = include_cluster is not None or any(old.values())
        if old_style and any(scoped.values()):
            raise SelectionError("the old resource filters and the scoped ones cannot be used together")
        if old_style and policy_scopes is not None:
            raise SelectionError("the old resource filters cannot be used with an include-exclude resource policy")
        errors = _list_errors(old["includedResources"], old["excludedResources"])
        for prefix in ("ClusterScoped", "NamespaceScoped"):
            includes, excludes = scoped[f"included{prefix}Resources"], scoped[f"excluded{prefix}Resources"]
            errors.extend(_scoped_list_errors(includes, excludes))
        if errors:
            raise SelectionError("; ".join(errors))
        namespaced = _Filter(
            GlobSet.of(_scoped(scoped["includedNamespaceScopedResources"], True)),
            GlobSet.of(_scoped(scoped["excludedNamespaceScopedResources"], True)),
        )
        cluster = _Filter(
            GlobSet.of(_scoped(scoped["includedClusterScopedResources"], False)),
            GlobSet.of(_scoped(scoped["excludedClusterScopedResources"], False)),
        )
        if policy_scopes is not None:
            namespaced = _combine(namespaced, policy_scopes, "NamespaceScoped", True)
            cluster = _combine(cluster, policy_scopes, "ClusterScoped", False)
        return cls(
            old_style=old_style,
            resources=_Filter(
                GlobSet.of(resolve_resource(i) for i in old["includedResources"]),
                GlobSet.of(resolve_resource(i) for i in old["excludedResources"]),
            ),
            include_cluster_resources=include_cluster,
            namespaced=namespaced,
            cluster=cluster,
            namespaces_include_everything=namespaces.include_everything,
        )

    def lists_namespaced(self, resource: str) -> bool:
        """Whether a namespaced resource (pods, persistentvolumeclaims) is listed, and kept when it arrives as an
        additional item (itemInclusionChecks re-checks namespaced items against the same filter)."""
        if self.old_style:
            return self.resources.should_include(resource)
        return self.namespaced.should_include(resource)

    def lists_cluster(self, resource: str) -> bool:
        """Whether a cluster-scoped resource (persistentvolumes) is listed on its own: only in a whole-cluster
        backup unless the filters name it."""
        if self.old_style:
            if self.include_cluster_resources is False:
                return False
            if self.include_cluster_resources is None and not self.namespaces_include_everything:
                return False
            return self.resources.should_include(resource)
        if self.cluster.excludes.has("*") or self.cluster.excludes.match(resource):
            return False
        if (
            len(self.cluster.includes) == 0
            and len(self.cluster.excludes) == 0
            and self.namespaces_include_everything
            and self.namespaced.include_everything
        ):
            return True
        return self.cluster.includes.has("*") or self.cluster.includes.match(resource)

    def excludes_cluster(self, resource: str) -> bool:
        """Whether a cluster-scoped item that arrives as another item's additional item (the PV of a PVC) is
        dropped: only where the filters exclude it (GlobalIncludesExcludes / ScopeIncludesExcludes.ShouldExclude)."""
        if self.old_style:
            if self.resources.excludes.match(resource) or self.include_cluster_resources is False:
                return True
            return self.include_cluster_resources is None and not self.resources.should_include(resource)
        return self.cluster.excludes.match(resource)


def _scoped_list_errors(includes: Sequence[str], excludes: Sequence[str]) -> list[str]:
    """ValidateScopedIncludesExcludes."""
    errors = []
    if len(set(includes)) > 1 and "*" in includes:
        errors.append("includes list must either contain '*' only, or a non-empty list of items")
    if len(set(excludes)) > 1 and "*" in excludes:
        errors.append("excludes list must either contain '*' only, or a non-empty list of items")
    if includes and "*" in excludes:
        errors.append("when exclude is '*', include cannot have value")
    errors.extend(
        f"excludes list cannot contain an item in the includes list: {i}" for i in sorted(set(includes) & set(excludes))
    )
    return errors


def _combine(current: _Filter, policy: Mapping[str, Sequence[str]], scope: str, namespaced: bool) -> _Filter:
    """CombineWithPolicy: the spec's own filters win; the policy adds what they do not mention."""
    includes, excludes = list(current.includes.items), list(current.excludes.items)
    for kind, target in (("excluded", excludes), ("included", includes)):
        for item in _scoped(policy.get(f"{kind}{scope}Resources", ()), namespaced):
            if not GlobSet.of(includes).match(item) and not GlobSet.of(excludes).match(item):
                target.append(item)
    return _Filter(GlobSet.of(includes), GlobSet.of(excludes))
