"""Finding the API server and its credentials as kubectl does: $KUBECONFIG's merge, relative paths, contexts,
token files that rotate, exec plugins and their environment, in-cluster, and a clear error for every
configuration that cannot work. The requests themselves are tested in test_kube_client."""

from __future__ import annotations

import base64
import json
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from velero_exporter.sources.kube import credentials
from velero_exporter.sources.kube.credentials import ConfigError, TokenFile, load


def kubeconfig(
    path: Path,
    *,
    clusters: dict[str, dict[str, Any]] | None = None,
    users: dict[str, dict[str, Any]] | None = None,
    contexts: dict[str, dict[str, Any]] | None = None,
    current: str | None = None,
) -> Path:
    doc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": n, "cluster": c} for n, c in (clusters or {}).items()],
        "users": [{"name": n, "user": u} for n, u in (users or {}).items()],
        "contexts": [{"name": n, "context": c} for n, c in (contexts or {}).items()],
    }
    if current is not None:
        doc["current-context"] = current
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return path


def simple(path: Path, server: str = "http://api.one:6443", user: dict[str, Any] | None = None) -> Path:
    return kubeconfig(
        path,
        clusters={"c": {"server": server}},
        users={"u": user if user is not None else {"token": "t"}},
        contexts={"ctx": {"cluster": "c", "user": "u", "namespace": "backups"}},
        current="ctx",
    )


NO_POD: dict[str, str] = {}


def test_an_explicit_kubeconfig_gives_host_namespace_and_token(tmp_path: Path) -> None:
    conn = load(str(simple(tmp_path / "config")), None, NO_POD)
    assert (conn.host, conn.namespace, conn.ssl_context) == ("http://api.one:6443", "backups", None)
    assert conn.credential.header() == "Bearer t"


def test_kubeconfig_list_merges_first_wins_and_skips_missing_files(tmp_path: Path) -> None:
    first = kubeconfig(
        tmp_path / "a" / "config",
        clusters={"c": {"server": "http://first:1"}},
        contexts={"other": {"cluster": "c"}},
    )
    second = kubeconfig(
        tmp_path / "b" / "config",
        clusters={"c": {"server": "http://second:2"}, "d": {"server": "http://d:3"}},
        users={"u": {"token": "from-b"}},
        contexts={"ctx": {"cluster": "d", "user": "u"}, "other": {"cluster": "d"}},
        current="ctx",
    )
    listed = ":".join([str(tmp_path / "missing"), str(first), str(second)])
    conn = load(None, None, {"KUBECONFIG": listed})
    # current-context comes from the only file that sets it; "c" from the first file to name it.
    assert (conn.host, conn.credential.header(), conn.namespace) == ("http://d:3", "Bearer from-b", "velero")
    assert conn.source == f"{first}:{second}"
    # Both files name "other": the first's wins (cluster c, no user: anonymous), and c is the first file's.
    other = load(None, "other", {"KUBECONFIG": listed})
    assert (other.host, other.credential.header()) == ("http://first:1", None)


def test_relative_paths_resolve_against_the_file_that_names_them(tmp_path: Path) -> None:
    (tmp_path / "kube" / "secrets").mkdir(parents=True)
    (tmp_path / "kube" / "secrets" / "token").write_text("from-file\n")
    path = simple(tmp_path / "kube" / "config", user={"tokenFile": "secrets/token"})
    assert load(str(path), None, NO_POD).credential.header() == "Bearer from-file"


def test_a_token_wins_over_a_token_file_and_basic_auth(tmp_path: Path) -> None:
    user = {"token": "inline", "tokenFile": "/nonexistent", "username": "a", "password": "b"}
    assert load(str(simple(tmp_path / "c", user=user)), None, NO_POD).credential.header() == "Bearer inline"
    basic = load(str(simple(tmp_path / "d", user={"username": "admin", "password": "pw"})), None, NO_POD)
    assert basic.credential.header() == "Basic YWRtaW46cHc="


def test_a_token_file_is_reread_once_a_minute_and_survives_a_bad_read(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("one")
    now = [1000.0]
    source = TokenFile(str(token), clock=lambda: now[0])
    assert source.header() == "Bearer one"
    token.write_text("two")
    now[0] += 59
    assert source.header() == "Bearer one"
    now[0] += 1
    assert source.header() == "Bearer two"
    token.unlink()
    now[0] += 60
    assert source.header() == "Bearer two"  # a rotation caught mid-write is no reason to send nothing
    with pytest.raises(ConfigError, match="cannot read token file"):
        TokenFile(str(tmp_path / "never")).header()


def write_plugin(tmp_path: Path, body: str, name: str = "plugin.py") -> Path:
    script = tmp_path / name
    script.write_text("import json, os, sys\n" + body)
    return script


def exec_user(script: Path, **extra: Any) -> dict[str, Any]:
    spec = {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": sys.executable, "args": [str(script)]}
    return {"exec": {**spec, **extra}}


ECHO_ENV = (
    "info = json.loads(os.environ['KUBERNETES_EXEC_INFO'])\n"
    "token = os.environ.get('EXTRA', '') + '|' + json.dumps(info, sort_keys=True)\n"
    "print(json.dumps({'apiVersion': info['apiVersion'], 'kind': 'ExecCredential', 'status': {'token': token}}))\n"
)


def test_an_exec_plugin_gets_its_env_and_the_exec_info(tmp_path: Path) -> None:
    script = write_plugin(tmp_path, ECHO_ENV)
    user = exec_user(script, env=[{"name": "EXTRA", "value": "x1"}], provideClusterInfo=True)
    path = simple(tmp_path / "config", server="https://api.one:6443", user=user)
    doc = json.loads(path.read_text())
    doc["clusters"][0]["cluster"]["insecure-skip-tls-verify"] = True
    path.write_text(json.dumps(doc))
    header = load(str(path), None, NO_POD).credential.header()
    assert header is not None
    extra, info = header.removeprefix("Bearer ").split("|", 1)
    assert extra == "x1"
    assert json.loads(info) == {
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "kind": "ExecCredential",
        "spec": {
            "interactive": False,
            "cluster": {
                "server": "https://api.one:6443",
                "tls-server-name": "",
                "insecure-skip-tls-verify": True,
                "certificate-authority-data": "",
            },
        },
    }


def test_an_exec_command_with_a_relative_directory_runs_from_the_kubeconfig_directory(tmp_path: Path) -> None:
    bin_dir = tmp_path / "kube" / "bin"
    bin_dir.mkdir(parents=True)
    script = bin_dir / "get-token"
    script.write_text(
        f"#!{sys.executable}\nimport json\n"
        "print(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1', 'kind': 'ExecCredential',"
        " 'status': {'token': 'relative'}}))\n"
    )
    script.chmod(0o755)
    user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": "bin/get-token"}}
    path = simple(tmp_path / "kube" / "config", user=user)
    assert load(str(path), None, NO_POD).credential.header() == "Bearer relative"


@pytest.mark.parametrize(
    ("user", "plugin", "message"),
    [
        ({"apiVersion": "client.authentication.k8s.io/v1alpha1"}, "", "apiVersion .* is not one of"),
        ({"interactiveMode": "Always"}, "", "needs a terminal"),
        ({}, "sys.stderr.write('token expired, run aws sso login'); sys.exit(3)", "exited 3: token expired"),
        ({}, "print('not json')", "printed no ExecCredential"),
        (
            {},
            "print(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1', 'kind': 'ExecCredential',"
            " 'status': {'token': 't'}}))",
            "another kind or apiVersion",
        ),
        (
            {},
            "print(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1beta1', 'kind': 'ExecCredential',"
            " 'status': {}}))",
            "neither a token nor a client certificate",
        ),
        (
            {},
            "print(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1beta1', 'kind': 'ExecCredential',"
            " 'status': {'token': 't', 'expirationTimestamp': 'soon'}}))",
            "is not RFC 3339",
        ),
    ],
)
def test_an_exec_plugin_that_cannot_work_is_a_clear_error(
    tmp_path: Path, user: dict[str, Any], plugin: str, message: str
) -> None:
    spec = exec_user(write_plugin(tmp_path, plugin + "\n"))
    spec["exec"].update(user)
    with pytest.raises(ConfigError, match=message):
        load(str(simple(tmp_path / "config", user=spec)), None, NO_POD)


def test_a_failed_refresh_keeps_the_last_token(tmp_path: Path) -> None:
    """Near expiry the plugin runs again; when that run fails, the old token goes out and a 401 would reload."""
    runs = tmp_path / "runs"
    script = write_plugin(
        tmp_path,
        f"runs = {str(runs)!r}\n"
        "n = len(open(runs).read()) + 1 if os.path.exists(runs) else 1\n"
        "open(runs, 'a').write('x')\n"
        "if n > 1: sys.exit(1)\n"
        "print(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1beta1', 'kind': 'ExecCredential',"
        " 'status': {'token': 'first', 'expirationTimestamp': '2000-01-01T00:00:00Z'}}))\n",
    )
    credential = load(str(simple(tmp_path / "config", user=exec_user(script))), None, NO_POD).credential
    assert credential.header() == "Bearer first"
    assert runs.read_text() == "xx"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("current-context"), "no current-context"),
        (lambda d: d.update({"current-context": "gone"}), "context 'gone' not found"),
        (lambda d: d["contexts"][0]["context"].update({"cluster": "x"}), "names cluster 'x', which is not defined"),
        (lambda d: d["contexts"][0]["context"].update({"user": "x"}), "names user 'x', which is not defined"),
        (lambda d: d["clusters"][0]["cluster"].pop("server"), "cluster 'c' has no server"),
        (lambda d: d.update({"clusters": {"c": {}}}), "clusters is not a list"),
        (lambda d: d["users"][0].pop("name"), "an entry of users has no name"),
        (lambda d: d["users"][0]["user"].update({"token": 7}), "user 'u': token is not a string"),
        (
            lambda d: d["users"][0]["user"].update({"client-certificate-data": "not base64!"}),
            "client-certificate-data is not base64 PEM",
        ),
    ],
)
def test_a_kubeconfig_that_cannot_work_is_a_clear_error(tmp_path: Path, mutate: Any, message: str) -> None:
    path = simple(tmp_path / "config")
    doc = json.loads(path.read_text())
    mutate(doc)
    path.write_text(json.dumps(doc))
    with pytest.raises(ConfigError, match=message):
        load(str(path), None, NO_POD)


def test_inline_data_may_be_wrapped_as_go_reads_it(tmp_path: Path) -> None:
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    wrapped = "\n".join(base64.b64encode(pem.encode()).decode()[i : i + 16] for i in range(0, 80, 16))
    assert credentials._pem({"certificate-authority-data": wrapped}, "certificate-authority-data", "c") == pem


def test_unreadable_kubeconfigs_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load(str(tmp_path / "nope"), None, NO_POD)
    with pytest.raises(ConfigError, match="none of the kubeconfig files exists"):
        load(None, None, {"KUBECONFIG": f"{tmp_path / 'a'}:{tmp_path / 'b'}"})
    (tmp_path / "list").write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="is not a mapping"):
        load(str(tmp_path / "list"), None, NO_POD)
    (tmp_path / "broken").write_text("clusters: [\n")
    with pytest.raises(ConfigError, match="is not YAML"):
        load(str(tmp_path / "broken"), None, NO_POD)


def test_in_cluster_wins_unless_a_kubeconfig_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    account = tmp_path / "sa"
    account.mkdir()
    (account / "token").write_text("sa")
    monkeypatch.setattr(credentials, "SERVICE_ACCOUNT_DIR", str(account))
    pod = {"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"}
    conn = load(None, None, pod)  # no ca.crt: the system's roots, as client-go does
    assert (conn.host, conn.namespace, conn.source) == ("https://[fd00::1]:443", "velero", "in-cluster")
    assert conn.ssl_context is not None and conn.ssl_context.verify_mode == ssl.CERT_REQUIRED
    assert conn.credential.header() == "Bearer sa"
    assert load(str(simple(tmp_path / "config")), None, pod).host == "http://api.one:6443"


def test_a_pod_without_a_token_falls_back_to_the_kubeconfig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(credentials, "SERVICE_ACCOUNT_DIR", str(tmp_path / "absent"))
    pod = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    path = simple(tmp_path / "config")
    assert load(None, None, {**pod, "KUBECONFIG": str(path)}).host == "http://api.one:6443"


def _jwt(claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none'})}.{part(claims)}.c2ln"


def test_an_auth_provider_is_handed_to_the_kubernetes_package(tmp_path: Path) -> None:
    token = _jwt({"iss": "https://idp.example", "exp": int(time.time()) + 3600})
    provider = {"name": "oidc", "config": {"id-token": token, "idp-issuer-url": "https://idp.example"}}
    conn = load(str(simple(tmp_path / "config", user={"auth-provider": provider})), None, NO_POD)
    assert (conn.host, conn.namespace) == ("http://api.one:6443", "backups")
    assert conn.credential.header() == f"Bearer {token}"


def test_the_exporter_never_imports_the_kubernetes_package_for_a_plain_kubeconfig(tmp_path: Path) -> None:
    """Its ~700 API models cost 58 MiB of resident memory the exporter has no use for."""
    path = simple(tmp_path / "config", user={"token": "t"})
    probe = (
        "import sys\n"
        "import velero_exporter.cli\n"
        "from velero_exporter.sources.kube import credentials\n"
        f"credentials.load({str(path)!r}, None, {{}})\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'kubernetes'))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    assert done.stdout.strip() == "[]"
