"""The GitHub Actions workflows run this module exactly as a user would: every `dagger
call` matches the module (tests/support/workflow_calls.py parses and checks them), the
jobs have least privilege, pinned actions, OIDC-only Azure logins and their checks first.
"""

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.support.paths import REPO_ROOT
from tests.support.workflow_calls import (
    ALL_WORKFLOWS,
    CHECKS,
    OPTIONAL_VARIABLES,
    WORKFLOW_FILES,
    WORKFLOWS,
    azure_jobs,
    calls_in,
    checks_in,
    find_dagger,
    is_azure_facing,
    jobs,
    logical_lines,
    module_path,
    parse_call,
    problems,
    required_variables,
    runs,
    triggers,
)

REQUIRE_ENV = REPO_ROOT / "scripts" / "require-env"
PINNED_USES = re.compile(r"^\s*(?:-\s+)?uses:\s+[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+\s*$")
# --- The checker itself catches what it must ------------------------------------


def test_parser_reads_continuations_pipes_and_substitutions() -> None:
    script = (
        "out=$(dagger call with-azure --tenant-id t --client-id c \\\n  publish \\\n"
        '  --registry "$ACR_NAME" | tail -n 1)\n'
        "dagger --progress=plain call build scan --ignore-unfixed export --path r  # comment\n"
    )
    found = [parse_call(tokens, "snippet") for tokens in find_dagger(script)]
    assert [[(s.name, s.flags) for s in call.chain] for call in found] == [
        [("with-azure", {"tenant-id": "t", "client-id": "c"}),
         ("publish", {"registry": "$ACR_NAME"})],
        [("build", {}), ("scan", {"ignore-unfixed": None}), ("export", {"path": "r"})],
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("dagger call test-e2e", "`dagger call test-e2e`: no such function"),
        ("dagger call lint-chart --profile kind", "lint-chart has no argument --profile"),
        ("dagger call deploy --cluster c", "`dagger call deploy`: no such function"),
        (
            "dagger call with-azure --tenant-id t --client-id c deploy --cluster c",
            "deploy needs --image",
        ),
        ("dagger call build scan export --paht r", "export has no argument --paht"),
        ("dagger call build scan export", "export needs --path"),
        ("dagger call build publish-image --x y", "has no method publish-image"),
        ("dagger call build publish", "publish needs --address"),
        (
            "dagger call with-azure --tenant-id t --client-id c --oidc-request-token $TOKEN",
            "--oidc-request-token is a Secret: pass env://VAR",
        ),
    ],
)
def test_checker_rejects_wrong_calls(script: str, expected: str) -> None:
    (tokens,) = find_dagger(script)
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
        ("ci.yml", {"build tarball", "build scan", "test-e-2-e"}),
        ("deploy.yml", {"with-azure publish", "with-azure deploy"}),
        ("nightly.yml", {"with-azure nightly", "with-azure restore-drill"}),
    ],
)
def test_each_workflow_runs_its_dagger_functions(workflow: str, expected: set[str]) -> None:
    called = {
        module_path(call)
        for job_id, job in ALL_WORKFLOWS[workflow]["jobs"].items()
        for call in calls_in(workflow, job_id, job)
    }
    assert called == expected


def test_dagger_check_runs_checks_of_the_module() -> None:
    assert {"lint-chart", "lint-bicep", "test-e-2-e"} == CHECKS
    ran = [check for _, _, job in jobs() for check in checks_in(job)]
    assert set(ran) <= CHECKS, set(ran) - CHECKS
    # On push: the linters (the e2e runs in the image job, on the build it scanned).
    assert checks_in(ALL_WORKFLOWS["ci.yml"]["jobs"]["checks"]) == ["lint-chart", "lint-bicep"]


def test_checks_in_reads_patterns_and_defaults_to_all() -> None:
    job = {"steps": [{"run": "dagger check --failfast lint-chart\ndagger check"}]}
    assert checks_in(job) == ["lint-chart", *sorted(CHECKS)]


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
    script = str(step.get("run", ""))
    return any(list(find_dagger(script, verb)) for verb in ("call", "check"))


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
        names = {module_path(call) for call in calls_in("deploy.yml", job_id, job)}
        if "with-azure deploy" in names:
            assert job["environment"] == "production"
            assert "publish" in job["needs"]


def test_nightly_is_scheduled_and_reports_failures_in_an_issue() -> None:
    nightly = ALL_WORKFLOWS["nightly.yml"]
    on = triggers(nightly)
    assert "workflow_dispatch" in on
    (schedule,) = on["schedule"]
    assert len(schedule["cron"].split()) == 5
    reporters = [job for job in nightly["jobs"].values()
                 if job.get("needs") == ["nightly", "restore-drill"]]  # fmt: skip
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


def test_there_are_azure_jobs() -> None:
    assert {(w, j) for w, j, _ in azure_jobs()} == {
        ("deploy.yml", "publish"),
        ("deploy.yml", "deploy"),
        ("nightly.yml", "nightly"),
        ("nightly.yml", "restore-drill"),
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
            for step in call.chain
            for value in step.flags.values()
            if value and value.startswith("$")
        }
        assert used <= checked | {"IMAGE"} | OPTIONAL_VARIABLES, (workflow, job_id, used - checked)


# --- where the Dagger jobs run: GitHub-hosted, or the CI cluster's runners ----------

RUNNER_CHOICE = "${{ vars.TTS_CI_RUNNERS == 'self-hosted' && 'tts-ci' || 'ubuntu-24.04' }}"
# On push and pull requests: never for a fork's pull request (its code would drive the
# privileged engine of a CI node).
RUNNER_CHOICE_NO_FORKS = (
    "${{ vars.TTS_CI_RUNNERS == 'self-hosted' && !github.event.pull_request.head.repo.fork "
    "&& 'tts-ci' || 'ubuntu-24.04' }}"
)


def dagger_jobs() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (w, j, job)
        for w, j, job in jobs()
        if any("dagger/dagger-for-github@" in step.get("uses", "") for step in job["steps"])
    ]


def test_every_dagger_job_runs_where_tts_ci_runners_says() -> None:
    """Unset: GitHub-hosted, exactly as before; `self-hosted`: the ARC scale set `tts-ci`,
    whose runner pods carry their node's engine address (charts/ci-runners)."""
    # The engine suite proves the CLI starting its own engine, as on a laptop: always hosted.
    found = [(w, j, job) for w, j, job in dagger_jobs() if (w, j) != ("ci.yml", "engine")]
    assert {(w, j) for w, j, _ in found} >= {("ci.yml", "image"), ("deploy.yml", "publish"),
                                             ("nightly.yml", "restore-drill")}  # fmt: skip
    for workflow, job_id, job in found:
        pull_requests = "pull_request" in triggers(ALL_WORKFLOWS[workflow])
        expected = RUNNER_CHOICE_NO_FORKS if pull_requests else RUNNER_CHOICE
        assert job["runs-on"] == expected, (workflow, job_id)
    others = [(w, j) for w, j, job in jobs() if (w, j, job) not in found]
    for workflow, job_id in others:  # no engine: always GitHub-hosted
        assert ALL_WORKFLOWS[workflow]["jobs"][job_id]["runs-on"] == "ubuntu-24.04"


def test_every_dagger_job_refuses_version_skew_before_its_first_call() -> None:
    for workflow, job_id, job in dagger_jobs():
        steps = job["steps"]
        install = next(
            i for i, s in enumerate(steps) if "dagger/dagger-for-github@" in s.get("uses", "")
        )
        assert steps[install + 1].get("run") == "scripts/check-engine", (workflow, job_id)
        callers = [i for i, s in enumerate(steps) if "dagger " in s.get("run", "")]
        assert all(i > install + 1 for i in callers), (workflow, job_id)
