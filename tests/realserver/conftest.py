"""The real-server suite finds ttn-lw-stack through TTN_LW_STACK, or skips with one line."""

import os
from pathlib import Path

import pytest

SKIP_REASON = "TTN_LW_STACK is not set: it names the ttn-lw-stack binary this suite runs"


@pytest.fixture(scope="session")
def ttn_lw_stack() -> Path:
    """The real binary; every test of the suite needs it."""
    value = os.environ.get("TTN_LW_STACK", "")
    binary = Path(value)
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        pytest.fail(f"TTN_LW_STACK={value} is not an executable file: point it at ttn-lw-stack")
    return binary
