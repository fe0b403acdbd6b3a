"""Kubeconfigs: the AKS bearer-token swap and the context check (pipelines.aks, .kubeconfig)."""

from typing import Any

import pytest
import yaml

from pipelines import aks, kubeconfig
from tests.support.kubeconfigs import AKS_KUBECONFIG


def load(text: str) -> Any:
    return yaml.safe_load(text)


def test_check_kube_context() -> None:
    kubeconfig.check_context(AKS_KUBECONFIG, "tts-aks")
    with pytest.raises(ValueError, match=r"no context 'prod' \(it has: tts-aks, other\)"):
        kubeconfig.check_context(AKS_KUBECONFIG, "prod")
    empty = "apiVersion: v1\nkind: Config\ncontexts: []\n"
    with pytest.raises(ValueError, match=r"\(it has: none\): pass one of those or fetch"):
        kubeconfig.check_context(empty, "tts-aks")


def test_kubeconfig_with_token_replaces_only_the_exec_user_of_the_context() -> None:
    before = load(AKS_KUBECONFIG)
    after = load(aks.kubeconfig_with_token(AKS_KUBECONFIG, "tts-aks", "eyJ0.eyJ1.sig"))
    users = {u["name"]: u["user"] for u in after["users"]}
    assert users["clusterUser_tts-rg_tts-aks"] == {"token": "eyJ0.eyJ1.sig"}
    assert users["other-admin"] == {"client-certificate-data": "Y2VydAo="}
    assert after["current-context"] == "tts-aks"
    assert after["clusters"] == before["clusters"]
    assert after["contexts"] == before["contexts"]


def test_kubeconfig_with_token_rejects_bad_input() -> None:
    for token in ("", "two words", "tok\n"):
        with pytest.raises(ValueError, match="is empty or has whitespace: pass the access token"):
            aks.kubeconfig_with_token(AKS_KUBECONFIG, "tts-aks", token)
    with pytest.raises(ValueError, match="no context 'prod'"):
        aks.kubeconfig_with_token(AKS_KUBECONFIG, "prod", "t")
    with pytest.raises(
        ValueError, match=r"has no exec \(kubelogin\) entry: fetch user credentials"
    ):
        aks.kubeconfig_with_token(AKS_KUBECONFIG, "other", "t")
    orphan = AKS_KUBECONFIG.replace("user: other-admin", "user: nobody")
    with pytest.raises(ValueError, match="names user 'nobody', missing from the kubeconfig"):
        aks.kubeconfig_with_token(orphan, "other", "t")
