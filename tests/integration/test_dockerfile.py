"""Dockerfile.tts passes hadolint (the real binary) and builds the pinned release."""

import subprocess
from pathlib import Path

import pytest

from tests.conftest import tool_path

pytestmark = pytest.mark.integration


def hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(tool_path("hadolint")), "--no-color", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_dockerfile_is_hadolint_clean(repo_root: Path) -> None:
    result = hadolint(repo_root / "Dockerfile.tts")
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_catches_an_unpinned_base(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM alpine:latest\nRUN apk add curl\n")
    result = hadolint(bad)
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # "Using latest is prone to errors"
