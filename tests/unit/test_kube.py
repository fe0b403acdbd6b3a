"""pipelines.kube: the kind, helm, kubectl and az argv lists and the kubeconfig rewrites."""

from pathlib import Path
from typing import Any

import pytest
import yaml

from pipelines import chart, kube
from pipelines.versions import KIND_NODE_IMAGE, KUBE_VERSION

CHART = Path("charts/thethingsstack")
DIGEST = "sha256:" + "0123456789abcdef" * 4

# The shape `kind get kubeconfig` prints (kind v0.30.0, API server published on 0.0.0.0).
KIND_KUBECONFIG = """\
apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==
    server: https://0.0.0.0:6443
  name: kind-tts-e2e
contexts:
- context:
    cluster: kind-tts-e2e
    user: kind-tts-e2e
  name: kind-tts-e2e
current-context: kind-tts-e2e
kind: Config
preferences: {}
users:
- name: kind-tts-e2e
  user:
    client-certificate-data: Y2VydAo=
    client-key-data: a2V5Cg==
"""

# The shape `az aks get-credentials --format exec` writes for an Entra ID cluster.
AKS_KUBECONFIG = """\
apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: Y2EK
    server: https://tts-aks-dns-abc.hcp.westeurope.azmk8s.io:443
  name: tts-aks
- cluster:
    server: https://other:443
  name: other
contexts:
- context:
    cluster: tts-aks
    user: clusterUser_tts-rg_tts-aks
  name: tts-aks
- context:
    cluster: other
    user: other-admin
  name: other
current-context: other
kind: Config
preferences: {}
users:
- name: clusterUser_tts-rg_tts-aks
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      args: [get-token, --environment, AzurePublicCloud, --server-id,
             6dae42f8-4368-4678-94ff-3960e28e3630, --login, devicecode]
      command: kubelogin
      env: null
      provideClusterInfo: false
- name: other-admin
  user:
    client-certificate-data: Y2VydAo=
"""


def load(text: str) -> Any:
    return yaml.safe_load(text)


# --- kind config ---------------------------------------------------------------------


def test_kind_config_publishes_the_api_server_for_the_dind_host() -> None:
    config = load(kube.kind_config())
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
    [patch] = load(kube.kind_config("dind.internal"))["kubeadmConfigPatches"]
    assert load(patch)["apiServer"]["certSANs"][-1] == "dind.internal"


@pytest.mark.parametrize("host", ["", "docker host", "https://docker", "-docker", "a" * 64])
def test_kind_config_rejects_a_host_a_certificate_cannot_name(host: str) -> None:
    with pytest.raises(
        ValueError, match=r"is not a DNS name or IPv4 address: pass e\.g\. 'docker'"
    ):
        kube.kind_config(host)


# --- kind commands -----------------------------------------------------------------------


def test_kind_commands() -> None:
    assert kube.kind_create_argv("kind.yaml") == [
        "kind", "create", "cluster", "--name", "tts-e2e", "--config", "kind.yaml",
        "--image", KIND_NODE_IMAGE, "--wait", "180s",
    ]  # fmt: skip
    assert kube.kind_create_argv(Path("/w/k.yaml"), "other", "kindest/node:v1.34.0", 60)[4:] == [
        "other", "--config", "/w/k.yaml", "--image", "kindest/node:v1.34.0", "--wait", "60s",
    ]  # fmt: skip
    assert kube.kind_delete_argv() == ["kind", "delete", "cluster", "--name", "tts-e2e"]
    assert kube.kind_kubeconfig_argv("x.y-1") == ["kind", "get", "kubeconfig", "--name", "x.y-1"]


def test_loading_an_unnamed_tarball_through_the_dind_engine() -> None:
    assert kube.docker_load_argv("smoke.tar") == ["docker", "load", "--input", "smoke.tar"]
    image_id = "sha256:" + "c" * 64
    assert kube.loaded_image(f"Loaded image ID: {image_id}\n") == image_id
    assert kube.loaded_image("abc: Loading layer 1MB/1MB\nLoaded image: tts-ci/smoke:local\n") == (
        "tts-ci/smoke:local"
    )
    assert kube.docker_tag_argv(image_id, "tts-ci/smoke:local") == [
        "docker", "tag", image_id, "tts-ci/smoke:local",
    ]  # fmt: skip
    assert kube.kind_load_image_argv("tts-ci/smoke:local") == [
        "kind", "load", "docker-image", "tts-ci/smoke:local", "--name", "tts-e2e",
    ]  # fmt: skip


def test_loading_an_unnamed_tarball_rejects_bad_input() -> None:
    for output in ("", "Loaded image: a:1\nLoaded image: b:1\n"):
        with pytest.raises(ValueError, match="expected one: load a tarball of exactly one image"):
            kube.loaded_image(output)
    with pytest.raises(ValueError, match="source image is empty"):
        kube.docker_tag_argv("", "tts-ci/smoke:local")
    with pytest.raises(ValueError, match="is not pinned"):
        kube.docker_tag_argv("sha256:abc", "tts-ci/smoke")
    with pytest.raises(ValueError, match="is not pinned"):
        kube.kind_load_image_argv("tts-ci/smoke")
    with pytest.raises(ValueError, match="archive is empty"):
        kube.docker_load_argv("")


@pytest.mark.parametrize("name", ["", "TTS", "tts_e2e", "tts e2e"])
def test_kind_commands_reject_invalid_cluster_names(name: str) -> None:
    message = "is invalid: use lowercase letters, digits, '.' and '-'"
    for make in (kube.kind_delete_argv, kube.kind_kubeconfig_argv):
        with pytest.raises(ValueError, match=message):
            make(name)
    with pytest.raises(ValueError, match=message):
        kube.kind_load_image_argv("tts-ci/smoke:local", name)
    with pytest.raises(ValueError, match=message):
        kube.kind_create_argv("kind.yaml", name)


def test_kind_create_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="is not pinned"):
        kube.kind_create_argv("kind.yaml", image="kindest/node")
    with pytest.raises(ValueError, match="config_path is empty: pass the path"):
        kube.kind_create_argv(" ")
    for wait in (0, -5, 3601):
        with pytest.raises(ValueError, match=rf"wait_seconds={wait} is not a timeout: use 1-3600"):
            kube.kind_create_argv("kind.yaml", wait_seconds=wait)


# --- kubeconfigs -------------------------------------------------------------------------


def test_reachable_kubeconfig_points_the_cluster_at_the_dind_host() -> None:
    before = load(KIND_KUBECONFIG)
    after = load(kube.reachable_kubeconfig(KIND_KUBECONFIG))
    assert after["clusters"][0]["cluster"]["server"] == "https://docker:6443"
    # Everything else (CA, client certificate, context) is untouched.
    before["clusters"][0]["cluster"]["server"] = "https://docker:6443"
    assert after == before
    custom = load(kube.reachable_kubeconfig(KIND_KUBECONFIG, "10.0.0.5", 16443))
    assert custom["clusters"][0]["cluster"]["server"] == "https://10.0.0.5:16443"


def test_reachable_kubeconfig_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="has 2 clusters, expected the one of a kind cluster"):
        kube.reachable_kubeconfig(AKS_KUBECONFIG)
    with pytest.raises(ValueError, match="is not YAML"):
        kube.reachable_kubeconfig("clusters: [")
    with pytest.raises(ValueError, match="no `kind: Config`"):
        kube.reachable_kubeconfig("apiVersion: v1\nkind: Pod\n")
    for port in (0, 65536):
        with pytest.raises(ValueError, match=f"port {port} is out of range: use 1-65535"):
            kube.reachable_kubeconfig(KIND_KUBECONFIG, port=port)
    with pytest.raises(ValueError, match="is not a DNS name"):
        kube.reachable_kubeconfig(KIND_KUBECONFIG, host="docker:6443")


def test_check_kube_context() -> None:
    kube.check_kube_context(AKS_KUBECONFIG, "tts-aks")
    with pytest.raises(ValueError, match=r"no context 'prod' \(it has: tts-aks, other\)"):
        kube.check_kube_context(AKS_KUBECONFIG, "prod")
    empty = "apiVersion: v1\nkind: Config\ncontexts: []\n"
    with pytest.raises(ValueError, match=r"\(it has: none\): pass one of those or fetch"):
        kube.check_kube_context(empty, "tts-aks")


def test_kubeconfig_with_token_replaces_only_the_exec_user_of_the_context() -> None:
    before = load(AKS_KUBECONFIG)
    after = load(kube.kubeconfig_with_token(AKS_KUBECONFIG, "tts-aks", "eyJ0.eyJ1.sig"))
    users = {u["name"]: u["user"] for u in after["users"]}
    assert users["clusterUser_tts-rg_tts-aks"] == {"token": "eyJ0.eyJ1.sig"}
    assert users["other-admin"] == {"client-certificate-data": "Y2VydAo="}
    assert after["current-context"] == "tts-aks"
    assert after["clusters"] == before["clusters"]
    assert after["contexts"] == before["contexts"]


def test_kubeconfig_with_token_rejects_bad_input() -> None:
    for token in ("", "two words", "tok\n"):
        with pytest.raises(ValueError, match="is empty or has whitespace: pass the access token"):
            kube.kubeconfig_with_token(AKS_KUBECONFIG, "tts-aks", token)
    with pytest.raises(ValueError, match="no context 'prod'"):
        kube.kubeconfig_with_token(AKS_KUBECONFIG, "prod", "t")
    with pytest.raises(
        ValueError, match=r"has no exec \(kubelogin\) entry: fetch user credentials"
    ):
        kube.kubeconfig_with_token(AKS_KUBECONFIG, "other", "t")
    orphan = AKS_KUBECONFIG.replace("user: other-admin", "user: nobody")
    with pytest.raises(ValueError, match="names user 'nobody', missing from the kubeconfig"):
        kube.kubeconfig_with_token(orphan, "other", "t")


def test_aks_scope_is_the_aks_aad_server_application() -> None:
    assert kube.AKS_AAD_SCOPE == "6dae42f8-4368-4678-94ff-3960e28e3630/.default"


# --- kubectl in the node -------------------------------------------------------------------


def test_namespace_manifest_enforces_pod_security() -> None:
    ns = load(kube.namespace_manifest())
    assert (ns["apiVersion"], ns["kind"], ns["metadata"]["name"]) == ("v1", "Namespace", "tts")
    labels = ns["metadata"]["labels"]
    for mode in ("enforce", "audit", "warn"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"
        assert labels[f"pod-security.kubernetes.io/{mode}-version"] == f"v{KUBE_VERSION}"
    assert (
        load(kube.namespace_manifest("x", "baseline"))["metadata"]["labels"][
            "pod-security.kubernetes.io/enforce"
        ]
        == "baseline"
    )
    with pytest.raises(ValueError, match="level 'strict' is unknown: use privileged, baseline"):
        kube.namespace_manifest(level="strict")


def test_kubectl_runs_in_the_kind_node_as_admin() -> None:
    copy, apply = kube.apply_namespace_argvs("namespace.yaml")
    assert copy[-1] == "tts-e2e-control-plane:/tmp/namespace.yaml"
    assert apply[-2:] == ["-f", "/tmp/namespace.yaml"]  # the file docker cp put there
    assert kube.node_kubectl_argv("get", "nodes", node="n1")[:4] == [
        "docker",
        "exec",
        "n1",
        "kubectl",
    ]
    with pytest.raises(ValueError, match="node container name is empty"):
        kube.node_kubectl_argv("get", "nodes", node="")


def test_diagnostics_cover_events_pods_descriptions_and_all_logs() -> None:
    argvs = kube.diagnostics_argvs()
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
    other = kube.diagnostics_argvs("n2", "ns2")
    assert {a[2] for a in other} == {"n2"}
    assert all("ns2" in a for a in other)


# --- helm ----------------------------------------------------------------------------------


def test_helm_install_kind_argv() -> None:
    argv = kube.helm_install_kind_argv(
        CHART, "kubeconfig", "tts-ci/thethingsstack", "3.32.0", "tts-ci/smoke:local", 600
    )
    assert argv == [
        "helm", "upgrade", "--install", "tts", str(CHART), "--namespace", "tts",
        "--create-namespace", *chart.profile_args(CHART, "kind"),
        "--set-string", "image.repository=tts-ci/thethingsstack",
        "--set-string", "image.tag=3.32.0",
        "--set", "tests.smoke.enabled=true",
        "--set-string", "tests.smoke.image.repository=tts-ci/smoke",
        "--set-string", "tests.smoke.image.tag=local",
        "--wait", "--timeout", "600s", "--kubeconfig", "kubeconfig",
    ]  # fmt: skip
    pinned = kube.helm_install_kind_argv(
        CHART, "k", "tts-ci/thethingsstack", "3.32.0", f"tts-ci/smoke:1@{DIGEST}", 60
    )
    assert f"tests.smoke.image.digest={DIGEST}" in pinned


@pytest.mark.parametrize(
    ("repository", "tag", "probe", "timeout", "message"),
    [
        ("TTS/Stack", "3.32.0", "s:1", 60, "is not a valid reference"),
        ("tts", "latest", "s:1", 60, "is not pinned"),
        ("tts", "3.32.0", "smoke", 60, "is not pinned"),
        ("tts", "3.32.0", f"smoke@{DIGEST}", 60, "has no tag: the chart needs repository:tag"),
        ("tts", "3.32.0", "s:1", 0, "timeout_seconds=0 is not a timeout"),
    ],
)
def test_helm_install_kind_argv_rejects_bad_input(
    repository: str, tag: str, probe: str, timeout: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        kube.helm_install_kind_argv(CHART, "k", repository, tag, probe, timeout)


def test_helm_test_argv() -> None:
    assert kube.helm_test_argv("kubeconfig", 300) == [
        "helm", "test", "tts", "--namespace", "tts", "--logs", "--timeout", "300s",
        "--kubeconfig", "kubeconfig",
    ]  # fmt: skip
    with pytest.raises(ValueError, match="kubeconfig is empty"):
        kube.helm_test_argv("", 300)


def test_helm_deploy_argv_pins_the_image_by_digest() -> None:
    ref = kube.parse_image_ref(f"tts.azurecr.io/thethingsstack@{DIGEST}")
    argv = kube.helm_deploy_argv(CHART, "/run/kubeconfig", ref, ["env.yaml"], 600, "tts-aks")
    assert argv == [
        "helm", "upgrade", "--install", "tts", str(CHART), "--namespace", "tts",
        "--create-namespace", *chart.profile_args(CHART, "aks"), "-f", "env.yaml",
        "--set-string", "image.repository=tts.azurecr.io/thethingsstack",
        "--set-string", f"image.digest={DIGEST}",
        "--atomic", "--wait", "--timeout", "600s",
        "--kubeconfig", "/run/kubeconfig", "--kube-context", "tts-aks",
    ]  # fmt: skip
    tagged = kube.parse_image_ref(f"tts.azurecr.io/thethingsstack:3.32.0@{DIGEST}")
    assert "image.tag=3.32.0" in kube.helm_deploy_argv(CHART, "k", tagged, [], 60)
    assert "--kube-context" not in kube.helm_deploy_argv(CHART, "k", tagged, [], 60)


def test_helm_deploy_argv_rejects_bad_input() -> None:
    tag_only = kube.parse_image_ref("tts.azurecr.io/thethingsstack:3.32.0")
    with pytest.raises(ValueError, match="has no digest: deploy the <repo>@sha256"):
        kube.helm_deploy_argv(CHART, "k", tag_only, [], 600)
    ref = kube.parse_image_ref(f"r.io/t@{DIGEST}")
    with pytest.raises(ValueError, match="values file is empty"):
        kube.helm_deploy_argv(CHART, "k", ref, [""], 600)
    with pytest.raises(ValueError, match="has surrounding spaces: pass the bare name"):
        kube.helm_deploy_argv(CHART, "k", ref, [], 600, " tts-aks")
    with pytest.raises(ValueError, match="timeout_seconds=3601 is not a timeout"):
        kube.helm_deploy_argv(CHART, "k", ref, [], 3601)


def test_helm_rollback_argv() -> None:
    assert kube.helm_rollback_argv("k", None) == [
        "helm", "rollback", "tts", "--namespace", "tts", "--wait", "--timeout", "300s",
        "--kubeconfig", "k",
    ]  # fmt: skip
    assert kube.helm_rollback_argv("k", 3, "tts-aks", 120)[3:] == [
        "3", "--namespace", "tts", "--wait", "--timeout", "120s",
        "--kubeconfig", "k", "--kube-context", "tts-aks",
    ]  # fmt: skip
    for revision in (0, -1, True):
        with pytest.raises(ValueError, match="is not a release revision: pass 1 or more, or None"):
            kube.helm_rollback_argv("k", revision)


# --- image references ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("redis:7.2.11-alpine", ("redis", "7.2.11-alpine", None)),
        ("tts-ci/smoke:local", ("tts-ci/smoke", "local", None)),
        (
            f"tts.azurecr.io/thethingsstack@{DIGEST}",
            ("tts.azurecr.io/thethingsstack", None, DIGEST),
        ),
        (f"localhost:5000/a/b_c:v1@{DIGEST}", ("localhost:5000/a/b_c", "v1", DIGEST)),
        (f"kindest/node:latest@{DIGEST}", ("kindest/node", "latest", DIGEST)),
    ],
)
def test_parse_image_ref(ref: str, expected: tuple[str, str | None, str | None]) -> None:
    parsed = kube.parse_image_ref(ref)
    assert (parsed.repository, parsed.tag, parsed.digest) == expected
    assert str(parsed) == ref


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("tts.azurecr.io/thethingsstack", "is not pinned: add a version tag or @sha256"),
        ("redis:latest", "is not pinned"),
        ("", "is not a valid reference"),
        ("Tts/Stack:1", "is not a valid reference"),
        ("tts:1 ", "is not a valid reference"),
        ("tts@sha256:abc", "is not a valid reference"),
        ("tts@sha256:" + "A" * 64, "is not a valid reference"),
        ("tts:-bad", "is not a valid reference"),
        ("https://tts.azurecr.io/t:1", "is not a valid reference"),
    ],
)
def test_parse_image_ref_rejects(ref: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        kube.parse_image_ref(ref)
