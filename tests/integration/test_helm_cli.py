"""pipelines.helm's commands run for real with the pinned helm, without a cluster.

Two executions per command, because `helm upgrade --install`, `test` and `rollback` all need
a live API server (even `helm install --dry-run=client` checks reachability in helm 3.19):

- flags: the exact argv plus `--help`. cobra parses every flag before it honours --help, so
  an unknown or misspelt flag fails here just as it would against a cluster.
- values: `helm template` with the argv's own arguments (everything after `upgrade --install`;
  template shares install's flags) renders the very manifests the install would apply. They
  then go through the policy suite and kubernetes-validate, as tests/integration/test_chart.py
  does for the plain profiles.

The smoke pod's rendered probe command is also run against tests/support/protocol_standin.py (the
protocol model of ttn-lw-stack), with only hosts, ports and the key mount swapped;
tests/realserver runs the whole pod (init container too) against the real server.
"""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipelines import chart, crds, helm, kind, oci, policy
from tests.support.paths import CHART, REPO_ROOT
from tests.support.protocol_standin import STANDIN_API_KEY, standin
from tests.support.render import (
    KUBECONFIG,
    as_template,
    install_argv,
    objects,
    run,
    smoke_pod,
)
from tests.support.servers import LOOPBACK

DIGEST = "sha256:" + "ab" * 32


def deploy_argv() -> list[str]:
    ref = oci.parse_image_ref(f"tts.azurecr.io/thethingsstack:3.32.0@{DIGEST}")
    return helm.deploy_argv(CHART, KUBECONFIG, ref, [], 600, "tts-aks")


def validate(text: str, tmp_path: Path) -> None:
    """kubernetes-validate (strict, offline); only the custom kinds go unchecked (crds.CUSTOM_KINDS:
    kubeconform checks them, tests/integration/test_crds.py)."""
    manifests = tmp_path / "manifests.yaml"
    manifests.write_text(text)
    result = run(chart.validate_command(manifests), check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    for line in output.splitlines():
        assert any(f"kind {k} with api version {a}" in line for a, k in crds.CUSTOM_KINDS), line


@pytest.mark.parametrize(
    "argv",
    [
        install_argv(),
        deploy_argv(),
        helm.test_argv(KUBECONFIG, 300),
        helm.rollback_argv(KUBECONFIG, None, "tts-aks"),
        helm.rollback_argv(KUBECONFIG, 2),
        helm.status_argv(KUBECONFIG, "tts-aks"),
        helm.history_argv(KUBECONFIG, "tts-aks"),
        helm.uninstall_argv(KUBECONFIG, "tts-aks"),
    ],
    ids=[
        "install-kind",
        "deploy",
        "test",
        "rollback-previous",
        "rollback-2",
        "status",
        "history",
        "uninstall",
    ],
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


def test_rendered_smoke_command_passes_against_the_tts_standin(tmp_path: Path) -> None:
    """The probe container's argv, run as is against the model with only hosts, ports and
    the key file's mount swapped; tests/realserver runs the init container for real too."""
    pod = smoke_pod(objects(install_argv(deadline=10)))
    [container] = pod["spec"]["containers"]
    args = list(container["args"])
    [mount] = container["volumeMounts"]
    key_file = args[args.index("--api-key-file") + 1]
    assert key_file.startswith(mount["mountPath"] + "/")
    local_key = tmp_path / Path(key_file).name
    local_key.write_text(f'{{"id": "X", "key": "{STANDIN_API_KEY}"}}')
    with standin() as server:
        # Cluster DNS names, Service ports and the emptyDir do not exist here.
        swaps = {
            "--host": LOOPBACK,
            "--udp-host": LOOPBACK,
            "--http-port": str(server.http_port),
            "--udp-port": str(server.udp_port),
            "--api-key-file": str(local_key),
        }
        for flag, value in swaps.items():
            args[args.index(flag) + 1] = value
        # The model has no devices: tests/realserver runs the device probe, the real server.
        assert args[args.index("--mqtt-port") + 1] == "1883"
        args.remove("--device")
        command = [sys.executable, *container["command"][1:], *args]
        result = subprocess.run(
            command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False
        )
    print(result.stdout, result.stderr)
    assert args[args.index("--deadline") + 1] == "10"
    assert args[args.index("--frequency-plan") + 1] == "EU_863_870_TTN"
    assert result.returncode == 0
    assert "5 of 5 checks passed" in result.stdout


@pytest.mark.parametrize("probe", ["smoke", "smoke-basic-station"])
def test_the_probe_key_is_made_in_the_pod_and_shared_through_memory_only(probe: str) -> None:
    pod = smoke_pod(objects(install_argv()), probe)
    [init] = pod["spec"]["initContainers"]
    [container] = pod["spec"]["containers"]  # one: `helm test --logs` reads no other pod
    [volume] = pod["spec"]["volumes"]
    assert volume["emptyDir"]["medium"] == "Memory"
    assert init["image"] == "tts-ci/thethingsstack:3.32.0"
    script = init["command"][-1]
    assert "is-db create-admin-user" in script
    assert "is-db create-user-api-key" in script
    # TTS logs the key at INFO: the init container logs at warn.
    env = {e["name"]: e.get("value") for e in init["env"]}
    assert env["TTN_LW_LOG_LEVEL"] == "warn"
    assert container["volumeMounts"][0]["readOnly"] is True
    assert not any("TTS_API_KEY" in str(e) for e in container.get("env", []))


def test_without_register_gateway_there_is_no_key_and_no_database_access() -> None:
    rendered = objects([*install_argv(), "--set", "tests.smoke.registerGateway=false"])
    pod = smoke_pod(rendered)
    assert "initContainers" not in pod["spec"]
    [probe] = pod["spec"]["containers"]
    assert "--api-key-file" not in probe["args"]
    assert "--device" not in probe["args"]  # no key: no device probe, no Basic Station pod
    assert not [o for o in rendered if o["metadata"]["name"].endswith("smoke-basic-station")]
    text = yaml.safe_dump_all(rendered)
    assert "tts-ci/probe: smoke" in text  # the smoke policy is still there …
    postgres_policy = next(
        o for o in rendered
        if o["kind"] == "NetworkPolicy" and o["metadata"]["name"].endswith("-postgresql")
    )  # fmt: skip
    peers = postgres_policy["spec"]["ingress"][0]["from"]
    assert all("tts-ci/probe" not in p["podSelector"]["matchLabels"] for p in peers)


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
    validate(kind.namespace_manifest(), tmp_path)
