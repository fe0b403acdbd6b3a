"""Dockerfile.tts passes hadolint (the real binary), and its release check, run with real
git and date on a local checkout, accepts exactly the commit and date the Dagger build
reads from a checkout (pipelines.image.parse_commit_info) and refuses any other.
(The image is built under a real Dagger engine in tests/engine.)
"""

import os
import re
import subprocess
from pathlib import Path

import pytest

from pipelines import image, versions
from tests.support import dockerfile
from tests.support.paths import tool_path


def hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(tool_path("hadolint")), "--no-color", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_dockerfile_is_hadolint_clean(repo_root: Path) -> None:
    result = hadolint(repo_root / "Dockerfile.tts")
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_catches_an_unpinned_base(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM alpine:latest\nRUN apk add curl\n")
    result = hadolint(bad)
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # "Using latest is prone to errors"


def _release_check_script(text: str, build_info: Path) -> str:
    """The release stage's RUN after `git clone`, then the source stage's build-info RUN."""
    instructions = dockerfile.parse(text)
    [release] = [i.args for i in instructions if (i.stage, i.keyword) == ("source-release", "RUN")]
    [stamp] = [i.args for i in instructions if (i.stage, i.keyword) == ("source", "RUN")]
    clone, check = re.split(r"\s&&\s", release, maxsplit=1)
    assert clone.startswith("git clone ")
    return f"{check} && {stamp}".replace("/build-info", str(build_info))


def _commit(repo: Path, committer_date: str) -> None:
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.org",
        "GIT_AUTHOR_DATE": committer_date,
        "GIT_COMMITTER_DATE": committer_date,
        "PATH": os.environ["PATH"],
        "HOME": str(repo),
    }
    for argv in (["git", "init", "-q", "."], ["git", "commit", "-q", "--allow-empty", "-m", "r"]):
        subprocess.run(argv, cwd=repo, env=env, check=True)


@pytest.fixture
def release_checkout(tmp_path: Path) -> Path:
    """A git checkout whose commit was made at 16:43:11 in UTC+2."""
    repo = tmp_path / "src"
    repo.mkdir()
    _commit(repo, "2024-09-05T16:43:11+02:00")
    return repo


def _run_source_stage(
    repo_root: Path, repo: Path, build_info: Path, commit: str, date: str
) -> subprocess.CompletedProcess[str]:
    script = _release_check_script((repo_root / "Dockerfile.tts").read_text(), build_info)
    env = {**os.environ, "TTS_VERSION": "3.32.0", "TTS_COMMIT": commit, "TTS_COMMIT_DATE": date}
    return subprocess.run(
        ["sh", "-c", script], cwd=repo, env=env, capture_output=True, text=True, check=False
    )


def test_release_stage_accepts_and_stamps_what_the_dagger_build_reads(
    repo_root: Path, release_checkout: Path, tmp_path: Path
) -> None:
    """Real git and date: the Dockerfile's commit/date equal parse_commit_info's."""
    info = subprocess.run(
        image.COMMIT_INFO_ARGV, cwd=release_checkout, capture_output=True, text=True, check=True
    ).stdout
    commit, date = image.parse_commit_info(info)
    assert date == "2024-09-05T14:43:11Z"
    build_info = tmp_path / "build-info"
    result = _run_source_stage(repo_root, release_checkout, build_info, commit, date)
    assert result.returncode == 0, result.stderr
    assert (build_info / "commit").read_text() == f"{commit[:7]}\n"
    assert (build_info / "date").read_text() == f"{date}\n"


def test_release_stage_refuses_a_tag_that_is_not_the_pinned_commit(
    repo_root: Path, release_checkout: Path, tmp_path: Path
) -> None:
    real = subprocess.run(
        ["git", "log", "-1", "--format=%H"],
        cwd=release_checkout,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    build_info = tmp_path / "build-info"
    result = _run_source_stage(
        repo_root, release_checkout, build_info, versions.TTS_COMMIT, versions.TTS_COMMIT_DATE
    )
    assert result.returncode == 1
    assert (
        f"v3.32.0 is commit {real} of 2024-09-05T14:43:11Z: pass --build-arg TTS_COMMIT={real} "
        "--build-arg TTS_COMMIT_DATE=2024-09-05T14:43:11Z"
    ) in result.stderr
    assert not build_info.exists()


def test_docker_build_defaults_are_the_pins(repo_root: Path) -> None:
    """`docker build -f Dockerfile.tts` without build args builds what versions.py pins."""
    defaults = dockerfile.global_args((repo_root / "Dockerfile.tts").read_text())
    assert defaults["TTS_VERSION"] == versions.TTS_VERSION
    assert defaults["TTS_COMMIT"] == versions.TTS_COMMIT
    assert defaults["TTS_COMMIT_DATE"] == versions.TTS_COMMIT_DATE
    for name in ("GO_IMAGE", "NODE_IMAGE", "RUNTIME_IMAGE"):
        assert defaults[name] == getattr(versions, name), name
    # Dagger passes every other one: what it sets, the file must declare.
    built = image.build_args(
        versions.TTS_VERSION, versions.TTS_COMMIT, versions.TTS_COMMIT_DATE, "local"
    )
    assert set(built) <= set(defaults)
