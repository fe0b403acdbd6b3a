"""Where the repository and its pinned tools are: the one definition for every test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOLS_BIN = REPO_ROOT / ".tools" / "bin"
CHART = REPO_ROOT / "charts" / "thethingsstack"


NODE_BIN = REPO_ROOT / ".tools" / "readme-generator" / "node_modules" / ".bin"


def tool_path(name: str) -> Path:
    """A pinned tool from .tools/bin (Go), .venv/bin (PyPI) or the npm tools; fail, never skip."""
    for candidate in (TOOLS_BIN / name, REPO_ROOT / ".venv" / "bin" / name, NODE_BIN / name):
        if candidate.is_file():
            return candidate
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: run scripts/test, which builds the pinned tools")
    return Path(found)
