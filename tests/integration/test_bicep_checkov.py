"""checkov's Bicep checks over bicep/, run for real with the pinned checkov (3.3.30).

The argv is pipelines.bicep.checkov_argv. This test is where checkov runs: scripts/test, on
every push (ci.yml's test job); the Bicep compiler's own build and lint run in
`dagger call lint-bicep` (ci.yml's `dagger check`). A second run with the inline
suppressions stripped proves that each one hides a real finding (no stale or blanket skips).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from pipelines import bicep
from tests.support.paths import REPO_ROOT

CHECKOV = REPO_ROOT / ".tools" / "checkov" / "bin" / "checkov"
SKIP = re.compile(r"//checkov:skip=(CKV2?_AZURE_\d+):")


def run_checkov(directory: Path) -> dict[str, Any]:
    if not CHECKOV.is_file():
        pytest.fail(f"{CHECKOV} is missing: run scripts/test, which installs checkov")
    argv = bicep.checkov_argv(str(directory), output="json", checkov=str(CHECKOV))
    done = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=directory)
    assert done.stdout.strip(), done.stderr[-2000:]
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def suppressed_ids(directory: Path) -> set[str]:
    return {m for p in directory.rglob("*.bicep") for m in SKIP.findall(p.read_text())}


def test_checkov_bicep_checks_pass() -> None:
    report = run_checkov(REPO_ROOT / "bicep")
    summary = report["summary"]
    print("checkov:", summary)  # evidence for the closing note
    assert summary["parsing_errors"] == 0
    assert summary["failed"] == 0, [c["check_id"] for c in report["results"]["failed_checks"]]
    assert summary["passed"] >= 30
    skipped = {c["check_id"] for c in report["results"]["skipped_checks"]}
    assert skipped == suppressed_ids(REPO_ROOT / "bicep")


def test_every_suppression_hides_a_real_finding(tmp_path: Path) -> None:
    copy = tmp_path / "bicep"
    shutil.copytree(REPO_ROOT / "bicep", copy)
    expected = suppressed_ids(copy)
    for path in copy.rglob("*.bicep"):
        path.write_text(path.read_text().replace("//checkov:skip=", "// suppressed: "))
    report = run_checkov(copy)
    failed = {c["check_id"] for c in report["results"]["failed_checks"]}
    assert failed == expected
