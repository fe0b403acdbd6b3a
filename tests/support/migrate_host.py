"""Run pipelines.migrate's steps on this machine: the host's PostgreSQL client tools, this
package's CLI with the test interpreter, and a real ttn-lw-stack (TTN_LW_STACK) for the
`tts` steps. The Dagger function runs the very same steps in pinned containers."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import anyio

from pipelines.migrate import postgres
from pipelines.migrate.errors import MigrationError
from pipelines.migrate.run import Step, Stores, migrate
from tests.support.paths import REPO_ROOT
from tests.support.servers import binary


@dataclass
class HostExecutor:
    """Steps as processes in `workdir`; `tts_binary` for the `tts` tool (None: refused)."""

    workdir: Path
    tts_binary: Path | None = None
    log: list[str] = field(default_factory=list)

    def _argv(self, step: Step) -> list[str]:
        if step.tool == "postgres":
            return [binary(step.argv[0]), *step.argv[1:]]
        if step.tool == "python":
            return [sys.executable, "-m", "pipelines.migrate", *step.argv]
        if self.tts_binary is None:
            raise MigrationError(f"{step.what} needs ttn-lw-stack: set TTN_LW_STACK")
        return [str(self.tts_binary), *step.argv]

    async def run(self, step: Step) -> str:
        env = {**os.environ, **step.env, **step.secrets, "PYTHONPATH": str(REPO_ROOT)}
        result = await anyio.run_process(self._argv(step), cwd=self.workdir, env=env, check=False)
        out, err = result.stdout.decode(), result.stderr.decode()
        self.log.append(f"$ {step.what}: exit {result.returncode}")
        if result.returncode != 0:
            raise MigrationError(
                f"{step.what} failed (exit {result.returncode}): {err.strip()[-600:]}"
            )
        return out.strip()


def run_migrate(
    executor: HostExecutor,
    source: Stores,
    target: Stores,
    scratch: postgres.Database,
    *,
    dry_run: bool = False,
    replace: bool = False,
    log: Callable[[str], None] = lambda _: None,
) -> str:
    """pipelines.migrate's whole migration on this machine, from a test; its report."""
    migrated = anyio.run(
        lambda: migrate(
            executor, source, target, scratch, dry_run=dry_run, replace=replace, log=log
        )
    )
    return migrated.report
