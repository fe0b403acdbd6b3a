"""The chart as the kind e2e installs it, rendered offline with the pinned helm.

`install_argv` is the very `helm upgrade --install` argv of `dagger call test-e-2-e`
(pipelines.kube); `as_template` renders it with `helm template` (which shares install's flags).
"""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
import yaml

from pipelines import chart, helm
from pipelines.versions import KUBE_VERSION
from tests.support.paths import CHART, tool_path

KUBECONFIG = "/nonexistent/kubeconfig"  # never read: nothing here reaches a cluster
SMOKE_POD = "tts-thethingsstack-test-smoke"


def run(argv: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a commands-as-data argv with its tool resolved to the pinned binary."""
    resolved = [str(tool_path(argv[0])), *argv[1:]]
    result = subprocess.run(resolved, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        pytest.fail(f"{' '.join(argv)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def install_argv(tag: str = "3.32.0", deadline: int = 120) -> list[str]:
    """The kind e2e's install argv, smoke pod on, with a given probe deadline."""
    argv = helm.install_kind_argv(
        CHART, KUBECONFIG, "tts-ci/thethingsstack", tag, "tts-ci/smoke:local", 600
    )
    return [*argv, "--set", f"tests.smoke.deadlineSeconds={deadline}"]


def as_template(argv: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    """`helm template` with the arguments of an `helm upgrade --install` argv."""
    assert argv[:3] == ["helm", "upgrade", "--install"]
    return run(["helm", "template", *argv[3:], "--kube-version", KUBE_VERSION], check=check)


def objects(argv: list[str]) -> list[dict[str, Any]]:
    """The rendered manifests of an install argv."""
    return [o for o in yaml.safe_load_all(as_template(argv).stdout) if o]


def profile_objects(profile: str, *values: str) -> list[dict[str, Any]]:
    """The manifests of a chart profile (pipelines.chart.PROFILES), with extra arguments."""
    argv = [*chart.template_command(CHART, profile), *values]
    return [o for o in yaml.safe_load_all(run(argv).stdout) if o]


def find(rendered: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    """The one rendered object of `kind` (and `name`)."""
    [found] = [
        o for o in rendered if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)
    ]
    return found


def smoke_pod(rendered: list[dict[str, Any]], probe: str = "smoke") -> dict[str, Any]:
    """A smoke test pod: `smoke` (its device gateway on UDP) or `smoke-basic-station`."""
    return find(rendered, "Pod", SMOKE_POD.removesuffix("smoke") + probe)
