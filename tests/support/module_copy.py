"""The module as an offline engine can load it: the repository, or a copy with another
runtime base image (ci/pyproject.toml pins python by digest, which only Docker Hub serves)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from tests.support.paths import REPO_ROOT

# An image reference the engine can pull instead (e.g. a local stand-in, by digest).
BASE_IMAGE_OVERRIDE = "TTS_CI_ENGINE_BASE_IMAGE"


def module_dir(scratch: Path) -> Path:
    """REPO_ROOT, or (with BASE_IMAGE_OVERRIDE set) its copy in `scratch` whose only
    difference is the `base-image` line."""
    override = os.environ.get(BASE_IMAGE_OVERRIDE)
    if not override:
        return REPO_ROOT
    copy_module(REPO_ROOT, scratch)
    pyproject = scratch / "ci" / "pyproject.toml"
    text, count = re.subn(
        r'^base-image = ".*"$', f'base-image = "{override}"', pyproject.read_text(), flags=re.M
    )
    if count != 1:
        raise ValueError("ci/pyproject.toml has no base-image line")
    pyproject.write_text(text)
    print(f"module copy at {scratch}, base-image = {override!r} ({BASE_IMAGE_OVERRIDE})")
    return scratch


def copy_module(source: Path, scratch: Path) -> Path:
    """The repository's files (tracked or not ignored) as they are in `source` (the
    repository or a copy of it), copied into `scratch`."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=REPO_ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    for name in filter(None, listed.split("\0")):
        target = scratch / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / name, target)
    return scratch
