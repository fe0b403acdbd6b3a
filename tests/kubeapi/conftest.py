"""The API-server suite runs the real helm against a real Kubernetes API server, or skips.

KUBE_API_KUBECONFIG names a kubeconfig of a throw-away API server. No nodes are needed:
nothing here waits for a pod to run. kube-apiserver and etcd serve every test except the
volume resize, which also needs kube-controller-manager (it skips with one line without
it). Each test works in a namespace of its own, so the suite can run again on the same
server.
"""

import os
import secrets
from pathlib import Path

import pytest

VARIABLE = "KUBE_API_KUBECONFIG"
SKIP_REASON = f"{VARIABLE} is not set: it names the kubeconfig of a throw-away API server"


@pytest.fixture(scope="session")
def kubeconfig() -> Path:
    path = Path(os.environ.get(VARIABLE, ""))
    if not path.is_file():
        pytest.fail(f"{VARIABLE}={path} is not a file: point it at the API server's kubeconfig")
    return path


@pytest.fixture
def namespace() -> str:
    return f"t-{secrets.token_hex(4)}"
