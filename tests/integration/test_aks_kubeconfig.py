"""pipelines.aks against a local model of ARM's listClusterUserCredential.

Azure cannot exist here: the server below models the documented REST contract (POST
.../managedClusters/{name}/listClusterUserCredential?api-version=…, bearer token,
200 {"kubeconfigs": [{"name": "clusterUser", "value": <base64 kubeconfig>}]}).
"""

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from azure.core.credentials import AccessToken

from pipelines import aks
from pipelines.azure_auth import ARM_SCOPE

KUBECONFIG = "apiVersion: v1\nkind: Config\ncurrent-context: tts-aks\n"
GOOD_TOKEN = "arm-token"  # noqa: S105 - a test value


class StaticCredential:
    def __init__(self, token: str) -> None:
        self.scopes: list[str] = []
        self.token = token

    async def get_token(self, *scopes: str, **_: object) -> AccessToken:
        self.scopes.extend(scopes)
        return AccessToken(self.token, 2**31)

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> "StaticCredential":
        return self

    async def __aexit__(self, *_: object) -> None:
        return None


class Arm(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if self.headers["Authorization"] != f"Bearer {GOOD_TOKEN}":
            self.reply(401, {"error": {"code": "InvalidAuthenticationToken"}})
        elif not url.path.endswith("/managedClusters/tts-aks/listClusterUserCredential"):
            self.reply(404, {"error": {"code": "ResourceNotFound"}})
        elif query.get("api-version") != [aks.AKS_API_VERSION]:
            self.reply(400, {"error": {"code": "InvalidApiVersionParameter"}})
        else:
            value = base64.b64encode(KUBECONFIG.encode()).decode()
            self.reply(200, {"kubeconfigs": [{"name": "clusterUser", "value": value}]})

    def reply(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_: object) -> None:
        return None


@pytest.fixture
def arm() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), Arm)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.mark.integration
@pytest.mark.anyio
async def test_kubeconfig_is_decoded_with_an_arm_token(arm: str) -> None:
    cred = StaticCredential(GOOD_TOKEN)
    text = await aks.cluster_user_kubeconfig(cred, "sub", "rg", "tts-aks", base_url=arm)
    assert text == KUBECONFIG
    assert cred.scopes == [ARM_SCOPE]


@pytest.mark.integration
@pytest.mark.anyio
async def test_refusal_names_the_role_and_not_the_token(arm: str) -> None:
    with pytest.raises(PermissionError, match="Cluster User Role") as err:
        await aks.cluster_user_kubeconfig(
            StaticCredential("stale"), "sub", "rg", "tts-aks", base_url=arm
        )
    assert "stale" not in str(err.value)


@pytest.mark.integration
@pytest.mark.anyio
async def test_unknown_cluster_names_the_flags(arm: str) -> None:
    with pytest.raises(LookupError, match="--cluster and --resource-group"):
        await aks.cluster_user_kubeconfig(
            StaticCredential(GOOD_TOKEN), "sub", "rg", "other", base_url=arm
        )


@pytest.mark.parametrize("name", ["tts-aks.hcp.westeurope.azmk8s.io", "", "-x", "a" * 64])
def test_bad_cluster_name(name: str) -> None:
    with pytest.raises(ValueError, match="aksClusterName"):
        aks.check_cluster_name(name)
