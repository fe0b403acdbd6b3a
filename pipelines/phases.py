"""Named phases of a long run, timed: progress while it runs, and which phase failed first.

    phases = Phases(report=print)
    with phases("cluster created"):
        ...                       # reports "cluster created: 41.2 s" when it ends
    phases.summary()              # "daemon up 9.8 s, cluster created 41.2 s"

A phase that raises is recorded as the failed one and the exception goes on; `failure()`
then names it with the phases that passed before it, for the first line of an error.
"""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class Phases:
    """Phases in the order they ran, each with its seconds; at most one failed (the last)."""

    report: Callable[[str], None] = lambda _line: None
    clock: Callable[[], float] = time.monotonic
    done: list[tuple[str, float]] = field(default_factory=list)
    failed: tuple[str, float] | None = None

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        if not name:
            raise ValueError("a phase needs a name, e.g. 'cluster created'")
        if self.failed is not None:
            raise ValueError(f"phase {self.failed[0]!r} failed: no phase runs after it")
        self.report(f"{name} ...")
        started = self.clock()
        try:
            yield
        except BaseException:
            self.failed = (name, self.clock() - started)
            self.report(f"{name}: FAILED after {self.failed[1]:.1f} s")
            raise
        seconds = self.clock() - started
        self.done.append((name, seconds))
        self.report(f"{name}: {seconds:.1f} s")

    def summary(self) -> str:
        """The phases that passed, with their times, in order."""
        return ", ".join(f"{name} {seconds:.1f} s" for name, seconds in self.done) or "none"

    def failure(self) -> str:
        """One line: the phase that failed first, and what passed before it."""
        if self.failed is None:
            return f"no phase failed (passed: {self.summary()})"
        name, seconds = self.failed
        before = self.summary()
        return f"failed in phase {name!r} after {seconds:.1f} s (passed before it: {before})"
