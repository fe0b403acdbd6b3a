"""The volume resize path of docs/production-state.md, with the real helm and API server.

A StatefulSet's volumeClaimTemplates cannot change, so `helm upgrade` with a new
redis.internal.storage.size is refused by the API server. The documented path: grow each
PVC (kubectl patch), delete the StatefulSet but not its pods (--cascade=orphan), then
`helm upgrade`: the new StatefulSet carries the new size and adopts the running pods. The
PVC patch needs a bound volume, which an API server without nodes cannot provide; the
refusal and the StatefulSet half run here.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.kubeapi.conftest import SKIP_REASON
from tests.kubeapi.support import api_client, deploy_kind

pytestmark = pytest.mark.kubeapi

if not os.environ.get("KUBE_API_KUBECONFIG"):  # one skip line for the whole suite
    pytest.skip(SKIP_REASON, allow_module_level=True)

STATEFULSET = "tts-thethingsstack-redis"


def _deploy(kubeconfig: Path, namespace: str, size: str, check: bool = True) -> str:
    return deploy_kind(kubeconfig, namespace, "--set", f"redis.internal.storage.size={size}",
                       check=check)  # fmt: skip


def _size(kubeconfig: Path, namespace: str) -> str:
    with api_client(kubeconfig) as api:
        sts = api.get(f"/apis/apps/v1/namespaces/{namespace}/statefulsets/{STATEFULSET}")
    sts.raise_for_status()
    [template] = sts.json()["spec"]["volumeClaimTemplates"]
    return str(template["spec"]["resources"]["requests"]["storage"])


def test_a_bigger_redis_volume_needs_the_statefulset_recreated(
    kubeconfig: Path, namespace: str
) -> None:
    _deploy(kubeconfig, namespace, "1Gi")
    refused = _deploy(kubeconfig, namespace, "2Gi", check=False)
    print(refused)
    assert "updates to statefulset spec for fields other than" in refused
    assert _size(kubeconfig, namespace) == "1Gi"

    path = f"/apis/apps/v1/namespaces/{namespace}/statefulsets/{STATEFULSET}"
    with api_client(kubeconfig) as api:  # kubectl delete statefulset --cascade=orphan
        orphan = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Orphan"}
        deleted = api.request("DELETE", path, json=orphan)
        assert deleted.status_code == 200, deleted.text
        assert deleted.json()["metadata"]["finalizers"] == ["orphan"]
        # The garbage collector's part (no controller manager runs here): it releases the
        # pods from their owner and lifts the finalizer, and the StatefulSet is gone.
        gc = api.patch(path, json={"metadata": {"finalizers": None}},
                       headers={"Content-Type": "application/merge-patch+json"})  # fmt: skip
        assert gc.status_code == 200, gc.text
        assert api.get(path).status_code == 404
    _deploy(kubeconfig, namespace, "2Gi")
    assert _size(kubeconfig, namespace) == "2Gi"
