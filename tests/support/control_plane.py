"""A throw-away Kubernetes control plane on loopback for the API-server suite.

etcd, kube-apiserver and (when its binary is there) kube-controller-manager, started from
one directory of binaries (KUBE_API_BINARIES: built from k8s.io/kubernetes, or
controller-runtime's envtest assets plus the release's kube-controller-manager), the way
envtest runs them: no nodes, no scheduler. Cluster admin through a static token; the
serving certificate is the one kube-apiserver makes for itself in its --cert-dir, which
the kubeconfig trusts.
"""

from __future__ import annotations

import base64
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from pipelines import kubeconfig
from tests.support.polling import eventually
from tests.support.servers import LOOPBACK, free_port, listening, started

SERVICE_RANGE = "10.0.0.0/24"


def _service_account_key(directory: Path) -> Path:
    """The key the API server signs service-account tokens with (and the controllers read)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = directory / "sa.key"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return path


def _kubeconfig(directory: Path, port: int, token: str) -> Path:
    """The admin kubeconfig, trusting the self-signed certificate the server made."""
    certificate = (directory / "certs" / "apiserver.crt").read_bytes()
    path = directory / "kubeconfig"
    path.write_text(
        kubeconfig.dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "throw-away",
            "clusters": [{"name": "throw-away", "cluster": {
                "server": f"https://{LOOPBACK}:{port}",
                "certificate-authority-data": base64.b64encode(certificate).decode()}}],
            "users": [{"name": "admin", "user": {"token": token}}],
            "contexts": [{"name": "throw-away",
                          "context": {"cluster": "throw-away", "user": "admin"}}],
        })
    )  # fmt: skip
    return path


@contextmanager
def control_plane(binaries: Path, directory: Path) -> Iterator[Path]:
    """Start the control plane from `binaries`; yield its admin kubeconfig; stop it after."""
    for name in ("etcd", "kube-apiserver"):
        if not (binaries / name).is_file():
            pytest.fail(f"KUBE_API_BINARIES={binaries} has no {name}: put etcd and kube-apiserver "
                        "(and kube-controller-manager for the resize test) there")  # fmt: skip
    directory.mkdir(parents=True, exist_ok=True)
    etcd_port, peer_port, api_port = free_port(), free_port(), free_port()
    token = secrets.token_hex(16)
    (directory / "tokens.csv").write_text(f'{token},admin,admin,"system:masters"\n')
    sa_key = _service_account_key(directory)
    etcd = [str(binaries / "etcd"), "--data-dir", str(directory / "etcd"),
            "--listen-client-urls", f"http://{LOOPBACK}:{etcd_port}",
            "--advertise-client-urls", f"http://{LOOPBACK}:{etcd_port}",
            "--listen-peer-urls", f"http://{LOOPBACK}:{peer_port}",
            "--initial-advertise-peer-urls", f"http://{LOOPBACK}:{peer_port}",
            "--initial-cluster", f"default=http://{LOOPBACK}:{peer_port}",
            "--unsafe-no-fsync"]  # fmt: skip
    apiserver = [str(binaries / "kube-apiserver"), f"--etcd-servers=http://{LOOPBACK}:{etcd_port}",
                 f"--bind-address={LOOPBACK}", f"--advertise-address={LOOPBACK}",
                 f"--secure-port={api_port}", f"--cert-dir={directory / 'certs'}",
                 f"--token-auth-file={directory / 'tokens.csv'}", "--authorization-mode=RBAC",
                 f"--service-cluster-ip-range={SERVICE_RANGE}", "--allow-privileged=true",
                 "--service-account-issuer=https://kubernetes.default.svc",
                 f"--service-account-key-file={sa_key}",
                 f"--service-account-signing-key-file={sa_key}"]  # fmt: skip
    with ExitStack() as running:
        running.enter_context(listening(etcd, directory / "etcd.log", etcd_port, "etcd"))
        server = running.enter_context(started(apiserver, directory / "kube-apiserver.log"))
        _wait_ready(api_port, token, server)
        config = _kubeconfig(directory, api_port, token)
        if (binaries / "kube-controller-manager").is_file():
            controllers = [
                str(binaries / "kube-controller-manager"),
                f"--kubeconfig={config}",
                f"--service-account-private-key-file={sa_key}",
                "--secure-port=0",
            ]
            running.enter_context(started(controllers, directory / "kube-controller-manager.log"))
        yield config


def _wait_ready(port: int, token: str, server: subprocess.Popen[bytes]) -> None:
    """kube-apiserver listens before its post-start hooks are done: wait for /readyz."""

    def ready() -> int | None:
        if server.poll() is not None:
            pytest.fail(f"kube-apiserver exited with {server.returncode}: see its log")
        headers = {"Authorization": f"Bearer {token}"}
        try:  # the server's own self-signed certificate
            url = f"https://{LOOPBACK}:{port}/readyz"
            return httpx.get(url, headers=headers, verify=False, timeout=2).status_code  # noqa: S501
        except httpx.TransportError:
            return None

    eventually("kube-apiserver /readyz", ready, lambda status: status == 200, timeout=60)
