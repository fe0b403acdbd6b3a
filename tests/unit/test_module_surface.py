"""The Dagger module declares the whole product surface, documented, and nothing
that is not implemented pretends to succeed."""

import re
from pathlib import Path
from typing import Any, cast

import anyio
import dagger
import pytest

from tests.dagger_module import Function, TtsCi, functions

PRODUCT_FUNCTIONS = {
    "build",
    "scan",
    "publish",
    "lint_chart",
    "template_chart",
    "test_e2e",
    "deploy",
    "nightly",
    "provision",
    "lint_bicep",
}
# Publishing, deploying, scanning a moving vulnerability DB and testing must re-run
# every time: Dagger >= 0.19.4 would otherwise serve a 7-day-old result.
NEVER_CACHED = {"scan", "publish", "test_e2e", "deploy", "nightly", "provision"}

ALL = functions()
BY_NAME = {f.python_name: f for f in ALL}


def test_every_product_function_is_declared() -> None:
    assert set(BY_NAME) >= PRODUCT_FUNCTIONS


@pytest.mark.parametrize("fn", ALL, ids=lambda f: f.python_name)
def test_function_is_documented(fn: Function) -> None:
    assert fn.doc, f"{fn.python_name} needs a docstring (it is the CLI help)"
    assert "\n" not in fn.doc.strip(), "one-line docstrings: they are the --help summary"
    for arg in fn.arguments:
        assert arg.doc, f"{fn.python_name}({arg.python_name}) needs Annotated[..., Doc(...)]"


@pytest.mark.parametrize("name", sorted(NEVER_CACHED))
def test_side_effecting_functions_are_never_cached(name: str) -> None:
    assert BY_NAME[name].meta.cache == "never"


def _required_arguments(fn: Function) -> dict[str, Any]:
    return {a.python_name: "x" for a in fn.arguments if a.required}


@pytest.mark.parametrize(
    "fn", [f for f in ALL if f.python_name in PRODUCT_FUNCTIONS], ids=lambda f: f.python_name
)
def test_unimplemented_functions_fail_loudly(fn: Function) -> None:
    # mypy does not follow the SDK's dataclass_transform through `object_type`.
    module = cast(Any, TtsCi)(source=cast(dagger.Directory, object()))
    message = ""
    try:
        anyio.run(lambda: fn.method(module, **_required_arguments(fn)))
    except NotImplementedError as exc:
        message = str(exc)
    else:
        # Implemented functions are tested by their own issue's tests.
        return
    assert f"dagger call {fn.cli_name}" in message
    assert re.search(r"issue #\d+", message)
    assert "nothing was" in message


def test_readme_documents_each_function_once_by_its_cli_name(repo_root: Path) -> None:
    readme = (repo_root / "README.md").read_text()
    rows = re.findall(r"^\| `dagger call ([a-z0-9-]+)` \|", readme, flags=re.M)
    assert sorted(rows) == sorted(f.cli_name for f in ALL)
    assert "dagger call test-e-2-e" in readme
