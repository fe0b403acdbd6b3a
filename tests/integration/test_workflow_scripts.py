"""scripts/require-env, the first step of every Azure-facing job, run as the runner runs it
(bash -e -o pipefail), and yamllint over the workflows."""

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.paths import REPO_ROOT, tool_path
from tests.support.workflow_calls import (
    AZURE_VARIABLES,
    WORKFLOW_FILES,
    azure_jobs,
    required_variables,
    runs,
)


def run_step(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a workflow step's script as the runner does (bash -e -o pipefail)."""
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=REPO_ROOT,
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(("workflow", "job_id", "job"), azure_jobs(), ids=lambda v: str(v)[:20])
def test_first_step_fails_naming_each_unset_variable(
    workflow: str, job_id: str, job: dict[str, Any]
) -> None:
    # GitHub passes an unset `${{ vars.X }}` as an empty string.
    first = runs(job)[0]
    names = [name for name in job["env"] if name in required_variables(job)]
    result = run_step(first, dict.fromkeys(names, "") | {"GITHUB_REF": "refs/heads/main"})
    assert result.returncode == 1
    expected = [
        f"missing GitHub Actions variable {name}: set it under Settings → Secrets and "
        f"variables → Actions (Bicep output {AZURE_VARIABLES[name]})"
        for name in names
    ]
    assert result.stderr.splitlines() == expected
    configured = run_step(first, dict.fromkeys(names, "set") | {"GITHUB_REF": "refs/heads/main"})
    assert configured.returncode == 0, configured.stderr
    assert configured.stdout == configured.stderr == ""


def test_require_env_names_only_the_missing_variables() -> None:
    result = run_step(
        "scripts/require-env AZURE_TENANT_ID ACR_NAME AKS_CLUSTER_NAME",
        {"ACR_NAME": "ttsprodacr"},
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "missing GitHub Actions variable AZURE_TENANT_ID: set it under Settings → Secrets and "
        "variables → Actions (Bicep output tenantId)",
        "missing GitHub Actions variable AKS_CLUSTER_NAME: set it under Settings → Secrets and "
        "variables → Actions (Bicep output aksClusterName)",
    ]


def test_require_env_knows_every_shared_variable() -> None:
    names = " ".join(AZURE_VARIABLES)
    assert (
        run_step(f"scripts/require-env {names}", dict.fromkeys(AZURE_VARIABLES, "x")).returncode
        == 0
    )
    missing = run_step(f"scripts/require-env {names}", {})
    assert missing.returncode == 1
    for name, output in AZURE_VARIABLES.items():
        assert f"variable {name}: " in missing.stderr
        assert f"(Bicep output {output})" in missing.stderr


def test_require_env_annotates_the_run_on_github() -> None:
    result = run_step("scripts/require-env ACR_NAME", {"GITHUB_ACTIONS": "true"})
    assert result.returncode == 1
    assert result.stdout == (
        "::error title=Missing variable ACR_NAME::missing GitHub Actions variable ACR_NAME: "
        "set it under Settings → Secrets and variables → Actions (Bicep output acrName)\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ("", "usage: scripts/require-env VARIABLE..."),
        (
            "AZURE_TENANT",
            "no Bicep output is known for AZURE_TENANT; add it to scripts/require-env",
        ),
    ],
)
def test_require_env_rejects_bad_usage(args: str, message: str) -> None:
    result = run_step(f"scripts/require-env {args}", {"AZURE_TENANT": "x"})
    assert result.returncode == 2
    assert message in result.stderr


def test_workflows_pass_yamllint_strict() -> None:
    result = subprocess.run(
        [str(tool_path("yamllint")), "--strict", *map(str, WORKFLOW_FILES)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- scripts/check-engine: version skew between the CLI and a shared engine -----------


def stub_dagger(directory: Path, cli: str, engine: str | None) -> dict[str, str]:
    """A `dagger` that answers `version` and `core version` as the real one does (its output
    format, checked against the real CLI in tests/engine); `engine` None: reaches none."""
    directory.mkdir(parents=True, exist_ok=True)
    core = f'echo -n "{engine}"' if engine else 'echo "Error: no engine" >&2; exit 1'
    (directory / "dagger").write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = version ]; then echo "dagger {cli} (unix:///run/dagger/engine.sock) '
        'linux/amd64"; exit 0; fi\n'
        f"{core}\n"
    )
    (directory / "dagger").chmod(0o755)
    return {"PATH": f"{directory}:{os.environ['PATH']}",
            "_EXPERIMENTAL_DAGGER_RUNNER_HOST": "unix:///run/dagger/engine.sock"}  # fmt: skip


def test_check_engine_refuses_skew_naming_both_versions(tmp_path: Path) -> None:
    want = json.loads((REPO_ROOT / "dagger.json").read_text())["engineVersion"]
    ok = run_step("scripts/check-engine", stub_dagger(tmp_path / "ok", want, want))
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == (
        f"check-engine: dagger CLI and engine {want} (unix:///run/dagger/engine.sock)"
    )
    for cli, engine in ((want, "v0.20.3"), ("v0.22.0", want)):
        skew = run_step("scripts/check-engine", stub_dagger(tmp_path / cli, cli, engine))
        assert skew.returncode == 1
        [line] = skew.stderr.splitlines()
        assert line.startswith(
            f"check-engine: version skew: the dagger CLI is {cli}, the engine at "
            f"unix:///run/dagger/engine.sock is {engine}; this module needs {want}"
        ), line
    none = run_step("scripts/check-engine", stub_dagger(tmp_path / "none", want, None))
    assert none.returncode == 1
    assert none.stderr.strip() == (
        f"check-engine: dagger {want} reaches no engine at unix:///run/dagger/engine.sock: "
        "start it, or check the runner's engine socket"
    )
