"""Shared fixtures; shared helpers live in tests/support/."""

from pathlib import Path

import pytest

from tests.support.paths import REPO_ROOT


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT
