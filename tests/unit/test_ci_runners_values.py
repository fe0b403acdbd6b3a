"""The CI engine and runners' values (charts/ci-runners), read without their charts.

The charts themselves render them in tests/kubeapi/test_ci_runners.py (a peer suite); these
checks need nothing: the CI pool's label and taint (bicep), the engine's gc sized to the
disk, the socket the runners use, and the pins of pipelines/versions.py in the values and
in the install commands of the README.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from pipelines.versions import ACTIONS_RUNNER_IMAGE, ARC_VERSION, DAGGER_VERSION
from tests.support.paths import REPO_ROOT

HERE = REPO_ROOT / "charts" / "ci-runners"
POOL_LABEL = "tts-ci/pool=engine"  # the CI pool's node label and taint, as bicep sets them
POOL_TAINT = "tts-ci/engine=true:NoSchedule"
USABLE_DISK = 200 * 10**9  # of the ~300 GB temp disk of a Standard_D8ds_v5, for the cache
GIB = 2**30
UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": GIB, "t": 2**40}


def _load(name: str) -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load((HERE / name).read_text())
    return values


ENGINE = _load("dagger-engine.values.yaml")
RUNNERS = _load("arc-runner-set.values.yaml")
README = (HERE / "README.md").read_text()


def _bytes(space: str | int) -> int:
    """A DiskSpace of engine.json in bytes: the engine reads "140GiB" and "140GB" alike, both
    binary (go-units RAMInBytes)."""
    if isinstance(space, int):
        return space
    match = re.fullmatch(r"(\d+)\s?([kmgt]?)i?b?", space.lower())
    assert match, f"{space!r}: give the gc sizes in bytes, not as a percentage"
    return int(match[1]) * UNITS[match[2]]


def _toleration() -> dict[str, str]:
    key, rest = POOL_TAINT.split("=")
    value, effect = rest.split(":")
    return {"key": key, "operator": "Equal", "value": value, "effect": effect}


@pytest.mark.parametrize(
    "spec", [ENGINE["engine"], RUNNERS["template"]["spec"]], ids=["engine", "runners"]
)
def test_both_run_on_the_ci_pool_only(spec: dict[str, Any]) -> None:
    key, value = POOL_LABEL.split("=")
    assert spec["nodeSelector"] == {key: value}
    assert spec["tolerations"] == [_toleration()]


def test_the_engine_gc_fits_the_disk() -> None:
    gc = {k: _bytes(v) for k, v in json.loads(ENGINE["engine"]["configJson"])["gc"].items()}
    assert set(gc) == {"reservedSpace", "maxUsedSpace", "minFreeSpace"}
    assert 0 < gc["reservedSpace"] < gc["maxUsedSpace"]
    # the cache at its largest and the free space it keeps both fit on the usable disk
    assert gc["maxUsedSpace"] + gc["minFreeSpace"] <= USABLE_DISK
    assert gc["maxUsedSpace"] >= USABLE_DISK // 2, "a cache this small wastes the disk"
    assert _bytes("140GiB") == _bytes("140GB") == 140 * GIB


def test_the_engine_is_a_daemonset_that_drains_its_jobs() -> None:
    engine = ENGINE["engine"]
    assert engine["kind"] == "DaemonSet"
    assert engine["terminationGracePeriodSeconds"] >= 300
    for part in ("requests", "limits"):
        assert set(engine["resources"][part]) == {"cpu", "memory"}
    assert "port" not in engine, "no TCP: the runners use the socket on the node"


def test_runners_mount_the_directory_of_the_engine_socket() -> None:
    spec = RUNNERS["template"]["spec"]
    [runner] = spec["containers"]
    env = {e["name"]: e["value"] for e in runner["env"]}
    assert env["_EXPERIMENTAL_DAGGER_RUNNER_HOST"] == "unix:///run/dagger/engine.sock"
    [mount] = runner["volumeMounts"]
    assert mount == {"name": "dagger-engine", "mountPath": "/run/dagger", "readOnly": True}
    [volume] = spec["volumes"]
    # Dagger's chart puts the engine's /run/dagger on the node at /run/dagger-<fullname>
    path = f"/run/dagger-{ENGINE['fullnameOverride']}"
    assert volume == {"name": "dagger-engine", "hostPath": {"path": path, "type": "Directory"}}
    assert "containerMode" not in RUNNERS, "no docker-in-docker"
    assert RUNNERS["runnerScaleSetName"] == "tts-ci"
    assert 0 < RUNNERS["minRunners"] <= RUNNERS["maxRunners"]


def test_the_pins_are_those_of_versions_py() -> None:
    assert RUNNERS["template"]["spec"]["containers"][0]["image"] == ACTIONS_RUNNER_IMAGE
    dagger_json = json.loads((REPO_ROOT / "dagger.json").read_text())
    assert dagger_json["engineVersion"] == f"v{DAGGER_VERSION}"
    # every chart the README installs, with its pinned version
    installs = re.findall(r"(oci://\S+)\s+(?:\\\n\s+)?--version (\S+)", README)
    base = "oci://ghcr.io/actions/actions-runner-controller-charts"
    assert sorted(installs) == sorted([
        ("oci://registry.dagger.io/dagger-helm", DAGGER_VERSION),
        (f"{base}/gha-runner-scale-set-controller", ARC_VERSION),
        (f"{base}/gha-runner-scale-set", ARC_VERSION),
    ])  # fmt: skip
    for name in ("dagger-engine", "arc-controller", "arc-runner-set"):
        assert f"--values charts/ci-runners/{name}.values.yaml" in README
