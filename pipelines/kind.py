"""The kind e2e cluster as data: its config, the docker and kind commands, the kubeconfig.

kind runs its node container in a Docker-in-Dagger service (DOCKER_DIND_IMAGE) reachable as
DIND_HOST from a runner container (DOCKER_HOST=tcp://docker:2375) that has the docker CLI,
kind and helm. kind publishes the API server on the dind host; the kubeconfig is rewritten
to reach it as https://docker:6443. Anything that needs kubectl runs `docker exec <node>
kubectl` against the node's admin kubeconfig (the node image ships kubectl; kind itself
runs `kubectl --kubeconfig=/etc/kubernetes/admin.conf` in the node, sigs.k8s.io/kind
v0.30.0 pkg/cluster/internal/create/actions/kubeadminit/init.go).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from pipelines import kubeconfig
from pipelines.chart import NAMESPACE, RELEASE_NAME
from pipelines.helm import check_path, check_timeout
from pipelines.names import check_host
from pipelines.oci import parse_image_ref
from pipelines.versions import KIND_NODE_IMAGE, KUBE_VERSION

E2E_CLUSTER: Final = "tts-e2e"
# Service alias of the Docker-in-Dagger service, as the runner container resolves it.
DIND_HOST: Final = "docker"
API_SERVER_PORT: Final = 6443
# kind names the single control-plane node container <cluster>-control-plane.
E2E_NODE: Final = f"{E2E_CLUSTER}-control-plane"
# The kubeadm admin kubeconfig inside a kind node (what kind's own kubectl calls use).
NODE_KUBECONFIG: Final = "/etc/kubernetes/admin.conf"
MAX_PORT: Final = 65535
# How long `kind create` waits for the control plane.
DEFAULT_WAIT_SECONDS: Final = 180

# kind's cluster name rule (pkg/internal/apis/config/validate.go).
_KIND_NAME = re.compile(r"^[a-z0-9.-]+$")

# Where containerd reads per-registry hosts.toml files. The node image's containerd config
# (kind v0.30) does not name it and containerd 2.1 has no default, so a mirror needs kind's
# documented patch below (kind site, examples/kind-with-registry.sh); found with kind here.
CONTAINERD_HOSTS_DIR: Final = "/etc/containerd/certs.d"
_HOSTS_DIR_PATCH: Final = (
    f'[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "{CONTAINERD_HOSTS_DIR}"\n'
)
# The registry a mirror stands in for: the node image and the chart's Redis and PostgreSQL
# are Docker Hub images (kind preloads the control plane's own images into the node).
MIRRORED_REGISTRY: Final = "docker.io"
_DOCKER_HUB: Final = "https://registry-1.docker.io"
_MIRROR_URL = re.compile(r"(?P<scheme>https?)://(?P<host>[^/:?#@]+)(?::(?P<port>[0-9]{1,5}))?/?")


@dataclass(frozen=True)
class RegistryMirror:
    """A Docker Hub mirror that the e2e's dockerd and kind's containerd pull through.

    Any registry that serves Docker Hub's paths (`library/redis:…`, `kindest/node:…`): a
    pull-through cache, or ACR with those images imported. It must allow anonymous pulls.
    """

    url: str  # scheme://host[:port], no path
    host: str  # host[:port]

    @property
    def plain_http(self) -> bool:
        return self.url.startswith("http://")


def parse_registry_mirror(url: str) -> RegistryMirror:
    """`https://host[:port]` (or `http://` for a plain-HTTP registry), else a one-line fix."""
    match = _MIRROR_URL.fullmatch(url)
    fix = (
        "give scheme://host[:port] of a registry that mirrors Docker Hub, e.g. "
        "https://myregistry.azurecr.io or http://192.168.1.10:5000"
    )
    if match is None:
        raise ValueError(f"registry mirror {url!r} is not a registry URL: {fix}")
    check_host(match["host"])
    port = match["port"]
    if port is not None and not 0 < int(port) <= MAX_PORT:
        raise ValueError(f"registry mirror {url!r}: port {port} is out of range (1-{MAX_PORT})")
    host = match["host"] + (f":{port}" if port else "")
    return RegistryMirror(url=f"{match['scheme']}://{host}", host=host)


def dockerd_argv(port: int, mirror: RegistryMirror | None = None) -> list[str]:
    """dockerd of the e2e: plain TCP on `port` (a private service), Docker Hub via `mirror`."""
    argv = ["dockerd", f"--host=tcp://0.0.0.0:{port}", "--tls=false"]
    if mirror is not None:
        argv.append(f"--registry-mirror={mirror.url}")
        if mirror.plain_http:  # also lets a node image named by the mirror's host be pulled
            argv.append(f"--insecure-registry={mirror.host}")
    return argv


def mirror_hosts_toml(mirror: RegistryMirror) -> str:
    """containerd's hosts.toml for docker.io: pull and resolve through `mirror` first."""
    return (
        f'server = "{_DOCKER_HUB}"\n\n[host."{mirror.url}"]\n  capabilities = ["pull", "resolve"]\n'
    )


def node_mirror_argvs(hosts_toml: str | Path, node: str = E2E_NODE) -> list[list[str]]:
    """Install a mirror_hosts_toml() file as the node's docker.io hosts (read at each pull)."""
    directory = f"{CONTAINERD_HOSTS_DIR}/{MIRRORED_REGISTRY}"
    return [
        ["docker", "exec", node, "mkdir", "-p", directory],
        ["docker", "cp", check_path(hosts_toml, "hosts_toml"), f"{node}:{directory}/hosts.toml"],
    ]


def _check_name(name: str) -> str:
    if not _KIND_NAME.match(name):
        raise ValueError(
            f"kind cluster name {name!r} is invalid: use lowercase letters, digits, '.' and '-'"
        )
    return name


def kind_config(api_server_host: str = DIND_HOST, *, registry_hosts: bool = False) -> str:
    """kind v1alpha4 Cluster config: API server on 0.0.0.0:6443 of the dind host.

    `registry_hosts`: containerd reads registry hosts from CONTAINERD_HOSTS_DIR (for a mirror).

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
        "kubeadmConfigPatches": [kubeconfig.dump(patch)],
    }
    if registry_hosts:
        config["containerdConfigPatches"] = [_HOSTS_DIR_PATCH]
    return kubeconfig.dump(config)


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
        check_path(config_path, "config_path"),
        "--image",
        image,
        "--wait",
        check_timeout(wait_seconds, "wait_seconds"),
    ]


def docker_load_argv(archive: str | Path) -> list[str]:
    """`docker load` of an image tarball into the dind engine (prints what it loaded)."""
    return ["docker", "load", "--input", check_path(archive, "archive")]


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


def reachable_kubeconfig(
    kubeconfig_yaml: str, host: str = DIND_HOST, port: int = API_SERVER_PORT
) -> str:
    """The kind kubeconfig with its cluster's server rewritten to https://<host>:<port>."""
    check_host(host)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port <= MAX_PORT:
        raise ValueError(f"port {port!r} is out of range: use 1-{MAX_PORT}")
    config = kubeconfig.load(kubeconfig_yaml)
    clusters = config.get("clusters") or []
    if len(clusters) != 1:
        raise ValueError(
            f"kubeconfig has {len(clusters)} clusters, expected the one of a kind cluster: "
            f"pass the output of `{' '.join(kind_kubeconfig_argv())}`"
        )
    clusters[0]["cluster"]["server"] = f"https://{host}:{port}"
    return kubeconfig.dump(config)


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
    return kubeconfig.dump(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace, "labels": labels}}
    )


def apply_namespace_argvs(manifest: str | Path, node: str = E2E_NODE) -> list[list[str]]:
    """Copy the namespace_manifest() file into the node, then `kubectl apply` it there.

    Into /root, not /tmp: kind mounts the node's /tmp as tmpfs, where `docker cp` writes
    nothing yet exits 0 (moby daemon/containerfs_linux.go; found with kind in Docker).
    """
    inside = f"/root/{Path(manifest).name}"
    return [
        ["docker", "cp", check_path(manifest, "manifest"), f"{node}:{inside}"],
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
