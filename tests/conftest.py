"""Shared fixtures and the rules every test run follows; shared helpers live in tests/support/.

- A test's folder is its kind: tests/<kind>/… gets the marker <kind> (pyproject.toml lists
  them), and a test marked with another kind fails the run, naming it.
- Peers in the default place count as if their variables were set (tests/support/peers.py).
"""

import os
from pathlib import Path

import pytest

from tests.support import peers
from tests.support.paths import REPO_ROOT

KINDS = ("unit", "integration", "realserver", "engine", "kubeapi")
FOUND = pytest.StashKey[list[str]]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[FOUND] = peers.apply_default_place(os.environ)


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [f"peer: {line}" for line in config.stash.get(FOUND, [])]


def kind_of(path: Path) -> str:
    """The kind of a test file: its folder under tests/."""
    kind = path.relative_to(REPO_ROOT / "tests").parts[0]
    if kind not in KINDS:
        raise pytest.UsageError(
            f"{path} is not in a kind's folder: put it under tests/<{'|'.join(KINDS)}>/"
        )
    return kind


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        kind = kind_of(item.path)
        other = {m.name for m in item.iter_markers()} & set(KINDS) - {kind}
        if other:
            raise pytest.UsageError(
                f"{item.nodeid} is marked {', '.join(sorted(other))} but lives in tests/{kind}/: "
                "a test's folder is its kind; move it"
            )
        item.add_marker(kind)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT
