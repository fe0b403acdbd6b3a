"""Waiting in tests for something another process does: one poll loop with one failure."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import pytest

T = TypeVar("T")


def eventually(
    what: str,
    read: Callable[[], T],
    ok: Callable[[T], bool] = bool,
    timeout: float = 60,
    interval: float = 0.5,
) -> T:
    """read() until ok(value), then that value; after `timeout` s the test fails, naming
    `what` and the last value read."""
    deadline = time.monotonic() + timeout
    while not ok(value := read()):
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {timeout:g} s; last: {value!r}")
        time.sleep(interval)
    return value
