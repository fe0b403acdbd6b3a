"""The GitHub Actions workflows as data: their jobs, and every `dagger call` in their scripts.

Every `dagger call <fn> --flag …` is parsed out of the run scripts (backslash continuations,
pipes and `$( … )` included) and checked against the module's real signatures, introspected
with the dagger-io SDK: the function exists, each flag is one of its arguments, every
required argument is passed and every Secret argument is an `env://` reference. Chained
calls are followed through the return types: the module's objects (TtsImage, Azure) and the
SDK's own Directory/Container/File classes.
"""

from __future__ import annotations

import inspect
import re
import shlex
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagger
import yaml

from pipelines import bicep
from tests.dagger_module import OBJECTS, TtsCi, functions
from tests.support.dagger_names import cli_name
from tests.support.paths import REPO_ROOT

WORKFLOWS = REPO_ROOT / ".github" / "workflows"
# Characters that end a shell command: operators, redirections and (unquoted) newlines.
OPERATORS = "();<>|&\n"


# --- Parsing `dagger call` out of shell scripts --------------------------------


@dataclass
class Invocation:
    """One function (or chained core method) of a `dagger call` and its flags."""

    name: str
    flags: dict[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True)
class DaggerCall:
    """`dagger call fn --a x [method --b y …]` as typed in a workflow."""

    source: str
    chain: tuple[Invocation, ...]


@dataclass(frozen=True)
class Signature:
    """What the CLI accepts for one function: flag -> annotation, required flags."""

    params: dict[str, Any]
    required: frozenset[str]
    returns: Any


def _base_type(annotation: Any) -> Any:
    """`Annotated[X | None, Doc(...)]` -> X."""
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        rest = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return annotation


def _signature(method: Any) -> Signature:
    hints = typing.get_type_hints(method, include_extras=True)
    params = list(inspect.signature(method).parameters.values())[1:]
    return Signature(
        params={cli_name(p.name): _base_type(hints[p.name]) for p in params},
        required=frozenset(
            cli_name(p.name) for p in params if p.default is inspect.Parameter.empty
        ),
        returns=_base_type(hints.get("return")),
    )


MODULE = {f.cli_name: _signature(f.method) for f in functions(TtsCi)}


def logical_lines(script: str) -> list[str]:
    """Shell lines with backslash-newline continuations joined, as bash reads them."""
    return re.sub(r"\\\n", " ", script).splitlines()


def shell_tokens(script: str) -> list[str]:
    """Words and operators of a bash script, quotes resolved; an unquoted newline is
    an operator token, a newline inside quotes stays part of its word."""
    lexer = shlex.shlex(re.sub(r"\\\n", " ", script), posix=True, punctuation_chars=OPERATORS)
    lexer.whitespace = " \t\r"
    lexer.whitespace_split = True
    lexer.commenters = "#"
    return list(lexer)


def is_operator(token: str) -> bool:
    return set(token) <= set(OPERATORS)


def find_dagger(script: str, verb: str = "call") -> Iterator[list[str]]:
    """The tokens after `dagger [global flags] <verb>` up to the end of that command."""
    tokens = shell_tokens(script)
    for i, word in enumerate(tokens):
        if word != "dagger" or (i > 0 and not is_operator(tokens[i - 1]) and tokens[i - 1] != "$"):
            continue  # only `dagger` in command position (or in `$(dagger …)`)
        j = i + 1
        while j < len(tokens) and tokens[j].startswith("-"):
            j += 1  # global flags such as --progress=plain
        if j < len(tokens) and tokens[j] == verb:
            end = j + 1
            while end < len(tokens) and not is_operator(tokens[end]):
                end += 1
            yield tokens[j + 1 : end]


# What `dagger check` may run: the module's @check functions, by their CLI names.
CHECKS = frozenset(f.cli_name for f in functions(TtsCi) if f.meta.check)


def checks_in(job: dict[str, Any]) -> list[str]:
    """The checks a job's `dagger check [pattern…]` runs (no pattern: all of them)."""
    found: list[str] = []
    for script in runs(job):
        for patterns in find_dagger(script, "check"):
            found += [p for p in patterns if not p.startswith("-")] or sorted(CHECKS)
    return found


def parse_call(tokens: list[str], source: str) -> DaggerCall:
    """Split the tokens into the module function and chained methods with their flags.

    Whether `--flag` consumes the next token depends on its type (booleans do not),
    so the signatures are looked up while parsing.
    """
    chain: list[Invocation] = []
    signature: Signature | None = None
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if not token.startswith("--"):
            chain.append(Invocation(token))
            signature = _next_signature(chain, signature)
            i += 1
            continue
        if not chain:
            raise AssertionError(f"{source}: flag {token} before any function")
        name, sep, value = token[2:].partition("=")
        if sep:
            chain[-1].flags[name] = value
        elif signature is not None and signature.params.get(name) is bool:
            chain[-1].flags[name] = None
        else:
            chain[-1].flags[name] = tokens[i + 1] if i + 1 < len(tokens) else None
            i += 1
        i += 1
    return DaggerCall(source, tuple(chain))


def _next_signature(chain: list[Invocation], previous: Signature | None) -> Signature | None:
    if len(chain) == 1:
        return MODULE.get(chain[0].name)
    owner = previous.returns if previous is not None else None
    method = getattr(owner, chain[-1].name.replace("-", "_"), None)
    return _signature(method) if callable(method) else None


def problems(call: DaggerCall) -> list[str]:
    """Why this call would fail at the CLI (empty: it names real functions and flags)."""
    found: list[str] = []
    signature: Signature | None = None
    owner: Any = None
    for depth, step in enumerate(call.chain):
        if depth == 0:
            signature = MODULE.get(step.name)
            if signature is None:
                return [f"{call.source}: `dagger call {step.name}`: no such function"]
        else:
            owner = signature.returns if signature is not None else None
            method = getattr(owner, step.name.replace("-", "_"), None)
            if not callable(method):
                where = getattr(owner, "__name__", owner)
                return [*found, f"{call.source}: {where} has no method {step.name}"]
            signature = _signature(method)
        assert signature is not None
        for flag, value in step.flags.items():
            kind = signature.params.get(flag)
            if kind is None:
                found.append(f"{call.source}: {step.name} has no argument --{flag}")
            elif kind is dagger.Secret and not (value or "").startswith("env://"):
                found.append(f"{call.source}: --{flag} is a Secret: pass env://VAR, not {value}")
        for missing in sorted(signature.required - step.flags.keys()):
            found.append(f"{call.source}: {step.name} needs --{missing}")
    return found


# --- Reading the workflows ------------------------------------------------------


def load(path: Path) -> dict[Any, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict), path
    return data


def triggers(workflow: dict[Any, Any]) -> dict[str, Any]:
    # PyYAML reads the bare key `on` as the boolean True (YAML 1.1).
    on = workflow.get("on", workflow.get(True))
    assert isinstance(on, dict)
    return on


WORKFLOW_FILES = sorted(WORKFLOWS.glob("*.yml"))
ALL_WORKFLOWS = {path.name: load(path) for path in WORKFLOW_FILES}


def jobs() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for name, workflow in ALL_WORKFLOWS.items():
        for job_id, job in workflow["jobs"].items():
            yield name, job_id, job


def runs(job: dict[str, Any]) -> list[str]:
    return [step["run"] for step in job.get("steps", []) if "run" in step]


def calls_in(workflow: str, job_id: str, job: dict[str, Any]) -> list[DaggerCall]:
    return [
        parse_call(tokens, f"{workflow} {job_id}")
        for script in runs(job)
        for tokens in find_dagger(script)
    ]


def is_azure_facing(calls: list[DaggerCall]) -> bool:
    return any("tenant-id" in call.chain[0].flags for call in calls)


def module_path(call: DaggerCall) -> str:
    """The module functions a call chains, e.g. "with-azure publish" (core methods dropped)."""
    path: list[str] = []
    owner: Any = TtsCi
    for step in call.chain:
        if owner not in OBJECTS:
            break
        by_cli = {f.cli_name: f.method for f in functions(owner)}
        if step.name not in by_cli:
            break
        path.append(step.name)
        owner = typing.get_type_hints(by_cli[step.name]).get("return")
    return " ".join(path)


# GitHub Actions variable -> Bicep output: the one table in pipelines/bicep.py (whose
# contents tests/unit/test_bicep.py pins), which scripts/require-env must agree with.
AZURE_VARIABLES = {variable: output for output, variable in bicep.GITHUB_VARIABLES.items()}


def azure_jobs() -> list[tuple[str, str, dict[str, Any]]]:
    """The jobs that call Azure-facing functions (they check their variables first)."""
    return [(w, j, job) for w, j, job in jobs() if is_azure_facing(calls_in(w, j, job))]


# Variables a job may leave unset: the deploy values file has a default path, and the
# public UDP address only adds a probe. Every other `vars.X` must be checked first.
OPTIONAL_VARIABLES = {"TTS_VALUES_FILE", "TTS_UDP_HOST"}


def required_variables(job: dict[str, Any]) -> set[str]:
    """The `vars.X` a job's first step must check."""
    return {
        k
        for k, v in job["env"].items()
        if str(v).startswith("${{ vars.") and k not in OPTIONAL_VARIABLES
    }
