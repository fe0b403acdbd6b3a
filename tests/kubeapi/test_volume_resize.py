"""The volume resize path of docs/production-state.md, with the real helm, API server and
controllers.

A StatefulSet's volumeClaimTemplates cannot change, so `helm upgrade` with a new
redis.internal.storage.size is refused by the API server. The documented path: grow each
PVC (kubectl patch), delete the StatefulSet but not its pods (--cascade=orphan), then
`helm upgrade`: the new StatefulSet carries the new size and adopts the running pods.

The StatefulSet controller makes the claim, the PV controller binds it to a volume the
test provides (there is no CSI driver), the garbage collector orphans the pod, and the new
StatefulSet adopts it. There are no nodes, so the pod stays Pending, unscheduled.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from tests.kubeapi.conftest import require_api_server
from tests.kubeapi.support import api_client, deploy_kind
from tests.support import peers
from tests.support.polling import eventually

require_api_server()  # without a server: skipped, one line for the suite

STATEFULSET = "tts-thethingsstack-redis"
CLAIM = f"data-{STATEFULSET}-0"
POD = f"{STATEFULSET}-0"
STORAGE_CLASS = "managed-csi"  # values-aks.yaml's class, as AKS ships it: expandable
# kubectl patch sends a strategic merge patch by default
STRATEGIC_PATCH = {"Content-Type": "application/strategic-merge-patch+json"}


def _require_controllers(api: httpx.Client) -> None:
    lease = api.get("/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/"
                    "kube-controller-manager")  # fmt: skip
    renewed = lease.json().get("spec", {}).get("renewTime") if lease.is_success else None
    if not renewed or (datetime.now(UTC) - datetime.fromisoformat(renewed)).total_seconds() > 60:
        peers.absent(
            "no kube-controller-manager renews its lease on the suite's API server: "
            "the resize path needs its StatefulSet, PV and GC controllers"
        )


def _deploy(kubeconfig: Path, namespace: str, size: str, check: bool = True) -> str:
    return deploy_kind(kubeconfig, namespace, "--set", f"redis.internal.storage.size={size}",
                       "--set", f"redis.internal.storage.storageClassName={STORAGE_CLASS}",
                       check=check)  # fmt: skip


def _get(api: httpx.Client, path: str) -> dict[str, Any]:
    """The object at `path`, or {} if there is none."""
    response = api.get(path)
    if response.status_code == 404:
        return {}
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def _grow_claim(api: httpx.Client, claim_path: str, size: str) -> httpx.Response:
    """Step 1 of the documented path, the same patch as the `kubectl patch pvc` there."""
    body = {"spec": {"resources": {"requests": {"storage": size}}}}
    return api.patch(claim_path, json=body, headers=STRATEGIC_PATCH)


def _owners(pod: dict[str, Any]) -> list[str]:
    return [ref["uid"] for ref in pod["metadata"].get("ownerReferences", [])]


def test_the_redis_volume_grows_and_a_new_statefulset_adopts_the_same_pod(
    kubeconfig: Path, namespace: str
) -> None:
    sts_path = f"/apis/apps/v1/namespaces/{namespace}/statefulsets/{STATEFULSET}"
    claim_path = f"/api/v1/namespaces/{namespace}/persistentvolumeclaims/{CLAIM}"
    pod_path = f"/api/v1/namespaces/{namespace}/pods/{POD}"
    with api_client(kubeconfig) as api:
        _require_controllers(api)
        expandable = {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                      "metadata": {"name": STORAGE_CLASS}, "provisioner": "disk.csi.azure.com",
                      "allowVolumeExpansion": True}  # fmt: skip
        made = api.post("/apis/storage.k8s.io/v1/storageclasses", json=expandable)
        assert made.status_code in (201, 409), made.text  # 409: an earlier run made it
    _deploy(kubeconfig, namespace, "1Gi")
    refused = _deploy(kubeconfig, namespace, "2Gi", check=False)
    print(refused)
    assert "updates to statefulset spec for fields other than" in refused

    with api_client(kubeconfig) as api:
        assert _get(api, sts_path)["spec"]["volumeClaimTemplates"][0]["spec"]["resources"] == {
            "requests": {"storage": "1Gi"}
        }
        eventually("the StatefulSet controller to make pod 0's claim",
                   lambda: _get(api, claim_path))  # fmt: skip
        unbound = _grow_claim(api, claim_path, "2Gi")
        assert unbound.status_code == 422, unbound.text  # only a bound claim grows
        assert "spec is immutable after creation" in unbound.json()["message"]

        disk = {"driver": "disk.csi.azure.com", "volumeHandle": namespace}
        reserved = {"namespace": namespace, "name": CLAIM}  # no other claim on the server takes it
        volume = {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": namespace},
                  "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                           "storageClassName": STORAGE_CLASS, "csi": disk,
                           "claimRef": reserved}}  # fmt: skip
        assert api.post("/api/v1/persistentvolumes", json=volume).status_code == 201
        eventually("the PV controller to bind the claim",
                   lambda: _get(api, claim_path)["status"].get("phase"),
                   lambda phase: phase == "Bound")  # fmt: skip

        grown = _grow_claim(api, claim_path, "2Gi")  # step 1
        assert grown.status_code == 200, grown.text
        shrunk = _grow_claim(api, claim_path, "1Gi")
        assert shrunk.status_code == 422, shrunk.text  # volumes cannot shrink
        assert "can not be less than status.capacity" in shrunk.json()["message"]

        pod = eventually("pod 0", lambda: _get(api, pod_path))
        old_owner = _get(api, sts_path)["metadata"]["uid"]
        assert _owners(pod) == [old_owner]
        orphan = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Orphan"}
        deleted = api.request("DELETE", sts_path, json=orphan)  # step 2
        assert deleted.status_code == 200, deleted.text
        eventually("the garbage collector to remove the StatefulSet",
                   lambda: _get(api, sts_path), lambda sts: not sts)  # fmt: skip
        assert _owners(_get(api, pod_path)) == []  # the pod is left, released

    _deploy(kubeconfig, namespace, "2Gi")  # step 3
    with api_client(kubeconfig) as api:
        sts = _get(api, sts_path)
        assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"] == {
            "requests": {"storage": "2Gi"}
        }
        adopted = eventually("the new StatefulSet to adopt pod 0", lambda: _get(api, pod_path),
                             lambda p: _owners(p) == [sts["metadata"]["uid"]])  # fmt: skip
        assert adopted["metadata"]["uid"] == pod["metadata"]["uid"]  # the same pod, not a new one
        claim = _get(api, claim_path)
    assert claim["status"]["phase"] == "Bound"
    assert claim["spec"]["resources"]["requests"]["storage"] == "2Gi"
