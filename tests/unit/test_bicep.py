"""Static checks of bicep/: it parses, names match their consumers, inputs are validated.

The Bicep CLI cannot be installed here (it ships as a .NET binary from GitHub releases), so
these checks read the files with pycep, the parser checkov uses; `lint_bicep` runs the real
`bicep build`/`bicep lint` in the pinned azure-cli container where the network allows.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pycep
import pytest
import yaml

from pipelines import bicep
from pipelines.versions import BICEP_VERSION
from tests.support.paths import REPO_ROOT

BICEP_DIR = REPO_ROOT / "bicep"
BICEP_FILES = sorted(BICEP_DIR.rglob("*.bicep"))
PARAM_FILES = sorted(BICEP_DIR.glob("main.*.bicepparam"))

# Built-in role definition ids, checked against Microsoft's built-in roles reference
# (role JSON "name" fields) and, for Monitoring Data Reader, the Azure Monitor
# managed-Prometheus docs that assign it to Grafana.
DOCUMENTED_ROLES = {
    "7f951dda-4ed3-4680-a7ca-43fe172d538d": "AcrPull",
    "8311e382-0749-4cb8-b61a-304f252e45ec": "AcrPush",
    "4633458b-17de-408a-b874-0445c86b69e6": "Key Vault Secrets User",
    "4d97b98b-1d4f-4787-a291-c67834d212e7": "Network Contributor",
    "b0d8363b-8ddd-447d-831f-62ca05bff136": "Monitoring Data Reader",
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe": "Storage Blob Data Contributor",
    "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1": "Storage Blob Data Reader",
    "4abbcc35-e782-43d8-92c5-2d3f1bd2253f": "Azure Kubernetes Service Cluster User Role",
    "a7ffa36f-339b-4b5c-8bdf-e2c188b2c0eb": "Azure Kubernetes Service RBAC Writer",
}
GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Blob container names: 3-63 lowercase letters, digits and single hyphens, starting and ending
# with a letter or digit (Azure Storage naming rules).
CONTAINER_NAME = re.compile(r"[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}")
# kube-state-metrics series managed Prometheus keeps under its minimal ingestion profile
# (Microsoft's "Minimal ingestion profile for Prometheus metrics in Azure Monitor" and
# kubestateRegex_minimal_mac in Azure/prometheus-collector): the job ones and a few others.
MINIMAL_KUBE_STATE_METRICS = frozenset(
    {
        "kube_job_status_succeeded",
        "kube_job_spec_completions",
        "kube_job_status_start_time",
        "kube_job_status_active",
        "kube_job_failed",
        "kube_pod_owner",
        "kube_pod_status_phase",
        "kube_pod_info",
        "kube_node_info",
        "kube_deployment_spec_replicas",
    }
)


@cache
def parse(path: Path) -> dict[str, Any]:
    # pycep types its result as a TypedDict; the tests index it freely.
    tree: dict[str, Any] = dict(pycep.BicepParser().parse(text=path.read_text()))
    return tree


def decorators(node: dict[str, Any]) -> dict[str, Any]:
    return {d["type"]: d.get("argument") for d in node.get("decorators", [])}


def module_calls(tree: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """Module symbol -> (path, params), unwrapping `if (...)` modules."""
    calls = {}
    for name, module in tree.get("modules", {}).items():
        config = module["config"]
        if "condition" in config:
            config = config["config"]
        calls[name] = (module["detail"]["path"], config["params"])
    return calls


def bicepparam(path: Path) -> tuple[str, dict[str, str]]:
    """(using target, param name -> raw expression) of a .bicepparam file."""
    using = ""
    params: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line.startswith("using "):
            using = line.split(None, 1)[1].strip("'")
        elif match := re.fullmatch(r"param (\w+) = (.+)", line):
            params[match[1]] = match[2]
    return using, params


def render(text: str, values: Mapping[str, str]) -> str:
    """A Bicep string with its ${name} interpolations replaced, nested ones too."""
    for _ in range(5):
        done = re.sub(r"\$\{(\w+)\}", lambda m: values[m[1]], text)
        if done == text:
            return done
        text = done
    raise AssertionError(f"interpolation does not settle: {text}")


def string_variables(tree: dict[str, Any]) -> dict[str, str]:
    return {
        n: v["value"] for n, v in tree.get("variables", {}).items() if isinstance(v["value"], str)
    }


def test_files_exist() -> None:
    assert BICEP_DIR / "main.bicep" in BICEP_FILES
    assert len(BICEP_FILES) >= 10
    assert [p.name for p in PARAM_FILES] == ["main.dev.bicepparam", "main.prod.bicepparam"]


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: p.name)
def test_every_bicep_file_parses(path: Path) -> None:
    tree = parse(path)
    assert tree["parameters"], f"{path.name} declares no parameters"
    assert tree.get("resources") or tree.get("modules")


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: p.name)
def test_every_param_and_output_is_described(path: Path) -> None:
    tree = parse(path)
    for kind in ("parameters", "outputs"):
        for name, node in tree.get(kind, {}).items():
            description = decorators(node).get("description")
            assert description, f"{path.name}: {kind[:-1]} {name} has no @description"


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: p.name)
def test_secrets_are_secure_params_and_never_outputs(path: Path) -> None:
    tree = parse(path)
    for name, node in tree["parameters"].items():
        if re.search(r"(password|secret|key)$", name, re.IGNORECASE) and node["type"] == "string":
            assert "secure" in decorators(node), f"{path.name}: {name} must be @secure()"
    for name in tree.get("outputs", {}):
        assert not re.search(r"password|secret", name, re.IGNORECASE), f"{path.name}: {name}"


def test_main_outputs_cover_the_shared_names() -> None:
    outputs = parse(BICEP_DIR / "main.bicep")["outputs"]
    consumed = (
        set(bicep.GITHUB_VARIABLES)
        | set(bicep.CHART_VALUE_OUTPUTS)
        | set(bicep.OPTIONAL_CHART_VALUE_OUTPUTS)
    )
    missing = consumed - set(outputs)
    assert not missing, f"main.bicep lacks outputs consumed downstream: {sorted(missing)}"
    for name in consumed:
        assert outputs[name]["type"] == "string", name


def test_module_calls_match_module_parameters() -> None:
    main = parse(BICEP_DIR / "main.bicep")
    for symbol, (path, params) in module_calls(main).items():
        declared = parse(BICEP_DIR / path)["parameters"]
        required = {n for n, p in declared.items() if p.get("default") is None}
        assert set(params) <= set(declared), f"{symbol}: unknown {set(params) - set(declared)}"
        assert required <= set(params), f"{symbol}: missing {required - set(params)}"


def test_module_outputs_used_in_main_exist() -> None:
    main_text = (BICEP_DIR / "main.bicep").read_text()
    calls = module_calls(parse(BICEP_DIR / "main.bicep"))
    used = set(re.findall(r"\b(\w+)!?\.outputs\.(\w+)", main_text))
    assert used
    for symbol, output in used:
        outputs = parse(BICEP_DIR / calls[symbol][0]).get("outputs", {})
        assert output in outputs, f"main.bicep reads {symbol}.outputs.{output}, not declared"


def test_role_definition_ids_are_documented_builtins() -> None:
    found: dict[str, set[str]] = {}
    for path in BICEP_FILES:
        for guid in GUID.findall(path.read_text()):
            found.setdefault(guid, set()).add(path.name)
    unknown = set(found) - set(DOCUMENTED_ROLES)
    assert not unknown, f"role ids not in the documented table: {unknown}"
    # The five the design requires are all wired.
    for role in (
        "AcrPull",
        "AcrPush",
        "Key Vault Secrets User",
        "Network Contributor",
        "Monitoring Data Reader",
    ):
        guid = next(g for g, n in DOCUMENTED_ROLES.items() if n == role)
        assert guid in found, f"{role} ({guid}) is never assigned"


def test_role_id_variables_name_their_role() -> None:
    # A variable named for one role must hold that role's id (catches swapped GUIDs).
    expected = {
        "acrPullRoleId": "AcrPull",
        "acrPushRoleId": "AcrPush",
        "secretsUserRoleId": "Key Vault Secrets User",
        "networkContributorRoleId": "Network Contributor",
        "monitoringDataReaderRoleId": "Monitoring Data Reader",
        "blobDataContributorRoleId": "Storage Blob Data Contributor",
        "aksClusterUserRoleId": "Azure Kubernetes Service Cluster User Role",
        "aksRbacWriterRoleId": "Azure Kubernetes Service RBAC Writer",
    }
    seen = set()
    for path in BICEP_FILES:
        for var, value in parse(path).get("variables", {}).items():
            if var in expected:
                seen.add(var)
                assert DOCUMENTED_ROLES[value["value"]] == expected[var], f"{path.name}: {var}"
    assert seen == set(expected)


def test_api_versions_are_stable_unless_commented() -> None:
    for path in BICEP_FILES:
        lines = path.read_text().splitlines()
        for number, line in enumerate(lines):
            if re.search(r"@\d{4}-\d{2}-\d{2}-preview'", line):
                previous = lines[number - 1].strip()
                where = f"{path.name}:{number + 1} uses a preview API"
                assert previous.startswith("//"), f"{where} without a comment saying why"
                assert "preview" in previous, f"{where}; the comment above must say why"
        for name, resource in parse(path).get("resources", {}).items():
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2}(-preview)?", resource["api_version"]), name


def test_aks_is_automatic_without_agent_pools() -> None:
    text = (BICEP_DIR / "modules" / "aks.bicep").read_text()
    cluster = parse(BICEP_DIR / "modules" / "aks.bicep")["resources"]["cluster"]
    assert cluster["config"]["sku"]["name"] == "Automatic"
    props = cluster["config"]["properties"]
    assert "agentPoolProfiles" not in props
    assert props["networkProfile"]["networkDataplane"] == "cilium"
    assert props["oidcIssuerProfile"]["enabled"] is True
    assert props["securityProfile"]["workloadIdentity"]["enabled"] is True
    assert props["aadProfile"]["enableAzureRBAC"] is True
    assert props["ingressProfile"]["webAppRouting"]["enabled"] is True
    assert props["azureMonitorProfile"]["metrics"]["enabled"] is True
    assert props["addonProfiles"]["omsagent"]["enabled"] is True
    kv = props["addonProfiles"]["azureKeyvaultSecretsProvider"]
    assert kv["enabled"] is True
    assert kv["config"]["enableSecretRotation"] == "true"
    assert "nodeProvisioningProfile" in text


def test_prometheus_is_wired_explicitly() -> None:
    resources = parse(BICEP_DIR / "modules" / "cluster-monitoring.bicep")["resources"]
    types = [r["type"] for r in resources.values()]
    assert types.count("Microsoft.Insights/dataCollectionRuleAssociations") == 3
    kinds = []  # what each rule group holds: recording rules or alert rules, never both
    for resource in resources.values():
        if resource["type"] == "Microsoft.AlertsManagement/prometheusRuleGroups":
            rules = resource["config"]["properties"]["rules"]
            (kind,) = {k for rule in rules for k in ("record", "alert") if k in rule}
            kinds.append(kind)
    assert sorted(kinds) == ["alert", "record", "record"]
    dcr = parse(BICEP_DIR / "modules" / "monitoring.bicep")["resources"]["prometheusDcr"]
    assert dcr["config"]["properties"]["dataFlows"][0]["streams"] == ["Microsoft-PrometheusMetrics"]


def test_managed_redis_is_the_default_non_clustered_and_persistent() -> None:
    main = parse(BICEP_DIR / "main.bicep")
    assert main["modules"]["redis"]["config"]["condition"] == "enableManagedRedis"
    assert main["parameters"]["enableManagedRedis"]["default"] is True
    for path in PARAM_FILES:  # values-aks.yaml expects it in every environment
        assert "param enableManagedRedis = true" in path.read_text(), path.name
    db = parse(BICEP_DIR / "modules" / "redis.bicep")["resources"]["database"]["config"]
    assert db["properties"]["clusteringPolicy"] == "NoCluster"
    assert db["properties"]["port"] == 10000
    assert db["properties"]["clientProtocol"] == "Encrypted"
    assert db["properties"]["persistence"]["aofFrequency"] == "1s"
    assert main["modules"]["redis"]["config"]["config"]["params"]["persistAof"] is True


def test_the_ci_identity_may_read_the_signing_key_and_sign_nothing_more() -> None:
    signing = parse(BICEP_DIR / "modules" / "signing.bicep")["resources"]
    key = signing["signingKey"]["config"]["properties"]
    assert (key["kty"], key["curveName"]) == ("EC-HSM", "P-256")  # ES256, what cosign verifies
    assert key["keyOps"] == ["sign", "verify"]
    assert key["attributes"]["exportable"] is False
    role = signing["signerRole"]["config"]["properties"]
    (permissions,) = role["permissions"]
    assert permissions["actions"] == []
    assert sorted(permissions["dataActions"]) == [
        "Microsoft.KeyVault/vaults/keys/read",
        "Microsoft.KeyVault/vaults/keys/sign/action",
    ]
    assignment = signing["signer"]["config"]
    assert assignment["scope"] == "signingKey"  # the one key, not the vault
    main = (BICEP_DIR / "main.bicep").read_text()
    assert "signerPrincipalId: identities.outputs.githubPrincipalId\n" in main


def accessor(*names: object) -> object:
    """pycep's tree of a Bicep property access such as exporterRole.id or a.outputs.b."""
    first, *rest = names
    if not rest:
        return first
    return {
        "operator": {
            "type": "property_accessor",
            "operands": {"operand_1": first, "operand_2": accessor(*rest)},
        }
    }


# pycep's tree of resourceGroup().id
RESOURCE_GROUP_ID = accessor(
    {
        "function": {
            "type": "resource_group",
            "parameters": {"resource_group_name": None, "subscription_id": None},
        }
    },
    "id",
)


def guid_call(*parts: object) -> dict[str, Any]:
    """pycep's tree of the Bicep call guid(parts...)."""
    names = ["base_string", *(f"extra_string_{i}" for i in range(1, len(parts)))]
    return {"function": {"type": "guid", "parameters": dict(zip(names, parts, strict=True))}}


def redis_resources() -> dict[str, Any]:
    resources: dict[str, Any] = parse(BICEP_DIR / "modules" / "redis.bicep")["resources"]
    return resources


def test_the_managed_redis_exporter_role_may_export_and_follow_the_export_only() -> None:
    resources = redis_resources()
    roles = [
        n for n, r in resources.items() if r["type"] == "Microsoft.Authorization/roleDefinitions"
    ]
    assert roles == ["exporterRole"]
    role = resources["exporterRole"]["config"]
    # A custom role is one per tenant and name: guid() of the resource group keeps it stable
    # across deployments and distinct between resource groups, as its roleName is.
    assert role["name"] == guid_call(RESOURCE_GROUP_ID, "tts-managed-redis-exporter")
    props = role["properties"]
    assert props["roleName"] == "TTS Managed Redis exporter (${resourceGroup().name})"
    assert props["type"] == "customRole"
    (permissions,) = props["permissions"]
    # Export (POST <database>/export), read the database, and poll the export's
    # Azure-AsyncOperation URL (.../locations/<region>/operationsStatus/<id>); no listKeys,
    # write, import or flush, and no data actions.
    assert sorted(permissions["actions"]) == [
        "Microsoft.Cache/locations/operationsStatus/read",
        "Microsoft.Cache/redisEnterprise/databases/export/action",
        "Microsoft.Cache/redisEnterprise/databases/read",
    ]
    assert permissions["notActions"] == []
    assert permissions["dataActions"] == []
    assert permissions["notDataActions"] == []
    assert props["assignableScopes"] == [RESOURCE_GROUP_ID]


def test_the_tts_identity_holds_the_exporter_role_where_it_can_follow_the_export() -> None:
    resources = redis_resources()
    assignments = [
        n for n, r in resources.items() if r["type"] == "Microsoft.Authorization/roleAssignments"
    ]
    assert assignments == ["exporter"]
    assignment = resources["exporter"]["config"]
    # No scope: the resource group, which holds this one cache. The database alone would let
    # the job start the export but not poll its status URL, which lies outside the database
    # (Microsoft's "Track asynchronous Azure operations": rights at the resource group level).
    assert "scope" not in assignment
    role_id = accessor("exporterRole", "id")
    assert assignment["name"] == guid_call(RESOURCE_GROUP_ID, "ttsPrincipalId", role_id)
    props = assignment["properties"]
    assert props["principalId"] == "ttsPrincipalId"
    assert props["principalType"] == "ServicePrincipal"
    assert props["roleDefinitionId"] == role_id
    param = parse(BICEP_DIR / "modules" / "redis.bicep")["parameters"]["ttsPrincipalId"]
    assert (param["type"], param["default"]) == ("string", None)
    calls = module_calls(parse(BICEP_DIR / "main.bicep"))
    tts_principal = accessor("identities", "outputs", "ttsPrincipalId")
    assert calls["redis"][1]["ttsPrincipalId"] == tts_principal
    assert calls["storage"][1]["ttsPrincipalId"] == tts_principal  # the same identity


def test_the_managed_redis_database_id_is_an_output_for_the_backup() -> None:
    redis = parse(BICEP_DIR / "modules" / "redis.bicep")
    database = redis["resources"]["database"]
    assert database["type"] == "Microsoft.Cache/redisEnterprise/databases"
    assert database["config"]["name"] == "default"  # the one database the backup exports
    output = redis["outputs"]["redisDatabaseId"]
    assert (output["type"], output["value"]) == ("string", accessor("database", "id"))
    assert "backup.managedRedisDatabaseId" in decorators(output)["description"]
    main = parse(BICEP_DIR / "main.bicep")["outputs"]
    output = main["redisDatabaseId"]
    assert output["type"] == "string"
    # Empty without Managed Redis, like the other redis outputs.
    assert output["value"] == {
        "operator": {
            "type": "conditional",
            "operands": {
                "condition": "enableManagedRedis",
                "true_value": accessor("redis", "outputs", "redisDatabaseId"),
                "false_value": "",
            },
        }
    }
    assert main["redisHost"]["value"]["operator"]["operands"]["condition"] == "enableManagedRedis"
    assert "backup.managedRedisDatabaseId" in decorators(output)["description"]


def test_federated_credentials_on_one_identity_are_serialised() -> None:
    creds = parse(BICEP_DIR / "modules" / "identities.bicep")["resources"]["githubCredentials"]
    assert {"type": "batchSize", "argument": 1} in creds["decorators"]


@pytest.mark.parametrize("path", PARAM_FILES, ids=lambda p: p.name)
def test_parameter_files_cover_every_required_parameter(path: Path) -> None:
    using, given = bicepparam(path)
    assert using == "./main.bicep"
    declared = parse(BICEP_DIR / "main.bicep")["parameters"]
    required = {name for name, node in declared.items() if node.get("default") is None}
    assert required <= set(given), f"{path.name} misses {sorted(required - set(given))}"
    assert set(given) <= set(declared), f"{path.name} sets unknown {set(given) - set(declared)}"
    for name, raw in given.items():
        allowed = decorators(declared[name]).get("allowed")
        literal = re.fullmatch(r"'([^']*)'|(\d+)", raw)
        if allowed and literal:
            value: object = literal[1] if literal[1] is not None else int(literal[2])
            assert value in allowed, f"{path.name}: {name} = {raw} not in {allowed}"


@pytest.mark.parametrize("path", PARAM_FILES, ids=lambda p: p.name)
def test_parameter_files_read_secrets_from_the_environment(path: Path) -> None:
    _, given = bicepparam(path)
    declared = parse(BICEP_DIR / "main.bicep")["parameters"]
    env_names = set()
    for name, raw in given.items():
        if "secure" in decorators(declared[name]):
            match = re.fullmatch(r"readEnvironmentVariable\('(\w+)'\)", raw)
            assert match, f"{path.name}: secure {name} must come from the environment"
        env_names |= set(re.findall(r"readEnvironmentVariable\('(\w+)'", raw))
    assert env_names == set(bicep.PARAMETER_ENV_VARS)


@pytest.mark.parametrize("path", PARAM_FILES, ids=lambda p: p.name)
def test_parameter_file_environment_matches_its_name(path: Path) -> None:
    _, given = bicepparam(path)
    assert given["environmentName"] == f"'{path.name.split('.')[1]}'"


def test_every_suppression_has_a_reason() -> None:
    skips = 0
    for path in BICEP_FILES:
        for line in path.read_text().splitlines():
            if "checkov:skip" in line:
                skips += 1
                assert re.fullmatch(r"\s*//checkov:skip=CKV2?_AZURE_\d+: \S.{20,}", line), line
    assert skips > 0


def test_dashboards_use_only_recorded_rules() -> None:
    rules_text = (BICEP_DIR / "modules" / "cluster-monitoring.bicep").read_text()
    recorded = set(re.findall(r"record: '([^']+)'", rules_text))
    dashboards = sorted((BICEP_DIR / "dashboards").glob("*.json"))
    assert [d.name for d in dashboards] == ["ingress.json", "tts.json"]
    for dashboard in dashboards:
        model = json.loads(dashboard.read_text())
        exprs = [t["expr"] for p in model["panels"] for t in p["targets"]]
        assert exprs, dashboard.name
        for expr in exprs:
            for name in re.findall(r"[a-z_]+:[a-z_]+:[a-z0-9_]+", expr):
                assert name in recorded, f"{dashboard.name} reads unrecorded {name}"
    tts = json.loads((BICEP_DIR / "dashboards" / "tts.json").read_text())
    text = json.dumps(tts)
    for metric in ("ttn_lw_gs_io_udp", "ttn_lw_gs_uplink", "downlink", "ttn_lw_redis", "grpc"):
        assert metric in text, metric


def storage_resources() -> dict[str, Any]:
    resources: dict[str, Any] = parse(BICEP_DIR / "modules" / "storage.bicep")["resources"]
    return resources


def test_backup_container_name_is_validated_and_never_public() -> None:
    main = parse(BICEP_DIR / "main.bicep")
    storage = parse(BICEP_DIR / "modules" / "storage.bicep")
    for tree in (main, storage):
        param = tree["parameters"]["backupContainerName"]
        assert param["type"] == "string"
        assert decorators(param)["min_length"] == 3
        assert decorators(param)["max_length"] == 63
    default = main["parameters"]["backupContainerName"]["default"]
    assert default == "tts-backups"
    assert CONTAINER_NAME.fullmatch(default)
    assert default != main["parameters"]["blobContainerName"]["default"]
    container = storage_resources()["backupContainer"]["config"]
    assert container["name"] == "backupContainerName"
    assert container["properties"]["publicAccess"] == "None"  # a literal: publicBlobRead aside
    _, params = module_calls(main)["storage"]
    assert params["backupContainerName"] == "backupContainerName"
    assert "backupContainerName" in main["outputs"]
    assert "backupContainerName" in storage["outputs"]


def test_the_ci_identity_may_only_read_the_backup_container() -> None:
    """The nightly restore drill reads backups; CI must not delete them or read pictures."""
    assignment = storage_resources()["ciBackupReader"]["config"]
    assert assignment["scope"] == "backupContainer"
    properties = assignment["properties"]
    assert properties["principalId"] == "githubPrincipalId"
    assert "blobDataReaderRoleId" in str(properties["roleDefinitionId"])
    variables = string_variables(parse(BICEP_DIR / "modules" / "storage.bicep"))
    assert DOCUMENTED_ROLES[variables["blobDataReaderRoleId"]] == "Storage Blob Data Reader"
    _, params = module_calls(parse(BICEP_DIR / "main.bicep"))["storage"]
    assert params["githubPrincipalId"] == accessor("identities", "outputs", "githubPrincipalId")


@pytest.mark.parametrize("name", ["tts-backups", "abc", "a1-b2", "x" * 63])
def test_container_name_pattern_accepts_valid_names(name: str) -> None:
    assert CONTAINER_NAME.fullmatch(name)


@pytest.mark.parametrize("name", ["ab", "TTS-backups", "tts--backups", "-tts", "tts-", "x" * 64])
def test_container_name_pattern_rejects_invalid_names(name: str) -> None:
    assert not CONTAINER_NAME.fullmatch(name)


def test_backup_lifecycle_rule_deletes_only_old_backups() -> None:
    main = parse(BICEP_DIR / "main.bicep")
    days = main["parameters"]["backupRetentionDays"]
    assert days["default"] is None  # each environment chooses
    assert (decorators(days)["min_value"], decorators(days)["max_value"]) == (7, 3650)
    policy = storage_resources()["backupLifecycle"]
    assert policy["type"] == "Microsoft.Storage/storageAccounts/managementPolicies"
    assert policy["config"]["name"] == "default"
    (rule,) = policy["config"]["properties"]["policy"]["rules"]
    assert (rule["type"], rule["enabled"]) == ("Lifecycle", True)
    filters = rule["definition"]["filters"]
    assert filters["blobTypes"] == ["blockBlob"]
    (prefix,) = filters["prefixMatch"]
    # The trailing slash keeps the rule inside the one container: without it, every container
    # whose name starts alike (tts-backups-old, ...) would match.
    assert render(prefix, {"backupContainerName": "tts-backups"}) == "tts-backups/"
    assert rule["definition"]["actions"] == {
        "baseBlob": {"delete": {"daysAfterCreationGreaterThan": "backupRetentionDays"}}
    }
    _, params = module_calls(main)["storage"]
    assert params["backupRetentionDays"] == "backupRetentionDays"


def test_backup_worm_only_when_immutable_and_not_yet_locked() -> None:
    resources = storage_resources()
    worm = [r for r in resources.values() if r["type"].endswith("/immutabilityPolicies")]
    assert worm == [resources["backupImmutability"]]  # the upload container stays mutable
    config = worm[0]["config"]
    assert config["condition"] == {
        "operator": {
            "type": "and",
            "operands": {
                "operand_1": "backupImmutable",
                "operand_2": {
                    "operator": {
                        "type": "not",
                        "operands": {"bool_value": "backupImmutabilityLocked"},
                    }
                },
            },
        }
    }
    policy = config["config"]
    assert (policy["parent"], policy["name"]) == ("backupContainer", "default")
    # The WORM period is the lifecycle rule's age: a blob is due for deletion once unprotected.
    assert policy["properties"] == {
        "immutabilityPeriodSinceCreationInDays": "backupRetentionDays",
        "allowProtectedAppendWrites": False,
    }
    main = parse(BICEP_DIR / "main.bicep")
    assert main["parameters"]["backupImmutable"]["default"] is None
    assert main["parameters"]["backupImmutabilityLocked"]["default"] is False
    _, params = module_calls(main)["storage"]
    assert params["backupImmutable"] == "backupImmutable"
    assert params["backupImmutabilityLocked"] == "backupImmutabilityLocked"


def test_blob_service_has_nothing_that_conflicts_with_worm() -> None:
    # Point-in-time restore and last-access tracking are incompatible with immutability
    # policies; versioning would be needed only for version-level WORM, which is not used.
    props = storage_resources()["blobService"]["config"]["properties"]
    assert not {"restorePolicy", "lastAccessTimeTrackingPolicy", "isVersioningEnabled"} & set(props)
    assert props["deleteRetentionPolicy"]["enabled"] is True


@pytest.mark.parametrize(("env", "immutable"), [("dev", "false"), ("prod", "true")])
def test_parameter_files_set_backup_retention_and_worm(env: str, immutable: str) -> None:
    _, given = bicepparam(BICEP_DIR / f"main.{env}.bicepparam")
    assert given["backupImmutable"] == immutable
    assert 7 <= int(given["backupRetentionDays"]) <= 3650


def test_prod_keeps_backups_longer_than_dev() -> None:
    _, dev = bicepparam(BICEP_DIR / "main.dev.bicepparam")
    _, prod = bicepparam(BICEP_DIR / "main.prod.bicepparam")
    assert int(prod["backupRetentionDays"]) > int(dev["backupRetentionDays"])


def backup_alert_rules() -> dict[str, dict[str, Any]]:
    """Alert name -> rule, with its expression rendered for namespace tts."""
    tree = parse(BICEP_DIR / "modules" / "cluster-monitoring.bicep")
    values = string_variables(tree) | {"ttsNamespace": "tts"}
    group = tree["resources"]["backupAlerts"]["config"]["properties"]
    rules = {
        r["alert"]: r | {"expression": render(r["expression"], values)} for r in group["rules"]
    }
    return rules


def empty_call(name: str) -> dict[str, Any]:
    """pycep's tree of the Bicep call empty(name)."""
    return {"function": {"type": "empty", "parameters": {"item_to_test": name}}}


def selectors(expression: str) -> list[str]:
    return re.findall(r"\b[a-z_]+\{([^}]*)\}", expression)


def test_backup_alerts_watch_the_tts_backup_cronjob() -> None:
    rules = backup_alert_rules()
    assert set(rules) == {"TTSBackupJobFailed", "TTSBackupMissing"}
    failed = rules["TTSBackupJobFailed"]["expression"]
    missing = rules["TTSBackupMissing"]["expression"]
    jobs = 'job_name=~"tts-thethingsstack-backup-.+"'
    cronjob = 'cronjob="tts-thethingsstack-backup"'
    assert f'kube_job_failed{{namespace="tts", {jobs}, condition="true"}} == 1' in failed
    assert f'kube_cronjob_status_last_successful_time{{namespace="tts", {cronjob}}}' in failed
    assert (
        "time() - max by (cluster, namespace, cronjob) (kube_cronjob_status_last_successful_time"
        '{namespace="tts", cronjob="tts-thethingsstack-backup"}) > 26 * 3600'
    ) in missing
    for name, rule in rules.items():
        expression = rule["expression"]
        assert expression.count("(") == expression.count(")"), name
        assert "${" not in expression, name
        found = selectors(expression)
        assert found, name
        for selector in found:  # every series is the release's namespace, never the cluster's
            assert selector.startswith('namespace="tts", '), (name, selector)
        assert rule["severity"] in range(5), name
        assert re.fullmatch(r"PT\d+M", rule["for"]), name
        assert rule["annotations"]["description"], name
        assert rule["actions"] == "alertActions", name


@pytest.mark.parametrize(
    ("job", "matches"),
    [
        ("tts-thethingsstack-backup-29403240", True),
        ("tts-thethingsstack-backup-manual-1", True),
        ("tts-thethingsstack-backups-1", False),
        ("tts-migrate-1", False),
    ],
)
def test_failed_job_selector_matches_only_backup_jobs(job: str, matches: bool) -> None:
    failed = backup_alert_rules()["TTSBackupJobFailed"]["expression"]
    pattern = re.search(r'job_name=~"([^"]+)"', failed)
    assert pattern
    assert bool(re.fullmatch(pattern[1], job)) is matches


def test_backup_alerts_are_wired_to_the_namespace_and_action_group() -> None:
    main = parse(BICEP_DIR / "main.bicep")
    _, params = module_calls(main)["clusterMonitoring"]
    assert params["ttsNamespace"] == "ttsNamespace"
    main_text = (BICEP_DIR / "main.bicep").read_text()
    assert "actionGroupId: monitoring.outputs.actionGroupId\n" in main_text
    assert main["parameters"]["alertEmail"]["default"] == ""
    monitoring = parse(BICEP_DIR / "modules" / "monitoring.bicep")
    group = monitoring["resources"]["alertActionGroup"]["config"]
    not_empty = {"operator": {"type": "not", "operands": {"bool_value": empty_call("alertEmail")}}}
    assert group["condition"] == not_empty  # no address, no action group
    (receiver,) = group["config"]["properties"]["emailReceivers"]
    assert receiver["emailAddress"] == "alertEmail"
    cluster_monitoring = parse(BICEP_DIR / "modules" / "cluster-monitoring.bicep")
    branches = cluster_monitoring["variables"]["alertActions"]["value"]["operator"]["operands"]
    assert branches["condition"] == empty_call("actionGroupId")
    assert branches["true_value"] == []
    assert branches["false_value"] == [{"actionGroupId": "actionGroupId"}]


def test_alert_series_outside_the_minimal_profile_are_kept_by_the_configmap() -> None:
    configmap = yaml.safe_load((BICEP_DIR / "ama-metrics-settings-configmap.yaml").read_text())
    assert configmap["metadata"] == {
        "name": "ama-metrics-settings-configmap",
        "namespace": "kube-system",
    }
    assert configmap["data"]["schema-version"] == "v1"
    keep = tomllib.loads(configmap["data"]["default-targets-metrics-keep-list"])
    assert keep["minimalingestionprofile"] is True  # added to the profile, not instead of it
    used = {
        metric
        for rule in backup_alert_rules().values()
        for metric in re.findall(r"\b(kube_[a-z_]+)\{", rule["expression"])
    }
    missing = used - MINIMAL_KUBE_STATE_METRICS
    assert "kube_cronjob_status_last_successful_time" in missing  # the check has work to do
    for metric in sorted(missing):
        assert re.fullmatch(keep["kubestate"], metric), f"{metric} is dropped by managed Prometheus"
    # Nothing wholesale: ".*" would ingest every kube-state-metrics series.
    assert not re.fullmatch(keep["kubestate"], "kube_secret_info")


# The optional CI runner cluster (modules/ci-runners.bicep)

CI_RUNNERS = BICEP_DIR / "modules" / "ci-runners.bicep"
CI_OUTPUTS = {
    "ciClusterName": "clusterName",
    "ciEngineTaint": "engineTaint",
    "ciEngineNodeLabel": "engineNodeLabel",
}
# Temp (resource) disk in GiB of the Ddsv5 sizes, from Microsoft's "Ddv5 and Ddsv5-series"
# size table. An ephemeral OS disk placed on the temp disk must be no larger than it
# ("Ephemeral OS disks for Azure VMs", size requirements).
DDSV5_TEMP_DISK_GIB = {
    "Standard_D2ds_v5": 75,
    "Standard_D4ds_v5": 150,
    "Standard_D8ds_v5": 300,
    "Standard_D16ds_v5": 600,
}


def ci_tree() -> dict[str, Any]:
    return parse(CI_RUNNERS)


def ci_cluster() -> dict[str, Any]:
    cluster: dict[str, Any] = ci_tree()["resources"]["cluster"]
    return cluster


def ci_pools() -> dict[str, dict[str, Any]]:
    profiles = ci_cluster()["config"]["properties"]["agentPoolProfiles"]
    return {pool["name"]: pool for pool in profiles}


def ci_values() -> dict[str, str]:
    """The module's string variables, for rendering its ${...} expressions."""
    return string_variables(ci_tree())


def test_ci_runners_are_off_by_default_and_deployed_only_when_enabled() -> None:
    main = parse(BICEP_DIR / "main.bicep")
    param = main["parameters"]["enableCiRunners"]
    assert (param["type"], param["default"]) == ("bool", False)
    module = main["modules"]["ciRunners"]
    assert module["detail"]["path"] == "modules/ci-runners.bicep"
    assert module["config"]["condition"] == "enableCiRunners"
    for path in PARAM_FILES:  # off, and said so, in every environment
        assert bicepparam(path)[1]["enableCiRunners"] == "false", path.name
    # Every output that reads the module is empty without it, like the Redis ones.
    for name, module_output in CI_OUTPUTS.items():
        output = main["outputs"][name]
        assert output["type"] == "string", name
        assert output["value"] == {
            "operator": {
                "type": "conditional",
                "operands": {
                    "condition": "enableCiRunners",
                    "true_value": accessor("ciRunners", "outputs", module_output),
                    "false_value": "",
                },
            }
        }, name
        assert "enableCiRunners" in decorators(output)["description"], name
    main_text = (BICEP_DIR / "main.bicep").read_text()
    assert set(re.findall(r"\bciRunners!?\.outputs\.(\w+)", main_text)) == set(CI_OUTPUTS.values())
    assert "ciRunners!.outputs." in main_text  # never read unguarded


def test_ci_cluster_is_aks_standard_not_automatic() -> None:
    cluster = ci_cluster()
    assert cluster["type"] == "Microsoft.ContainerService/managedClusters"
    app = parse(BICEP_DIR / "modules" / "aks.bicep")["resources"]["cluster"]
    assert cluster["api_version"] == app["api_version"]
    config = cluster["config"]
    # Automatic's deployment safeguards deny the engine's privileged pod: Base SKU, paid tier.
    assert config["sku"] == {"name": "Base", "tier": "Standard"}
    props = config["properties"]
    assert not {"hostedSystemProfile", "nodeProvisioningProfile"} & set(props)
    assert "azurepolicy" not in props.get("addonProfiles", {})  # no safeguards to enforce
    assert props["disableLocalAccounts"] is True
    assert props["enableRBAC"] is True
    assert props["aadProfile"] == {"managed": True, "enableAzureRBAC": True}
    assert props["oidcIssuerProfile"]["enabled"] is True
    assert props["securityProfile"]["workloadIdentity"]["enabled"] is True
    assert props["autoUpgradeProfile"] == {
        "upgradeChannel": "patch",
        "nodeOSUpgradeChannel": "NodeImage",
    }
    network = props["networkProfile"]
    assert (network["networkPlugin"], network["networkPluginMode"]) == ("azure", "overlay")
    assert network["networkDataplane"] == network["networkPolicy"] == "cilium"
    access = props["apiServerAccessProfile"]["authorizedIPRanges"]["operator"]["operands"]
    assert access["false_value"] == "apiServerAuthorizedIpRanges"
    # The application cluster's version and API allow-list, and a name of its own.
    _, params = module_calls(parse(BICEP_DIR / "main.bicep"))["ciRunners"]
    assert params["kubernetesVersion"] == "kubernetesVersion"
    assert params["apiServerAuthorizedIpRanges"] == "apiServerAuthorizedIpRanges"
    main_vars = string_variables(parse(BICEP_DIR / "main.bicep"))
    names = {"namePrefix": "tts-dev"}
    assert render(params["clusterName"], names) == "tts-dev-ci-aks"
    assert render(params["clusterName"], names) != render(main_vars["aksClusterName"], names)


def test_ci_pool_runs_the_engine_on_an_ephemeral_os_disk_the_size_of_the_temp_disk() -> None:
    tree = ci_tree()
    pools = ci_pools()
    assert set(pools) == {"system", "ci"}
    ci = pools["ci"]
    assert ci["mode"] == "User"
    assert ci["vmSize"] == "engineVmSize"
    assert ci["osDiskType"] == "Ephemeral"
    assert ci["kubeletDiskType"] == "OS"  # kubelet, images and /var/lib/dagger on that disk
    assert ci["osDiskSizeGB"] == {
        "operator": {
            "type": "index_accessor",
            "operands": {"operand_1": "engineTempDiskGB", "operand_2": "engineVmSize"},
        }
    }
    sizes = tree["variables"]["engineTempDiskGB"]["value"]
    assert sizes == {size: DDSV5_TEMP_DISK_GIB[size] for size in sizes}
    # Every size main.bicep and the module allow has a temp-disk size, and no other.
    allowed = decorators(tree["parameters"]["engineVmSize"])["allowed"]
    main_param = parse(BICEP_DIR / "main.bicep")["parameters"]["ciEngineVmSize"]
    assert allowed == decorators(main_param)["allowed"]
    assert sorted(allowed) == sorted(sizes)
    assert main_param["default"] == "Standard_D8ds_v5"
    # Autoscaled between the parameters, ciMaxNodes 3 by default.
    assert ci["enableAutoScaling"] is True
    assert (ci["count"], ci["minCount"], ci["maxCount"]) == (
        "engineMinNodes",
        "engineMinNodes",
        "engineMaxNodes",
    )
    _, params = module_calls(parse(BICEP_DIR / "main.bicep"))["ciRunners"]
    assert (params["engineMinNodes"], params["engineMaxNodes"]) == ("ciMinNodes", "ciMaxNodes")
    assert parse(BICEP_DIR / "main.bicep")["parameters"]["ciMaxNodes"]["default"] == 3
    # Only the engine and the runners land here.
    values = ci_values()
    (taint,) = ci["nodeTaints"]
    assert render(taint, values) == "tts-ci/engine=true:NoSchedule"
    ((key, value),) = ci["nodeLabels"].items()
    assert (render(key.strip("'"), values), values[value]) == ("tts-ci/pool", "engine")
    # Modest: well below Azure CNI Overlay's 250, whose kubelet memory reservation is ~5 GB.
    assert ci["maxPods"] == "maxPods"
    assert 30 <= tree["variables"]["maxPods"]["value"] <= 50


def test_ci_system_pool_is_small_and_keeps_workloads_off() -> None:
    tree = ci_tree()
    system = ci_pools()["system"]
    assert system["mode"] == "System"
    assert system["nodeTaints"] == ["CriticalAddonsOnly=true:NoSchedule"]
    assert (system["minCount"], system["maxCount"]) == (1, 2)
    assert system["osDiskType"] == "Ephemeral"
    size = ci_values()[system["vmSize"]]
    disk = tree["variables"][system["osDiskSizeGB"]]["value"]
    assert disk <= DDSV5_TEMP_DISK_GIB[size], f"{disk} GiB OS disk on {size}"
    assert ci_pools()["ci"]["nodeTaints"] != system["nodeTaints"]


def test_ci_outputs_are_the_pool_taint_and_label() -> None:
    outputs = ci_tree()["outputs"]
    values = ci_values()
    ci = ci_pools()["ci"]
    assert render(outputs["engineTaint"]["value"], values) == render(ci["nodeTaints"][0], values)
    ((key, value),) = ci["nodeLabels"].items()
    label = render(key.strip("'"), values) + "=" + values[value]
    assert render(outputs["engineNodeLabel"]["value"], values) == label == "tts-ci/pool=engine"
    assert outputs["clusterName"]["value"] == accessor("cluster", "name")


def test_ci_runners_are_granted_nothing_and_kept_off_the_application_network() -> None:
    # The cluster is the module's only resource: no role assignment, no identity of its own
    # to hand out, no subnet in the application VNet.
    resources = ci_tree()["resources"]
    assert [r["type"] for r in resources.values()] == ["Microsoft.ContainerService/managedClusters"]
    assert ci_cluster()["config"]["identity"] == {"type": "SystemAssigned"}
    params = set(ci_tree()["parameters"])
    assert not {p for p in params if re.search(r"principal|objectid|subnet|vnet", p, re.I)}
    for pool in ci_pools().values():
        assert not {"vnetSubnetID", "podSubnetID"} & set(pool)
    _, call = module_calls(parse(BICEP_DIR / "main.bicep"))["ciRunners"]
    assert "outputs" not in json.dumps(call)  # nothing from identities, network or acr
    # main.bicep's role assignments are the GitHub identity's two, on the application cluster.
    main = parse(BICEP_DIR / "main.bicep")["resources"]
    assignments = {
        n: r["config"]
        for n, r in main.items()
        if r["type"] == "Microsoft.Authorization/roleAssignments"
    }
    assert set(assignments) == {"githubClusterUser", "githubRbacWriter"}
    for config in assignments.values():
        assert config["scope"] == "cluster"
    assert main["cluster"]["existing"] is True
    assert main["cluster"]["config"]["name"] == "aksClusterName"


# pipelines/bicep.py: commands as data and outputs -> next values


def az_outputs() -> dict[str, object]:
    names = (
        set(bicep.GITHUB_VARIABLES)
        | set(bicep.CHART_VALUE_OUTPUTS)
        | set(bicep.OPTIONAL_CHART_VALUE_OUTPUTS)
    )
    return {name: {"type": "String", "value": f"v-{name}"} for name in names}


def test_what_if_and_create_argv() -> None:
    what_if = bicep.deployment_argv("rg-tts", "prod", what_if=True)
    assert what_if[:4] == ["az", "deployment", "group", "what-if"]
    assert what_if[what_if.index("--parameters") + 1] == "bicep/main.prod.bicepparam"
    assert (REPO_ROOT / what_if[what_if.index("--parameters") + 1]).is_file()
    create = bicep.deployment_argv("rg-tts", "dev", what_if=False)
    assert create[3] == "create"
    assert create[create.index("--query") + 1] == "properties.outputs"
    assert create[create.index("--resource-group") + 1] == "rg-tts"


@pytest.mark.parametrize(
    ("rg", "env", "message"),
    [
        ("rg-tts", "staging", "unknown environment 'staging'"),
        ("bad/name", "dev", "invalid resource group name"),
        ("ends.", "dev", "invalid resource group name"),
        ("x" * 91, "dev", "invalid resource group name"),
    ],
)
def test_bad_deployment_input_is_one_clear_error(rg: str, env: str, message: str) -> None:
    with pytest.raises(bicep.BicepInputError, match=message):
        bicep.deployment_argv(rg, env, what_if=True)


def test_lint_commands_build_lint_and_check_parameter_files() -> None:
    commands = bicep.lint_commands()
    assert commands[0] == ["az", "bicep", "install", "--version", f"v{BICEP_VERSION}"]
    assert ["az", "bicep", "lint", "--file", "bicep/main.bicep"] in commands
    built = [c[c.index("--file") + 1] for c in commands if c[2] == "build-params"]
    assert built == ["bicep/main.dev.bicepparam", "bicep/main.prod.bicepparam"]
    for command in commands:
        for arg in command:
            if arg.startswith("bicep/"):
                assert (REPO_ROOT / arg).is_file(), arg


def test_deployment_env_passes_secrets_as_environment_not_argv() -> None:
    environ = {name: f"value-{name}" for name in bicep.PARAMETER_ENV_VARS} | {"HOME": "/root"}
    env = bicep.deployment_env(environ)
    assert set(env) == set(bicep.PARAMETER_ENV_VARS)
    argv = bicep.deployment_argv("rg", "dev", what_if=False)
    assert not any(value in argv for value in env.values())


def test_deployment_env_names_every_missing_variable() -> None:
    environ = dict.fromkeys(bicep.PARAMETER_ENV_VARS, "x")
    del environ["TTS_COOKIE_HASH_KEY"]
    environ["TTS_ADMIN_PASSWORD"] = ""
    with pytest.raises(bicep.BicepInputError) as error:
        bicep.deployment_env(environ)
    assert "TTS_COOKIE_HASH_KEY" in str(error.value)
    assert "TTS_ADMIN_PASSWORD" in str(error.value)


def test_chart_value_outputs_keep_their_names_except_the_backup_ones() -> None:
    outputs = {**bicep.CHART_VALUE_OUTPUTS, **bicep.OPTIONAL_CHART_VALUE_OUTPUTS}
    assert len(outputs) == len(bicep.CHART_VALUE_OUTPUTS) + len(bicep.OPTIONAL_CHART_VALUE_OUTPUTS)
    renamed = {out: value for out, value in outputs.items() if out != value}
    assert renamed == {
        "backupContainerName": "backup.container",
        "redisDatabaseId": "backup.managedRedisDatabaseId",
    }
    assert "backupContainerName" in bicep.CHART_VALUE_OUTPUTS  # always deployed
    assert set(bicep.OPTIONAL_CHART_VALUE_OUTPUTS) == {"redisAddress", "redisDatabaseId"}
    assert len(set(outputs.values())) == len(outputs)  # no two outputs print as one value


def test_backup_chart_values_exist_in_the_chart() -> None:
    values = yaml.safe_load((REPO_ROOT / "charts" / "thethingsstack" / "values.yaml").read_text())
    outputs = {**bicep.CHART_VALUE_OUTPUTS, **bicep.OPTIONAL_CHART_VALUE_OUTPUTS}
    dotted = sorted(value for value in outputs.values() if "." in value)
    assert dotted == ["backup.container", "backup.managedRedisDatabaseId"]
    for path in dotted:
        node = values
        for key in path.split("."):
            assert isinstance(node, dict), path
            assert key in node, f"values.yaml has no {path}"
            node = node[key]
        assert isinstance(node, str), path


def test_outputs_map_to_github_variables_and_chart_values() -> None:
    settings = bicep.outputs_to_settings(az_outputs())
    assert settings.github_variables["AZURE_CLIENT_ID"] == "v-githubActionsClientId"
    assert settings.github_variables["AKS_CLUSTER_NAME"] == "v-aksClusterName"
    assert settings.chart_values["udpPublicIpName"] == "v-udpPublicIpName"
    assert settings.chart_values["backup.container"] == "v-backupContainerName"
    assert settings.chart_values["backup.managedRedisDatabaseId"] == "v-redisDatabaseId"
    assert list(settings.chart_values) == [
        *bicep.CHART_VALUE_OUTPUTS.values(),
        *bicep.OPTIONAL_CHART_VALUE_OUTPUTS.values(),
    ]
    rendered = settings.render()
    assert "gh variable set ACR_LOGIN_SERVER --body 'v-acrLoginServer'" in rendered
    assert "postgresHost: v-postgresHost" in rendered
    assert "backup.container: v-backupContainerName" in rendered
    assert "backup.managedRedisDatabaseId: v-redisDatabaseId" in rendered
    plain = {k: v["value"] for k, v in az_outputs().items()}  # type: ignore[index]
    assert bicep.outputs_to_settings(plain) == settings


def test_missing_or_empty_output_is_named() -> None:
    outputs = az_outputs()
    del outputs["keyVaultName"]
    with pytest.raises(bicep.BicepInputError, match="'keyVaultName' is missing"):
        bicep.outputs_to_settings(outputs)
    outputs = az_outputs() | {"postgresHost": {"type": "String", "value": ""}}
    with pytest.raises(bicep.BicepInputError, match="'postgresHost' is empty"):
        bicep.outputs_to_settings(outputs)
    outputs = az_outputs() | {"backupContainerName": {"type": "String", "value": ""}}
    with pytest.raises(bicep.BicepInputError, match="'backupContainerName' is empty"):
        bicep.outputs_to_settings(outputs)
    outputs = az_outputs()
    del outputs["redisDatabaseId"]  # may be empty, never absent
    with pytest.raises(bicep.BicepInputError, match="'redisDatabaseId' is missing"):
        bicep.outputs_to_settings(outputs)


def test_an_empty_redis_address_means_the_in_cluster_redis() -> None:
    empty = {"type": "String", "value": ""}
    outputs = az_outputs() | {"redisAddress": empty, "redisDatabaseId": empty}
    rendered = bicep.outputs_to_settings(outputs).render()
    assert "redisAddress: (none: enableManagedRedis=false, set redis.mode: internal)" in rendered
    assert (
        "backup.managedRedisDatabaseId: (none: enableManagedRedis=false, leave it empty: "
        "the backup reads the in-cluster Redis)"
    ) in rendered


def test_grafana_import_argv_points_at_shipped_dashboards() -> None:
    for dashboard in sorted((BICEP_DIR / "dashboards").glob("*.json")):
        path = str(dashboard.relative_to(REPO_ROOT))
        argv = bicep.grafana_dashboard_import_argv("rg", "tts-dev-grafana", path)
        assert argv[:4] == ["az", "grafana", "dashboard", "import"]
        assert argv[argv.index("--definition") + 1] == path


def test_every_chart_service_account_has_a_federated_credential() -> None:
    # The chart runs pods as <sa> and its migration hook Job as <sa>-migrate; both read
    # Key Vault through workload identity, so both subjects must be federated.
    root = Path(__file__).resolve().parents[2]
    module = (root / "bicep" / "modules" / "workload-identity.bicep").read_text()
    job = (root / "charts" / "thethingsstack" / "templates" / "migration-job.yaml").read_text()
    assert "subject: 'system:serviceaccount:${namespace}:${serviceAccount}'" in module
    assert "subject: 'system:serviceaccount:${namespace}:${serviceAccount}-migrate'" in module
    assert 'serviceAccountName: {{ include "tts.serviceAccountName" . }}-migrate' in job


def test_parameter_lines_feed_deployment_env() -> None:
    text = "# dev\nGITHUB_REPOSITORY=org/repo\n\n" + "\n".join(
        f"{name}=v{i}" for i, name in enumerate(bicep.SECRET_ENV_VARS)
    )
    env = bicep.deployment_env(bicep.parse_env_lines(text))
    assert env["GITHUB_REPOSITORY"] == "org/repo"
    assert env[bicep.SECRET_ENV_VARS[0]] == "v0"


def test_bad_parameter_line_names_the_line_not_the_value() -> None:
    with pytest.raises(bicep.BicepInputError, match="line 2 is not KEY=VALUE") as err:
        bicep.parse_env_lines("A=1\nsupersecret\n")
    assert "supersecret" not in str(err.value)
