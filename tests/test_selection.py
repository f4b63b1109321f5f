"""Velero's selection grammar (velero/selection.py): namespace filters and their patterns per release, label
selectors, resource filters; each case as Velero's own code decides it (the files named in the module)."""

from __future__ import annotations

import pytest

from velero_exporter.velero.selection import (
    PERSISTENT_VOLUME_CLAIMS,
    PERSISTENT_VOLUMES,
    PODS,
    GlobSet,
    LabelSelector,
    NamespaceFilter,
    ObjectSelector,
    ResourceFilter,
    SelectionError,
    compile_glob,
    resolve_resource,
)

V112, V117, V118 = (1, 12), (1, 17), (1, 18)
NAMESPACES = ["app-prod", "app-staging", "db-prod", "kube-system", "ns1", "ns2", "nsa", "nsd", "team"]


def selected(includes: list[str], excludes: list[str], version: tuple[int, int] = V118) -> list[str]:
    ns_filter = NamespaceFilter.build(includes, excludes, version)
    return [ns for ns in NAMESPACES if ns_filter.includes_namespace(ns)]


@pytest.mark.parametrize(
    ("pattern", "matches", "misses"),
    [
        ("app-*", ["app-prod", "app-", "app-a-b"], ["myapp-prod", "app"]),
        ("ns?", ["ns1", "nsa"], ["ns", "ns12"]),
        ("ns[abc]", ["nsa", "nsc"], ["nsd", "ns1"]),
        ("ns[!abc]", ["nsd", "ns1"], ["nsa"]),
        ("ns[a-c]", ["nsb"], ["nsd"]),
        ("{app,db}-prod", ["app-prod", "db-prod"], ["web-prod"]),
        ("app.prod", ["app.prod"], ["appxprod"]),  # `.` is literal
        ("a\\*", ["a*"], ["ab"]),
    ],
)
def test_globs_match_like_gobwas(pattern: str, matches: list[str], misses: list[str]) -> None:
    compiled = compile_glob(pattern)
    assert compiled is not None
    assert all(compiled.fullmatch(m) for m in matches)
    assert not any(compiled.fullmatch(m) for m in misses)


@pytest.mark.parametrize("pattern", ["ns[", "ns[]", "{a,b", "a\\"])
def test_a_glob_that_does_not_compile_matches_nothing(pattern: str) -> None:
    assert compile_glob(pattern) is None


def test_a_set_gives_up_at_its_first_item_that_does_not_compile() -> None:
    # Velero's globStringSet walks its items sorted and answers "no" at the first compile error.
    assert not GlobSet.of(["b-*", "a["]).match("b-1")
    assert GlobSet.of(["b-*", "c["]).match("b-1")


def test_namespace_filters_select_like_velero() -> None:
    assert selected([], []) == NAMESPACES
    assert selected(["*"], ["kube-*"]) == [ns for ns in NAMESPACES if ns != "kube-system"]
    assert selected(["app-*", "db-*"], ["*-staging"]) == ["app-prod", "db-prod"]
    assert selected(["team"], []) == ["team"]
    # Patterns that match nothing select nothing (1.18's expansion to an empty list, a plain miss before).
    assert selected(["nothing-*"], []) == []


def test_question_marks_and_classes_are_patterns_only_from_1_18() -> None:
    assert selected(["ns?"], [], V118) == ["ns1", "ns2", "nsa", "nsd"]
    assert selected(["ns[ab]"], [], V118) == ["nsa"]
    for version in (V112, V117):
        with pytest.raises(SelectionError, match="DNS-1123"):
            selected(["ns?"], [], version)
        with pytest.raises(SelectionError):
            selected(["ns[ab]"], [], version)
    # `*` passes every release's validation.
    assert selected(["app-*"], [], V112) == selected(["app-*"], [], V118) == ["app-prod", "app-staging"]


@pytest.mark.parametrize(
    ("includes", "excludes", "message"),
    [
        (["*", "team"], [], "contain '\\*' only"),
        ([], ["*"], "cannot contain '\\*'"),
        (["team"], ["team"], "an item in the includes list: team"),
        (["Team"], [], "DNS-1123"),
        (["a" * 64], [], "DNS-1123"),
        (["app-**"], [], "consecutive asterisks"),
        (["{app,db}"], [], "unsupported characters"),
        (["ns[]"], [], "bracket"),
        (["ns[a"], [], "bracket"),
    ],
)
def test_namespace_filters_velero_rejects(includes: list[str], excludes: list[str], message: str) -> None:
    with pytest.raises(SelectionError, match=message):
        NamespaceFilter.build(includes, excludes, V118)


def test_include_everything() -> None:
    assert NamespaceFilter.build([], [], V118).include_everything
    assert NamespaceFilter.build(["*"], [], V118).include_everything
    assert not NamespaceFilter.build(["*"], ["kube-system"], V118).include_everything
    assert not NamespaceFilter.build(["app"], [], V118).include_everything


def test_label_selectors_match_like_kubernetes() -> None:
    selector = LabelSelector.build(
        {
            "matchLabels": {"app": "db"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["gold", "silver"]},
                {"key": "temp", "operator": "DoesNotExist"},
                {"key": "env", "operator": "NotIn", "values": ["dev"]},
            ],
        }
    )
    assert selector.matches({"app": "db", "tier": "gold"})
    assert selector.matches({"app": "db", "tier": "silver", "env": "prod"})
    assert not selector.matches({"app": "db", "tier": "gold", "env": "dev"})
    assert not selector.matches({"app": "db", "tier": "gold", "temp": ""})
    assert not selector.matches({"app": "web", "tier": "gold"})
    assert LabelSelector.build({}).matches({})  # an empty selector selects everything
    assert LabelSelector.build({"matchExpressions": [{"key": "a", "operator": "Exists"}]}).matches({"a": ""})


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        ({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]}, "must be specified"),
        ({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}, "may not be specified"),
        ({"matchExpressions": [{"key": "a", "operator": "Equals", "values": ["x"]}]}, "not a valid"),
        ({"matchLabels": {"bad key!": "x"}}, "invalid label key"),
        ({"matchLabels": {"a": "-x"}}, "invalid label value"),
        ({"matchLabels": ["a"]}, "not a mapping"),
    ],
)
def test_label_selectors_velero_cannot_convert(selector: dict[str, object], message: str) -> None:
    with pytest.raises(SelectionError, match=message):
        LabelSelector.build(selector)


def test_or_label_selectors() -> None:
    selector = ObjectSelector.build(None, [{"matchLabels": {"a": "1"}}, {"matchLabels": {"b": "2"}}])
    assert selector.matches({"a": "1"}) and selector.matches({"b": "2"})
    assert not selector.matches({"a": "2"})
    assert ObjectSelector.build(None, None).selects_everything
    with pytest.raises(SelectionError, match="only one can be specified"):
        ObjectSelector.build({}, [{}])


def test_resource_names_resolve_like_velero_discovery() -> None:
    assert [resolve_resource(r) for r in ("pvc", "PersistentVolumeClaim", "po", "pods.", "pv", "deployments.apps")] == [
        PERSISTENT_VOLUME_CLAIMS,
        PERSISTENT_VOLUME_CLAIMS,
        PODS,
        PODS,
        PERSISTENT_VOLUMES,
        "deployments.apps",
    ]


def resources(
    spec: dict[str, object], everything: bool = True, policy: dict[str, tuple[str, ...]] | None = None
) -> ResourceFilter:
    namespaces = NamespaceFilter.build([] if everything else ["team"], [], V118)
    return ResourceFilter.build(spec, namespaces, policy)


def test_old_resource_filters() -> None:
    whole = resources({})
    assert whole.lists_namespaced(PODS) and whole.lists_namespaced(PERSISTENT_VOLUME_CLAIMS)
    assert whole.lists_cluster(PERSISTENT_VOLUMES)  # a whole-cluster backup lists PVs itself
    assert not whole.excludes_cluster(PERSISTENT_VOLUMES)

    some_namespaces = resources({}, everything=False)
    assert not some_namespaces.lists_cluster(PERSISTENT_VOLUMES)  # ... but a namespace backup only via PVCs
    assert not some_namespaces.excludes_cluster(PERSISTENT_VOLUMES)

    config_only = resources({"includedResources": ["configmaps", "secrets"]})
    assert not config_only.lists_namespaced(PERSISTENT_VOLUME_CLAIMS)
    assert not config_only.lists_namespaced(PODS)
    assert config_only.excludes_cluster(PERSISTENT_VOLUMES)

    no_pvcs = resources({"excludedResources": ["pvc"]})
    assert not no_pvcs.lists_namespaced(PERSISTENT_VOLUME_CLAIMS) and no_pvcs.lists_namespaced(PODS)

    no_cluster = resources({"includeClusterResources": False})
    assert not no_cluster.lists_cluster(PERSISTENT_VOLUMES) and no_cluster.excludes_cluster(PERSISTENT_VOLUMES)

    with_cluster = resources({"includeClusterResources": True}, everything=False)
    assert with_cluster.lists_cluster(PERSISTENT_VOLUMES)

    globbed = resources({"excludedResources": ["persistentvolume*"]})
    assert not globbed.lists_namespaced(PERSISTENT_VOLUME_CLAIMS) and globbed.excludes_cluster(PERSISTENT_VOLUMES)


def test_scoped_resource_filters() -> None:
    only_pods = resources({"includedNamespaceScopedResources": ["pods"]})
    assert only_pods.lists_namespaced(PODS) and not only_pods.lists_namespaced(PERSISTENT_VOLUME_CLAIMS)
    assert not only_pods.lists_cluster(PERSISTENT_VOLUMES)  # not every namespaced type: no whole-cluster backup
    assert not only_pods.excludes_cluster(PERSISTENT_VOLUMES)  # a PV still comes with its PVC

    no_pvs = resources({"excludedClusterScopedResources": ["persistentvolumes"]})
    assert no_pvs.excludes_cluster(PERSISTENT_VOLUMES) and not no_pvs.lists_cluster(PERSISTENT_VOLUMES)
    # An item of the other scope is dropped: "pv" among the namespaced excludes excludes nothing.
    assert not resources({"excludedNamespaceScopedResources": ["pv"]}).excludes_cluster(PERSISTENT_VOLUMES)

    # A resource policy's include-exclude policy (1.17+) adds what the spec does not mention.
    combined = resources({}, policy={"excludedNamespaceScopedResources": ("persistentvolumeclaims",)})
    assert not combined.lists_namespaced(PERSISTENT_VOLUME_CLAIMS) and combined.lists_namespaced(PODS)
    spec_wins = resources(
        {"includedNamespaceScopedResources": ["persistentvolumeclaims", "pods"]},
        policy={"excludedNamespaceScopedResources": ("persistentvolumeclaims",)},
    )
    assert spec_wins.lists_namespaced(PERSISTENT_VOLUME_CLAIMS)


@pytest.mark.parametrize(
    ("spec", "policy", "message"),
    [
        (
            {"includedResources": ["pods"], "includedNamespaceScopedResources": ["pods"]},
            None,
            "cannot be used together",
        ),
        ({"includeClusterResources": True}, {"excludedNamespaceScopedResources": ("pods",)}, "include-exclude"),
        ({"includedResources": ["*", "pods"]}, None, "contain '\\*' only"),
        ({"excludedNamespaceScopedResources": ["*", "pods"]}, None, "contain '\\*' only"),
        (
            {"includedClusterScopedResources": ["nodes"], "excludedClusterScopedResources": ["*"]},
            None,
            "include cannot",
        ),
        ({"includedResources": "pods"}, None, "not a list"),
        ({"includeClusterResources": "yes"}, None, "not a boolean"),
    ],
)
def test_resource_filters_velero_rejects(
    spec: dict[str, object], policy: dict[str, tuple[str, ...]] | None, message: str
) -> None:
    with pytest.raises(SelectionError, match=message):
        resources(spec, policy=policy)
