"""pipelines.signing's Workspace on the host: the pinned cosign and oras in a directory."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.support.paths import tool_path


class DirectoryWorkspace:
    """signing.Workspace in a directory, the pinned tools from .tools/bin."""

    def __init__(self, root: Path) -> None:
        self.root = root

    async def write(self, name: str, text: str) -> None:
        (self.root / name).write_text(text)

    async def run(self, argv: list[str]) -> tuple[int, str, str]:
        process = await asyncio.create_subprocess_exec(
            str(tool_path(argv[0])), *argv[1:], cwd=self.root,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env={"HOME": str(self.root), "PATH": "/usr/bin:/bin"},
        )  # fmt: skip
        out, err = await asyncio.wait_for(process.communicate(), timeout=120)
        assert process.returncode is not None
        return process.returncode, out.decode(), err.decode()
