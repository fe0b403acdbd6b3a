"""scripts/test stops at once, naming the missing prerequisite and the fix, when it
cannot install something (no root, no network), instead of a stack trace later."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

MISSING = "tts-ci-no-such-package"


def run_lib(
    repo_root: Path, call: str, prefix: list[str] | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    script = f'ROOT="{repo_root}"; source "{repo_root}/scripts/lib/install.sh"; {call}'
    return subprocess.run(
        [*(prefix or []), "bash", "-c", script],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=120,
    )


def as_unprivileged_user() -> list[str]:
    # CI runs as root; drop to `nobody` so the no-root path is the one exercised.
    return ["runuser", "-u", "nobody", "--"] if os.geteuid() == 0 else []


def test_present_packages_need_nothing(repo_root: Path) -> None:
    result = run_lib(repo_root, "ensure_apt_packages bash coreutils", as_unprivileged_user())
    assert result.returncode == 0, result.stderr
    assert "Debian packages present: bash coreutils" in result.stdout


def test_missing_package_without_root_names_package_and_fix(repo_root: Path) -> None:
    result = run_lib(repo_root, f"ensure_apt_packages bash {MISSING}", as_unprivileged_user())
    assert result.returncode == 1
    assert f"needs root to install Debian packages: {MISSING}" in result.stderr
    assert f"fix: run as root, or first: sudo apt-get install {MISSING}" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_package_without_network_says_mirror_unreachable(repo_root: Path) -> None:
    # A fresh network namespace has no route anywhere: apt-get update must fail fast.
    unshare = ["unshare", "-n"] if os.geteuid() == 0 else ["unshare", "-rn"]
    result = run_lib(repo_root, f"ensure_apt_packages {MISSING}", unshare)
    assert result.returncode == 1
    assert "apt-get update failed" in result.stderr
    assert "fix:" in result.stderr


def test_missing_go_toolchain_is_named(repo_root: Path) -> None:
    bash_dir = str(Path(shutil.which("bash") or "/bin/bash").parent)
    env = {"PATH": f"{bash_dir}:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root")}
    if shutil.which("go", path=env["PATH"]):
        pytest.fail("test needs a PATH without go; go is installed in /usr/bin or /bin")
    result = run_lib(repo_root, "require_go", env=env)
    assert result.returncode == 1
    assert "the Go toolchain is not installed" in result.stderr
    # The minimum is the highest `go` line of the tool modules it builds.
    go_lines = [
        re.search(r"^go (\S+)$", (repo_root / module / "go.mod").read_text(), re.M)
        for module in ("tools", "tools/supplychain")
    ]
    newest = max((m[1] for m in go_lines if m), key=lambda v: tuple(map(int, v.split("."))))
    assert f"fix: install Go >= {newest} " in result.stderr


def test_a_run_that_collects_nothing_fails(repo_root: Path) -> None:
    """A selection that matches no test (pytest's exit 5) must not pass as green."""
    pytest_bin = Path(shutil.which("pytest") or "pytest")
    env = {**os.environ, "PATH": f"{pytest_bin.parent}:{os.environ['PATH']}"}
    nothing = run_lib(repo_root, "run_pytest -q -m engine tests/unit/test_phases.py", env=env)
    assert nothing.returncode == 1, nothing.stdout + nothing.stderr
    assert "collected no tests" in nothing.stderr
    assert "fix: a path or marker selects nothing: fix it" in nothing.stderr
    typo = run_lib(repo_root, "run_pytest -q -m integratoin tests/unit/test_phases.py", env=env)
    assert typo.returncode == 4, typo.stdout
    passing = run_lib(repo_root, "run_pytest -q tests/unit/test_phases.py", env=env)
    assert passing.returncode == 0, passing.stdout + passing.stderr


def test_a_peer_suite_without_its_peer_is_a_skip_and_a_deselection_is_not(
    repo_root: Path, tmp_path: Path
) -> None:
    pytest_bin = Path(shutil.which("pytest") or "pytest")
    env = {**os.environ, "PATH": f"{pytest_bin.parent}:{os.environ['PATH']}",
           "TTS_CI_PEERS": str(tmp_path), "TTN_LW_STACK": ""}  # fmt: skip
    absent = run_lib(repo_root, 'cd "$ROOT" && run_peer_pytest -q tests/realserver', env=env)
    assert absent.returncode == 0, absent.stdout + absent.stderr
    modules = len(list((repo_root / "tests/realserver").glob("test_*.py")))
    assert f"SKIPPED [{modules}] " in absent.stdout  # one folded line for every module
    assert "TTN_LW_STACK is not set" in absent.stdout
    assert "skipped: its peer is absent" in absent.stdout
    # With the peer named, a selection that deselects every test is a failure.
    named = {**env, "TTN_LW_STACK": "/bin/false"}
    nothing = run_lib(repo_root, "run_peer_pytest -q -m unit tests/realserver", env=named)
    assert nothing.returncode == 1, nothing.stdout + nothing.stderr
    assert "collected no tests" in nothing.stderr


def test_the_engine_suite_skips_in_one_line_when_its_cli_reaches_no_engine(
    repo_root: Path, tmp_path: Path
) -> None:
    """A dagger CLI with no engine behind it (no Docker daemon, a dead socket) is an absent
    peer: CI on a machine with the CLI in the default place but no engine went red here."""
    cli = os.environ.get("DAGGER_CLI") or pytest.skip("DAGGER_CLI is not set: no dagger CLI to try")
    pytest_bin = Path(shutil.which("pytest") or "pytest")
    path = f"{pytest_bin.parent}:{os.environ['PATH']}"
    dead_docker = f"unix://{tmp_path}/docker.sock"
    env = {**os.environ, "PATH": path, "DAGGER_CLI": cli, "TTS_CI_PEERS": str(tmp_path),
           "DOCKER_HOST": dead_docker}  # fmt: skip
    env.pop("_EXPERIMENTAL_DAGGER_RUNNER_HOST", None)
    no_docker = run_lib(repo_root, 'cd "$ROOT" && run_peer_pytest -q tests/engine', env=env)
    assert no_docker.returncode == 0, no_docker.stdout + no_docker.stderr
    modules = len(list((repo_root / "tests/engine").glob("test_*.py")))
    assert f"SKIPPED [{modules}] " in no_docker.stdout  # one folded line for every module
    assert "reaches no engine (Error: start engine:" in no_docker.stdout
    dead = {**env, "_EXPERIMENTAL_DAGGER_RUNNER_HOST": f"unix://{tmp_path}/engine.sock"}
    no_engine = run_lib(repo_root, 'cd "$ROOT" && run_peer_pytest -q tests/engine', env=dead)
    assert no_engine.returncode == 0, no_engine.stdout + no_engine.stderr
    assert "engine.sock: no engine listens there" in no_engine.stdout
    required = {**dead, "TTS_CI_REQUIRE_PEERS": "1"}
    failed = run_lib(repo_root, 'cd "$ROOT" && run_peer_pytest -q tests/engine', env=required)
    assert failed.returncode != 0, failed.stdout + failed.stderr
    assert "no engine listens there" in failed.stdout
    assert "(TTS_CI_REQUIRE_PEERS=1: this run exists to use the peer)" in failed.stdout
