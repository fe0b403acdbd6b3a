"""The engine suite drives the real Dagger CLI against its engine, or skips with one line.

- DAGGER_CLI (tests/support/peers.py: also `dagger` on PATH, or the default place): the CLI
  of dagger.json's engineVersion. It reaches the engine named by
  _EXPERIMENTAL_DAGGER_RUNNER_HOST, or starts its own through Docker, as on a laptop.
  The engine is the peer: a CLI that reaches none (no Docker daemon, an engine image it
  cannot pull, a dead socket) skips the suite with one line, like an absent CLI.
- TTS_CI_ENGINE_BASE_IMAGE (offline engines only): an image reference to run the module
  runtime on instead of ci/pyproject.toml's digest-pinned python image, which an engine
  without Docker Hub cannot pull. The suite then runs on a copy of the repository whose
  `base-image` line names it; that line is the only difference, and the suite prints it.
"""

import os
import re
import socket
import subprocess
from pathlib import Path

import pytest

from pipelines.versions import DAGGER_VERSION
from tests.support import module_copy, peers

RUNNER_HOST = "_EXPERIMENTAL_DAGGER_RUNNER_HOST"
ENGINE_START_TIMEOUT = 600  # a laptop's first run pulls the engine image


def require_engine() -> None:
    """Skip (or fail) the calling module with one line unless the dagger CLI reaches an engine."""
    cli = peers.require("DAGGER_CLI", f"the dagger CLI v{DAGGER_VERSION} this suite drives")
    runner = os.environ.get(RUNNER_HOST, "")
    # The CLI retries a dead unix socket for minutes; a connect says it at once.
    if runner.startswith("unix://") and not listening(runner.removeprefix("unix://")):
        peers.absent(
            f"{RUNNER_HOST}={runner}: no engine listens there; start it, or unset the "
            "variable to let the CLI start its own through Docker"
        )
    try:
        reached = subprocess.run(
            [cli, "--progress=plain", "core", "version"],
            capture_output=True, text=True, timeout=ENGINE_START_TIMEOUT, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        peers.absent(f"{cli} reached no engine in {ENGINE_START_TIMEOUT} s")
    if reached.returncode != 0:
        peers.absent(
            f"{cli} reaches no engine ({cli_error(reached.stderr)}): start Docker, "
            f"or set {RUNNER_HOST} to a running engine"
        )


def listening(path: str) -> bool:
    with socket.socket(socket.AF_UNIX) as client:
        try:
            client.connect(path)
        except OSError:
            return False
    return True


def cli_error(stderr: str) -> str:
    """The CLI's closing `Error: …` line without its trace id."""
    errors = [line for line in stderr.splitlines() if line.startswith("Error: ")]
    return re.sub(r" \[traceparent:[^\]]*\]$", "", errors[-1]) if errors else "no error line"


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
