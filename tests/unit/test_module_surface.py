"""The Dagger module declares the whole product surface, documented, and nothing
that is not implemented pretends to succeed."""

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, cast

import anyio
import pytest
from dagger.mod._exceptions import FunctionError

from tests.dagger_module import Azure, Function, TtsCi, TtsImage, functions

# What users and the workflows call, as `Owner.function` (TtsCi's without the owner).
PRODUCT_FUNCTIONS = {
    "build",
    "test_e2e",
    "lint_chart",
    "template_chart",
    "with_azure",
    "lint_bicep",
    "TtsImage.scan",
    "TtsImage.test_kind",
    "TtsImage.publish",
    "TtsImage.tarball",
    "Azure.publish",
    "Azure.deploy",
    "Azure.nightly",
    "Azure.provision",
    "Azure.restore_drill",
    "migrate",
    "restore_drill",
    "restore",
}
# Publishing, deploying, scanning a moving vulnerability DB and testing must re-run
# every time: Dagger >= 0.19.4 would otherwise serve a 7-day-old result.
NEVER_CACHED = {
    "test_e2e",
    "TtsImage.scan",
    "TtsImage.test_kind",
    "TtsImage.publish",
    "Azure.publish",
    "Azure.deploy",
    "Azure.nightly",
    "Azure.provision",
    "Azure.restore_drill",
    "migrate",
    "restore_drill",
    "restore",
}

ALL = functions()


def key(fn: Function) -> str:
    return fn.python_name if fn.owner is TtsCi else f"{fn.owner.__name__}.{fn.python_name}"


BY_KEY = {key(f): f for f in ALL}


def test_every_product_function_is_declared() -> None:
    assert set(BY_KEY) >= PRODUCT_FUNCTIONS


@pytest.mark.parametrize("fn", ALL, ids=key)
def test_function_is_documented(fn: Function) -> None:
    assert fn.doc, f"{key(fn)} needs a docstring (it is the CLI help)"
    assert "\n" not in fn.doc.strip(), "one-line docstrings: they are the --help summary"
    for arg in fn.arguments:
        assert arg.doc, f"{key(fn)}({arg.python_name}) needs Annotated[..., Doc(...)]"


# What `dagger check` runs: the functions with no required argument that answer pass or fail.
CHECKS = {"lint_chart", "lint_bicep", "test_e2e"}


def test_checks_are_the_pass_fail_functions_without_required_arguments() -> None:
    assert {key(f) for f in ALL if f.meta.check} == CHECKS
    for name in CHECKS:
        assert not [a for a in BY_KEY[name].arguments if a.required], name


@pytest.mark.parametrize("name", sorted(NEVER_CACHED))
def test_side_effecting_functions_are_never_cached(name: str) -> None:
    assert BY_KEY[name].meta.cache == "never"


class NoEngine:
    """Stands in for `source` and every Secret/File: any use means the engine was reached."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the engine was used ({name}) before the input was checked")


def instance(owner: type, **login: Any) -> Any:
    """An object of the module whose every engine-backed field refuses to be used."""
    if owner is TtsCi:
        return cast(Any, TtsCi)(source=NoEngine())
    if owner is TtsImage:
        return cast(Any, TtsImage)(
            container=NoEngine(), version="3.32.0", commit="0" * 40, repo=NoEngine()
        )
    fields = {"oidc_request_url": NoEngine(), "oidc_request_token": NoEngine(), **login}
    return cast(Any, Azure)(tenant_id="t", client_id="c", repo=NoEngine(), **fields)


GOOD = {
    "registry": "ttsprodacr",
    "resource_group": "rg-tts",
    "subscription_id": "00000000-0000-0000-0000-000000000001",
    "tenant_id": "00000000-0000-0000-0000-000000000002",
    "client_id": "00000000-0000-0000-0000-000000000003",
    "cluster": "tts-aks",
    "image": "ttsprodacr.azurecr.io/thethingsstack@sha256:" + "0" * 64,
    "address": "registry.example.com/tts:3.32.0",
    "signing_key_id": "https://ttsprodsign.vault.azure.net/keys/image-signing",
    "target_postgres": NoEngine(),
    "target_redis": NoEngine(),
    "account_url": "https://ttsprodst.blob.core.windows.net",
    "storage_token": NoEngine(),
    "storage_account": "ttsprodst",
}
NO_LOGIN = {"oidc_request_url": None, "oidc_request_token": None}

# (function, bad arguments, message[, Azure login]): each must fail before any engine call
# (`source`, containers and secrets raise if touched), naming the problem and the fix.
BAD_INPUT: list[tuple[str, dict[str, Any], str, dict[str, Any]]] = [
    ("build", {"version": "v3.32.0"}, "drop the leading 'v'", {}),
    ("build", {"version": "latest"}, "latest", {}),
    ("binaries", {"version": "3.32"}, "3.32", {}),
    ("template_chart", {"profile": "prod"}, "unknown chart profile", {}),
    ("test_e2e", {"version": "main"}, "main", {}),
    ("TtsImage.scan", {"severity": "SEVERE"}, "SEVERE", {}),
    ("scan_sbom", {"sbom": NoEngine(), "severity": "SEVERE"}, "SEVERE", {}),
    ("TtsImage.test_kind", {"deadline": 5}, "at least 60", {}),
    ("TtsImage.test_kind", {"registry_mirror": "tts.azurecr.io"}, "give scheme://host", {}),
    ("TtsImage.test_kind", {"node_image": "kindest/node"}, "is not pinned", {}),
    ("test_e2e", {"registry_mirror": "https://x/library"}, "give scheme://host", {}),
    ("test_e2e", {"node_image": "kindest/node:latest"}, "is not pinned", {}),
    ("TtsImage.publish", {"address": "registry.example.com/tts"}, "is not pinned", {}),
    ("TtsImage.publish", {"username": "u"}, "--username and --password together", {}),
    ("Azure.publish", {"registry": "tts.azurecr.io"}, "azurecr.io", {}),
    ("Azure.publish", {"version": "3.32.0-rc1"}, "release", {}),
    ("Azure.publish", {"signing_key_id": "ttsprodsign/image-signing"}, "Key Vault key id", {}),
    ("Azure.nightly", {"signing_key_id": "azurekms://v.vault.azure.net/k"}, "signingKeyId", {}),
    ("Azure.publish", {}, "az login", NO_LOGIN),
    ("Azure.nightly", {"registry": "ab"}, "5-50", {}),
    ("Azure.nightly", {}, "ACTIONS_ID_TOKEN", NO_LOGIN),
    ("Azure.deploy", {"image": "ttsprodacr.azurecr.io/thethingsstack:3.32.0"}, "digest", {}),
    ("Azure.deploy", {"cluster": "tts.hcp.westeurope.azmk8s.io"}, "aksClusterName", {}),
    ("Azure.deploy", {}, "--azure-config", NO_LOGIN),
    ("Azure.deploy", {"udp_host": "1.2.3.4:1700"}, "not a DNS name", {}),
    ("Azure.deploy", {"context": "other"}, "--context 'other' needs --kubeconfig", {}),
    ("Azure.deploy", {"signing_key_id": ""}, "verifies the image's signature before helm", {}),
    (
        "Azure.deploy",
        {"signing_public_key": NoEngine()},
        "--signing-key-id (Bicep output signingKeyId) or --signing-public-key <PEM>, one of",
        {},
    ),
    ("Azure.provision", {"environment": "staging", "parameters": NoEngine()}, "dev, prod", {}),
    ("Azure.provision", {"resource_group": "rg/bad", "parameters": NoEngine()}, "group", {}),
    ("migrate", {"version": "v3.32.0"}, "drop the leading 'v'", {}),
    ("migrate", {"source_redis": NoEngine()}, "give the source database once", {}),
    (
        "migrate",
        {"source_postgres": NoEngine(), "postgres_dump": NoEngine(), "source_redis": NoEngine()},
        "give the source database once",
        {},
    ),
    ("migrate", {"source_postgres": NoEngine()}, "give the source Redis once", {}),
    (
        "migrate",
        {"source_postgres": NoEngine(), "source_redis": NoEngine(), "ssh_host": "tts@vm"},
        "--ssh-host needs --ssh-key and --ssh-known-hosts",
        {},
    ),
    (
        "migrate",
        {"source_postgres": NoEngine(), "source_redis": NoEngine(), "ssh_host": "tts@vm:x"},
        "is not user@host[:port]",
        {},
    ),
    (
        "migrate",
        {
            "source_postgres": NoEngine(),
            "source_redis": NoEngine(),
            "blob_dir": NoEngine(),
            "storage_token": None,
        },
        "--blob-dir needs --storage-token",
        {},
    ),
    (
        "migrate",
        {
            "source_postgres": NoEngine(),
            "source_redis": NoEngine(),
            "blob_dir": NoEngine(),
            "storage_token": NoEngine(),
            "account_url": "ttsprodst",
            "pictures_container": "up",
        },
        "is not a storage account's blob endpoint",
        {},
    ),
    ("restore_drill", {"account_url": "ttsprodst"}, "https://ACCOUNT.blob.core.windows.net", {}),
    ("restore_drill", {"max_age": "1 week"}, "is not a duration", {}),
    ("restore_drill", {"backup": "yesterday"}, "is not a backup id", {}),
    ("restore_drill", {"version": "v3.32.1"}, "drop the leading 'v'", {}),
    ("restore", {"container": "TTS_backups"}, "is not a blob container name", {}),
    ("restore", {"pictures_container": "Pictures!"}, "--pictures-container 'Pictures!'", {}),
    ("Azure.restore_drill", {"storage_account": "tts-st"}, "is not a storage account name", {}),
    ("Azure.restore_drill", {"max_age": "0h"}, "is not a duration", {}),
    ("Azure.restore_drill", {}, "az login", NO_LOGIN),
]


@pytest.mark.parametrize(("name", "bad", "message", "login"), BAD_INPUT, ids=lambda v: str(v)[:30])
def test_bad_input_fails_before_any_work(
    name: str, bad: dict[str, Any], message: str, login: dict[str, Any]
) -> None:
    fn = BY_KEY[name]
    obj = instance(fn.owner, **login)
    accepted = {a.python_name for a in fn.arguments}
    args = {k: v for k, v in GOOD.items() if k in accepted and k not in bad}
    args.update(bad)
    missing = [a.python_name for a in fn.arguments if a.required and a.python_name not in args]
    assert not missing, f"GOOD lacks {missing}"
    # FunctionError: the SDK prints its message as the error, without a traceback.
    with pytest.raises(FunctionError, match=re.escape(message)):
        anyio.run(lambda: fn.method(obj, **args))


def test_every_function_with_input_has_a_bad_input_case() -> None:
    covered = {name for name, *_ in BAD_INPUT}
    # with_azure only stores its arguments; its functions check them (Azure.* cases).
    with_input = {key(f) for f in ALL if f.arguments} - {"with_azure", "from_image"}
    assert with_input <= covered, with_input - covered


def test_readme_documents_each_function_once_by_its_cli_call(repo_root: Path) -> None:
    readme = (repo_root / "README.md").read_text()
    rows = re.findall(r"^\| `dagger call ([a-z0-9 -]+?)(?: …)?` \|", readme, flags=re.M)
    documented = {f.cli_name for f in functions(TtsCi)}
    chained = {"build": TtsImage, "with-azure": Azure}
    for head, owner in chained.items():
        documented |= {f"{head} {f.cli_name}" for f in functions(owner)}
    assert sorted(rows) == sorted(documented)
    assert "dagger call test-e-2-e" in readme


def test_the_module_loads_without_the_containers_libraries(repo_root: Path) -> None:
    """The module runtime installs `tts-ci-pipelines[azure]` only (ci/pyproject.toml): redis-py
    and asyncssh run in the migration's containers, never in the module (a real engine
    found this once: ModuleNotFoundError at load)."""
    blocked = "import sys; sys.modules.update(redis=None, asyncssh=None); import tts_ci.main"
    result = subprocess.run(
        [sys.executable, "-c", blocked],
        cwd=repo_root, env={**os.environ, "PYTHONPATH": f"{repo_root}:{repo_root / 'ci' / 'src'}"},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-800:]
