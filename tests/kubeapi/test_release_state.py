"""pipelines.release_state with the real helm against a real API server.

Interrupted runs are made the way they happen: a `helm upgrade`/`install` killed (-9, as a
cancelled CI job or a lost runner) while Helm waits for a hook, which leaves the release
`pending-*` exactly as Helm wrote it.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import anyio
import pytest
import yaml

from pipelines import release_state
from pipelines.chart import RELEASE_NAME
from tests.kubeapi.conftest import require_api_server
from tests.kubeapi.support import helm, run, write_chart
from tests.support.paths import tool_path
from tests.support.polling import eventually

require_api_server()  # without a server: skipped, one line for the suite


def _upgrade(chart: Path, kubeconfig: Path, namespace: str, *values: str) -> list[str]:
    return ["upgrade", "--install", RELEASE_NAME, str(chart), "--namespace", namespace,
            "--create-namespace", "--kubeconfig", str(kubeconfig), *values]  # fmt: skip


def _history(kubeconfig: Path, namespace: str) -> list[release_state.Revision]:
    cluster = release_state.Cluster(kubeconfig, namespace=namespace)
    return anyio.run(release_state.history, run, cluster)


def _interrupt(argv: list[str], kubeconfig: Path, namespace: str, status: str) -> None:
    """Start a helm run that waits on its hook and kill it once Helm recorded `status`."""
    proc = subprocess.Popen([str(tool_path("helm")), *argv],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        eventually(f"helm to record {status}", lambda: _history(kubeconfig, namespace),
                   lambda history: any(r.status == status for r in history))  # fmt: skip
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


def _state(kubeconfig: Path, namespace: str) -> str:
    out = helm("get", "manifest", RELEASE_NAME, "-n", namespace, "--kubeconfig", str(kubeconfig))
    [config_map] = [o for o in yaml.safe_load_all(out.stdout) if o]
    return str(config_map["data"]["value"])


def test_an_interrupted_upgrade_is_rolled_back_before_the_next_deploy(
    tmp_path: Path, kubeconfig: Path, namespace: str
) -> None:
    chart = write_chart(tmp_path)
    helm(*_upgrade(chart, kubeconfig, namespace, "--set", "value=one"))
    _interrupt(_upgrade(chart, kubeconfig, namespace, "--set", "value=two", "--set", "hang=true"),
               kubeconfig, namespace, "pending-upgrade")  # fmt: skip
    stuck = helm(*_upgrade(chart, kubeconfig, namespace, "--set", "value=three"), check=False)
    assert "another operation (install/upgrade/rollback) is in progress" in stuck.stderr

    cluster = release_state.Cluster(kubeconfig, namespace=namespace)
    done = anyio.run(release_state.recover, run, cluster)
    print(done)
    assert done == (
        "revision 2 was left pending-upgrade: helm rollback to revision 1 (app version 1): "
        "revision 1 is live again"
    )
    # Helm leaves the interrupted revision's mark; the rollback on top is what counts.
    assert [r.status for r in _history(kubeconfig, namespace)] == [
        "superseded", "pending-upgrade", "deployed"
    ]  # fmt: skip
    assert _state(kubeconfig, namespace) == "one"
    helm(*_upgrade(chart, kubeconfig, namespace, "--set", "value=three"))  # deploys again
    assert _state(kubeconfig, namespace) == "three"
    assert anyio.run(release_state.recover, run, cluster) == "release: revision 4 deployed"


def test_an_interrupted_first_install_is_removed(
    tmp_path: Path, kubeconfig: Path, namespace: str
) -> None:
    chart = write_chart(tmp_path)
    _interrupt(_upgrade(chart, kubeconfig, namespace, "--set", "hang=true"),
               kubeconfig, namespace, "pending-install")  # fmt: skip
    cluster = release_state.Cluster(kubeconfig, namespace=namespace)
    done = anyio.run(release_state.recover, run, cluster)
    print(done)
    assert done.startswith("revision 1 was left pending-install: helm uninstall")
    assert _history(kubeconfig, namespace) == []
    helm(*_upgrade(chart, kubeconfig, namespace))  # installs again
    assert [r.status for r in _history(kubeconfig, namespace)] == ["deployed"]


def test_a_failed_smoke_rolls_back_to_the_previous_revision(
    tmp_path: Path, kubeconfig: Path, namespace: str
) -> None:
    chart = write_chart(tmp_path)
    helm(*_upgrade(chart, kubeconfig, namespace, "--set", "value=one"))
    helm(*_upgrade(chart, kubeconfig, namespace, "--set", "value=two"))
    cluster = release_state.Cluster(kubeconfig, namespace=namespace)
    with pytest.raises(release_state.ReleaseError) as error:
        anyio.run(release_state.undo, run, cluster, "post-deploy smoke failed: udp-ack")
    print(error.value)
    assert str(error.value).splitlines() == [
        "post-deploy smoke failed: udp-ack",
        "helm rollback to revision 1 (app version 1): revision 1 is live again",
    ]
    assert _state(kubeconfig, namespace) == "one"


def test_a_first_install_that_fails_its_smoke_does_not_stay_live(
    tmp_path: Path, kubeconfig: Path, namespace: str
) -> None:
    chart = write_chart(tmp_path)
    helm(*_upgrade(chart, kubeconfig, namespace))
    cluster = release_state.Cluster(kubeconfig, namespace=namespace)
    with pytest.raises(release_state.ReleaseError) as error:
        anyio.run(release_state.undo, run, cluster, "post-deploy smoke failed: healthz")
    print(error.value)
    assert str(error.value).splitlines()[1] == (
        "helm uninstall (no revision of this release ever worked): nothing of the release is "
        "live; its volumes and the stores are untouched"
    )
    assert _history(kubeconfig, namespace) == []


def test_a_rollback_that_fails_is_reported(
    tmp_path: Path, kubeconfig: Path, namespace: str
) -> None:
    chart = write_chart(tmp_path / "chart")
    helm(*_upgrade(chart, kubeconfig, namespace, "--set", "value=one"))
    helm(*_upgrade(chart, kubeconfig, namespace, "--set", "value=two"))
    # An identity that may read the release (helm history) but change nothing: the
    # rollback fails the way it does when the deployer's rights or session are gone.
    reader = _read_only_identity(tmp_path, kubeconfig, namespace)
    cluster = release_state.Cluster(reader, namespace=namespace)
    with pytest.raises(release_state.ReleaseError) as error:
        anyio.run(release_state.undo, run, cluster, "post-deploy smoke failed: gateway-connected")
    message = str(error.value)
    print(message)
    assert message.startswith("post-deploy smoke failed: gateway-connected\n")
    assert "helm rollback to revision 1 (app version 1) FAILED as well (exit 1)" in message
    assert "forbidden" in message
    assert "roll back or uninstall by hand" in message
    assert _state(kubeconfig, namespace) == "two"  # what is live, and the error says so


def _read_only_identity(tmp_path: Path, kubeconfig: Path, namespace: str) -> Path:
    """A kubeconfig acting as user `reader`, who may only read Secrets in `namespace`."""
    rbac = write_chart(tmp_path / "rbac")
    (rbac / "templates" / "hook.yaml").unlink()
    (rbac / "templates" / "configmap.yaml").write_text(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: reader}\n"
        "rules: [{apiGroups: [''], resources: [secrets], verbs: [get, list, watch]}]\n---\n"
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: reader}\n"
        "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}\n"
        "subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: reader}]\n"
    )
    helm("install", "rbac", str(rbac), "-n", namespace, "--kubeconfig", str(kubeconfig))
    config = yaml.safe_load(kubeconfig.read_text())
    for user in config["users"]:
        user["user"]["as"] = "reader"  # impersonation, as kubectl --as
    reader = tmp_path / "reader.kubeconfig"
    reader.write_text(yaml.safe_dump(config))
    return reader
