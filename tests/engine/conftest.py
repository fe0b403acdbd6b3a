"""The engine suite drives the real Dagger CLI against a running engine, or skips with one line."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from pipelines.versions import DAGGER_VERSION

RUNNER_HOST = "_EXPERIMENTAL_DAGGER_RUNNER_HOST"


@pytest.fixture(scope="session")
def dagger_cli() -> Path:
    """The `dagger` CLI of dagger.json's engineVersion, talking to the engine at RUNNER_HOST."""
    if not os.environ.get(RUNNER_HOST):
        pytest.skip(f"{RUNNER_HOST} is not set: it names the Dagger engine this suite drives")
    found = os.environ.get("DAGGER_CLI") or shutil.which("dagger")
    if not found:
        pytest.fail(f"{RUNNER_HOST} is set but no dagger CLI: put v{DAGGER_VERSION} on PATH")
    version = subprocess.run(
        [found, "version"], capture_output=True, text=True, timeout=60, check=False
    ).stdout
    if not re.match(rf"dagger v{re.escape(DAGGER_VERSION)}\b", version):
        pytest.fail(f"{found} is {version.strip()!r}; the module needs v{DAGGER_VERSION}")
    return Path(found)
