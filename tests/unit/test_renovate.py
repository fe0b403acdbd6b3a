"""What Renovate finds to move (.github/renovate.json), read with its own match strings.

Renovate's validator (tests/integration/test_renovate.py) says the configuration is valid;
these tests say it is complete: every pin of pipelines/versions.py and every ARG default
of Dockerfile.tts is found with its current value, or is on the list of pins that move
with another, and so are the Dagger engine and the chart's release.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from pipelines import versions
from tests.support.paths import REPO_ROOT

CONFIG = json.loads((REPO_ROOT / ".github" / "renovate.json").read_text())
# Pins Renovate must not move on its own, and why (their comments in versions.py say so).
MOVED_WITH_ANOTHER = {
    "TTS_COMMIT": "read from TTS_VERSION's tag by hand",
    "TTS_COMMIT_DATE": "read from TTS_VERSION's tag by hand",
    "TTS_COMMIT_RELEASE": "says which release TTS_COMMIT is from",
    "TTS_PREVIOUS_VERSION": "the release before the newest schema migration",
    "KUBE_VERSION": "kind's node image's Kubernetes",
    "KUBE_RELEASE": "kind's node image's Kubernetes",
    "ETCD_VERSION": "kind's node image's Kubernetes",
    "KIND_NODE_IMAGE": "kind's own default for KIND_VERSION",
}


def manager(description_start: str) -> dict[str, Any]:
    (found,) = [
        m for m in CONFIG["customManagers"] if m["description"].startswith(description_start)
    ]
    assert isinstance(found, dict)
    return found


def python_pattern(js: str) -> re.Pattern[str]:
    """A Renovate (JavaScript/RE2) match string as a Python pattern: named groups differ."""
    return re.compile(js.replace("(?<", "(?P<"))


def matches(mgr: dict[str, Any], path: Path) -> list[dict[str, str]]:
    relative = path.relative_to(REPO_ROOT).as_posix()
    patterns = [p.strip("/") for p in mgr["managerFilePatterns"]]
    assert any(re.search(p, relative) for p in patterns), f"{relative} is not a managed file"
    text = path.read_text()
    return [
        {k: v for k, v in m.groupdict().items() if v is not None}
        for js in mgr["matchStrings"]
        for m in python_pattern(js).finditer(text)
    ]


def string_pins() -> dict[str, str]:
    return {
        name: value
        for name, value in vars(versions).items()
        if name.isupper() and isinstance(value, str)
    }


def test_every_pin_of_versions_py_is_found_or_moves_with_another() -> None:
    mgr = manager("A `# renovate:` line")
    path = REPO_ROOT / "pipelines" / "versions.py"
    found = {}  # pin name -> what Renovate reads for it
    for js in mgr["matchStrings"]:
        for m in python_pattern(js).finditer(path.read_text()):
            assignment = re.search(r"\n([A-Z_]+): Final", m[0])
            assert assignment, m[0]
            found[assignment[1]] = m.groupdict()
    pins = string_pins()
    assert set(pins) - set(found) == set(MOVED_WITH_ANOTHER)
    for name, read in found.items():
        # An image keeps its name: Renovate moves the tag after the colon.
        assert pins[name].split("@")[0].rsplit(":", 1)[-1] == read["currentValue"], name
    assert found["TTS_VERSION"]["depName"] == "TheThingsNetwork/lorawan-stack"
    assert found["GO_IMAGE"]["depName"] == "golang"
    assert found["HELM_VERSION"]["datasource"] == "go"


@pytest.mark.parametrize(
    ("arg", "pin"),
    [
        ("TTS_VERSION", versions.TTS_VERSION),
        ("GO_IMAGE", versions.GO_IMAGE),
        ("NODE_IMAGE", versions.NODE_IMAGE),
        ("RUNTIME_IMAGE", versions.RUNTIME_IMAGE),
    ],
)
def test_each_dockerfile_base_is_found_as_its_pin(arg: str, pin: str) -> None:
    found = matches(manager("A `# renovate:` line"), REPO_ROOT / "Dockerfile.tts")
    assert [m for m in found if pin.endswith(m["currentValue"])], (arg, found)


def test_the_dagger_engine_is_found_everywhere_it_is_pinned() -> None:
    mgr = manager("The Dagger engine")
    files = [
        REPO_ROOT / "dagger.json",
        *sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml")),
    ]
    values = [m["currentValue"] for path in files for m in matches(mgr, path)]
    installs = sum(path.read_text().count("dagger/dagger-for-github@") for path in files[1:])
    assert values == [versions.DAGGER_VERSION] * (1 + installs)


def test_the_charts_release_is_found_in_chart_and_every_profile() -> None:
    mgr = manager("The chart ships")
    chart = REPO_ROOT / "charts" / "thethingsstack"
    files = [chart / "Chart.yaml", *sorted(chart.glob("values*.yaml"))]
    per_file = {path.name: [m["currentValue"] for m in matches(mgr, path)] for path in files}
    assert per_file == {
        "Chart.yaml": [versions.TTS_VERSION],
        "values-aks.yaml": [versions.TTS_VERSION],
        "values-kind.yaml": [versions.TTS_VERSION],
        "values.yaml": [versions.TTS_VERSION],
    }


def test_the_ci_runners_pins_move_with_pipelines_versions() -> None:
    """The CI cluster's charts and runner image (charts/ci-runners): Renovate finds each
    where it is written, at the version pipelines/versions.py pins."""
    readme = REPO_ROOT / "charts/ci-runners/README.md"
    runners = REPO_ROOT / "charts/ci-runners/arc-runner-set.values.yaml"
    dagger_found = [m["currentValue"] for m in matches(manager("The Dagger engine"), readme)]
    assert dagger_found == [versions.DAGGER_VERSION]
    arc = [m["currentValue"] for m in matches(manager("The CI cluster's Actions"), readme)]
    assert arc == [versions.ARC_VERSION, versions.ARC_VERSION]  # controller and scale set
    [image] = matches(manager("The CI cluster's runner image"), runners)
    assert f"{image['depName']}:{image['currentValue']}" == versions.ACTIONS_RUNNER_IMAGE
