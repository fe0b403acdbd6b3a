"""The GitHub Actions workflows run this module exactly as a user would.

Every `dagger call <fn> --flag …` in .github/workflows is parsed out of the run
scripts (backslash continuations, pipes and `$( … )` included) and checked against
the module's real signatures, introspected with the dagger-io SDK: the function
exists, each flag is one of its arguments, every required argument is passed and
every Secret argument is an `env://` reference. Chained core calls (`export
--path …`) are checked against the SDK's own Directory/Container classes.
"""

import inspect
import json
import os
import re
import shlex
import subprocess
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagger
import pytest
import yaml

from pipelines import bicep
from pipelines.dagger_names import cli_name
from tests.dagger_module import functions
from tests.support.paths import REPO_ROOT, tool_path

WORKFLOWS = REPO_ROOT / ".github" / "workflows"
REQUIRE_ENV = REPO_ROOT / "scripts" / "require-env"
# Characters that end a shell command: operators, redirections and (unquoted) newlines.
OPERATORS = "();<>|&\n"
PINNED_USES = re.compile(r"^\s*(?:-\s+)?uses:\s+[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+\s*$")
# GitHub Actions variable -> Bicep output: the one table in pipelines/bicep.py (whose
# contents tests/unit/test_bicep.py pins), which scripts/require-env must agree with.

AZURE_VARIABLES = {variable: output for output, variable in bicep.GITHUB_VARIABLES.items()}


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


MODULE = {f.cli_name: _signature(f.method) for f in functions()}


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


def find_dagger_calls(script: str) -> Iterator[list[str]]:
    """The tokens after `dagger [global flags] call` up to the end of that command."""
    tokens = shell_tokens(script)
    for i, word in enumerate(tokens):
        if word != "dagger" or (i > 0 and not is_operator(tokens[i - 1]) and tokens[i - 1] != "$"):
            continue  # only `dagger` in command position (or in `$(dagger …)`)
        j = i + 1
        while j < len(tokens) and tokens[j].startswith("-"):
            j += 1  # global flags such as --progress=plain
        if j < len(tokens) and tokens[j] == "call":
            end = j + 1
            while end < len(tokens) and not is_operator(tokens[end]):
                end += 1
            yield tokens[j + 1 : end]


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
        for tokens in find_dagger_calls(script)
    ]


def is_azure_facing(calls: list[DaggerCall]) -> bool:
    return any("tenant-id" in call.chain[0].flags for call in calls)


# --- The checker itself catches what it must ------------------------------------


def test_parser_reads_continuations_pipes_and_substitutions() -> None:
    script = (
        'out=$(dagger call publish \\\n  --registry "$ACR_NAME" \\\n'
        "  --tenant-id t --client-id c | tail -n 1)\n"
        "dagger --progress=plain call scan --ignore-unfixed export --path r  # comment\n"
    )
    found = [parse_call(tokens, "snippet") for tokens in find_dagger_calls(script)]
    assert [[(s.name, s.flags) for s in call.chain] for call in found] == [
        [("publish", {"registry": "$ACR_NAME", "tenant-id": "t", "client-id": "c"})],
        [("scan", {"ignore-unfixed": None}), ("export", {"path": "r"})],
    ]


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("dagger call test-e2e", "`dagger call test-e2e`: no such function"),
        ("dagger call lint-chart --profile kind", "lint-chart has no argument --profile"),
        ("dagger call deploy --cluster c", "deploy needs --image"),
        ("dagger call scan export --paht r", "export has no argument --paht"),
        ("dagger call scan export", "export needs --path"),
        ("dagger call build publish-image --x y", "has no method publish-image"),
        (
            "dagger call nightly --oidc-request-token $TOKEN",
            "--oidc-request-token is a Secret: pass env://VAR",
        ),
    ],
)
def test_checker_rejects_wrong_calls(script: str, expected: str) -> None:
    (tokens,) = find_dagger_calls(script)
    assert any(expected in p for p in problems(parse_call(tokens, "snippet")))


# --- The workflows ---------------------------------------------------------------


def test_the_three_workflows_exist() -> None:
    assert {"ci.yml", "deploy.yml", "nightly.yml"} <= set(ALL_WORKFLOWS)


def test_every_dagger_call_matches_the_module() -> None:
    found = [
        problem for w, j, job in jobs() for c in calls_in(w, j, job) for problem in problems(c)
    ]
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    ("workflow", "expected"),
    [
        ("ci.yml", {"lint-chart", "build", "scan", "test-e-2-e"}),
        ("deploy.yml", {"publish", "deploy"}),
        ("nightly.yml", {"nightly"}),
    ],
)
def test_each_workflow_runs_its_dagger_functions(workflow: str, expected: set[str]) -> None:
    called = {
        call.chain[0].name
        for job_id, job in ALL_WORKFLOWS[workflow]["jobs"].items()
        for call in calls_in(workflow, job_id, job)
    }
    assert called == expected


def test_ci_runs_the_readme_test_command() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    assert "\nscripts/test\n" in readme
    scripts = [run.strip() for job in ALL_WORKFLOWS["ci.yml"]["jobs"].values() for run in runs(job)]
    assert "scripts/test" in scripts


def uses_lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if re.match(r"^\s*(-\s+)?uses:", line)]


def test_every_action_is_pinned_to_a_commit_sha() -> None:
    for path in WORKFLOW_FILES:
        for line in uses_lines(path):
            assert PINNED_USES.match(line), f"{path.name}: not pinned to a SHA + # vX.Y.Z: {line}"
    # Every `uses:` in the parsed YAML is one the line check saw (none hides in flow style).
    parsed = [s["uses"] for _, _, job in jobs() for s in job.get("steps", []) if "uses" in s]
    assert parsed
    assert len(parsed) == sum(len(uses_lines(path)) for path in WORKFLOW_FILES)
    assert all(re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", u) for u in parsed)


def test_dagger_cli_is_the_module_engine_version() -> None:
    engine = json.loads((REPO_ROOT / "dagger.json").read_text())["engineVersion"]
    installs = [
        step
        for _, _, job in jobs()
        for step in job.get("steps", [])
        if str(step.get("uses", "")).startswith("dagger/dagger-for-github@")
    ]
    assert installs
    for step in installs:
        assert "v" + str(step["with"]["version"]).removeprefix("v") == engine
        # The action only installs the CLI; every call is a visible `run: dagger call`.
        assert set(step["with"]) == {"version"}


def test_jobs_that_call_dagger_install_it_first() -> None:
    for workflow, job_id, job in jobs():
        steps = job.get("steps", [])
        for index, step in enumerate(steps):
            if find_dagger_calls_in_step(step):
                before = [str(s.get("uses", "")) for s in steps[:index]]
                assert any(u.startswith("dagger/dagger-for-github@") for u in before), (
                    workflow,
                    job_id,
                )


def find_dagger_calls_in_step(step: dict[str, Any]) -> bool:
    return bool(list(find_dagger_calls(str(step.get("run", "")))))


def test_least_privilege_permissions() -> None:
    for data in ALL_WORKFLOWS.values():
        assert data["permissions"] == {}
    for workflow, job_id, job in jobs():
        granted = job["permissions"]
        where = f"{workflow} {job_id}"
        assert isinstance(granted, dict), f"{where}: permissions must be a map"
        azure = is_azure_facing(calls_in(workflow, job_id, job))
        assert (granted.get("id-token") == "write") == azure, f"{where}: id-token only for Azure"
        uses = " ".join(str(s.get("uses", "")) for s in job.get("steps", []))
        assert (granted.get("security-events") == "write") == ("upload-sarif@" in uses), where
        assert (granted.get("issues") == "write") == any("gh issue" in r for r in runs(job)), where
        assert set(granted.values()) <= {"read", "write"}, where
        if "actions/checkout@" in uses:
            assert granted.get("contents") == "read", where


def test_azure_jobs_authenticate_with_oidc_only() -> None:
    for workflow, job_id, job in jobs():
        for call in calls_in(workflow, job_id, job):
            if is_azure_facing([call]):
                flags = call.chain[0].flags
                assert flags["oidc-request-url"] == "env://ACTIONS_ID_TOKEN_REQUEST_URL"
                assert flags["oidc-request-token"] == "env://ACTIONS_ID_TOKEN_REQUEST_TOKEN"
                assert "azure-config" not in flags


def test_run_scripts_take_values_from_env_not_expressions() -> None:
    # `${{ }}` inside a script is pasted in before bash parses it (script injection);
    # values reach scripts as environment variables, secrets as env:// Dagger secrets.
    for workflow, job_id, job in jobs():
        for script in runs(job):
            assert "${{" not in script, f"{workflow} {job_id}: {script[:60]}"
    for path in WORKFLOW_FILES:
        assert "secrets." not in path.read_text(), path.name


def test_ci_cancels_superseded_runs() -> None:
    concurrency = ALL_WORKFLOWS["ci.yml"]["concurrency"]
    assert concurrency["cancel-in-progress"] is True
    assert "github.ref" in concurrency["group"]
    assert {"push", "pull_request"} <= set(triggers(ALL_WORKFLOWS["ci.yml"]))


def test_deploy_is_gated_by_the_production_environment() -> None:
    deploy = ALL_WORKFLOWS["deploy.yml"]
    assert triggers(deploy)["push"]["branches"] == ["main"]
    assert "workflow_dispatch" in triggers(deploy)
    assert deploy["concurrency"]["cancel-in-progress"] is False
    for job_id, job in deploy["jobs"].items():
        names = {call.chain[0].name for call in calls_in("deploy.yml", job_id, job)}
        if "deploy" in names:
            assert job["environment"] == "production"
            assert "publish" in job["needs"]


def test_nightly_is_scheduled_and_reports_failures_in_an_issue() -> None:
    nightly = ALL_WORKFLOWS["nightly.yml"]
    on = triggers(nightly)
    assert "workflow_dispatch" in on
    (schedule,) = on["schedule"]
    assert len(schedule["cron"].split()) == 5
    reporters = [job for job in nightly["jobs"].values() if job.get("needs") == "nightly"]
    (report,) = reporters
    assert "!cancelled()" in report["if"]
    assert report["env"]["GH_TOKEN"] == "${{ github.token }}"  # noqa: S105 (not a secret)
    script = "\n".join(runs(report))
    for command in ("gh issue list", "gh issue create", "gh issue comment", "gh issue close"):
        assert command in script


def test_summaries_report_image_size_scan_counts_and_e2e() -> None:
    image = ALL_WORKFLOWS["ci.yml"]["jobs"]["image"]
    summary = [s for s in image["steps"] if "GITHUB_STEP_SUMMARY" in s.get("run", "")]
    (step,) = summary
    assert step["if"] == "${{ !cancelled() }}"
    assert {"IMAGE_BYTES", "SCAN", "E2E"} <= set(step["env"])
    for workflow in ("deploy.yml", "nightly.yml"):
        text = (WORKFLOWS / workflow).read_text()
        assert "GITHUB_STEP_SUMMARY" in text


# --- scripts/require-env: the first step of Azure-facing jobs ---------------------


def run_step(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a workflow step's script as the runner does (bash -e -o pipefail)."""
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=REPO_ROOT,
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        check=False,
    )


def azure_jobs() -> list[tuple[str, str, dict[str, Any]]]:
    return [(w, j, job) for w, j, job in jobs() if is_azure_facing(calls_in(w, j, job))]


def test_there_are_azure_jobs() -> None:
    assert {(w, j) for w, j, _ in azure_jobs()} == {
        ("deploy.yml", "publish"),
        ("deploy.yml", "deploy"),
        ("nightly.yml", "nightly"),
    }


# Variables a job may leave unset: the deploy values file has a default path, and the
# public UDP address only adds a probe. Every other `vars.X` must be checked first.
OPTIONAL_VARIABLES = {"TTS_VALUES_FILE", "TTS_UDP_HOST"}


def required_variables(job: dict[str, Any]) -> set[str]:
    return {
        k
        for k, v in job["env"].items()
        if str(v).startswith("${{ vars.") and k not in OPTIONAL_VARIABLES
    }


def test_azure_jobs_check_their_variables_first() -> None:
    for workflow, job_id, job in azure_jobs():
        first = runs(job)[0]
        assert first.lstrip().startswith("scripts/require-env "), (workflow, job_id)
        checked = set(logical_lines(first)[0].split()[1:])
        assert checked == required_variables(job), (workflow, job_id)
        used = {
            value.strip('$"{}')
            for call in calls_in(workflow, job_id, job)
            for value in call.chain[0].flags.values()
            if value and value.startswith("$")
        }
        assert used <= checked | {"IMAGE"} | OPTIONAL_VARIABLES, (workflow, job_id, used - checked)


@pytest.mark.integration
@pytest.mark.parametrize(("workflow", "job_id", "job"), azure_jobs(), ids=lambda v: str(v)[:20])
def test_first_step_fails_naming_each_unset_variable(
    workflow: str, job_id: str, job: dict[str, Any]
) -> None:
    # GitHub passes an unset `${{ vars.X }}` as an empty string.
    first = runs(job)[0]
    names = [name for name in job["env"] if name in required_variables(job)]
    result = run_step(first, dict.fromkeys(names, "") | {"GITHUB_REF": "refs/heads/main"})
    assert result.returncode == 1
    expected = [
        f"missing GitHub Actions variable {name}: set it under Settings → Secrets and "
        f"variables → Actions (Bicep output {AZURE_VARIABLES[name]})"
        for name in names
    ]
    assert result.stderr.splitlines() == expected
    configured = run_step(first, dict.fromkeys(names, "set") | {"GITHUB_REF": "refs/heads/main"})
    assert configured.returncode == 0, configured.stderr
    assert configured.stdout == configured.stderr == ""


@pytest.mark.integration
def test_require_env_names_only_the_missing_variables() -> None:
    result = run_step(
        "scripts/require-env AZURE_TENANT_ID ACR_NAME AKS_CLUSTER_NAME",
        {"ACR_NAME": "ttsprodacr"},
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "missing GitHub Actions variable AZURE_TENANT_ID: set it under Settings → Secrets and "
        "variables → Actions (Bicep output tenantId)",
        "missing GitHub Actions variable AKS_CLUSTER_NAME: set it under Settings → Secrets and "
        "variables → Actions (Bicep output aksClusterName)",
    ]


@pytest.mark.integration
def test_require_env_knows_every_shared_variable() -> None:
    names = " ".join(AZURE_VARIABLES)
    assert (
        run_step(f"scripts/require-env {names}", dict.fromkeys(AZURE_VARIABLES, "x")).returncode
        == 0
    )
    missing = run_step(f"scripts/require-env {names}", {})
    assert missing.returncode == 1
    for name, output in AZURE_VARIABLES.items():
        assert f"variable {name}: " in missing.stderr
        assert f"(Bicep output {output})" in missing.stderr


@pytest.mark.integration
def test_require_env_annotates_the_run_on_github() -> None:
    result = run_step("scripts/require-env ACR_NAME", {"GITHUB_ACTIONS": "true"})
    assert result.returncode == 1
    assert result.stdout == (
        "::error title=Missing variable ACR_NAME::missing GitHub Actions variable ACR_NAME: "
        "set it under Settings → Secrets and variables → Actions (Bicep output acrName)\n"
    )


@pytest.mark.integration
@pytest.mark.parametrize(
    ("args", "message"),
    [
        ("", "usage: scripts/require-env VARIABLE..."),
        (
            "AZURE_TENANT",
            "no Bicep output is known for AZURE_TENANT; add it to scripts/require-env",
        ),
    ],
)
def test_require_env_rejects_bad_usage(args: str, message: str) -> None:
    result = run_step(f"scripts/require-env {args}", {"AZURE_TENANT": "x"})
    assert result.returncode == 2
    assert message in result.stderr


@pytest.mark.integration
def test_workflows_pass_yamllint_strict() -> None:
    result = subprocess.run(
        [str(tool_path("yamllint")), "--strict", *map(str, WORKFLOW_FILES)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
