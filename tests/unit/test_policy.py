"""The policy suite flags each safeguard/Pod Security breach and passes a compliant pod."""

import copy
from typing import Any

import pytest

from pipelines import chart, policy
from tests.support.paths import REPO_ROOT


def good_deployment(name: str = "app") -> dict[str, Any]:
    probe = {"httpGet": {"path": "/healthz", "port": 1885}}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "template": {
                "spec": {
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": 886,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [
                        {
                            "name": "stack",
                            "image": "registry.example:5000/tts:3.32.0",
                            "readinessProbe": probe,
                            "livenessProbe": probe,
                            "resources": {
                                "requests": {"cpu": "100m", "memory": "128Mi"},
                                "limits": {"cpu": "1", "memory": "1Gi"},
                            },
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "capabilities": {"drop": ["ALL"]},
                            },
                        }
                    ],
                }
            }
        },
    }


def container(obj: dict[str, Any]) -> dict[str, Any]:
    c: dict[str, Any] = obj["spec"]["template"]["spec"]["containers"][0]
    return c


def test_compliant_deployment_has_no_violations() -> None:
    assert policy.check([good_deployment()]) == []


@pytest.mark.parametrize(
    ("breach", "expected"),
    [
        (lambda c: c.pop("readinessProbe"), "missing readinessProbe"),
        (lambda c: c.pop("livenessProbe"), "missing livenessProbe"),
        (lambda c: c["resources"]["limits"].pop("memory"), "missing resources.limits.memory"),
        (lambda c: c["resources"].pop("requests"), "missing resources.requests.cpu"),
        (lambda c: c.update(image="redis:latest"), "is not pinned"),
        (lambda c: c.update(image="registry.example:5000/redis"), "is not pinned"),
        (
            lambda c: c["securityContext"].pop("allowPrivilegeEscalation"),
            "allowPrivilegeEscalation",
        ),
        (
            lambda c: c["securityContext"].update(capabilities={}),
            "capabilities.drop must include ALL",
        ),
        (
            lambda c: c["securityContext"]["capabilities"].update(add=["NET_ADMIN"]),
            "adds capabilities ['NET_ADMIN']",
        ),
        (lambda c: c["securityContext"].update(privileged=True), "privileged"),
        (lambda c: c["securityContext"].update(runAsNonRoot=False), "runAsNonRoot"),
        (lambda c: c.update(ports=[{"containerPort": 1700, "hostPort": 1700}]), "hostPort 1700"),
        (
            lambda c: c["securityContext"].update(seccompProfile={"type": "Unconfined"}),
            "seccompProfile",
        ),
    ],
)
def test_container_breach_is_reported(breach: Any, expected: str) -> None:
    obj = good_deployment()
    breach(container(obj))
    violations = policy.check([obj])
    assert any(expected in v for v in violations), violations
    assert all(v.startswith("Deployment/app container stack") for v in violations)


@pytest.mark.parametrize(
    ("pod_change", "expected"),
    [
        ({"hostNetwork": True}, "hostNetwork is set"),
        ({"hostPID": True}, "hostPID is set"),
        ({"volumes": [{"name": "host", "hostPath": {"path": "/"}}]}, "uses hostPath"),
    ],
)
def test_pod_breach_is_reported(pod_change: dict[str, Any], expected: str) -> None:
    obj = good_deployment()
    obj["spec"]["template"]["spec"].update(pod_change)
    assert [v for v in policy.check([obj]) if expected in v]


def test_pod_level_seccomp_and_non_root_cover_containers() -> None:
    obj = good_deployment()
    del obj["spec"]["template"]["spec"]["securityContext"]
    violations = policy.check([obj])
    assert any("seccompProfile" in v for v in violations)
    assert any("runAsNonRoot" in v for v in violations)


def test_jobs_and_init_containers_need_no_probes_but_everything_else() -> None:
    job = good_deployment("migrate")
    job["kind"] = "Job"
    c = container(job)
    del c["readinessProbe"], c["livenessProbe"]
    assert policy.check([job]) == []
    init = copy.deepcopy(c)
    del init["resources"]
    deploy = good_deployment()
    deploy["spec"]["template"]["spec"]["initContainers"] = [init]
    assert policy.check([deploy]) == [
        "Deployment/app container stack: missing resources.requests.cpu",
        "Deployment/app container stack: missing resources.requests.memory",
        "Deployment/app container stack: missing resources.limits.cpu",
        "Deployment/app container stack: missing resources.limits.memory",
    ]


def test_sidecar_init_container_needs_probes() -> None:
    deploy = good_deployment()
    sidecar = copy.deepcopy(container(deploy))
    sidecar.update(name="proxy", restartPolicy="Always")
    del sidecar["livenessProbe"]
    deploy["spec"]["template"]["spec"]["initContainers"] = [sidecar]
    assert policy.check([deploy]) == ["Deployment/app container proxy: missing livenessProbe"]


def test_cronjob_and_pod_specs_are_found() -> None:
    pod = {"kind": "Pod", "metadata": {"name": "p"}, "spec": {"hostNetwork": True}}
    cron = {
        "kind": "CronJob",
        "metadata": {"name": "c"},
        "spec": {"jobTemplate": {"spec": {"template": {"spec": {"hostIPC": True}}}}},
    }
    assert policy.check([pod, cron]) == ["Pod/p: hostNetwork is set", "CronJob/c: hostIPC is set"]


def test_identical_service_selectors_are_reported() -> None:
    def svc(name: str, selector: dict[str, str]) -> dict[str, Any]:
        return {"kind": "Service", "metadata": {"name": name}, "spec": {"selector": selector}}

    a = svc("http", {"app": "tts"})
    b = svc("udp", {"app": "tts"})
    c = svc("udp2", {"app": "tts", "udp-gateway": "enabled"})
    assert policy.check([a, c]) == []
    assert policy.check([a, b, None]) == [
        "Service/udp: same selector as Service/http ({'app': 'tts'})"
    ]


def test_public_host_of_a_values_file() -> None:
    assert chart.public_host("publicHost: tts.contoso.net\n") == "tts.contoso.net"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("publicScheme: https\n", "sets no publicHost"),
        ("", "sets no publicHost"),
        ("publicHost: tts.example.com\n", "pass --values"),
        ("publicHost: <host>\n", "pass --values"),
    ],
)
def test_public_host_refuses_missing_or_example(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        chart.public_host(text)


def test_shipped_aks_profile_is_refused_as_deploy_values() -> None:
    text = (REPO_ROOT / "charts/thethingsstack/values-aks.yaml").read_text()
    with pytest.raises(ValueError, match="example"):
        chart.public_host(text)
