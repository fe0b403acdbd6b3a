"""pipelines.kind: the kind config, the image loading and the kubectl-in-the-node commands.

The kind argv lists themselves are run through the pinned kind binary in
tests/integration/test_kind_cli.py; here: what they are built from and what they refuse.
"""

import tomllib
from typing import Any

import pytest
import yaml

from pipelines import kind
from pipelines.versions import KUBE_VERSION
from tests.support.kubeconfigs import AKS_KUBECONFIG, KIND_KUBECONFIG


def load(text: str) -> Any:
    return yaml.safe_load(text)


def test_kind_config_publishes_the_api_server_for_the_dind_host() -> None:
    config = load(kind.kind_config())
    # Field names of sigs.k8s.io/kind v0.30.0 pkg/apis/config/v1alpha4/types.go.
    assert config["kind"] == "Cluster"
    assert config["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    assert config["networking"] == {"apiServerAddress": "0.0.0.0", "apiServerPort": 6443}  # noqa: S104
    assert config["nodes"] == [{"role": "control-plane"}]
    [patch] = [load(p) for p in config["kubeadmConfigPatches"]]
    # No apiVersion: kind applies it to whichever kubeadm API version it renders.
    assert patch == {
        "kind": "ClusterConfiguration",
        "apiServer": {"certSANs": ["localhost", "127.0.0.1", "docker"]},
    }


def test_kind_config_takes_another_host() -> None:
    [patch] = load(kind.kind_config("dind.internal"))["kubeadmConfigPatches"]
    assert load(patch)["apiServer"]["certSANs"][-1] == "dind.internal"


@pytest.mark.parametrize("host", ["", "docker host", "https://docker", "-docker", "a" * 64])
def test_kind_config_rejects_a_host_a_certificate_cannot_name(host: str) -> None:
    with pytest.raises(
        ValueError, match=r"is not a DNS name or IPv4 address: pass e\.g\. 'tts\.example\.com'"
    ):
        kind.kind_config(host)


# --- kind commands -----------------------------------------------------------------------


def test_the_loaded_image_is_read_from_docker_load_output() -> None:
    assert kind.docker_load_argv("smoke.tar") == ["docker", "load", "--input", "smoke.tar"]
    image_id = "sha256:" + "c" * 64
    assert kind.loaded_image(f"Loaded image ID: {image_id}\n") == image_id
    assert kind.loaded_image("abc: Loading layer 1MB/1MB\nLoaded image: tts-ci/smoke:local\n") == (
        "tts-ci/smoke:local"
    )


def test_loading_an_unnamed_tarball_rejects_bad_input() -> None:
    for output in ("", "Loaded image: a:1\nLoaded image: b:1\n"):
        with pytest.raises(ValueError, match="expected one: load a tarball of exactly one image"):
            kind.loaded_image(output)
    with pytest.raises(ValueError, match="source image is empty"):
        kind.docker_tag_argv("", "tts-ci/smoke:local")
    with pytest.raises(ValueError, match="is not pinned"):
        kind.docker_tag_argv("sha256:abc", "tts-ci/smoke")
    with pytest.raises(ValueError, match="is not pinned"):
        kind.kind_load_image_argv("tts-ci/smoke")
    with pytest.raises(ValueError, match="archive is empty"):
        kind.docker_load_argv("")


@pytest.mark.parametrize("name", ["", "TTS", "tts_e2e", "tts e2e"])
def test_kind_commands_reject_invalid_cluster_names(name: str) -> None:
    message = "is invalid: use lowercase letters, digits, '.' and '-'"
    for make in (kind.kind_delete_argv, kind.kind_kubeconfig_argv):
        with pytest.raises(ValueError, match=message):
            make(name)
    with pytest.raises(ValueError, match=message):
        kind.kind_load_image_argv("tts-ci/smoke:local", name)
    with pytest.raises(ValueError, match=message):
        kind.kind_create_argv("kind.yaml", name)


def test_kind_create_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="is not pinned"):
        kind.kind_create_argv("kind.yaml", image="kindest/node")
    with pytest.raises(ValueError, match="config_path is empty: pass the path"):
        kind.kind_create_argv(" ")
    for wait in (0, -5, 3601):
        with pytest.raises(ValueError, match=rf"wait_seconds={wait} is not a timeout: use 1-3600"):
            kind.kind_create_argv("kind.yaml", wait_seconds=wait)


def test_namespace_manifest_enforces_pod_security() -> None:
    ns = load(kind.namespace_manifest())
    assert (ns["apiVersion"], ns["kind"], ns["metadata"]["name"]) == ("v1", "Namespace", "tts")
    labels = ns["metadata"]["labels"]
    for mode in ("enforce", "audit", "warn"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"
        assert labels[f"pod-security.kubernetes.io/{mode}-version"] == f"v{KUBE_VERSION}"
    assert (
        load(kind.namespace_manifest("x", "baseline"))["metadata"]["labels"][
            "pod-security.kubernetes.io/enforce"
        ]
        == "baseline"
    )
    with pytest.raises(ValueError, match="level 'strict' is unknown: use privileged, baseline"):
        kind.namespace_manifest(level="strict")


def test_kubectl_runs_in_the_kind_node_as_admin() -> None:
    copy, apply = kind.apply_namespace_argvs("namespace.yaml")
    # Not /tmp, the node's tmpfs, where docker cp writes nothing.
    assert copy[-1] == "tts-e2e-control-plane:/root/namespace.yaml"
    assert apply[-2:] == ["-f", "/root/namespace.yaml"]  # the file docker cp put there
    assert kind.node_kubectl_argv("get", "nodes", node="n1")[:4] == [
        "docker",
        "exec",
        "n1",
        "kubectl",
    ]
    with pytest.raises(ValueError, match="node container name is empty"):
        kind.node_kubectl_argv("get", "nodes", node="")


def test_diagnostics_cover_events_pods_descriptions_and_all_logs() -> None:
    argvs = kind.diagnostics_argvs()
    prefix = ["docker", "exec", "tts-e2e-control-plane", "kubectl", "--kubeconfig",
              "/etc/kubernetes/admin.conf"]  # fmt: skip
    assert all(a[: len(prefix)] == prefix for a in argvs)
    commands = [a[len(prefix) :] for a in argvs]
    assert commands[0] == ["events", "--namespace", "tts"]
    assert commands[1] == ["get", "pods", "--namespace", "tts", "--output", "wide"]
    assert commands[2] == ["describe", "pods", "--namespace", "tts"]
    logs, previous = commands[3], commands[4]
    for flag in ("--all-containers", "--prefix", "--ignore-errors"):
        assert flag in logs
    assert logs[logs.index("--selector") + 1] == "app.kubernetes.io/instance=tts"
    assert previous == [*logs, "--previous"]
    other = kind.diagnostics_argvs("n2", "ns2")
    assert {a[2] for a in other} == {"n2"}
    assert all("ns2" in a for a in other)


def test_reachable_kubeconfig_points_the_cluster_at_the_dind_host() -> None:
    before = load(KIND_KUBECONFIG)
    after = load(kind.reachable_kubeconfig(KIND_KUBECONFIG))
    assert after["clusters"][0]["cluster"]["server"] == "https://docker:6443"
    # Everything else (CA, client certificate, context) is untouched.
    before["clusters"][0]["cluster"]["server"] = "https://docker:6443"
    assert after == before
    custom = load(kind.reachable_kubeconfig(KIND_KUBECONFIG, "10.0.0.5", 16443))
    assert custom["clusters"][0]["cluster"]["server"] == "https://10.0.0.5:16443"


def test_reachable_kubeconfig_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="has 2 clusters, expected the one of a kind cluster"):
        kind.reachable_kubeconfig(AKS_KUBECONFIG)
    with pytest.raises(ValueError, match="is not YAML"):
        kind.reachable_kubeconfig("clusters: [")
    with pytest.raises(ValueError, match="no `kind: Config`"):
        kind.reachable_kubeconfig("apiVersion: v1\nkind: Pod\n")
    for port in (0, 65536):
        with pytest.raises(ValueError, match=f"port {port} is out of range: use 1-65535"):
            kind.reachable_kubeconfig(KIND_KUBECONFIG, port=port)
    with pytest.raises(ValueError, match="is not a DNS name"):
        kind.reachable_kubeconfig(KIND_KUBECONFIG, host="docker:6443")


# --- the registry mirror ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "host", "plain_http"),
    [
        ("https://tts.azurecr.io", "tts.azurecr.io", False),
        ("https://tts.azurecr.io/", "tts.azurecr.io", False),
        ("http://192.168.1.10:5000", "192.168.1.10:5000", True),
    ],
)
def test_a_mirror_is_a_registry_url(url: str, host: str, plain_http: bool) -> None:
    mirror = kind.parse_registry_mirror(url)
    assert (mirror.host, mirror.plain_http) == (host, plain_http)
    assert mirror.url == url.rstrip("/")


@pytest.mark.parametrize(
    "url",
    ["tts.azurecr.io", "ftp://tts.azurecr.io", "https://tts.azurecr.io/library",
     "https://user:pw@tts.azurecr.io", "https://", "https://tts.azurecr.io:99999",
     "https://tts azurecr.io"],
)  # fmt: skip
def test_a_mirror_that_is_not_a_registry_url_is_refused_with_the_fix(url: str) -> None:
    with pytest.raises(ValueError, match=r"registry mirror|host") as refused:
        kind.parse_registry_mirror(url)
    assert "e.g." in str(refused.value) or "out of range" in str(refused.value)


def test_dockerd_pulls_docker_hub_through_the_mirror() -> None:
    assert kind.dockerd_argv(2375) == ["dockerd", "--host=tcp://0.0.0.0:2375", "--tls=false"]
    secure = kind.parse_registry_mirror("https://tts.azurecr.io")
    assert kind.dockerd_argv(2375, secure)[3:] == ["--registry-mirror=https://tts.azurecr.io"]
    plain = kind.parse_registry_mirror("http://10.0.0.5:5000")
    assert kind.dockerd_argv(2375, plain)[3:] == [
        "--registry-mirror=http://10.0.0.5:5000",
        "--insecure-registry=10.0.0.5:5000",
    ]


def test_kind_containerd_gets_the_mirror_as_docker_io_hosts() -> None:
    mirror = kind.parse_registry_mirror("http://10.0.0.5:5000")
    hosts = tomllib.loads(kind.mirror_hosts_toml(mirror))
    # containerd docs/hosts.md: `server` is the upstream, each [host] is tried first, in order.
    assert hosts == {
        "server": "https://registry-1.docker.io",
        "host": {"http://10.0.0.5:5000": {"capabilities": ["pull", "resolve"]}},
    }
    assert kind.node_mirror_argvs("hosts.toml") == [
        ["docker", "exec", kind.E2E_NODE, "mkdir", "-p", "/etc/containerd/certs.d/docker.io"],
        ["docker", "cp", "hosts.toml",
         f"{kind.E2E_NODE}:/etc/containerd/certs.d/docker.io/hosts.toml"],
    ]  # fmt: skip


def test_the_kind_config_points_containerd_at_the_hosts_dir_only_for_a_mirror() -> None:
    assert "containerdConfigPatches" not in load(kind.kind_config())
    [patch] = load(kind.kind_config(registry_hosts=True))["containerdConfigPatches"]
    assert tomllib.loads(patch) == {
        "plugins": {
            "io.containerd.grpc.v1.cri": {"registry": {"config_path": "/etc/containerd/certs.d"}}
        }
    }
