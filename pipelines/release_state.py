"""A deploy that always ends in a known state: the release's revisions as Helm records them.

Helm marks a revision `pending-install`, `pending-upgrade` or `pending-rollback` while it
works and only then `deployed`/`failed`. A run that is cancelled or loses the cluster on the
way leaves the mark, and every later `helm upgrade` fails with "another operation is in
progress". Before a deploy, `recover` finds such a revision and returns the release to its
last working revision (`helm rollback`), or removes a release that never had one (`helm
uninstall`). After a deploy that fails its smoke test, `undo` does the same and raises with
what happened, including a rollback that itself failed. Neither touches the state: volumes
are retained, Redis and PostgreSQL are outside the release's objects.

The steps are helm argv (pipelines.helm); a Runner executes them: the Dagger module in its
helm container, the tests as processes against a real API server.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from pipelines import helm
from pipelines.chart import NAMESPACE, RELEASE_NAME

PENDING = frozenset({"pending-install", "pending-upgrade", "pending-rollback"})
# Statuses of a revision that ran: the current one is `deployed`, earlier ones `superseded`.
WORKED = frozenset({"deployed", "superseded"})

# argv -> (exit code, combined output)
Runner = Callable[[list[str]], Awaitable[tuple[int, str]]]


class ReleaseError(RuntimeError):
    """The release could not be brought to a working state; the message says what to do."""


@dataclass(frozen=True)
class Revision:
    number: int
    status: str
    app_version: str
    description: str


@dataclass(frozen=True)
class Cluster:
    """Where the release is: helm's kubeconfig, context and namespace."""

    kubeconfig: str | Path
    context: str = ""
    namespace: str = NAMESPACE


def parse_history(text: str) -> list[Revision]:
    """`helm history --output json`, oldest first."""
    entries = json.loads(text)
    revisions = [
        Revision(int(e["revision"]), str(e["status"]), str(e.get("app_version", "")),
                 str(e.get("description", "")))
        for e in entries
    ]  # fmt: skip
    return sorted(revisions, key=lambda r: r.number)


async def history(run: Runner, cluster: Cluster) -> list[Revision]:
    """The release's revisions; [] when there is no release yet."""
    code, out = await run(helm.history_argv(cluster.kubeconfig, cluster.context, cluster.namespace))
    if code == 0:
        return parse_history(out)
    if "release: not found" in out:
        return []
    raise ReleaseError(f"helm history failed (exit {code}), the cluster is not reachable:\n{out}")


def last_working(revisions: list[Revision]) -> Revision | None:
    """The newest revision that ran (`deployed`, else `superseded`)."""
    for status in ("deployed", "superseded"):
        ran = [r for r in revisions if r.status == status]
        if ran:
            return ran[-1]
    return None


@dataclass(frozen=True)
class Step:
    """What returns the release to a known state, and that state."""

    argv: list[str]
    what: str
    outcome: str


def _back_to(cluster: Cluster, target: Revision | None) -> Step:
    """The step that returns the release to `target`, or removes it when there is none."""
    if target is None:
        return Step(
            helm.uninstall_argv(cluster.kubeconfig, cluster.context, cluster.namespace),
            "helm uninstall (no revision of this release ever worked)",
            "nothing of the release is live; its volumes and the stores are untouched",
        )
    return Step(
        helm.rollback_argv(
            cluster.kubeconfig, target.number, cluster.context, namespace=cluster.namespace
        ),
        f"helm rollback to revision {target.number} (app version {target.app_version})",
        f"revision {target.number} is live again",
    )


async def recover(run: Runner, cluster: Cluster) -> str:
    """Before a deploy: undo an interrupted Helm run, so the release is one that worked."""
    revisions = await history(run, cluster)
    if not revisions:
        return "release: none yet (first install)"
    latest = revisions[-1]
    if latest.status not in PENDING:
        return f"release: revision {latest.number} {latest.status}"
    step = _back_to(cluster, last_working(revisions[:-1]))
    code, out = await run(step.argv)
    if code != 0:
        raise ReleaseError(
            f"revision {latest.number} was left {latest.status} by an interrupted helm run; "
            f"{step.what} failed (exit {code}):\n{out}\nNothing was deployed. Inspect with "
            f"`helm history {RELEASE_NAME} -n {cluster.namespace}` and fix by hand."
        )
    return f"revision {latest.number} was left {latest.status}: {step.what}: {step.outcome}"


async def undo(run: Runner, cluster: Cluster, failure: str) -> NoReturn:
    """After a deploy that failed its checks: back to the last working revision, or none.

    Always raises ReleaseError: `failure`, what was done about it, and whether that worked.
    """
    revisions = await history(run, cluster)
    target = last_working(revisions[:-1]) if revisions else None
    step = _back_to(cluster, target)
    code, out = await run(step.argv)
    if code != 0:
        raise ReleaseError(
            f"{failure}\n{step.what} FAILED as well (exit {code}):\n{out}\nThe new revision "
            f"may still be live: `helm history {RELEASE_NAME} -n {cluster.namespace}`, then "
            "roll back or uninstall by hand."
        )
    raise ReleaseError(f"{failure}\n{step.what}: {step.outcome}")
