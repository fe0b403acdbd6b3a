"""Read Dockerfile.tts the way docker does: logical instructions, each with its stage."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction: its stage ("" before the first FROM), keyword, text."""

    stage: str
    keyword: str
    args: str


def parse(text: str) -> list[Instruction]:
    """Logical instructions: continuations joined, comment lines dropped (as docker does)."""
    instructions: list[Instruction] = []
    stage, pending = "", ""
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical, pending = (pending + line).strip(), ""
        if not logical:
            continue
        keyword, _, args = logical.partition(" ")
        if keyword.upper() == "FROM":
            parts = args.split()
            stage = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else "runtime"
        instructions.append(Instruction(stage, keyword.upper(), " ".join(args.split())))
    return instructions


def global_args(text: str) -> dict[str, str]:
    """The ARG defaults before the first FROM (what `docker build` uses without --build-arg)."""
    return dict(
        i.args.split("=", 1)
        for i in parse(text)
        if i.stage == "" and i.keyword == "ARG" and "=" in i.args
    )
