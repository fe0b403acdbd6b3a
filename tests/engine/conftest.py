"""The engine suite drives the real Dagger CLI against a running engine, or skips with one line.

- _EXPERIMENTAL_DAGGER_RUNNER_HOST: the engine (the CLI's own variable); the `dagger` CLI of
  dagger.json's engineVersion on PATH (or DAGGER_CLI).
- TTS_CI_ENGINE_BASE_IMAGE (offline engines only): an image reference to run the module
  runtime on instead of ci/pyproject.toml's digest-pinned python image, which an engine
  without Docker Hub cannot pull. The suite then runs on a copy of the repository whose
  `base-image` line names it; that line is the only difference, and the suite prints it.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from pipelines.versions import DAGGER_VERSION
from tests.support import module_copy

RUNNER_HOST = "_EXPERIMENTAL_DAGGER_RUNNER_HOST"
SKIP_REASON = f"{RUNNER_HOST} is not set: it names the Dagger engine this suite drives"


@pytest.fixture(scope="session")
def dagger_cli() -> Path:
    """The `dagger` CLI of dagger.json's engineVersion, talking to the engine at RUNNER_HOST."""
    found = os.environ.get("DAGGER_CLI") or shutil.which("dagger")
    if not found:
        pytest.fail(f"{RUNNER_HOST} is set but no dagger CLI: put v{DAGGER_VERSION} on PATH")
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
