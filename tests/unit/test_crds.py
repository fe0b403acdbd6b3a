"""pipelines.crds: CRDs to strict JSON schemas, and what it refuses."""

import json

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


def test_the_download_output_gives_each_crd_file_or_names_the_failed_module() -> None:
    first, second, third = crds.SOURCES
    answers = [
        {"Path": s.module, "Version": f"v{s.version}", "Dir": f"/m/{i}"}
        for i, s in enumerate(crds.SOURCES)
    ]
    found = crds.crd_files("\n".join(json.dumps(a, indent=1) for a in answers))
    assert found == {s: f"/m/{i}/{s.path}" for i, s in enumerate(crds.SOURCES)}
    with pytest.raises(ValueError, match=rf"{third.module}@v.*not in its output"):
        crds.crd_files("".join(json.dumps(a) for a in answers[:2]))
    answers[1] = {"Path": second.module, "Version": f"v{second.version}",
                  "Error": "requires go >= 1.99"}  # fmt: skip
    with pytest.raises(ValueError, match=rf"{second.module}@v.*requires go >= 1.99.*GOPROXY"):
        crds.crd_files("".join(json.dumps(a) for a in answers))
    assert first.module in " ".join(crds.download_argv())


def test_every_custom_kind_has_a_crd_source() -> None:
    groups = {g for s in crds.SOURCES for g in (s.path.split("/")[-1].split("_")[0], *s.also)}
    assert {api.split("/")[0] for api, _ in crds.CUSTOM_KINDS} <= groups
