"""The chart's custom resources, checked against their CRDs' schemas with kubeconform.

kubernetes-validate knows the built-in kinds only. The custom resources the chart renders
(the Key Vault SecretProviderClass, the ServiceMonitor of either group, the Gateway API
HTTPRoute) are checked by kubeconform, strictly, against JSON schemas made from the CRDs
their projects publish. The CRDs come as files of those projects' Go modules, from the Go
module proxy (checksum-verified by the go command), at the versions pinned here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

from pipelines import versions

# Where kubeconform finds a schema: <dir>/<group>/<kind>_<version>.json (its template
# variables, kubeconform v0.7.0 pkg/registry).
_LOCATION: Final = "{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json"


@dataclass(frozen=True)
class CrdSource:
    """A CRD file in a Go module; `also` are groups that serve the same schema."""

    module: str
    version: str
    path: str
    also: tuple[str, ...] = ()


SOURCES: Final = (
    CrdSource(
        "sigs.k8s.io/secrets-store-csi-driver",
        versions.SECRETS_STORE_CSI_VERSION,
        "config/crd/bases/secrets-store.csi.x-k8s.io_secretproviderclasses.yaml",
    ),
    # Azure managed Prometheus reads the Prometheus operator's ServiceMonitor under its
    # own group: the chart's object is checked against the operator's schema either way.
    CrdSource(
        "github.com/prometheus-operator/prometheus-operator",
        versions.PROMETHEUS_OPERATOR_VERSION,
        "example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml",
        also=("azmonitoring.coreos.com",),
    ),
    CrdSource(
        "sigs.k8s.io/gateway-api",
        versions.GATEWAY_API_VERSION,
        "config/crd/standard/gateway.networking.k8s.io_httproutes.yaml",
    ),
)
# The custom kinds the chart may render, as (apiVersion, kind): all have a source above.
CUSTOM_KINDS: Final = frozenset({
    ("secrets-store.csi.x-k8s.io/v1", "SecretProviderClass"),
    ("azmonitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("gateway.networking.k8s.io/v1", "HTTPRoute"),
})  # fmt: skip


# The CRD modules need a newer Go than the build image's (e.g. go 1.24.7): `auto` lets the
# go command fetch the one toolchain the newest of them asks for (checksum-verified), once
# for all of them; a newer local Go is used as it is.
DOWNLOAD_ENV: Final = {"GOTOOLCHAIN": "auto", "GOFLAGS": "-mod=mod"}


def download_argv() -> list[str]:
    """`go mod download -json` of every source's module: prints each one's directory."""
    return ["go", "mod", "download", "-json", *(f"{s.module}@v{s.version}" for s in SOURCES)]


def crd_files(download_json: str) -> dict[CrdSource, str]:
    """Where each source's CRD is, from the output of download_argv() (JSON objects)."""
    decoder, answers, text = json.JSONDecoder(), {}, download_json.strip()
    while text:
        answer, end = decoder.raw_decode(text)
        answers[f"{answer.get('Path')}@{answer.get('Version')}"] = answer
        text = text[end:].strip()
    files = {}
    for source in SOURCES:
        answer = answers.get(f"{source.module}@v{source.version}", {})
        if answer.get("Error") or not answer.get("Dir"):
            raise ValueError(
                f"go mod download {source.module}@v{source.version} failed: "
                f"{answer.get('Error', 'not in its output')}: check the Go module proxy (GOPROXY)"
            )
        files[source] = str(Path(answer["Dir"]) / source.path)
    return files


def _strict(schema: Any) -> Any:
    """The schema with `additionalProperties: false` on every object that lists its
    properties and keeps no unknown fields: a misspelt key fails, as kubectl's strict
    field validation would."""
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    strict = {key: _strict(value) for key, value in schema.items()}
    open_ended = (
        strict.get("x-kubernetes-preserve-unknown-fields") or "additionalProperties" in strict
    )
    if "properties" in strict and not open_ended:
        strict["additionalProperties"] = False
    return strict


def json_schemas(crd_yaml: str, also: tuple[str, ...] = ()) -> dict[str, dict[str, Any]]:
    """A CRD's served versions as strict JSON schemas, keyed by kubeconform's path."""
    crd = yaml.safe_load(crd_yaml)
    if not isinstance(crd, dict) or crd.get("kind") != "CustomResourceDefinition":
        raise ValueError("not a CustomResourceDefinition: pass a CRD's YAML")
    spec = crd["spec"]
    kind = spec["names"]["kind"].lower()
    schemas = {}
    for version in spec["versions"]:
        if not version.get("served"):
            continue
        schema = _strict(version["schema"]["openAPIV3Schema"])
        for group in (spec["group"], *also):
            schemas[f"{group}/{kind}_{version['name']}.json"] = schema
    return schemas


def custom_resources(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rendered objects of a CUSTOM_KINDS kind."""
    return [o for o in objects if (o.get("apiVersion"), o.get("kind")) in CUSTOM_KINDS]


def kubeconform_argv(manifests: str | Path, schema_dir: str | Path) -> list[str]:
    """kubeconform, strict, with only the CRD schemas: a custom kind without one fails."""
    return [
        "kubeconform",
        "-strict",
        "-summary",
        "-schema-location",
        f"{schema_dir}/{_LOCATION}",
        str(manifests),
    ]
