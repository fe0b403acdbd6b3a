"""Helm chart checks as data: the argv lists that lint, render and validate the chart.

Each function is pure and returns an argv list (tool name first, relative to the chart
directory given). The Dagger functions run these lists in pinned containers; the tests run
the very same lists against the host binaries (.tools/bin/helm, kubernetes-validate).
"""

from pathlib import Path
from typing import Final

import yaml

# The AKS clusters' Kubernetes version: `helm template --kube-version` and the schemas.
from pipelines.versions import KUBE_VERSION

# Value profiles shipped in the chart directory; "default" is values.yaml alone.
PROFILES: Final[dict[str, str | None]] = {
    "default": None,
    "kind": "values-kind.yaml",
    "aks": "values-aks.yaml",
}

# Release name and namespace used when rendering (match bicep ttsNamespace).
RELEASE_NAME: Final = "tts"
NAMESPACE: Final = "tts"


def _check_profile(profile: str) -> None:
    if profile not in PROFILES:
        known = ", ".join(PROFILES)
        raise ValueError(f"unknown chart profile {profile!r}: use one of {known}")


def profile_args(chart_dir: Path, profile: str) -> list[str]:
    """The `-f values-<profile>.yaml` arguments of a profile (none for default)."""
    _check_profile(profile)
    values = PROFILES[profile]
    return [] if values is None else ["-f", str(chart_dir / values)]


def lint_command(chart_dir: Path, profile: str) -> list[str]:
    """`helm lint --strict` of the chart with one profile's values."""
    return ["helm", "lint", "--strict", str(chart_dir), *profile_args(chart_dir, profile)]


def lint_commands(chart_dir: Path) -> list[list[str]]:
    """`helm lint --strict` once per profile."""
    return [lint_command(chart_dir, profile) for profile in PROFILES]


def template_command(chart_dir: Path, profile: str) -> list[str]:
    """`helm template` for a profile, rendered for the target Kubernetes version."""
    return [
        "helm",
        "template",
        RELEASE_NAME,
        str(chart_dir),
        "--namespace",
        NAMESPACE,
        "--kube-version",
        KUBE_VERSION,
        *profile_args(chart_dir, profile),
    ]


def validate_command(manifests: Path) -> list[str]:
    """kubernetes-validate (strict, offline schemas) over a rendered manifest file.

    The custom kinds (pipelines.crds.CUSTOM_KINDS) produce a "Couldn't find schema"
    warning here, not a failure: kubeconform checks them against their CRDs (pipelines.crds).
    """
    return [
        "kubernetes-validate",
        "--kubernetes-version",
        f"{KUBE_VERSION}.0",
        "--strict",
        "--quiet",
        str(manifests),
    ]


def public_host(values_yaml: str) -> str:
    """`publicHost` of a values file: where deploy smoke-probes the console and /healthz.

    Refuses the shipped example (values-aks.yaml) so a deploy never probes example.com.
    """
    values = yaml.safe_load(values_yaml) or {}
    host = values.get("publicHost") if isinstance(values, dict) else None
    if not isinstance(host, str) or not host:
        raise ValueError("the values file sets no publicHost: add your console host name")
    if host == "example.com" or host.endswith(".example.com") or "<" in host:
        raise ValueError(
            f"publicHost is the example {host!r}: pass --values with your environment's "
            "values file (values-aks.yaml filled in with the Bicep outputs)"
        )
    return host
