"""The pinned actionlint (.tools/bin, built from its Go module) passes every workflow,
and demonstrably fails a broken one, so a clean result means something.

shellcheck is switched off (`-shellcheck=`): actionlint would use it only where it
happens to be on PATH, and the verdict must not depend on the machine.
"""

import re
import subprocess
from pathlib import Path

from tests.support.paths import REPO_ROOT, tool_path

WORKFLOWS = sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml"))

# Three mistakes actionlint knows: a job needing one that does not exist, an unknown
# context property in an expression, and a step output read from an undefined step.
BROKEN = """\
name: broken
on: push
permissions: {}
jobs:
  build:
    runs-on: ubuntu-24.04
    needs: [tset]
    permissions:
      contents: read
    steps:
      - run: echo "${{ github.no_such_property }}"
      - run: echo "$OUT"
        env:
          OUT: ${{ steps.missing.outputs.value }}
"""


def actionlint(*files: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(tool_path("actionlint")), "-shellcheck=", "-no-color", *map(str, files)],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def test_all_workflows_are_clean() -> None:
    assert {path.name for path in WORKFLOWS} >= {"ci.yml", "deploy.yml", "nightly.yml"}
    result = actionlint(*WORKFLOWS, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    broken = workflows / "broken.yml"
    broken.write_text(BROKEN)
    result = actionlint(broken, cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    found = {
        (int(m["line"]), m["rule"], m["name"])
        for m in re.finditer(
            r"^.*broken\.yml:(?P<line>\d+):\d+: .*?\"(?P<name>\w+)\".* \[(?P<rule>[\w-]+)\]$",
            result.stdout,
            re.M,
        )
    }
    assert found == {
        (5, "job-needs", "build"),
        (11, "expression", "no_such_property"),
        (14, "expression", "missing"),
    }
