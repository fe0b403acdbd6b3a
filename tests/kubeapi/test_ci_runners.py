"""The CI engine and runners (charts/ci-runners) as the real charts render them and the real
API server takes them.

Dagger's chart and ARC's two charts are peers (tests/support/peers.py): DAGGER_HELM_CHART,
ARC_SCALE_SET_CHART and ARC_CONTROLLER_CHART, chart directories of the pinned versions. The
pinned helm renders them with the repository's values; the API server takes ARC's CRDs from
the controller chart and every rendered object in a server-side dry run with strict field
validation. pipelines/policy.py (the AKS safeguards and restricted Pod Security) fails
exactly what the engine and the runners need exempted (charts/ci-runners/README.md), and
the API server's own Pod Security admission agrees: it refuses their pods under baseline
and takes them in a namespace exempted to `privileged`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from pipelines import policy
from pipelines.versions import ACTIONS_RUNNER_IMAGE, ARC_VERSION, DAGGER_VERSION, KUBE_VERSION
from tests.kubeapi.conftest import require_api_server
from tests.kubeapi.support import api_client, helm
from tests.support import peers
from tests.support.paths import REPO_ROOT
from tests.support.polling import eventually
from tests.support.render import find

require_api_server()  # without a server: skipped, one line for the suite
DAGGER_CHART = Path(peers.require("DAGGER_HELM_CHART", "Dagger's chart (helm/dagger), a directory"))
SCALE_SET_CHART = Path(peers.require("ARC_SCALE_SET_CHART", "ARC's gha-runner-scale-set chart"))
CONTROLLER_CHART = Path(
    peers.require("ARC_CONTROLLER_CHART", "ARC's gha-runner-scale-set-controller chart")
)

VALUES = REPO_ROOT / "charts" / "ci-runners"
CI_POOL = {"tts-ci/pool": "engine"}
CI_TAINT = {"key": "tts-ci/engine", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
RUNNER_HOST = "_EXPERIMENTAL_DAGGER_RUNNER_HOST"
RUNNER_POD = "tts-ci-runner"  # the pod ARC makes from the scale set's template

ENGINE = "DaemonSet/dagger-engine"
ENGINE_CONTAINER = f"{ENGINE} container dagger-engine"
# What the engine is refused by pipelines/policy.py, all of it exempted by its namespace.
ENGINE_EXEMPT = [
    f"{ENGINE}: volume varlibdagger uses hostPath",  # the cache on the node's disk
    f"{ENGINE}: volume varrundagger uses hostPath",  # the socket, for the runner pods
    f"{ENGINE_CONTAINER}: privileged",  # a container runtime: namespaces, mounts, cgroups
    f"{ENGINE_CONTAINER}: securityContext.allowPrivilegeEscalation must be false",
    f"{ENGINE_CONTAINER}: runAsNonRoot must be true (container or pod)",
    f"{ENGINE_CONTAINER}: runAsUser 0",
    f"{ENGINE_CONTAINER}: capabilities.drop must include ALL",
    f"{ENGINE_CONTAINER}: adds capabilities ['ALL']",
    f"{ENGINE_CONTAINER}: seccompProfile.type must be RuntimeDefault or Localhost",
]
RUNNER_EXEMPT = [f"Pod/{RUNNER_POD}: volume dagger-engine uses hostPath"]  # the engine socket


def _values(name: str) -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load((VALUES / name).read_text())
    return values


def _render(chart: Path, release: str, namespace: str, values: str, *extra: str) -> list[Any]:
    result = helm("template", release, str(chart), "--namespace", namespace,
                  "--kube-version", KUBE_VERSION, "-f", str(VALUES / values), *extra)  # fmt: skip
    return [o for o in yaml.safe_load_all(result.stdout) if o]


def _chart_version(chart: Path) -> str:
    version: str = yaml.safe_load((chart / "Chart.yaml").read_text())["version"]
    return version


@pytest.fixture(scope="module")
def engine() -> list[Any]:
    return _render(DAGGER_CHART, "dagger", "dagger", "dagger-engine.values.yaml")


@pytest.fixture(scope="module")
def runners() -> list[Any]:
    return _render(SCALE_SET_CHART, "tts-ci", "arc-runners", "arc-runner-set.values.yaml",
                   "--set", "githubConfigUrl=https://github.com/example/tts-ci")  # fmt: skip


@pytest.fixture(scope="module")
def controller() -> list[Any]:
    return _render(CONTROLLER_CHART, "arc", "arc-systems", "arc-controller.values.yaml")


def _runner_pod(runners: list[Any]) -> dict[str, Any]:
    """The runner pod as ARC makes it: the scale set's pod template."""
    template = find(runners, "AutoscalingRunnerSet")["spec"]["template"]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": RUNNER_POD},
            "spec": template["spec"]}  # fmt: skip


def _engine_pod(engine: list[Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "dagger-engine"},
            "spec": find(engine, "DaemonSet")["spec"]["template"]["spec"]}  # fmt: skip


def _host_dir(spec: dict[str, Any], container: dict[str, Any], mount_path: str) -> str:
    """The node directory that `container` of pod `spec` sees at `mount_path`."""
    [name] = [m["name"] for m in container["volumeMounts"] if m["mountPath"] == mount_path]
    [path] = [v["hostPath"]["path"] for v in spec["volumes"] if v["name"] == name]
    return str(path)


def test_the_engine_is_a_privileged_daemonset_on_the_ci_pool(engine: list[Any]) -> None:
    values = _values("dagger-engine.values.yaml")["engine"]
    assert _chart_version(DAGGER_CHART) == DAGGER_VERSION, "the peer is not engineVersion's chart"
    spec = find(engine, "DaemonSet")["spec"]["template"]["spec"]
    assert spec["nodeSelector"] == CI_POOL
    assert spec["tolerations"] == [CI_TAINT]
    assert spec["terminationGracePeriodSeconds"] == values["terminationGracePeriodSeconds"] >= 300
    [container] = spec["containers"]
    assert container["image"] == f"registry.dagger.io/engine:v{DAGGER_VERSION}"
    assert container["securityContext"]["privileged"] is True
    assert container["resources"] == values["resources"]
    assert set(container["resources"]["limits"]) == {"cpu", "memory"}
    # engine.json, as the values say, where the engine reads it
    config = json.loads(find(engine, "ConfigMap")["data"]["engine.json"])
    assert config == json.loads(values["configJson"])
    assert set(config["gc"]) == {"reservedSpace", "maxUsedSpace", "minFreeSpace"}
    [mount] = [m for m in container["volumeMounts"] if m["mountPath"] == "/etc/dagger/engine.json"]
    assert mount["subPath"] == "engine.json"
    assert _host_dir(spec, container, "/var/lib/dagger") == "/var/lib/dagger-dagger"


def test_runner_pods_reach_the_engine_of_their_node(engine: list[Any], runners: list[Any]) -> None:
    values = _values("arc-runner-set.values.yaml")
    assert _chart_version(SCALE_SET_CHART) == _chart_version(CONTROLLER_CHART) == ARC_VERSION
    scale_set = find(runners, "AutoscalingRunnerSet")["spec"]
    assert scale_set["runnerScaleSetName"] == "tts-ci"
    assert 0 < scale_set["minRunners"] <= scale_set["maxRunners"] == values["maxRunners"]
    spec = _runner_pod(runners)["spec"]
    engine_spec = find(engine, "DaemonSet")["spec"]["template"]["spec"]
    # on the CI pool, like the engine
    assert spec["nodeSelector"] == engine_spec["nodeSelector"] == CI_POOL
    assert spec["tolerations"] == engine_spec["tolerations"] == [CI_TAINT]
    # one unprivileged runner container, no docker-in-docker
    [runner] = spec["containers"]
    assert runner["image"] == ACTIONS_RUNNER_IMAGE
    assert "initContainers" not in spec
    assert runner["securityContext"]["allowPrivilegeEscalation"] is False
    # the CLI's engine is the socket the node's engine listens on (its default address)
    env = {e["name"]: e["value"] for e in runner["env"]}
    socket = env[RUNNER_HOST].removeprefix("unix://")
    assert env[RUNNER_HOST] == "unix:///run/dagger/engine.sock"
    engine_container = engine_spec["containers"][0]
    assert "args" not in engine_container  # no --addr: the default unix:///run/dagger/engine.sock
    assert _host_dir(spec, runner, str(Path(socket).parent)) == _host_dir(
        engine_spec, engine_container, "/run/dagger"
    )
    # the socket is 0660 and owned by the engine's group: the runner has that group
    groups = spec["securityContext"]["supplementalGroups"]
    assert engine_spec["securityContext"]["runAsGroup"] in groups


def test_the_policy_checks_fail_exactly_what_is_exempted(
    engine: list[Any], runners: list[Any], controller: list[Any]
) -> None:
    assert sorted(policy.check(engine)) == sorted(ENGINE_EXEMPT)
    assert policy.check([_runner_pod(runners)]) == RUNNER_EXEMPT
    assert policy.check(controller) == []
    assert policy.check([o for o in runners if o["kind"] != "AutoscalingRunnerSet"]) == []


@pytest.fixture(scope="module")
def api(kubeconfig: Path) -> Iterator[httpx.Client]:
    """A client of the suite's API server, which knows ARC's CRDs (from the controller chart)."""
    with api_client(kubeconfig) as client:
        for path in sorted((CONTROLLER_CHART / "crds").glob("*.yaml")):
            crd = yaml.safe_load(path.read_text())
            _ensure(client, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
        eventually(
            "ARC's AutoscalingRunnerSet served",
            lambda: client.get("/apis/actions.github.com/v1alpha1").status_code,
            lambda status: status == 200,
        )
        yield client


def _ensure(api: httpx.Client, path: str, body: dict[str, Any]) -> None:
    """Create `body` at `path`, unless it is there already."""
    response = api.post(path, json=body)
    assert response.status_code in (201, 409), response.text


def _namespace(api: httpx.Client, name: str, **labels: str) -> str:
    _ensure(api, "/api/v1/namespaces", {"metadata": {"name": name, "labels": labels}})
    return name


def _collection(api: httpx.Client, obj: dict[str, Any], namespace: str) -> str:
    """The URL path of `obj`'s kind in `namespace` (or cluster-wide), from discovery."""
    version = obj["apiVersion"]
    base = f"/apis/{version}" if "/" in version else f"/api/{version}"
    resources = api.get(base).raise_for_status().json()["resources"]
    [found] = [r for r in resources if r["kind"] == obj["kind"] and "/" not in r["name"]]
    where = f"/namespaces/{namespace}" if found["namespaced"] else ""
    return f"{base}{where}/{found['name']}"


def _dry_run(api: httpx.Client, obj: dict[str, Any], namespace: str) -> httpx.Response:
    """Create `obj` in `namespace` as a server-side dry run, unknown fields refused."""
    body = {**obj, "metadata": {**obj["metadata"], "namespace": namespace}}
    return api.post(_collection(api, obj, namespace), json=body,
                    params={"dryRun": "All", "fieldValidation": "Strict"})  # fmt: skip


def test_the_api_server_accepts_every_rendered_object(
    api: httpx.Client, namespace: str, engine: list[Any], runners: list[Any],
    controller: list[Any],
) -> None:  # fmt: skip
    target = _namespace(api, namespace, **{"pod-security.kubernetes.io/enforce": "privileged"})
    objects = [*engine, *controller, *runners]
    assert {o["kind"] for o in objects} >= {"DaemonSet", "ConfigMap", "AutoscalingRunnerSet",
                                            "Deployment", "ClusterRole", "RoleBinding"}  # fmt: skip
    refused = {}
    for obj in objects:
        response = _dry_run(api, obj, target)
        if response.status_code != 201:
            refused[f"{obj['kind']}/{obj['metadata']['name']}"] = response.text
    assert refused == {}
    # the scale set's pod template as the API server keeps it: the engine's socket included
    scale_set = find(runners, "AutoscalingRunnerSet")
    kept = _dry_run(api, scale_set, target).json()["spec"]["template"]["spec"]
    assert kept["volumes"] == scale_set["spec"]["template"]["spec"]["volumes"]


def _pod_security(api: httpx.Client, pod: dict[str, Any], namespace: str) -> set[str]:
    """The Pod Security checks the API server fails `pod` on in `namespace` (none: admitted)."""
    account = pod["spec"].get("serviceAccountName", "default")  # admission looks it up
    _ensure(api, f"/api/v1/namespaces/{namespace}/serviceaccounts", {"metadata": {"name": account}})
    response = _dry_run(api, pod, namespace)
    if response.status_code == 201:
        return set()
    message = response.json()["message"]
    print(message)
    assert response.status_code == 403, message
    assert "violates PodSecurity" in message, message
    # `violates PodSecurity "baseline:latest": privileged (…), hostPath volumes (…)`
    return set(re.findall(r'(?:": |\), )([^(]+?) \(', message))


def test_pod_security_admission_takes_the_pods_only_where_exempted(
    api: httpx.Client, namespace: str, engine: list[Any], runners: list[Any]
) -> None:
    enforce = "pod-security.kubernetes.io/enforce"
    baseline = _namespace(api, f"{namespace}-baseline", **{enforce: "baseline"})
    restricted = _namespace(api, f"{namespace}-restricted", **{enforce: "restricted"})
    exempt = _namespace(api, f"{namespace}-exempt", **{enforce: "privileged"})
    engine_pod, runner_pod = _engine_pod(engine), _runner_pod(runners)

    assert _pod_security(api, engine_pod, baseline) == {
        "privileged", "non-default capabilities", "hostPath volumes"
    }  # fmt: skip
    assert _pod_security(api, runner_pod, baseline) == {"hostPath volumes"}
    # restricted: nothing else than the volume (restricted supersedes baseline's hostPath check)
    assert _pod_security(api, runner_pod, restricted) == {"restricted volume types"}
    # ENGINE_EXEMPT's checks, as the API server's restricted level words them
    assert _pod_security(api, engine_pod, restricted) == {
        "privileged", "allowPrivilegeEscalation != false", "unrestricted capabilities",
        "restricted volume types", "runAsNonRoot != true", "runAsUser=0", "seccompProfile",
    }  # fmt: skip
    assert _pod_security(api, engine_pod, exempt) == set()
    assert _pod_security(api, runner_pod, exempt) == set()
