"""Attempts with backoff until a deadline: how every smoke check is polled and reported."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Final

import anyio
import httpx

from pipelines.smoke import semtech
from pipelines.smoke.capped import AnswerError
from pipelines.smoke.target import ATTEMPT_TIMEOUT

MIN_ATTEMPT_TIMEOUT: Final = 0.25  # what the last attempt at the deadline still gets


@dataclass(frozen=True)
class Backoff:
    """Delays between attempts: initial, times factor, capped."""

    initial: float = 0.1
    factor: float = 2.0
    cap: float = 2.0

    def delays(self) -> Iterator[float]:
        """The endless delay sequence."""
        delay = self.initial
        while True:
            yield min(delay, self.cap)
            delay *= self.factor


@dataclass(frozen=True)
class Attempt:
    """One attempt of one check; `at` is seconds since the run started."""

    check: str
    number: int
    ok: bool
    detail: str
    at: float


@dataclass
class CheckResult:
    """A check's outcome: the last attempt's detail and every attempt made."""

    name: str
    ok: bool
    detail: str
    elapsed: float
    attempts: list[Attempt]
    skipped: bool = False  # not asked for: neither passed nor failed


class ProbeFailure(AnswerError):
    """An attempt got an answer, but the wrong one."""


FAILURES = (
    AnswerError,  # ProbeFailure, registry.RegistryError
    semtech.ProtocolError,
    OSError,
    httpx.HTTPError,
    anyio.BrokenResourceError,
)


def describe(err: BaseException) -> str:
    text = str(err)
    if isinstance(err, AnswerError):
        return text
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


@dataclass(frozen=True)
class Poller:
    """Polls attempts of one step with backoff until it passes or the deadline passes."""

    started: float
    backoff: Backoff
    on_attempt: Callable[[Attempt], None]

    async def __call__(
        self,
        name: str,
        attempt: Callable[[], Awaitable[str]],
        deadline: float,
        attempt_timeout: float = ATTEMPT_TIMEOUT,
        *,
        whole: bool = False,
    ) -> CheckResult:
        """Attempts until one passes, one fails finally, or `deadline` passes. The last
        attempt is cut at the deadline, unless `whole` (an attempt that waits on a radio
        window is worthless cut short): then each gets its full `attempt_timeout`."""
        attempts: list[Attempt] = []
        delays = self.backoff.delays()
        while True:
            budget = max(deadline - anyio.current_time(), MIN_ATTEMPT_TIMEOUT)
            timeout = attempt_timeout if whole else min(attempt_timeout, budget)
            ok, final, detail = False, False, f"no answer within {timeout:.2f} s"
            with anyio.move_on_after(timeout):
                try:
                    detail, ok = await attempt(), True
                except FAILURES as err:
                    detail, final = describe(err), getattr(err, "final", False)
            now = anyio.current_time()
            at = round(now - self.started, 3)
            attempts.append(Attempt(name, len(attempts) + 1, ok, detail, at))
            self.on_attempt(attempts[-1])
            if ok or final or now >= deadline:
                return CheckResult(name, ok, detail, at, attempts)
            await anyio.sleep(min(next(delays), deadline - now))

    def not_run(self, name: str, why: str) -> CheckResult:
        """A step that could not run: one failed attempt that says why."""
        at = round(anyio.current_time() - self.started, 3)
        attempt = Attempt(name, 1, False, why, at)
        self.on_attempt(attempt)
        return CheckResult(name, False, why, at, [attempt])


def skipped(name: str, why: str) -> CheckResult:
    """A step this run does not make, and why: no attempt, not a failure."""
    return CheckResult(name, False, why, 0.0, [], skipped=True)
