"""pipelines.kube's helm commands run for real with the pinned helm, without a cluster.

Two executions per command, because `helm upgrade --install`, `test` and `rollback` all need
a live API server (even `helm install --dry-run=client` checks reachability in helm 3.19):

- flags: the exact argv plus `--help`. cobra parses every flag before it honours --help, so
  an unknown or misspelt flag fails here just as it would against a cluster.
- values: `helm template` with the argv's own arguments (everything after `upgrade --install`;
  template shares install's flags) renders the very manifests the install would apply. They
  then go through the policy suite and kubernetes-validate, as tests/integration/test_chart.py
  does for the plain profiles.

The smoke pod's rendered command is also run for real against tts_standin (the protocol model
of ttn-lw-stack used by test_smoke_probes.py), with only hosts, ports and deadline swapped.
"""

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipelines import chart, kube, policy
from pipelines.versions import KUBE_VERSION
from tests.conftest import REPO_ROOT
from tests.integration.test_chart import CHART, run
from tests.integration.test_smoke_probes import LOOPBACK, standin

pytestmark = pytest.mark.integration

DIGEST = "sha256:" + "ab" * 32
KUBECONFIG = "/nonexistent/kubeconfig"  # never read: no command here reaches a cluster


def install_argv(tag: str = "3.32.0", deadline: int = 120) -> list[str]:
    argv = kube.helm_install_kind_argv(
        CHART, KUBECONFIG, "tts-ci/thethingsstack", tag, "tts-ci/smoke:local", 600
    )
    return [*argv, "--set", f"tests.smoke.deadlineSeconds={deadline}"]


def deploy_argv() -> list[str]:
    ref = kube.parse_image_ref(f"tts.azurecr.io/thethingsstack:3.32.0@{DIGEST}")
    return kube.helm_deploy_argv(CHART, KUBECONFIG, ref, [], 600, "tts-aks")


def as_template(argv: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    """`helm template` with the arguments of an `helm upgrade --install` argv."""
    assert argv[:3] == ["helm", "upgrade", "--install"]
    return run(["helm", "template", *argv[3:], "--kube-version", KUBE_VERSION], check=check)


def objects(argv: list[str]) -> list[dict[str, Any]]:
    return [o for o in yaml.safe_load_all(as_template(argv).stdout) if o]


def smoke_pod(rendered: list[dict[str, Any]]) -> dict[str, Any]:
    return next(
        o
        for o in rendered
        if o["kind"] == "Pod" and o["metadata"]["name"] == "tts-thethingsstack-test-smoke"
    )


def validate(text: str, tmp_path: Path) -> None:
    """kubernetes-validate (strict, offline); only chart.SKIPPED_KINDS may go unchecked."""
    manifests = tmp_path / "manifests.yaml"
    manifests.write_text(text)
    result = run(chart.validate_command(manifests), check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    for line in output.splitlines():
        assert any(f"kind {k} with api version {a}" in line for a, k in chart.SKIPPED_KINDS), line


@pytest.mark.parametrize(
    "argv",
    [
        install_argv(),
        deploy_argv(),
        kube.helm_test_argv(KUBECONFIG, 300),
        kube.helm_rollback_argv(KUBECONFIG, None, "tts-aks"),
        kube.helm_rollback_argv(KUBECONFIG, 2),
    ],
    ids=["install-kind", "deploy", "test", "rollback-previous", "rollback-2"],
)
def test_helm_accepts_every_flag(argv: list[str]) -> None:
    assert run([*argv, "--help"]).returncode == 0
    # The same probe fails on a flag helm does not know, so the check above can fail.
    broken = run([*argv, "--no-such-flag", "--help"], check=False)
    assert broken.returncode != 0
    assert "unknown flag: --no-such-flag" in broken.stderr


def test_kind_install_renders_our_images_and_passes_the_policy_suite(tmp_path: Path) -> None:
    rendered = objects(install_argv())
    images = {
        c["image"]
        for o in rendered
        if (spec := policy.pod_spec(o))
        for c in [*spec.get("containers", []), *spec.get("initContainers", [])]
    }
    assert {"tts-ci/thethingsstack:3.32.0", "tts-ci/smoke:local"} <= images
    assert policy.check(rendered) == []
    validate(as_template(install_argv()).stdout, tmp_path)


def test_kind_install_renders_the_smoke_test_pod() -> None:
    rendered = objects(install_argv())
    pod = smoke_pod(rendered)
    assert pod["kind"] == "Pod"
    annotations = pod["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "test"
    # `helm test --logs` reads each test pod's log after the run (helm/helm#9098).
    assert "hook-succeeded" not in annotations["helm.sh/hook-delete-policy"]
    [container] = pod["spec"]["containers"]
    assert container["command"] == ["python", "-m", "pipelines.smoke"]
    args = container["args"]
    services = {o["metadata"]["name"] for o in rendered if o["kind"] == "Service"}
    assert args[args.index("--host") + 1] == "tts-thethingsstack.tts.svc"
    assert args[args.index("--udp-host") + 1] == "tts-thethingsstack-udp.tts.svc"
    assert {"tts-thethingsstack", "tts-thethingsstack-udp"} <= services
    # Every test hook is a Pod: --logs asks for the pod log of each test hook by name.
    hooks = [o for o in rendered if (o["metadata"].get("annotations") or {}).get("helm.sh/hook")]
    assert {o["kind"] for o in hooks if o["metadata"]["annotations"]["helm.sh/hook"] == "test"} == {
        "Pod"
    }


def test_smoke_network_policy_lets_the_probe_send_udp_to_the_server() -> None:
    rendered = objects(install_argv())
    pod = smoke_pod(rendered)
    server = next(o for o in rendered if o["kind"] == "Deployment")
    server_labels = server["spec"]["template"]["metadata"]["labels"]
    policies = [o for o in rendered if o["kind"] == "NetworkPolicy"]
    udp_rules = [
        rule
        for p in policies
        if p["spec"]["podSelector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
        for rule in p["spec"].get("egress", [])
        if {"protocol": "UDP", "port": 1700} in rule.get("ports", [])
        and any(
            peer["podSelector"]["matchLabels"].items() <= server_labels.items()
            for peer in rule.get("to", [])
        )
    ]
    assert udp_rules, "no NetworkPolicy lets the smoke pod reach the server on UDP 1700"


def test_rendered_smoke_command_passes_against_the_tts_standin() -> None:
    rendered = objects(install_argv(deadline=10))
    pod = smoke_pod(rendered)
    [container] = pod["spec"]["containers"]
    args = list(container["args"])
    with standin("--fallback-frequency-plan", "EU_863_870") as server:
        # Cluster DNS names and Service ports do not exist here: point them at the stand-in.
        swaps = {
            "--host": LOOPBACK,
            "--udp-host": LOOPBACK,
            "--http-port": str(server.http_port),
            "--udp-port": str(server.udp_port),
        }
        for flag, value in swaps.items():
            args[args.index(flag) + 1] = value
        command = [sys.executable, *container["command"][1:], *args]
        result = subprocess.run(
            command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False
        )
    print(result.stdout, result.stderr)
    assert args[args.index("--deadline") + 1] == "10"
    assert result.returncode == 0
    assert "3 of 3 checks passed" in result.stdout


def test_a_numeric_looking_tag_stays_a_string() -> None:
    # --set-string: --set turns an all-digit tag (a date, a build number) into an integer,
    # which the schema refuses.
    rendered = objects(install_argv(tag="20250101"))
    deployment = next(o for o in rendered if o["kind"] == "Deployment")
    images = [c["image"] for c in deployment["spec"]["template"]["spec"]["containers"]]
    assert "tts-ci/thethingsstack:20250101" in images
    as_set = [a if a != "--set-string" else "--set" for a in install_argv(tag="20250101")]
    failed = as_template(as_set, check=False)
    assert failed.returncode != 0
    assert "at '/image/tag': got number, want string" in failed.stderr


def test_smoke_pod_refuses_more_than_one_replica() -> None:
    failed = as_template([*install_argv(), "--set", "replicaCount=2"], check=False)
    assert failed.returncode != 0
    assert "tests.smoke.enabled with replicaCount>1 or autoscaling.enabled" in failed.stderr


def test_smoke_pod_is_off_by_default() -> None:
    plain = run(chart.template_command(CHART, "kind")).stdout
    assert "test-smoke" not in plain
    assert "pipelines.smoke" not in plain


def test_aks_deploy_renders_the_image_by_digest_and_passes_the_policy_suite(
    tmp_path: Path,
) -> None:
    rendered = objects(deploy_argv())
    pinned = f"tts.azurecr.io/thethingsstack@{DIGEST}"
    workloads = [o for o in rendered if o["kind"] in ("Deployment", "Job")]
    assert len(workloads) == 2  # the server and the migration hook
    for workload in workloads:
        spec = workload["spec"]["template"]["spec"]
        tts = [c["image"] for c in [*spec["containers"], *spec.get("initContainers", [])]]
        assert pinned in tts, (workload["metadata"]["name"], tts)
    assert "test-smoke" not in as_template(deploy_argv()).stdout
    assert policy.check(rendered) == []
    validate(as_template(deploy_argv()).stdout, tmp_path)


def test_namespace_manifest_is_a_valid_namespace(tmp_path: Path) -> None:
    validate(kube.namespace_manifest(), tmp_path)
