"""The chart's custom resources against their CRDs' schemas, for real: the CRDs from the
pinned Go modules (the go command, the Go module proxy), the pinned kubeconform."""

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipelines import chart, crds
from tests.support.render import profile_objects, run


@pytest.fixture(scope="module")
def schema_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The JSON schemas of every CRD source, written where kubeconform_argv looks."""
    root = tmp_path_factory.mktemp("crd-schemas")
    downloaded = subprocess.run(
        crds.download_argv(), env={**os.environ, **crds.DOWNLOAD_ENV},
        capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    for source, crd_file in crds.crd_files(downloaded.stdout).items():
        crd = Path(crd_file).read_text()
        for path, schema in crds.json_schemas(crd, source.also).items():
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_text(json.dumps(schema))
    print(sorted(str(p.relative_to(root)) for p in root.rglob("*.json")))
    return root


def kubeconform(objects: list[dict[str, Any]], schema_dir: Path, tmp_path: Path) -> str:
    manifests = tmp_path / "custom.yaml"
    manifests.write_text(yaml.safe_dump_all(objects))
    result = run(crds.kubeconform_argv(manifests, schema_dir), check=False)
    output = result.stdout + result.stderr
    assert (result.returncode == 0) == ("Invalid: 0, Errors: 0" in output), output
    return output


@pytest.mark.parametrize("profile", list(chart.PROFILES))
def test_every_custom_resource_of_a_profile_matches_its_crd(
    profile: str, schema_dir: Path, tmp_path: Path
) -> None:
    custom = crds.custom_resources(profile_objects(profile))
    kinds = sorted({(o["apiVersion"], o["kind"]) for o in custom})
    print(f"{profile}: {len(custom)} custom resources {kinds}")
    if not custom:
        return  # nothing custom in this profile; the aks profile has them
    output = kubeconform(custom, schema_dir, tmp_path)
    assert f"Valid: {len(custom)}, Invalid: 0, Errors: 0, Skipped: 0" in output, output


def test_the_aks_profile_has_the_custom_resources_checked_here() -> None:
    kinds = {(o["apiVersion"], o["kind"]) for o in crds.custom_resources(profile_objects("aks"))}
    assert kinds >= {
        ("secrets-store.csi.x-k8s.io/v1", "SecretProviderClass"),
        ("azmonitoring.coreos.com/v1", "ServiceMonitor"),
    }


def test_a_misspelt_field_of_a_custom_resource_fails(schema_dir: Path, tmp_path: Path) -> None:
    [provider, *_] = [o for o in profile_objects("aks") if o["kind"] == "SecretProviderClass"]
    provider["spec"]["paramters"] = provider["spec"].pop("parameters")
    output = kubeconform([provider], schema_dir, tmp_path)
    assert "Invalid: 1" in output
    assert "paramters" in output


def test_a_custom_kind_without_a_crd_fails(schema_dir: Path, tmp_path: Path) -> None:
    unknown = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    output = kubeconform([unknown], schema_dir, tmp_path)
    assert "Errors: 1" in output
    assert "could not find schema for Widget" in output
