"""The engine suite drives the real Dagger CLI against its engine, or skips with one line.

- DAGGER_CLI (tests/support/peers.py: also `dagger` on PATH, or the default place): the CLI
  of dagger.json's engineVersion. It reaches the engine named by
  _EXPERIMENTAL_DAGGER_RUNNER_HOST, or starts its own through Docker, as on a laptop.
- TTS_CI_ENGINE_BASE_IMAGE (offline engines only): an image reference to run the module
  runtime on instead of ci/pyproject.toml's digest-pinned python image, which an engine
  without Docker Hub cannot pull. The suite then runs on a copy of the repository whose
  `base-image` line names it; that line is the only difference, and the suite prints it.
"""

import re
import subprocess
from pathlib import Path

import pytest

from pipelines.versions import DAGGER_VERSION
from tests.support import module_copy, peers


def require_dagger_cli() -> None:
    """Skip (or fail) the calling module with one line when there is no dagger CLI."""
    peers.require("DAGGER_CLI", f"the dagger CLI v{DAGGER_VERSION} this suite drives")


@pytest.fixture(scope="session")
def dagger_cli() -> Path:
    """The `dagger` CLI of dagger.json's engineVersion (DAGGER_CLI)."""
    found = peers.require("DAGGER_CLI", f"the dagger CLI v{DAGGER_VERSION} this suite drives")
    version = subprocess.run(
        [found, "version"], capture_output=True, text=True, timeout=60, check=False
    ).stdout
    if not re.match(rf"dagger v{re.escape(DAGGER_VERSION)}\b", version):
        pytest.fail(f"{found} is {version.strip()!r}; the module needs v{DAGGER_VERSION}")
    return Path(found)


@pytest.fixture(scope="session")
def module_dir(dagger_cli: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where `dagger call` runs: the repository, or its copy with the base image overridden."""
    return module_copy.module_dir(tmp_path_factory.mktemp("module"))
