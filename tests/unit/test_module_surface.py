"""The Dagger module declares the whole product surface, documented, and nothing
that is not implemented pretends to succeed."""

import re
from pathlib import Path
from typing import Any, cast

import anyio
import dagger
import pytest
from dagger.mod._exceptions import FunctionError

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


class NoEngine:
    """Stands in for `source` and every Secret/File: any use means the engine was reached."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the engine was used ({name}) before the input was checked")


GOOD = {
    "registry": "ttsprodacr",
    "resource_group": "rg-tts",
    "subscription_id": "00000000-0000-0000-0000-000000000001",
    "tenant_id": "00000000-0000-0000-0000-000000000002",
    "client_id": "00000000-0000-0000-0000-000000000003",
    "oidc_request_url": NoEngine(),
    "oidc_request_token": NoEngine(),
    "cluster": "tts-aks",
    "image": "ttsprodacr.azurecr.io/thethingsstack@sha256:" + "0" * 64,
}

# (function, bad arguments, message): each must fail before any engine call (no engine
# exists here, and `source`/secrets raise if touched), naming the problem and the fix.
BAD_INPUT = [
    ("build", {"version": "v3.32.0"}, "drop the leading 'v'"),
    ("build", {"version": "latest"}, "latest"),
    ("scan", {"severity": "SEVERE"}, "SEVERE"),
    ("scan", {"version": "3.32"}, "3.32"),
    ("publish", {"registry": "tts.azurecr.io"}, "azurecr.io"),
    ("publish", {"version": "3.32.0-rc1"}, "release"),
    ("publish", {"oidc_request_url": None, "oidc_request_token": None}, "az login"),
    ("nightly", {"registry": "ab"}, "5-50"),
    ("nightly", {"oidc_request_url": None, "oidc_request_token": None}, "ACTIONS_ID_TOKEN"),
    ("template_chart", {"profile": "prod"}, "unknown chart profile"),
    ("test_e2e", {"version": "main"}, "main"),
    ("test_e2e", {"deadline": 5}, "at least 60"),
    ("deploy", {"image": "ttsprodacr.azurecr.io/thethingsstack:3.32.0"}, "digest"),
    ("deploy", {"cluster": "tts.hcp.westeurope.azmk8s.io"}, "aksClusterName"),
    ("deploy", {"oidc_request_url": None, "oidc_request_token": None}, "--azure-config"),
    ("deploy", {"udp_host": "1.2.3.4:1700"}, "not a DNS name"),
    ("provision", {"environment": "staging", "parameters": NoEngine()}, "dev, prod"),
    ("provision", {"resource_group": "rg/bad", "parameters": NoEngine()}, "resource group"),
]


@pytest.mark.parametrize(("name", "bad", "message"), BAD_INPUT, ids=lambda v: str(v)[:30])
def test_bad_input_fails_before_any_work(name: str, bad: dict[str, Any], message: str) -> None:
    fn = BY_NAME[name]
    # mypy does not follow the SDK's dataclass_transform through `object_type`.
    module = cast(Any, TtsCi)(source=cast(dagger.Directory, NoEngine()))
    accepted = {a.python_name for a in fn.arguments}
    args = {k: v for k, v in GOOD.items() if k in accepted and k not in bad}
    args.update(bad)
    missing = [a.python_name for a in fn.arguments if a.required and a.python_name not in args]
    assert not missing, f"GOOD lacks {missing}"
    # FunctionError: the SDK prints its message as the error, without a traceback.
    with pytest.raises(FunctionError, match=re.escape(message)):
        anyio.run(lambda: fn.method(module, **args))


def test_every_function_with_input_has_a_bad_input_case() -> None:
    covered = {name for name, _, _ in BAD_INPUT}
    with_input = {f.python_name for f in ALL if f.arguments}
    assert with_input <= covered, with_input - covered


def test_readme_documents_each_function_once_by_its_cli_name(repo_root: Path) -> None:
    readme = (repo_root / "README.md").read_text()
    rows = re.findall(r"^\| `dagger call ([a-z0-9-]+)` \|", readme, flags=re.M)
    assert sorted(rows) == sorted(f.cli_name for f in ALL)
    assert "dagger call test-e-2-e" in readme
