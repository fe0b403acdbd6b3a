"""Bicep steps as data: build, lint, what-if/create, checkov, and outputs -> next values.

Every function returns an argv list (or plain data); nothing here runs a process. The
Dagger functions `lint_bicep` and `provision` run these lists in the pinned azure-cli
container; the tests run the checkov list against the host's pinned checkov.

Secrets never travel in argv: the parameter files (`bicep/main.<env>.bicepparam`) read
them with `readEnvironmentVariable`, so `deployment_env` hands them over as environment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

from pipelines.versions import AZURE_CLI_VERSION, BICEP_VERSION

# The azure-cli image runs provision and lint-bicep (versions in pipelines/versions.py);
# `az bicep install` fetches the pinned Bicep CLI inside it.
AZURE_CLI_IMAGE: Final = f"mcr.microsoft.com/azure-cli:{AZURE_CLI_VERSION}"

BICEP_DIR: Final = "bicep"
MAIN_BICEP: Final = f"{BICEP_DIR}/main.bicep"
ENVIRONMENTS: Final = ("dev", "prod")
Environment = Literal["dev", "prod"]

# Environment variables the parameter files read (readEnvironmentVariable).
SECRET_ENV_VARS: Final = (
    "TTS_POSTGRES_PASSWORD",
    "TTS_COOKIE_HASH_KEY",
    "TTS_COOKIE_BLOCK_KEY",
    "TTS_CLUSTER_KEY",
    "TTS_ADMIN_PASSWORD",
    "TTS_CONSOLE_CLIENT_SECRET",
)
PARAMETER_ENV_VARS: Final = ("GITHUB_REPOSITORY", *SECRET_ENV_VARS)

# Bicep output -> GitHub Actions variable (the shared contract).
GITHUB_VARIABLES: Final[Mapping[str, str]] = {
    "tenantId": "AZURE_TENANT_ID",
    "subscriptionId": "AZURE_SUBSCRIPTION_ID",
    "githubActionsClientId": "AZURE_CLIENT_ID",
    "resourceGroupName": "AZURE_RESOURCE_GROUP",
    "acrName": "ACR_NAME",
    "acrLoginServer": "ACR_LOGIN_SERVER",
    "aksClusterName": "AKS_CLUSTER_NAME",
    "signingKeyId": "SIGNING_KEY_ID",
    "storageAccountName": "STORAGE_ACCOUNT_NAME",
}
# Bicep output -> the chart value `provision` prints it as. values-aks.yaml's inputs keep the
# output's name (its comments say where each goes); the backup CronJob's are chart values.
CHART_VALUE_OUTPUTS: Final[Mapping[str, str]] = {
    "ttsWorkloadClientId": "ttsWorkloadClientId",
    "keyVaultName": "keyVaultName",
    "postgresHost": "postgresHost",
    "postgresDatabase": "postgresDatabase",
    "udpPublicIpName": "udpPublicIpName",
    "resourceGroupName": "resourceGroupName",
    "acrLoginServer": "acrLoginServer",
    "blobContainerName": "blobContainerName",
    "storageAccountName": "storageAccountName",
    "backupContainerName": "backup.container",
}
# Chart inputs that are empty by design in some environments: both without Managed Redis.
OPTIONAL_CHART_VALUE_OUTPUTS: Final[Mapping[str, str]] = {
    "redisAddress": "redisAddress",
    "redisDatabaseId": "backup.managedRedisDatabaseId",
}
# What `render` shows for an empty optional chart value.
_EMPTY_CHART_VALUES: Final[Mapping[str, str]] = {
    "redisAddress": "(none: enableManagedRedis=false, set redis.mode: internal)",
    "backup.managedRedisDatabaseId": (
        "(none: enableManagedRedis=false, leave it empty: the backup reads the in-cluster Redis)"
    ),
}

_RESOURCE_GROUP = re.compile(r"^[-\w.()]{1,90}$")
_DEPLOYMENT_NAME = re.compile(r"^[-\w.()]{1,64}$")


class BicepInputError(ValueError):
    """A user-fixable problem with the deployment inputs; the message says the fix."""


def parameter_file(environment: str) -> str:
    """The parameter file of an environment, e.g. bicep/main.dev.bicepparam."""
    if environment not in ENVIRONMENTS:
        raise BicepInputError(
            f"unknown environment {environment!r}: use one of {', '.join(ENVIRONMENTS)}"
        )
    return f"{BICEP_DIR}/main.{environment}.bicepparam"


def bicep_install_argv() -> list[str]:
    """Install the pinned Bicep CLI into the azure-cli container (needs network)."""
    return ["az", "bicep", "install", "--version", f"v{BICEP_VERSION}"]


def bicep_build_argv(file: str = MAIN_BICEP) -> list[str]:
    """Compile a Bicep file to ARM JSON on stdout (fails on errors)."""
    return ["az", "bicep", "build", "--file", file, "--stdout"]


def bicep_build_params_argv(environment: str) -> list[str]:
    """Compile an environment's .bicepparam (checks it against main.bicep's parameters)."""
    return ["az", "bicep", "build-params", "--file", parameter_file(environment), "--stdout"]


def bicep_lint_argv(file: str = MAIN_BICEP) -> list[str]:
    """Run the Bicep linter over a file and the modules it references."""
    return ["az", "bicep", "lint", "--file", file]


def lint_commands() -> list[list[str]]:
    """Everything lint_bicep runs, in order: install, build, lint, build each parameter file."""
    return [
        bicep_install_argv(),
        bicep_build_argv(),
        bicep_lint_argv(),
        *(bicep_build_params_argv(env) for env in ENVIRONMENTS),
    ]


def _check_resource_group(resource_group: str) -> None:
    if not _RESOURCE_GROUP.fullmatch(resource_group) or resource_group.endswith("."):
        raise BicepInputError(
            f"invalid resource group name {resource_group!r}: use 1-90 letters, digits, "
            "'-', '_', '.', '(' or ')', not ending in '.'"
        )


def deployment_argv(
    resource_group: str,
    environment: str,
    *,
    what_if: bool,
    deployment_name: str = "tts",
) -> list[str]:
    """`az deployment group what-if|create` of main.bicep with an environment's parameters.

    create prints only the outputs (JSON), which `outputs_to_settings` reads.
    """
    _check_resource_group(resource_group)
    if not _DEPLOYMENT_NAME.fullmatch(deployment_name):
        raise BicepInputError(
            f"invalid deployment name {deployment_name!r}: use 1-64 letters, digits, "
            "'-', '_', '.', '(' or ')'"
        )
    argv = [
        "az",
        "deployment",
        "group",
        "what-if" if what_if else "create",
        "--resource-group",
        resource_group,
        "--name",
        deployment_name,
        "--parameters",
        parameter_file(environment),
    ]
    if what_if:
        return [*argv, "--no-pretty-print", "--output", "json"]
    return [*argv, "--query", "properties.outputs", "--output", "json"]


def deployment_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment the parameter files read, taken from `environ`; fail on a gap."""
    missing = [name for name in PARAMETER_ENV_VARS if not environ.get(name)]
    if missing:
        raise BicepInputError(
            f"missing environment variable(s) {', '.join(missing)}: the bicepparam files read "
            "them (see docs/bicep.md; cookie keys: openssl rand -hex 64 / openssl rand -hex 32; "
            "cluster key: openssl rand -hex 32)"
        )
    return {name: environ[name] for name in PARAMETER_ENV_VARS}


def checkov_argv(
    directory: str = BICEP_DIR, output: Literal["cli", "json"] = "cli", checkov: str = "checkov"
) -> list[str]:
    """checkov's Bicep checks over a directory; offline (no guideline download).

    The CLI form is compact and lists only failures; the JSON form keeps passed and
    skipped checks (the suppression audit reads them).
    """
    argv = [checkov, "--directory", directory, "--framework", "bicep", "--skip-download"]
    if output == "cli":
        return [*argv, "--compact", "--quiet"]
    return [*argv, "--output", "json"]


def grafana_dashboard_import_argv(resource_group: str, grafana_name: str, path: str) -> list[str]:
    """Import one dashboard JSON into Azure Managed Grafana (az grafana, amg extension)."""
    _check_resource_group(resource_group)
    return [
        "az",
        "grafana",
        "dashboard",
        "import",
        "--resource-group",
        resource_group,
        "--name",
        grafana_name,
        "--definition",
        path,
        "--overwrite",
        "true",
    ]


@dataclass(frozen=True)
class DeploymentSettings:
    """What the pipeline and the chart need next, from the deployment outputs."""

    github_variables: dict[str, str]
    chart_values: dict[str, str]  # chart value -> value (CHART_VALUE_OUTPUTS' right side)

    def render(self) -> str:
        """Human-readable next steps: gh variable commands and the chart inputs."""
        lines = ["# GitHub Actions variables"]
        lines += [f"gh variable set {k} --body '{v}'" for k, v in self.github_variables.items()]
        lines.append("# values-aks.yaml inputs (Bicep output names) and chart values (backup.*)")
        for key, value in self.chart_values.items():
            shown = value or _EMPTY_CHART_VALUES.get(key, value)
            lines.append(f"{key}: {shown}")
        return "\n".join(lines)


def _output_value(outputs: Mapping[str, object], name: str, optional: bool = False) -> str:
    if name not in outputs:
        raise BicepInputError(
            f"deployment output {name!r} is missing: deploy the current bicep/main.bicep "
            "(az deployment group create) and pass its properties.outputs"
        )
    raw = outputs[name]
    # az prints {"name": {"type": "String", "value": "..."}}; accept plain values too.
    value = raw.get("value") if isinstance(raw, Mapping) else raw
    if not isinstance(value, str) or not (value or optional):
        raise BicepInputError(f"deployment output {name!r} is empty or not a string: {value!r}")
    return value


def outputs_to_settings(outputs: Mapping[str, object]) -> DeploymentSettings:
    """Map `az deployment group create` outputs to GitHub variables and chart values."""
    github = {var: _output_value(outputs, out) for out, var in GITHUB_VARIABLES.items()}
    chart = {value: _output_value(outputs, out) for out, value in CHART_VALUE_OUTPUTS.items()}
    for out, value in OPTIONAL_CHART_VALUE_OUTPUTS.items():
        chart[value] = _output_value(outputs, out, optional=True)
    return DeploymentSettings(github_variables=github, chart_values=chart)


def parse_env_lines(text: str) -> dict[str, str]:
    """KEY=VALUE lines (a dotenv-style secret file); blank lines and # comments ignored."""
    values = {}
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, sep, value = stripped.partition("=")
        if not sep or not key.strip():
            # The line may hold a secret: name its number only.
            raise BicepInputError(f"parameters line {number} is not KEY=VALUE: fix that line")
        values[key.strip()] = value.strip()
    return values
