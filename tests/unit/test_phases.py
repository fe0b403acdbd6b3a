"""pipelines.phases: the e2e's progress lines, its summary, and the phase that failed first."""

from collections.abc import Iterator

import pytest

from pipelines.phases import Phases


def ticking(*times: float) -> Iterator[float]:
    yield from times


def make(*times: float) -> tuple[Phases, list[str]]:
    lines: list[str] = []
    clock = ticking(*times)
    return Phases(report=lines.append, clock=lambda: next(clock)), lines


def test_phases_report_progress_and_sum_up_in_order() -> None:
    phases, lines = make(0.0, 9.8, 10.0, 51.2)
    with phases("daemon up"):
        pass
    with phases("cluster created"):
        pass
    assert lines == [
        "daemon up ...",
        "daemon up: 9.8 s",
        "cluster created ...",
        "cluster created: 41.2 s",
    ]
    assert phases.summary() == "daemon up 9.8 s, cluster created 41.2 s"
    assert phases.failure() == "no phase failed (passed: daemon up 9.8 s, cluster created 41.2 s)"


def test_the_failed_phase_is_named_with_what_passed_before_it() -> None:
    phases, lines = make(0.0, 2.5, 3.0, 125.0)
    with phases("daemon up"):
        pass
    with pytest.raises(RuntimeError, match="helm said no"), phases("install ready"):
        raise RuntimeError("helm said no")
    assert lines[-1] == "install ready: FAILED after 122.0 s"
    assert phases.failure() == (
        "failed in phase 'install ready' after 122.0 s (passed before it: daemon up 2.5 s)"
    )
    after = "phase 'install ready' failed: no phase runs after it"
    with pytest.raises(ValueError, match=after), phases("helm test"):
        pass


def test_a_first_phase_that_fails_says_nothing_passed() -> None:
    phases, _ = make(0.0, 1.0)
    with pytest.raises(KeyError), phases("images built"):
        raise KeyError("x")
    assert phases.failure() == "failed in phase 'images built' after 1.0 s (passed before it: none)"


def test_a_phase_needs_a_name() -> None:
    phases, _ = make()
    with pytest.raises(ValueError, match="a phase needs a name"), phases(""):
        pass
