"""The chart's downgrade guard with the real helm on a real API server.

TTS schema migrations are forward-only. The chart records the newest release deployed on
the database in a hook ConfigMap (templates/schema-record.yaml) and refuses an older
image.tag (templates/validate). Helm's `lookup` only sees a cluster during install and
upgrade, so this is where the guard can be shown working; the kind profile is installed
without waiting for pods (the API server has no nodes).
"""

from __future__ import annotations

from pathlib import Path

from pipelines.chart import RELEASE_NAME
from tests.kubeapi.conftest import require_api_server
from tests.kubeapi.support import deploy_kind, helm

require_api_server()  # without a server: skipped, one line for the suite


def _deploy(kubeconfig: Path, namespace: str, tag: str, *values: str, check: bool = True) -> str:
    return deploy_kind(kubeconfig, namespace, "--set-string", f"image.tag={tag}", *values,
                       check=check)  # fmt: skip


def test_an_older_release_is_refused_until_the_downgrade_is_acknowledged(
    kubeconfig: Path, namespace: str
) -> None:
    _deploy(kubeconfig, namespace, "3.32.0")
    refused = _deploy(kubeconfig, namespace, "3.31.1", check=False)
    print(refused)
    assert "image.tag=3.31.1 is older than 3.32.0, which last migrated this database" in refused
    assert "migration.allowDowngradeFrom=3.32.0" in refused

    _deploy(kubeconfig, namespace, "3.32.1")  # newer: the record moves on
    refused = _deploy(kubeconfig, namespace, "3.32.0", check=False)
    assert "image.tag=3.32.0 is older than 3.32.1" in refused

    # The operator restored the database of 3.31.1 and says so: deployed, record reset.
    _deploy(kubeconfig, namespace, "3.31.1", "--set", "migration.allowDowngradeFrom=3.32.1")
    _deploy(kubeconfig, namespace, "3.31.1")


def test_helm_rollback_does_not_rewind_the_record(kubeconfig: Path, namespace: str) -> None:
    _deploy(kubeconfig, namespace, "3.31.1")
    _deploy(kubeconfig, namespace, "3.32.0")  # migrates the database to 3.32.0's schema
    helm("rollback", RELEASE_NAME, "1", "-n", namespace, "--kubeconfig", str(kubeconfig))
    # The rollback put 3.31.1 back (what --atomic does after a failed smoke), but the
    # database keeps 3.32.0's schema: the next deploy of 3.31.1 is stopped and says why.
    refused = _deploy(kubeconfig, namespace, "3.31.1", check=False)
    print(refused)
    assert "image.tag=3.31.1 is older than 3.32.0" in refused
