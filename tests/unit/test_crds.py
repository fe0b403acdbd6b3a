"""pipelines.crds: CRDs to strict JSON schemas, and what it refuses."""

import pytest
import yaml

from pipelines import crds

CRD = yaml.safe_dump({
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "spec": {
        "group": "example.com",
        "names": {"kind": "Widget"},
        "versions": [
            {"name": "v1", "served": True, "schema": {"openAPIV3Schema": {
                "type": "object",
                "properties": {
                    "spec": {"type": "object", "properties": {"size": {"type": "integer"}}},
                    "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                             "properties": {"a": {"type": "string"}}},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                },
            }}},
            {"name": "v1beta1", "served": False, "schema": {"openAPIV3Schema": {}}},
        ],
    },
})  # fmt: skip


def test_served_versions_become_strict_schemas_under_each_group() -> None:
    schemas = crds.json_schemas(CRD, also=("alias.example.com",))
    assert sorted(schemas) == ["alias.example.com/widget_v1.json", "example.com/widget_v1.json"]
    schema = schemas["example.com/widget_v1.json"]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["spec"]["additionalProperties"] is False
    # Objects that keep unknown fields, or say what extra keys hold, stay as they were.
    assert "additionalProperties" not in schema["properties"]["free"]
    assert schema["properties"]["labels"]["additionalProperties"] == {"type": "string"}


def test_a_file_that_is_not_a_crd_is_refused() -> None:
    with pytest.raises(ValueError, match="not a CustomResourceDefinition"):
        crds.json_schemas("kind: Deployment\n")


def test_a_failed_download_names_the_module_and_the_fix() -> None:
    [source, *_] = crds.SOURCES
    with pytest.raises(ValueError, match=r"go mod download .*@v.*: 404.*check the Go module proxy"):
        crds.crd_file('{"Error": "404 Not Found"}', source)
    assert crds.crd_file('{"Dir": "/m"}', source) == f"/m/{source.path}"


def test_every_custom_kind_has_a_crd_source() -> None:
    groups = {g for s in crds.SOURCES for g in (s.path.split("/")[-1].split("_")[0], *s.also)}
    assert {api.split("/")[0] for api, _ in crds.CUSTOM_KINDS} <= groups
