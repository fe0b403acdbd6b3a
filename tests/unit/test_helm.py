"""pipelines.helm: what the helm argv lists refuse before helm runs.

The argv lists themselves run through the pinned helm in tests/integration/test_helm_cli.py
(every flag parsed, every values combination rendered and policy-checked).
"""

from pathlib import Path

import pytest

from pipelines import helm, oci

CHART = Path("charts/thethingsstack")
DIGEST = "sha256:" + "0123456789abcdef" * 4


@pytest.mark.parametrize(
    ("repository", "tag", "probe", "timeout", "message"),
    [
        ("TTS/Stack", "3.32.0", "s:1", 60, "is not a valid reference"),
        ("tts", "latest", "s:1", 60, "is not pinned"),
        ("tts", "3.32.0", "smoke", 60, "is not pinned"),
        ("tts", "3.32.0", f"smoke@{DIGEST}", 60, "has no tag: the chart needs repository:tag"),
        ("tts", "3.32.0", "s:1", 0, "timeout_seconds=0 is not a timeout"),
    ],
)
def test_helm_install_kind_argv_rejects_bad_input(
    repository: str, tag: str, probe: str, timeout: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        helm.install_kind_argv(CHART, "k", repository, tag, probe, timeout)


def test_helm_test_argv_needs_a_kubeconfig() -> None:
    with pytest.raises(ValueError, match="kubeconfig is empty"):
        helm.test_argv("", 300)


def test_helm_deploy_argv_rejects_bad_input() -> None:
    tag_only = oci.parse_image_ref("tts.azurecr.io/thethingsstack:3.32.0")
    with pytest.raises(ValueError, match="has no digest: deploy the <repo>@sha256"):
        helm.deploy_argv(CHART, "k", tag_only, [], 600)
    ref = oci.parse_image_ref(f"r.io/t@{DIGEST}")
    with pytest.raises(ValueError, match="values file is empty"):
        helm.deploy_argv(CHART, "k", ref, [""], 600)
    with pytest.raises(ValueError, match="has surrounding spaces: pass the bare name"):
        helm.deploy_argv(CHART, "k", ref, [], 600, " tts-aks")
    with pytest.raises(ValueError, match="timeout_seconds=3601 is not a timeout"):
        helm.deploy_argv(CHART, "k", ref, [], 3601)


def test_rollback_refuses_a_revision_that_is_not_one() -> None:
    for revision in (0, -1, True):
        with pytest.raises(ValueError, match="is not a release revision: pass 1 or more, or None"):
            helm.rollback_argv("k", revision)
