"""Kubernetes steps as data: the kind e2e cluster, helm install/test/deploy, kubeconfigs.

Every function is pure: it returns an argv list, a YAML text or plain data, and raises
ValueError with a one-line fix for bad input. The Dagger functions run the lists:

- e2e: kind runs its node container in a Docker-in-Dagger service (DOCKER_DIND_IMAGE)
  reachable as DIND_HOST from a runner container (DOCKER_HOST=tcp://docker:2375) that has
  the docker CLI, kind and helm. kind publishes the API server on the dind host; the
  kubeconfig is rewritten to reach it as https://docker:6443. Anything that needs kubectl
  runs `docker exec <node> kubectl` against the node's admin kubeconfig (the node image
  ships kubectl; kind itself runs `kubectl --kubeconfig=/etc/kubernetes/admin.conf` in the
  node, sigs.k8s.io/kind v0.30.0 pkg/cluster/internal/create/actions/kubeadminit/init.go).
- deploy: the cluster user kubeconfig (pipelines.aks, format exec) runs kubelogin; AKS
  Automatic is always Entra ID + Azure RBAC, so `kubeconfig_with_token` swaps that exec user for a
  bearer token (no kubelogin in the container). The kubeconfig then holds a secret: mount it
  as a dagger Secret, never put the token in argv.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

from pipelines.chart import NAMESPACE, RELEASE_NAME, profile_args
from pipelines.versions import KIND_NODE_IMAGE, KUBE_VERSION

E2E_CLUSTER: Final = "tts-e2e"
# Service alias of the Docker-in-Dagger service, as the runner container resolves it.
DIND_HOST: Final = "docker"
API_SERVER_PORT: Final = 6443
# kind names the single control-plane node container <cluster>-control-plane.
E2E_NODE: Final = f"{E2E_CLUSTER}-control-plane"
# The kubeadm admin kubeconfig inside a kind node (what kind's own kubectl calls use).
NODE_KUBECONFIG: Final = "/etc/kubernetes/admin.conf"

# Application ID of the "Azure Kubernetes Service AAD Server", the same in every tenant:
# Entra tokens for AKS API servers are issued for it
# (Azure/kubelogin docs/book/src/concepts/aks.md).
AKS_AAD_SCOPE: Final = "6dae42f8-4368-4678-94ff-3960e28e3630/.default"

DEFAULT_WAIT_SECONDS: Final = 180
MAX_TIMEOUT_SECONDS: Final = 3600
MAX_PORT: Final = 65535

# kind's cluster name rule (pkg/internal/apis/config/validate.go).
_KIND_NAME = re.compile(r"^[a-z0-9.-]+$")
# A DNS name or IPv4 address that a certificate SAN and a URL can carry.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*$")
# OCI distribution reference: [registry[:port]/]path[:tag][@sha256:hex].
_REGISTRY = rf"(?:{_LABEL}(?:\.{_LABEL})*(?::[0-9]+)?/)"
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE_REF = re.compile(
    rf"^(?P<repository>{_REGISTRY}?{_COMPONENT}(?:/{_COMPONENT})*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[a-f0-9]{64}))?$"
)


def _check_name(name: str) -> str:
    if not _KIND_NAME.match(name):
        raise ValueError(
            f"kind cluster name {name!r} is invalid: use lowercase letters, digits, '.' and '-'"
        )
    return name


def check_timeout(seconds: int, what: str = "timeout_seconds") -> str:
    """helm's --timeout form ("600s") of a whole number of seconds in range."""
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int)
        or not 0 < seconds <= MAX_TIMEOUT_SECONDS
    ):
        raise ValueError(
            f"{what}={seconds!r} is not a timeout: use 1-{MAX_TIMEOUT_SECONDS} seconds"
        )
    return f"{seconds}s"


def _check_path(path: str | Path, what: str) -> str:
    if not str(path).strip():
        raise ValueError(f"{what} is empty: pass the path of the file")
    return str(path)


def check_host(host: str) -> str:
    """A DNS name or IPv4 address (no scheme, no port), else a one-line fix."""
    if not _HOST.match(host):
        raise ValueError(
            f"host {host!r} is not a DNS name or IPv4 address: pass e.g. {DIND_HOST!r}"
        )
    return host


# --- kind ------------------------------------------------------------------------------


def kind_config(api_server_host: str = DIND_HOST) -> str:
    """kind v1alpha4 Cluster config: API server on 0.0.0.0:6443 of the dind host.

    The API server certificate gets `api_server_host` as an extra SAN so that
    https://<host>:6443 verifies. kind's kubeadm template sets certSANs to
    [localhost, <apiServerAddress>]; the merge patch replaces that list (RFC 7386), so it
    repeats localhost and 127.0.0.1. kubeadm still adds its defaults (node name, service IP,
    kubernetes.default...).
    """
    host = check_host(api_server_host)
    patch = {
        "kind": "ClusterConfiguration",
        "apiServer": {"certSANs": ["localhost", "127.0.0.1", host]},
    }
    config = {
        "kind": "Cluster",
        "apiVersion": "kind.x-k8s.io/v1alpha4",
        "networking": {"apiServerAddress": "0.0.0.0", "apiServerPort": API_SERVER_PORT},  # noqa: S104 - published on the dind host only
        "nodes": [{"role": "control-plane"}],
        "kubeadmConfigPatches": [_dump(patch)],
    }
    return _dump(config)


def kind_create_argv(
    config_path: str | Path,
    name: str = E2E_CLUSTER,
    image: str = KIND_NODE_IMAGE,
    wait_seconds: int = DEFAULT_WAIT_SECONDS,
) -> list[str]:
    """`kind create cluster` from a kind_config file; waits for the control plane."""
    parse_image_ref(image)
    return [
        "kind",
        "create",
        "cluster",
        "--name",
        _check_name(name),
        "--config",
        _check_path(config_path, "config_path"),
        "--image",
        image,
        "--wait",
        check_timeout(wait_seconds, "wait_seconds"),
    ]


def docker_load_argv(archive: str | Path) -> list[str]:
    """`docker load` of an image tarball into the dind engine (prints what it loaded)."""
    return ["docker", "load", "--input", _check_path(archive, "archive")]


def loaded_image(docker_load_output: str) -> str:
    """The image `docker load` reported: its tag if the tarball had one, else its ID.

    Tarballs exported without a name (e.g. Dagger's Container.as_tarball) load untagged, so
    tag the result (docker_tag_argv) before `kind load docker-image`.
    """
    found = re.findall(r"^Loaded image(?: ID)?: (\S+)$", docker_load_output, re.MULTILINE)
    if len(found) != 1:
        raise ValueError(
            f"docker load reported {len(found)} images, expected one: "
            "load a tarball of exactly one image"
        )
    return str(found[0])


def docker_tag_argv(source: str, target: str) -> list[str]:
    """`docker tag` in the dind engine: name a loaded image the way the chart pulls it."""
    if not source:
        raise ValueError("source image is empty: pass the ID or name docker load printed")
    return ["docker", "tag", source, str(parse_image_ref(target))]


def kind_load_image_argv(image: str, name: str = E2E_CLUSTER) -> list[str]:
    """`kind load docker-image`: a tagged image of the dind engine into the kind nodes."""
    ref = parse_image_ref(image)
    return ["kind", "load", "docker-image", str(ref), "--name", _check_name(name)]


def kind_delete_argv(name: str = E2E_CLUSTER) -> list[str]:
    """`kind delete cluster` (succeeds when the cluster does not exist)."""
    return ["kind", "delete", "cluster", "--name", _check_name(name)]


def kind_kubeconfig_argv(name: str = E2E_CLUSTER) -> list[str]:
    """`kind get kubeconfig`: the external kubeconfig on stdout (server https://0.0.0.0:6443)."""
    return ["kind", "get", "kubeconfig", "--name", _check_name(name)]


def _load_kubeconfig(kubeconfig_yaml: str) -> dict[str, Any]:
    try:
        config = yaml.safe_load(kubeconfig_yaml)
    except yaml.YAMLError as err:
        raise ValueError(
            f"kubeconfig is not YAML ({err.__class__.__name__}): pass the kubeconfig file's text"
        ) from None
    if not isinstance(config, dict) or config.get("kind") != "Config":
        raise ValueError(
            "kubeconfig is not a kubeconfig (no `kind: Config`): pass the kubeconfig file's text"
        )
    return config


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (kubeadm patches) as readable `|` blocks."""


def _str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _str)


def _dump(config: dict[str, Any]) -> str:
    return yaml.dump(config, Dumper=_Dumper, sort_keys=False)


def reachable_kubeconfig(
    kubeconfig_yaml: str, host: str = DIND_HOST, port: int = API_SERVER_PORT
) -> str:
    """The kind kubeconfig with its cluster's server rewritten to https://<host>:<port>."""
    check_host(host)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port <= MAX_PORT:
        raise ValueError(f"port {port!r} is out of range: use 1-{MAX_PORT}")
    config = _load_kubeconfig(kubeconfig_yaml)
    clusters = config.get("clusters") or []
    if len(clusters) != 1:
        raise ValueError(
            f"kubeconfig has {len(clusters)} clusters, expected the one of a kind cluster: "
            f"pass the output of `{' '.join(kind_kubeconfig_argv())}`"
        )
    clusters[0]["cluster"]["server"] = f"https://{host}:{port}"
    return _dump(config)


# --- kubectl in the kind node ------------------------------------------------------------


def node_kubectl_argv(*args: str, node: str = E2E_NODE) -> list[str]:
    """kubectl inside the kind node container (through the dind docker), as cluster admin."""
    if not node:
        raise ValueError(f"node container name is empty: pass e.g. {E2E_NODE!r}")
    return ["docker", "exec", node, "kubectl", "--kubeconfig", NODE_KUBECONFIG, *args]


def namespace_manifest(namespace: str = NAMESPACE, level: str = "restricted") -> str:
    """The release namespace with Pod Security labels, enforced at the cluster's version.

    helm's --create-namespace cannot label; apply this (apply_namespace_argvs) first, and the
    API server rejects any chart pod that breaks the level, as AKS would at baseline.
    """
    if level not in ("privileged", "baseline", "restricted"):
        raise ValueError(
            f"Pod Security level {level!r} is unknown: use privileged, baseline or restricted"
        )
    labels = {"kubernetes.io/metadata.name": namespace}
    for mode in ("enforce", "audit", "warn"):
        labels[f"pod-security.kubernetes.io/{mode}"] = level
        labels[f"pod-security.kubernetes.io/{mode}-version"] = f"v{KUBE_VERSION}"
    return _dump(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace, "labels": labels}}
    )


def apply_namespace_argvs(manifest: str | Path, node: str = E2E_NODE) -> list[list[str]]:
    """Copy the namespace_manifest() file into the node, then `kubectl apply` it there."""
    inside = f"/tmp/{Path(manifest).name}"  # noqa: S108 - in the node container
    return [
        ["docker", "cp", _check_path(manifest, "manifest"), f"{node}:{inside}"],
        node_kubectl_argv("apply", "-f", inside, node=node),
    ]


def diagnostics_argvs(
    node_container: str = E2E_NODE, namespace: str = NAMESPACE
) -> list[list[str]]:
    """What to collect when the e2e fails; run each, keep going on errors, append all output.

    Events in time order (`kubectl events` sorts them), pods with node and IP, `describe` of
    every pod of the namespace (readiness cannot be field-selected, and the release has a
    handful of pods), then current and previous logs of every container (init containers
    included); --ignore-errors keeps going past containers that have no (previous) log.
    """
    ns = ["--namespace", namespace]
    logs = [
        "logs",
        *ns,
        "--selector",
        f"app.kubernetes.io/instance={RELEASE_NAME}",
        "--all-containers",
        "--prefix",
        "--timestamps",
        "--ignore-errors",
        "--max-log-requests",
        "20",
        "--tail",
        "300",
    ]
    commands = [
        ["events", *ns],
        ["get", "pods", *ns, "--output", "wide"],
        ["describe", "pods", *ns],
        logs,
        [*logs, "--previous"],
    ]
    return [node_kubectl_argv(*c, node=node_container) for c in commands]


# --- helm: kind -----------------------------------------------------------------------


def kubeconfig_args(kubeconfig: str | Path, context: str = "") -> list[str]:
    """helm's --kubeconfig (and --kube-context) arguments."""
    args = ["--kubeconfig", _check_path(kubeconfig, "kubeconfig")]
    if context != context.strip():
        raise ValueError(f"kube context {context!r} has surrounding spaces: pass the bare name")
    return [*args, "--kube-context", context] if context else args


def _image_set_args(prefix: str, image: ImageRef) -> list[str]:
    # --set-string: a tag such as 3.32 must stay a string, not become a float.
    out = ["--set-string", f"{prefix}.repository={image.repository}"]
    if image.tag is not None:
        out += ["--set-string", f"{prefix}.tag={image.tag}"]
    if image.digest is not None:
        out += ["--set-string", f"{prefix}.digest={image.digest}"]
    return out


def _helm_upgrade(chart_dir: Path, profile: str) -> list[str]:
    """`helm upgrade --install` of the release with a profile's values (kind and deploy)."""
    return [
        "helm", "upgrade", "--install", RELEASE_NAME, str(chart_dir),
        "--namespace", NAMESPACE, "--create-namespace", *profile_args(chart_dir, profile),
    ]  # fmt: skip


def helm_install_kind_argv(
    chart_dir: Path,
    kubeconfig: str | Path,
    image_repository: str,
    image_tag: str,
    probe_image: str,
    timeout_seconds: int,
) -> list[str]:
    """`helm upgrade --install --wait` of the kind profile with our image and the smoke test pod.

    Load both images into kind first (kind_load_image_argv); values-kind.yaml pulls IfNotPresent.
    """
    tts = parse_image_ref(f"{image_repository}:{image_tag}")
    probe = parse_image_ref(probe_image)
    if probe.tag is None:
        raise ValueError(f"probe image {probe_image!r} has no tag: the chart needs repository:tag")
    return [
        *_helm_upgrade(chart_dir, "kind"),
        *_image_set_args("image", tts),
        "--set",
        "tests.smoke.enabled=true",
        *_image_set_args("tests.smoke.image", probe),
        "--wait",
        "--timeout",
        check_timeout(timeout_seconds),
        *kubeconfig_args(kubeconfig),
    ]


def helm_test_argv(kubeconfig: str | Path, timeout_seconds: int) -> list[str]:
    """`helm test --logs`: runs the chart's test pods (healthz, smoke) and prints their logs."""
    return [
        "helm",
        "test",
        RELEASE_NAME,
        "--namespace",
        NAMESPACE,
        "--logs",
        "--timeout",
        check_timeout(timeout_seconds),
        *kubeconfig_args(kubeconfig),
    ]


# --- images ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageRef:
    """An image reference split the way the chart takes it (repository, tag, digest)."""

    repository: str
    tag: str | None
    digest: str | None

    def __str__(self) -> str:
        tag = f":{self.tag}" if self.tag else ""
        digest = f"@{self.digest}" if self.digest else ""
        return f"{self.repository}{tag}{digest}"


def parse_image_ref(ref: str) -> ImageRef:
    """Split `[registry/]repo[:tag][@sha256:<64 hex>]`; an unpinned or malformed ref fails."""
    match = _IMAGE_REF.match(ref)
    if match is None:
        raise ValueError(
            f"image {ref!r} is not a valid reference: use <registry>/<repo>:<tag> or "
            "<registry>/<repo>@sha256:<64 hex> (lowercase repository)"
        )
    tag, digest = match["tag"], match["digest"]
    if digest is None and tag in (None, "latest"):
        raise ValueError(f"image {ref!r} is not pinned: add a version tag or @sha256:<digest>")
    return ImageRef(match["repository"], tag, digest)


# --- AKS -------------------------------------------------------------------------------


def check_kube_context(kubeconfig_yaml: str, context: str) -> None:
    """Fail unless the kubeconfig has `context` (the error lists the ones it has)."""
    config = _load_kubeconfig(kubeconfig_yaml)
    names = [c.get("name") for c in config.get("contexts") or []]
    if context not in names:
        known = ", ".join(str(n) for n in names) or "none"
        raise ValueError(
            f"kubeconfig has no context {context!r} (it has: {known}): pass one of those or "
            "fetch credentials for the cluster (az aks get-credentials)"
        )


def kubeconfig_with_token(kubeconfig_yaml: str, context: str, token: str) -> str:
    """The kubeconfig with the exec (kubelogin) user of `context` replaced by a bearer token.

    Get the token for AKS_AAD_SCOPE (azure-identity); Entra tokens last about an hour, so
    fetch it right before helm runs. The result is a secret.
    """
    if not token or any(ch.isspace() for ch in token):
        raise ValueError(
            f"token for {AKS_AAD_SCOPE} is empty or has whitespace: pass the access token itself"
        )
    check_kube_context(kubeconfig_yaml, context)
    config = _load_kubeconfig(kubeconfig_yaml)
    ctx = next(c for c in config["contexts"] if c.get("name") == context)
    user_name = (ctx.get("context") or {}).get("user")
    users = [u for u in config.get("users") or [] if u.get("name") == user_name]
    if not users:
        raise ValueError(
            f"context {context!r} names user {user_name!r}, missing from the kubeconfig: "
            "fetch the credentials again"
        )
    user = users[0]
    if "exec" not in (user.get("user") or {}):
        raise ValueError(
            f"user {user_name!r} of context {context!r} has no exec (kubelogin) entry: fetch user "
            "credentials with `az aks get-credentials --format exec` (not --admin)"
        )
    user["user"] = {"token": token}
    config["current-context"] = context
    return _dump(config)


def helm_deploy_argv(
    chart_dir: Path,
    kubeconfig: str | Path,
    image: ImageRef,
    values_files: Sequence[str | Path],
    timeout_seconds: int,
    context: str = "",
) -> list[str]:
    """`helm upgrade --install --atomic --wait` with the aks profile and the image by digest.

    `values_files` come after values-aks.yaml (your filled-in Bicep outputs win); `context`
    selects a kubeconfig context (empty: the current one).
    """
    if image.digest is None:
        raise ValueError(
            f"image {image} has no digest: deploy the <repo>@sha256:... that publish printed"
        )
    extra: list[str] = []
    for path in values_files:
        extra += ["-f", _check_path(path, "values file")]
    return [
        *_helm_upgrade(chart_dir, "aks"),
        *extra,
        *_image_set_args("image", image),
        "--atomic",
        "--wait",
        "--timeout",
        check_timeout(timeout_seconds),
        *kubeconfig_args(kubeconfig, context),
    ]


def helm_rollback_argv(
    kubeconfig: str | Path, revision: int | None, context: str = "", timeout_seconds: int = 300
) -> list[str]:
    """`helm rollback` to `revision`, or to the previous one when None; waits for the pods."""
    if revision is not None and (
        isinstance(revision, bool) or not isinstance(revision, int) or revision < 1
    ):
        raise ValueError(
            f"revision {revision!r} is not a release revision: "
            "pass 1 or more, or None for the previous one"
        )
    target = [] if revision is None else [str(revision)]
    return [
        "helm",
        "rollback",
        RELEASE_NAME,
        *target,
        "--namespace",
        NAMESPACE,
        "--wait",
        "--timeout",
        check_timeout(timeout_seconds),
        *kubeconfig_args(kubeconfig, context),
    ]
