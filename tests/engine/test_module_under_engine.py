"""The module under a real Dagger engine: the CLI a user runs, against this checkout.

Each test runs `dagger call …` (or `dagger functions`) in the repository, so the engine
loads the module exactly as on a laptop or in GitHub Actions: the Python runtime, the uv
install of `pipelines`, the pinned images. What an offline engine cannot reach (upstream
git, Azure, GitHub) is left to the tests that say so.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest

from pipelines import chart, versions
from pipelines.scan import TRIVY_IMAGE
from tests.dagger_module import functions
from tests.support.paths import CHART, REPO_ROOT
from tests.support.render import run

pytestmark = pytest.mark.engine

CALL_TIMEOUT = 1800  # a cold engine loads the module in minutes
LONG_WORK_IMAGES = (
    versions.GO_IMAGE, versions.NODE_IMAGE, versions.DOCKER_DIND_IMAGE, TRIVY_IMAGE,
)  # fmt: skip


def dagger(cli: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run the CLI in the repository; (result, seconds)."""
    started = time.monotonic()
    result = subprocess.run(
        [str(cli), "--progress=plain", *args],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=CALL_TIMEOUT, check=False,
    )  # fmt: skip
    took = time.monotonic() - started
    print(f"$ dagger {' '.join(args)}  -> exit {result.returncode} in {took:.1f} s")
    return result, took


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The CLI's final `Error: …` line."""
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert lines, result.stderr[-2000:]
    return lines[-1]


def test_dagger_functions_lists_every_function_of_the_module(dagger_cli: Path) -> None:
    result, _ = dagger(dagger_cli, "functions")
    assert result.returncode == 0, result.stderr[-3000:]
    listed = re.findall(r"^([a-z0-9-]+)\s{2,}\S", result.stdout, flags=re.M)
    assert sorted(listed) == sorted(f.cli_name for f in functions())


def test_lint_chart_passes_every_profile(dagger_cli: Path) -> None:
    result, _ = dagger(dagger_cli, "call", "lint-chart")
    assert result.returncode == 0, result.stderr[-3000:]
    for profile in chart.PROFILES:
        assert f"{profile}: " in result.stdout
    assert result.stdout.count("policy: 0 violations") == len(chart.PROFILES)


@pytest.mark.parametrize("profile", list(chart.PROFILES))
def test_template_chart_equals_the_host_helm_render(
    dagger_cli: Path, profile: str, tmp_path: Path
) -> None:
    out = tmp_path / "rendered"
    result, _ = dagger(
        dagger_cli, "call", "template-chart", "--profile", profile, "export", "--path", str(out)
    )
    assert result.returncode == 0, result.stderr[-3000:]
    in_engine = (out / f"{profile}.yaml").read_text()
    on_host = run(chart.template_command(CHART, profile)).stdout
    assert in_engine == on_host


# (call, message): bad input, answered by the module before any build, pull or login.
BAD_INPUT = [
    (["build", "--version", "v3.32.0"], "drop the leading 'v'"),
    (["scan", "--severity", "SEVERE"], "SEVERE"),
    (["template-chart", "--profile", "prod"], "unknown chart profile"),
    (["test-e-2-e", "--deadline", "5"], "give at least 60 seconds"),
    (
        ["publish", "--registry", "tts.azurecr.io", "--resource-group", "rg",
         "--subscription-id", "s", "--tenant-id", "t", "--client-id", "c"],
        "azurecr.io",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("call", "message"), BAD_INPUT, ids=lambda v: str(v)[:25])
def test_bad_input_is_one_error_line_before_any_work(
    dagger_cli: Path, call: list[str], message: str
) -> None:
    result, took = dagger(dagger_cli, "call", *call)
    assert result.returncode != 0
    line = error_line(result)
    assert message in line
    assert "Traceback" not in result.stdout + result.stderr
    # Nothing was built or pulled: the engine ran the module's own function only.
    assert "withExec" not in result.stderr.replace('Container.withExec(args: ["update-ca', "")
    print(f"{line}  [{took:.1f} s]")
