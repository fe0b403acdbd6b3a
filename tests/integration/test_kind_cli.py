"""pipelines.kind's kind commands run through the pinned kind binary (no Docker needed).

cobra parses every flag before it honours --help, so an argv with a flag kind does not
know (or a value of the wrong type) fails here exactly as it would in the e2e runner.
"""

import pytest

from pipelines import kind
from pipelines.versions import KIND_VERSION
from tests.support.render import run


@pytest.mark.parametrize(
    "argv",
    [
        kind.kind_create_argv("kind.yaml"),
        kind.kind_load_image_argv("tts-ci/smoke:local"),
        kind.kind_delete_argv(),
        kind.kind_kubeconfig_argv(),
    ],
    ids=["create", "load", "delete", "kubeconfig"],
)
def test_kind_accepts_every_flag(argv: list[str]) -> None:
    assert run([*argv, "--help"]).returncode == 0
    broken = run([*argv, "--no-such-flag", "--help"], check=False)
    assert broken.returncode != 0
    assert "unknown flag: --no-such-flag" in broken.stderr


def test_kind_is_the_pinned_version() -> None:
    assert run(["kind", "version"]).stdout.startswith(f"kind v{KIND_VERSION} ")
