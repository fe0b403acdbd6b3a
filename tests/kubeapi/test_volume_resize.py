"""The volume resize path of docs/production-state.md, with the real helm and API server.

A StatefulSet's volumeClaimTemplates cannot change, so `helm upgrade` with a new
redis.internal.storage.size is refused by the API server. The documented path: grow each
PVC (kubectl patch), delete the StatefulSet but not its pods (--cascade=orphan), then
`helm upgrade`: the new StatefulSet carries the new size and adopts the running pods.

No controllers run here, so the test does their part by hand where the path needs it: it
creates pod 0's claim from the StatefulSet's template (the StatefulSet controller), binds it
to a volume (the PV controller), and lifts the orphan finalizer (the garbage collector).
Every answer asserted on is the API server's own.
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from tests.kubeapi.conftest import SKIP_REASON
from tests.kubeapi.support import api_client, deploy_kind

pytestmark = pytest.mark.kubeapi

if not os.environ.get("KUBE_API_KUBECONFIG"):  # one skip line for the whole suite
    pytest.skip(SKIP_REASON, allow_module_level=True)

STATEFULSET = "tts-thethingsstack-redis"
CLAIM = f"data-{STATEFULSET}-0"
STORAGE_CLASS = "managed-csi"  # values-aks.yaml's class, as AKS ships it: expandable
# kubectl patch sends a strategic merge patch by default
STRATEGIC_PATCH = {"Content-Type": "application/strategic-merge-patch+json"}


def _deploy(kubeconfig: Path, namespace: str, size: str, check: bool = True) -> str:
    return deploy_kind(kubeconfig, namespace, "--set", f"redis.internal.storage.size={size}",
                       "--set", f"redis.internal.storage.storageClassName={STORAGE_CLASS}",
                       check=check)  # fmt: skip


def _grow_claim(api: httpx.Client, namespace: str, size: str) -> httpx.Response:
    """Step 1 of the documented path, the same patch as the `kubectl patch pvc` there."""
    body = {"spec": {"resources": {"requests": {"storage": size}}}}
    path = f"/api/v1/namespaces/{namespace}/persistentvolumeclaims/{CLAIM}"
    return api.patch(path, json=body, headers=STRATEGIC_PATCH)


def _bound_claim(api: httpx.Client, namespace: str) -> None:
    """Pod 0's claim from the StatefulSet's template, bound to a volume of its size."""
    sts = api.get(f"/apis/apps/v1/namespaces/{namespace}/statefulsets/{STATEFULSET}").json()
    [template] = sts["spec"]["volumeClaimTemplates"]
    size = template["spec"]["resources"]["requests"]["storage"]
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
             "metadata": {"name": CLAIM}, "spec": template["spec"]}  # fmt: skip
    claims = f"/api/v1/namespaces/{namespace}/persistentvolumeclaims"
    assert api.post(claims, json=claim).status_code == 201
    unbound = _grow_claim(api, namespace, "2Gi")
    assert unbound.status_code == 422, unbound.text  # only a bound claim grows
    assert "spec is immutable after creation" in unbound.json()["message"]

    volume = {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": namespace},
              "spec": {"capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"],
                       "storageClassName": STORAGE_CLASS,
                       "csi": {"driver": "disk.csi.azure.com", "volumeHandle": namespace},
                       "claimRef": {"namespace": namespace, "name": CLAIM}}}  # fmt: skip
    assert api.post("/api/v1/persistentvolumes", json=volume).status_code == 201
    bind = {"spec": {"volumeName": namespace}}
    assert api.patch(f"{claims}/{CLAIM}", json=bind, headers=STRATEGIC_PATCH).status_code == 200
    status = {"status": {"phase": "Bound", "capacity": {"storage": size}}}
    bound = api.patch(f"{claims}/{CLAIM}/status", json=status, headers=STRATEGIC_PATCH)
    assert bound.status_code == 200, bound.text


def _size(kubeconfig: Path, namespace: str) -> str:
    with api_client(kubeconfig) as api:
        sts = api.get(f"/apis/apps/v1/namespaces/{namespace}/statefulsets/{STATEFULSET}")
    sts.raise_for_status()
    [template] = sts.json()["spec"]["volumeClaimTemplates"]
    return str(template["spec"]["resources"]["requests"]["storage"])


def test_a_bigger_redis_volume_needs_the_statefulset_recreated(
    kubeconfig: Path, namespace: str
) -> None:
    with api_client(kubeconfig) as api:
        expandable = {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                      "metadata": {"name": STORAGE_CLASS}, "provisioner": "disk.csi.azure.com",
                      "allowVolumeExpansion": True}  # fmt: skip
        made = api.post("/apis/storage.k8s.io/v1/storageclasses", json=expandable)
        assert made.status_code in (201, 409), made.text  # 409: an earlier run made it
    _deploy(kubeconfig, namespace, "1Gi")
    refused = _deploy(kubeconfig, namespace, "2Gi", check=False)
    print(refused)
    assert "updates to statefulset spec for fields other than" in refused
    assert _size(kubeconfig, namespace) == "1Gi"

    with api_client(kubeconfig) as api:
        _bound_claim(api, namespace)
        grown = _grow_claim(api, namespace, "2Gi")
        assert grown.status_code == 200, grown.text
        assert grown.json()["spec"]["resources"]["requests"]["storage"] == "2Gi"
        shrunk = _grow_claim(api, namespace, "1Gi")
        assert shrunk.status_code == 422, shrunk.text  # volumes cannot shrink
        assert "can not be less than status.capacity" in shrunk.json()["message"]

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
    with api_client(kubeconfig) as api:  # the grown claim stays pod 0's, bound, untouched
        claim = api.get(f"/api/v1/namespaces/{namespace}/persistentvolumeclaims/{CLAIM}").json()
    assert claim["status"]["phase"] == "Bound"
    assert claim["spec"]["resources"]["requests"]["storage"] == "2Gi"
