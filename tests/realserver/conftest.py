"""The real-server suite runs the real ttn-lw-stack: TTN_LW_STACK (tests/support/peers.py)."""

import os
from pathlib import Path

import pytest

from tests.support import peers


def require_ttn_lw_stack() -> None:
    """Skip (or fail) the calling module with one line when there is no ttn-lw-stack."""
    peers.require("TTN_LW_STACK", "the ttn-lw-stack binary this suite runs")


@pytest.fixture(scope="session")
def ttn_lw_stack() -> Path:
    """The real binary; every test of the suite needs it."""
    value = os.environ.get("TTN_LW_STACK", "")
    binary = Path(value)
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        pytest.fail(f"TTN_LW_STACK={value} is not an executable file: point it at ttn-lw-stack")
    return binary
