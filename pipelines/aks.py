"""An AKS cluster's kubeconfig from Azure Resource Manager, with azure-identity.

`listClusterUserCredential` (ARM REST, documented in the Managed Clusters API) returns the
cluster's user kubeconfig. On AKS Automatic (always Entra ID + Azure RBAC) its user runs the
kubelogin exec plugin; kubeconfig_with_token swaps that for an Entra token,
so the helm container needs neither az nor kubelogin.
"""

import base64
import re
from typing import Final
from urllib.parse import quote

import httpx
from azure.core.credentials_async import AsyncTokenCredential

from pipelines import kubeconfig
from pipelines.azure_auth import ARM_SCOPE

ARM_URL: Final = "https://management.azure.com"
# The Managed Clusters API version bicep/modules/aks.bicep deploys with.
AKS_API_VERSION: Final = "2026-04-01"

_CLUSTER_NAME = re.compile(r"^[A-Za-z0-9][-_A-Za-z0-9]{0,62}$")


def check_cluster_name(name: str) -> str:
    """AKS names: 1-63 letters, digits, '-' and '_', starting alphanumeric."""
    if not _CLUSTER_NAME.fullmatch(name):
        raise ValueError(
            f"AKS cluster name {name!r} is invalid: pass the name (Bicep output "
            "aksClusterName, 1-63 letters, digits, - or _), not a URL or FQDN"
        )
    return name


def credential_url(subscription_id: str, resource_group: str, cluster: str) -> str:
    """The ARM path of listClusterUserCredential for a cluster."""
    check_cluster_name(cluster)
    return (
        f"/subscriptions/{quote(subscription_id)}/resourceGroups/{quote(resource_group)}"
        f"/providers/Microsoft.ContainerService/managedClusters/{quote(cluster)}"
        f"/listClusterUserCredential?api-version={AKS_API_VERSION}&format=exec"
    )


async def cluster_user_kubeconfig(
    credential: AsyncTokenCredential,
    subscription_id: str,
    resource_group: str,
    cluster: str,
    *,
    base_url: str = ARM_URL,
) -> str:
    """The user kubeconfig of `cluster` (YAML text); readable errors for 401/403/404."""
    token = await credential.get_token(ARM_SCOPE)
    url = base_url + credential_url(subscription_id, resource_group, cluster)
    async with httpx.AsyncClient(timeout=60) as client:
        response = await client.post(url, headers={"Authorization": f"Bearer {token.token}"})
    where = f"AKS cluster {cluster!r} in resource group {resource_group!r}"
    if response.status_code in (httpx.codes.UNAUTHORIZED, httpx.codes.FORBIDDEN):
        raise PermissionError(
            f"Azure refused the kubeconfig of {where} (HTTP {response.status_code}): give the "
            "CI identity 'Azure Kubernetes Service Cluster User Role' on the cluster"
        )
    if response.status_code == httpx.codes.NOT_FOUND:
        raise LookupError(f"{where} not found: check --cluster and --resource-group")
    response.raise_for_status()
    for entry in response.json().get("kubeconfigs", []):
        return base64.b64decode(entry["value"]).decode()
    raise ValueError(f"Azure returned no kubeconfig for {where}")


# Application ID of the "Azure Kubernetes Service AAD Server", the same in every tenant:
# Entra tokens for AKS API servers are issued for it
# (Azure/kubelogin docs/book/src/concepts/aks.md).
AKS_AAD_SCOPE: Final = "6dae42f8-4368-4678-94ff-3960e28e3630/.default"


def kubeconfig_with_token(kubeconfig_yaml: str, context: str, token: str) -> str:
    """The kubeconfig with the exec (kubelogin) user of `context` replaced by a bearer token.

    Get the token for AKS_AAD_SCOPE (azure-identity); Entra tokens last about an hour, so
    fetch it right before helm runs. The result is a secret.
    """
    if not token or any(ch.isspace() for ch in token):
        raise ValueError(
            f"token for {AKS_AAD_SCOPE} is empty or has whitespace: pass the access token itself"
        )
    kubeconfig.check_context(kubeconfig_yaml, context)
    config = kubeconfig.load(kubeconfig_yaml)
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
    return kubeconfig.dump(config)
