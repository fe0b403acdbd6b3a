"""pipelines.release_state decisions on Helm's history (tests/kubeapi runs them for real)."""

from __future__ import annotations

import json

import anyio
import pytest

from pipelines import release_state
from pipelines.release_state import Revision

CLUSTER = release_state.Cluster("/run/kubeconfig", "aks", "tts")


def _history(*statuses: str) -> str:
    return json.dumps([
        {"revision": n, "status": s, "app_version": "3.32.0", "description": "d",
         "updated": "2026-11-30T12:00:00Z", "chart": "thethingsstack-0.1.0"}
        for n, s in enumerate(statuses, 1)
    ])  # fmt: skip


class FakeHelm:
    """Answers `helm history` with a fixed history and records the other argv it gets."""

    def __init__(self, history: str, code: int = 0, exit_others: int = 0) -> None:
        self.history, self.code, self.exit_others = history, code, exit_others
        self.ran: list[list[str]] = []

    async def __call__(self, argv: list[str]) -> tuple[int, str]:
        if argv[1] == "history":
            return self.code, self.history
        self.ran.append(argv)
        return self.exit_others, "Error: boom" if self.exit_others else "ok"


def test_history_is_parsed_oldest_first() -> None:
    text = json.dumps([{"revision": 2, "status": "deployed", "app_version": "3.32.1",
                        "description": "Upgrade complete"},
                       {"revision": 1, "status": "superseded", "app_version": "3.32.0",
                        "description": "Install complete"}])  # fmt: skip
    assert release_state.parse_history(text) == [
        Revision(1, "superseded", "3.32.0", "Install complete"),
        Revision(2, "deployed", "3.32.1", "Upgrade complete"),
    ]


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["superseded", "deployed"], 2),
        (["superseded", "superseded", "failed"], 2),
        (["deployed", "pending-upgrade"], 1),
        (["failed"], None),
        (["pending-install"], None),
    ],
)
def test_last_working_revision(statuses: list[str], expected: int | None) -> None:
    found = release_state.last_working(release_state.parse_history(_history(*statuses)))
    assert (found.number if found else None) == expected


def test_nothing_to_recover_runs_nothing() -> None:
    fake = FakeHelm(_history("superseded", "deployed"))
    assert anyio.run(release_state.recover, fake, CLUSTER) == "release: revision 2 deployed"
    assert fake.ran == []


def test_no_release_yet_is_a_first_install() -> None:
    fake = FakeHelm("Error: release: not found", code=1)
    assert anyio.run(release_state.recover, fake, CLUSTER) == "release: none yet (first install)"


def test_an_unreachable_cluster_stops_before_anything_is_done() -> None:
    fake = FakeHelm("Error: Kubernetes cluster unreachable", code=1)
    with pytest.raises(release_state.ReleaseError, match="cluster is not reachable"):
        anyio.run(release_state.recover, fake, CLUSTER)
    assert fake.ran == []


def test_a_pending_upgrade_is_rolled_back_to_the_deployed_revision() -> None:
    fake = FakeHelm(_history("superseded", "deployed", "pending-upgrade"))
    done = anyio.run(release_state.recover, fake, CLUSTER)
    [argv] = fake.ran
    assert argv[:4] == ["helm", "rollback", "tts", "2"]
    assert argv[argv.index("--kube-context") + 1] == "aks"
    assert done.startswith("revision 3 was left pending-upgrade: helm rollback to revision 2")


def test_a_failed_recovery_deploys_nothing_and_says_so() -> None:
    fake = FakeHelm(_history("pending-install"), exit_others=1)
    with pytest.raises(release_state.ReleaseError) as error:
        anyio.run(release_state.recover, fake, CLUSTER)
    assert "helm uninstall (no revision of this release ever worked) failed (exit 1)" in str(
        error.value
    )
    assert "Nothing was deployed" in str(error.value)
