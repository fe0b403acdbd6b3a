"""The API-server suite runs the real helm against a real Kubernetes API server, or skips.

The server: KUBE_API_KUBECONFIG, the kubeconfig of one already running, or else
KUBE_API_BINARIES (a directory with etcd, kube-apiserver and kube-controller-manager; the
default place is tests/support/peers.py's), from which the suite starts a throw-away one
(tests/support/control_plane.py). No nodes are needed: nothing here waits for a pod to run.
kube-apiserver and etcd serve every test except the volume resize, which also needs
kube-controller-manager (it skips with one line without it). Each test works in a
namespace of its own, so the suite can run again on the same server.
"""

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import peers
from tests.support.control_plane import control_plane

KUBECONFIG = "KUBE_API_KUBECONFIG"
BINARIES = "KUBE_API_BINARIES"


def require_api_server() -> None:
    """Skip (or fail) the calling module with one line when there is no API server to use."""
    if not (os.environ.get(KUBECONFIG) or os.environ.get(BINARIES)):
        peers.absent(
            f"{KUBECONFIG} and {BINARIES} are not set: they name a throw-away API server's "
            f"kubeconfig, or the binaries to start one ({peers.peers_dir(os.environ) / 'kube'})"
        )


@pytest.fixture(scope="session")
def kubeconfig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    if given := os.environ.get(KUBECONFIG):
        path = Path(given)
        if not path.is_file():
            pytest.fail(
                f"{KUBECONFIG}={path} is not a file: point it at the API server's kubeconfig"
            )
        yield path
        return
    with control_plane(Path(os.environ[BINARIES]), tmp_path_factory.mktemp("kube")) as path:
        yield path


@pytest.fixture
def namespace() -> str:
    return f"t-{secrets.token_hex(4)}"
