"""The chart checks of pipelines/chart.py, run for real with the pinned helm and
kubernetes-validate, plus the policy suite over every profile's rendered manifests."""

import copy
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipelines import chart, crds, policy
from tests.support.paths import CHART
from tests.support.render import find, profile_objects, run


def render(profile: str, *extra: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run([*chart.template_command(CHART, profile), *extra], check=check)


def objects(profile: str, *extra: str) -> list[dict[str, Any]]:
    return profile_objects(profile, *extra)


@pytest.mark.parametrize("profile", list(chart.PROFILES))
def test_helm_lint_strict_is_clean(profile: str) -> None:
    result = run(chart.lint_command(CHART, profile))
    print(result.stdout)
    assert "0 chart(s) failed" in result.stdout
    assert "[WARNING]" not in result.stdout
    assert "[ERROR]" not in result.stdout


def test_lint_commands_cover_every_profile() -> None:
    commands = chart.lint_commands(CHART)
    assert len(commands) == len(chart.PROFILES)
    for command in commands:
        assert run(command).returncode == 0


@pytest.mark.parametrize("profile", list(chart.PROFILES))
def test_rendered_objects_match_kubernetes_schemas(profile: str, tmp_path: Path) -> None:
    manifests = tmp_path / f"{profile}.yaml"
    manifests.write_text(render(profile).stdout)
    result = run(chart.validate_command(manifests), check=False)
    print(f"{profile}: {result.stdout}{result.stderr}")
    assert result.returncode == 0, result.stdout + result.stderr
    # Only the CRDs listed (with their reason) may go unvalidated.
    kinds = {(o["apiVersion"], o["kind"]) for o in objects(profile)}
    for line in (result.stdout + result.stderr).splitlines():
        assert "Couldn't find schema" in line, line
        assert any(f"kind {k} with api version {a}" in line for a, k in crds.CUSTOM_KINDS), line
    print(f"{profile}: skipped {sorted(kinds & crds.CUSTOM_KINDS)}")


def test_validation_rejects_a_broken_object(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: v1\nkind: Service\nmetadata: {name: x}\n"
        "spec: {ports: [{port: notanumber}], selectr: {}}\n"
    )
    result = run(chart.validate_command(bad), check=False)
    assert result.returncode != 0
    assert "notanumber" in result.stdout + result.stderr


@pytest.mark.parametrize("profile", list(chart.PROFILES))
def test_policy_suite_passes_every_profile(profile: str) -> None:
    rendered = objects(profile)
    workloads = [o for o in rendered if policy.pod_spec(o) is not None]
    print(f"{profile}: policy suite checked {len(rendered)} objects ({len(workloads)} workloads)")
    assert len(workloads) >= 3  # TTS, Redis and at least PostgreSQL or the test pod
    assert policy.check(rendered) == []


def test_policy_suite_catches_breaches_in_rendered_manifests() -> None:
    rendered = objects("kind")
    deployment = next(o for o in rendered if o["kind"] == "Deployment")
    broken = copy.deepcopy(deployment)
    stack = broken["spec"]["template"]["spec"]["containers"][0]
    stack["image"] = "tts-ci/thethingsstack:latest"
    del stack["livenessProbe"]
    stack["securityContext"]["allowPrivilegeEscalation"] = True
    broken["spec"]["template"]["spec"]["hostNetwork"] = True
    services = {o["metadata"]["name"]: o for o in rendered if o["kind"] == "Service"}
    udp, http = services["tts-thethingsstack-udp"], services["tts-thethingsstack"]
    twin = copy.deepcopy(udp)
    twin["metadata"]["name"] = "twin"
    twin["spec"]["selector"] = dict(http["spec"]["selector"])

    violations = policy.check([broken, http, twin])
    name = "Deployment/tts-thethingsstack"
    assert f"{name}: hostNetwork is set" in violations
    assert f"{name} container stack: missing livenessProbe" in violations
    assert f"{name} container stack: securityContext.allowPrivilegeEscalation must be false" in (
        violations
    )
    assert any("'tts-ci/thethingsstack:latest' is not pinned" in v for v in violations)
    assert any(
        v.startswith("Service/twin: same selector as Service/tts-thethingsstack")
        for v in violations
    )


def test_http_and_udp_services_select_the_same_pods_with_different_selectors() -> None:
    rendered = objects("aks")
    services = {o["metadata"]["name"]: o for o in rendered if o["kind"] == "Service"}
    http, udp = services["tts-thethingsstack"], services["tts-thethingsstack-udp"]
    assert http["spec"]["selector"] != udp["spec"]["selector"]
    pod_labels = next(o for o in rendered if o["kind"] == "Deployment")["spec"]["template"][
        "metadata"
    ]["labels"]
    for svc in (http, udp):
        assert svc["spec"]["selector"].items() <= pod_labels.items()
    annotations = udp["metadata"]["annotations"]
    assert annotations["service.beta.kubernetes.io/azure-pip-name"]
    assert annotations["service.beta.kubernetes.io/azure-load-balancer-resource-group"]
    assert udp["spec"]["externalTrafficPolicy"] == "Local"


def test_the_aks_profile_serves_mqtt_and_basic_station_over_tls_from_tts() -> None:
    """MQTT (8883) and the LNS (8887) on their own load balancer, TLS ended by TTS with the
    ingress's Key Vault certificate, as the secrets store mounts it; HTTP TLS stays at the
    ingress."""
    rendered = objects("aks")
    services = {o["metadata"]["name"]: o for o in rendered if o["kind"] == "Service"}
    tcp = services["tts-thethingsstack-tcp"]
    ports = {(p["port"], p["targetPort"]) for p in tcp["spec"]["ports"]}
    assert ports == {(8883, "mqtts"), (8887, "lns-tls")}
    assert tcp["spec"]["type"] == "LoadBalancer"
    deployment = next(o for o in rendered if o["kind"] == "Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert tcp["spec"]["selector"].items() <= pod_labels.items()
    assert len({str(s["spec"]["selector"]) for s in services.values()}) == len(services)
    [server] = deployment["spec"]["template"]["spec"]["containers"]
    assert {"mqtts", "lns-tls"} <= {p["name"] for p in server["ports"]}
    env = config_env("aks")
    assert env["TTN_LW_AS_MQTT_LISTEN_TLS"] == ":8883"
    assert env["TTN_LW_GS_BASIC_STATION_LISTEN_TLS"] == ":8887"
    assert env["TTN_LW_HTTP_LISTEN_TLS"] == ""  # the ingress ends HTTPS
    assert env["TTN_LW_TLS_CERTIFICATE"] == env["TTN_LW_TLS_KEY"] == "/mnt/secrets-store/tts-tls"
    assert env["TTN_LW_AS_MQTT_PUBLIC_TLS_ADDRESS"] == "mqtt.tts.example.com:8883"
    classes = {o["metadata"]["name"]: o for o in rendered if o["kind"] == "SecretProviderClass"}
    assert "objectName: tts-tls" in classes["tts-thethingsstack"]["spec"]["parameters"]["objects"]
    assert "tts-tls" not in classes["tts-thethingsstack-migrate"]["spec"]["parameters"]["objects"]
    server_policy = next(
        o for o in rendered if o["metadata"]["name"] == "tts-thethingsstack-server"
    )
    open_ports = [p for rule in server_policy["spec"]["ingress"] if "from" not in rule
                  for p in rule["ports"]]  # fmt: skip
    assert {"protocol": "TCP", "port": 8883} in open_ports
    assert {"protocol": "TCP", "port": 8887} in open_ports


def test_the_tls_certificate_must_be_in_the_vault_the_secrets_store_reads() -> None:
    other = "ingress.tls.keyVaultCertificateUri=https://other-kv.vault.azure.net/certificates/c"
    result = render("aks", "--set", other, check=False)
    assert result.returncode != 0
    assert 'is in vault "other-kv", the secrets store reads "tts-kv"' in result.stderr


def config_env(profile: str) -> dict[str, str]:
    rendered = objects(profile)
    cm = next(
        o
        for o in rendered
        if o["kind"] == "ConfigMap" and o["metadata"]["name"].endswith("-config")
    )
    data: dict[str, str] = cm["data"]
    return data


def test_kind_config_is_offline_and_lets_unregistered_gateways_connect() -> None:
    env = config_env("kind")
    assert env["TTN_LW_TELEMETRY_ENABLE"] == "false"
    assert env["TTN_LW_FREQUENCY_PLANS_CONFIG_SOURCE"] == "directory"
    assert env["TTN_LW_GS_UDP_LISTENERS"] == ":1700=EU_863_870_TTN"
    for listener in ("HTTP", "GRPC", "INTEROP", "GS_MQTT", "GS_MQTT_V2", "AS_MQTT"):
        assert env[f"TTN_LW_{listener}_LISTEN_TLS"] == ""
    assert env["TTN_LW_REDIS_ADDRESS"] == "tts-thethingsstack-redis.tts.svc:6379"
    assert env["TTN_LW_IS_DATABASE_URI"] == (
        "postgresql://ttn@tts-thethingsstack-postgresql.tts.svc:5432/ttn_lorawan?sslmode=disable"
    )
    # Secrets never land in the ConfigMap.
    assert not [k for k in env if "COOKIE" in k or "PASSWORD" in k or "SECRET" in k]
    rendered = objects("kind")
    plans = next(o for o in rendered if o["metadata"]["name"].endswith("-frequency-plans"))
    index = yaml.safe_load(plans["data"]["frequency-plans.yml"])
    assert [p["id"] for p in index] == ["EU_863_870_TTN"]
    assert yaml.safe_load(plans["data"][index[0]["file"]])["band-id"] == "EU_863_870"


def test_sentinel_profile_wires_failover() -> None:
    extra = ["--set", "redis.internal.replicas=3", "--set", "redis.internal.sentinel.enabled=true"]
    rendered = objects("default", *extra)
    env = next(o for o in rendered if o["metadata"]["name"].endswith("-config"))["data"]
    assert env["TTN_LW_REDIS_FAILOVER_ENABLE"] == "true"
    assert env["TTN_LW_REDIS_FAILOVER_MASTER_NAME"] == "tts"
    assert len(env["TTN_LW_REDIS_FAILOVER_ADDRESSES"].split()) == 3
    assert policy.check(rendered) == []
    redis = next(
        o for o in rendered if o["kind"] == "StatefulSet" and "redis" in o["metadata"]["name"]
    )
    assert redis["spec"]["podManagementPolicy"] == "Parallel"  # find-primary.sh waits for peers
    pdbs = {
        o["metadata"]["name"]: o["spec"] for o in rendered if o["kind"] == "PodDisruptionBudget"
    }
    assert pdbs["tts-thethingsstack-redis"]["maxUnavailable"] == 1


@pytest.mark.parametrize("profile", list(chart.PROFILES))
def test_volumes_outlive_uninstall_and_scale_down(profile: str) -> None:
    for obj in objects(profile):
        if obj["kind"] == "StatefulSet":
            policy_ = obj["spec"]["persistentVolumeClaimRetentionPolicy"]
            assert policy_ == {"whenDeleted": "Retain", "whenScaled": "Retain"}, obj["metadata"]


def test_a_new_redis_volume_size_keeps_the_pods_and_a_config_change_rolls_them() -> None:
    """Step 3 of the volume resize (docs/production-state.md) must not restart Redis: the new
    StatefulSet adopts the running pods only while their template is unchanged."""

    def pod_template(*extra: str) -> dict[str, Any]:
        sts = find(objects("kind", *extra), "StatefulSet", "tts-thethingsstack-redis")
        template: dict[str, Any] = sts["spec"]["template"]
        return template

    before = pod_template()
    assert pod_template("--set", "redis.internal.storage.size=16Gi") == before
    changed = pod_template("--set", "redis.internal.appendfsync=always")["metadata"]
    assert changed["annotations"] != before["metadata"]["annotations"]  # checksum/config


@pytest.mark.parametrize("profile", list(chart.PROFILES))
def test_every_profile_runs_one_tts_pod_with_the_cluster_key_from_the_secret(profile: str) -> None:
    rendered = objects(profile)
    deployment = next(o for o in rendered if o["kind"] == "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert not [o for o in rendered if o["kind"] == "HorizontalPodAutoscaler"]
    [server] = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in server["env"]}
    assert env["TTN_LW_CLUSTER_KEYS"]["valueFrom"]["secretKeyRef"]["key"] == "cluster-keys"


def _images(rendered: list[dict[str, Any]]) -> list[str]:
    out = []
    for obj in rendered:
        spec = policy.pod_spec(obj)
        for container in [
            *(spec or {}).get("initContainers", []),
            *(spec or {}).get("containers", []),
        ]:
            out.append(container["image"])
    return out


def test_the_aks_profile_pulls_every_image_from_acr() -> None:
    images = _images(objects("aks"))
    print("\n".join(sorted(set(images))))
    assert len(images) >= 3  # TTS, its migration Job, the helm test pod
    assert all(image.startswith("tts.azurecr.io/") for image in images), images
    redis_images = _images(objects("aks", "--set", "redis.mode=internal"))
    assert "tts.azurecr.io/library/redis:7.2.11-alpine" in redis_images


def test_the_aks_profile_keeps_state_in_managed_redis_over_tls_with_the_key_vault_key() -> None:
    rendered = objects("aks")
    assert not [o for o in rendered if o["kind"] == "StatefulSet"]  # no in-cluster store
    env = config_env("aks")
    assert env["TTN_LW_REDIS_ADDRESS"].endswith(".redis.azure.net:10000")
    for prefix in ("REDIS", "CACHE_REDIS", "EVENTS_REDIS"):
        assert env[f"TTN_LW_{prefix}_TLS_REQUIRE"] == "true"
        assert env[f"TTN_LW_{prefix}_FAILOVER_ENABLE"] == "false"
    [server] = next(o for o in rendered if o["kind"] == "Deployment")["spec"]["template"]["spec"][
        "containers"
    ]
    secret_env = {
        e["name"]: e["valueFrom"]["secretKeyRef"] for e in server["env"] if "valueFrom" in e
    }
    assert secret_env["TTN_LW_REDIS_PASSWORD"]["key"] == "redis-password"
    spc = next(o for o in rendered if o["kind"] == "SecretProviderClass"
               and "helm.sh/hook" not in o["metadata"].get("annotations", {}))  # fmt: skip
    objects_ = yaml.safe_load(spc["spec"]["parameters"]["objects"])["array"]
    names = {yaml.safe_load(o)["objectName"] for o in objects_}
    assert {"tts-redis-password", "tts-cluster-keys"} <= names


def test_aks_profile_uses_key_vault_and_a_migration_hook() -> None:
    rendered = objects("aks")
    kinds = {o["kind"] for o in rendered}
    assert {"SecretProviderClass", "Ingress", "ServiceMonitor", "Job"} <= kinds
    assert "Secret" not in kinds  # secrets come from Key Vault only
    job = next(o for o in rendered if o["kind"] == "Job")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    sa = next(
        o
        for o in rendered
        if o["kind"] == "ServiceAccount"
        and "helm.sh/hook" not in (o["metadata"].get("annotations") or {})
    )
    assert sa["metadata"]["name"] == "thethingsstack"
    assert sa["metadata"]["annotations"]["azure.workload.identity/client-id"]


# Each bad value an operator can write fails `helm template` with one message that names
# the key: the schema for the key itself, templates/validate for rules between keys.
SCHEMA_REFUSALS = [
    (["--set", "replicas=3"], "at '': additional properties 'replicas' not allowed"),
    (
        ["--set", "redis.internal.replica=3"],
        "at '/redis/internal': additional properties 'replica' not allowed",
    ),
    (["--set", "resources.requests.cpu=-1"], "at '/resources/requests/cpu'"),
    (["--set", "resources.limits.memory=lots"], "at '/resources/limits/memory'"),
    (
        ["--set", "redis.internal.storage.size=abc"],
        "at '/redis/internal/storage/size': 'abc' does not match pattern",
    ),
    (["--set", "postgresql.storage.size=8"], "at '/postgresql/storage/size'"),
    (["--set", "monitoring.interval=often"], "at '/monitoring/interval'"),
    (["--set", "service.udp.port=70000"], "at '/service/udp/port'"),
    (["--set", "image.digest=sha256:abc"], "at '/image/digest'"),
    (["--set", "replicaCount=two"], "at '/replicaCount': got string, want integer"),
    (["--set", "publicHost=null"], "missing property 'publicHost'"),
    (["--set", "publicHost=https://tts.example.com"], "at '/publicHost'"),
    (["--set", "tts.gatewayServer.fallbackFrequencyPlanId="], "fallbackFrequencyPlanId"),
    (["--set", "secrets.values.cookieHashKey=abc"], "at '/secrets/values/cookieHashKey'"),
    (["--set", "secrets.values.clusterKey=abc"], "at '/secrets/values/clusterKey'"),
    (["--set", "redis.mode=cluster"], "at '/redis/mode'"),
    (["--set", "workloadIdentity.clientId=me"], "at '/workloadIdentity/clientId'"),
    (["--set", "securityContext.allowPrivilegeEscalation=true"], "allowPrivilegeEscalation"),
]
RULE_REFUSALS = [
    (["--set", "image.tag=latest"], "image.tag=latest: a moving tag"),
    (["--set", "tests.image.tag=latest"], "tests.image.tag=latest: a moving tag"),
    (["--set", "secrets.existingSecret="], "secrets.existingSecret is empty"),
    (["--set", "replicaCount=2"], "replicaCount=2: the open-source Things Stack runs one"),
    (["--set", "migration.mode=hook"], "migration.mode=hook cannot reach the in-cluster"),
    (["--set", "postgresql.enabled=false"], "database.host is required when postgresql"),
    (["--set", "secrets.source=values"], "secrets.values.cookieHashKey is required"),
    (["--set", "secrets.source=keyVault"], "secrets.keyVault.name and secrets.keyVault"),
    (["--set", "redis.internal.replicas=3"], "redis.internal.replicas=3 needs redis.internal"),
    (
        ["--set", "redis.internal.replicas=2", "--set", "redis.internal.sentinel.enabled=true"],
        "Sentinel needs 3 or more",
    ),
    (["--set", "redis.mode=external"], "redis.external.address is required"),
    (["--set", "ingress.enabled=true"], "ingress.tls.keyVaultCertificateUri is required"),
    (["--set", "service.tcp.enabled=true"], "service.tcp.host is required"),
    (
        ["--set", "service.tcp.enabled=true", "--set", "service.tcp.host=mqtt.example.com"],
        "service.tcp.enabled needs tts.tls.mode=offload, secrets.source=keyVault",
    ),
]


@pytest.mark.parametrize(("args", "message"), SCHEMA_REFUSALS + RULE_REFUSALS)
def test_bad_values_fail_with_a_message_naming_the_value(args: list[str], message: str) -> None:
    result = render("default", *args, check=False)
    print(f"helm template {' '.join(args)}:\n{result.stderr}")
    assert result.returncode != 0
    assert message in result.stderr, result.stderr
    # One readable error, not a template stack dump.
    assert result.stderr.startswith("Error:")
    assert "goroutine" not in result.stderr


def test_every_broken_rule_is_listed_at_once_with_its_fix() -> None:
    args = ["--set", "replicaCount=2", "--set", "image.tag=latest",
            "--set", "secrets.existingSecret=", "--set", "redis.internal.replicas=2",
            "--set", "ingress.enabled=true"]  # fmt: skip
    result = render("default", *args, check=False)
    print(result.stderr)
    assert "5 problem(s) with the values:" in result.stderr
    problems = [line for line in result.stderr.splitlines() if line.startswith("- ")]
    assert [p.split()[1].split("=")[0] for p in problems] == [
        "replicaCount", "image.tag", "secrets.existingSecret", "redis.internal.replicas",
        "ingress.tls.keyVaultCertificateUri",
    ]  # fmt: skip
    assert "Set replicaCount: 1" in problems[0]
