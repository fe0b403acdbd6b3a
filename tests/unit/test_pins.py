"""Each pinned version is stated once (pipelines/versions.py) and the files that
must repeat it (dagger.json, tools/go.mod, pyproject.toml) agree with it."""

import json
import re
import tomllib
from importlib.metadata import version
from pathlib import Path

from pipelines import oci, releases, versions


def test_dagger_engine_matches_sdk(repo_root: Path) -> None:
    dagger_json = json.loads((repo_root / "dagger.json").read_text())
    assert dagger_json["engineVersion"] == f"v{versions.DAGGER_VERSION}"
    assert version("dagger-io") == versions.DAGGER_VERSION
    assert dagger_json["name"] == "tts-ci"
    assert dagger_json["source"] == "ci"
    assert dagger_json["sdk"]["source"] == "python"


def test_module_can_import_pipelines(repo_root: Path) -> None:
    dagger_json = json.loads((repo_root / "dagger.json").read_text())
    assert "pipelines/**" in dagger_json["include"]
    assert "pyproject.toml" in dagger_json["include"]
    module = tomllib.loads((repo_root / "ci" / "pyproject.toml").read_text())
    # The module imports pipelines.acr/aks/azure_auth: the azure extra, not the bare package.
    assert "tts-ci-pipelines[azure]" in module["project"]["dependencies"]
    assert module["tool"]["uv"]["sources"]["tts-ci-pipelines"]["path"] == ".."
    root = tomllib.loads((repo_root / "pyproject.toml").read_text())
    assert root["project"]["name"] == "tts-ci-pipelines"


def test_module_runtime_is_pinned_to_python_311(repo_root: Path) -> None:
    module = tomllib.loads((repo_root / "ci" / "pyproject.toml").read_text())
    image = module["tool"]["dagger"]["base-image"]
    # Tag and digest: the module runtime is the one image the engine pulls for every call.
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm@sha256:[0-9a-f]{64}", image)
    assert image.split("@")[0] == versions.PYTHON_IMAGE


def test_go_tools_match_versions(repo_root: Path) -> None:
    go_mod = (repo_root / "tools" / "go.mod").read_text()
    for module, pinned in [
        ("helm.sh/helm/v3", versions.HELM_VERSION),
        ("github.com/yannh/kubeconform", versions.KUBECONFORM_VERSION),
        ("github.com/rhysd/actionlint", versions.ACTIONLINT_VERSION),
        ("sigs.k8s.io/kind", versions.KIND_VERSION),
    ]:
        assert re.search(rf"^\s+{re.escape(module)} v{re.escape(pinned)}$", go_mod, re.M), module
    # cosign and oras: their own module (their dependencies would move helm's).
    supply_chain = (repo_root / "tools" / "supplychain" / "go.mod").read_text()
    for module, pinned in [
        ("github.com/sigstore/cosign/v2", versions.COSIGN_VERSION),
        ("oras.land/oras", versions.ORAS_VERSION),
    ]:
        assert re.search(rf"^\s+{re.escape(module)} v{re.escape(pinned)}$", supply_chain, re.M)


def test_python_dependencies_are_exact_pins(repo_root: Path) -> None:
    root = tomllib.loads((repo_root / "pyproject.toml").read_text())
    groups = root["dependency-groups"]
    declared = [
        d
        for d in [
            *root["project"]["dependencies"],
            *root["project"]["optional-dependencies"]["azure"],
            *groups["chart"],
            *groups["dev"],
        ]
        if isinstance(d, str) and not d.startswith("tts-ci-pipelines[")  # the package itself
    ]
    loose = [d for d in declared if "==" not in d]
    assert not loose, f"pin these with ==: {loose}"
    for required in ["dagger-io", "anyio", "azure-identity", "azure-mgmt-containerregistry"]:
        assert any(d.startswith(f"{required}==") for d in declared), required


def test_kubernetes_version_is_the_clusters(repo_root: Path) -> None:
    # The chart is checked for the version the Bicep provisions, not a guess of it.
    main_bicep = (repo_root / "bicep" / "main.bicep").read_text()
    assert f"param kubernetesVersion string = '{versions.KUBE_VERSION}'" in main_bicep


def test_every_pinned_image_is_a_pinned_reference() -> None:
    """No `latest`, no bare names: each image pin parses as tag- or digest-pinned."""
    images = {
        name: value
        for name, value in vars(versions).items()
        if name.endswith("_IMAGE") and isinstance(value, str)
    }
    assert len(images) >= 6
    for name, ref in images.items():
        assert oci.is_pinned(ref), f"{name}={ref!r}"


def test_the_module_lock_is_in_step_with_the_root_lock(repo_root: Path) -> None:
    """The module runtime installs from ci/uv.lock (it reads no other lock); both locks
    must resolve every shared package to the same version (dagger-io is the engine's
    generated SDK, a path source, in ci/)."""

    def versions_in(lock: Path) -> dict[str, str]:
        packages = tomllib.loads(lock.read_text())["package"]
        return {p["name"]: p.get("version", "") for p in packages}

    module = versions_in(repo_root / "ci" / "uv.lock")
    root = versions_in(repo_root / "uv.lock")
    assert {"anyio", "azure-identity", "httpx", "tts-ci-pipelines"} <= set(module)
    drift = {
        name: (module[name], root[name])
        for name in set(module) & set(root) - {"dagger-io"}
        if module[name] != root[name]
    }
    assert not drift, f"relock ci/ and the root with the same versions: {drift}"


def test_the_kubernetes_pins_agree() -> None:
    assert versions.KUBE_RELEASE.rsplit(".", 1)[0] == versions.KUBE_VERSION
    assert versions.KIND_NODE_IMAGE.startswith(f"kindest/node:v{versions.KUBE_RELEASE}@sha256:")


def test_the_release_commit_and_date_belong_to_the_pinned_release() -> None:
    """Renovate moves TTS_VERSION alone; this says what else must move with it."""
    assert versions.TTS_COMMIT_RELEASE == versions.TTS_VERSION, releases.pin_update_steps(
        versions.TTS_VERSION, versions.TTS_COMMIT_RELEASE
    )
