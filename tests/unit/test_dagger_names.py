import pytest
from dagger.mod._utils import to_camel_case

from tests.support.dagger_names import cli_name, kebab


@pytest.mark.parametrize(
    ("python_name", "expected"),
    [
        ("test_e2e", "test-e-2-e"),  # dagger/dagger#7276: digits split words
        ("lint_chart", "lint-chart"),
        ("build", "build"),
        ("template_chart", "template-chart"),
        ("ignore_unfixed", "ignore-unfixed"),
        ("v2_api", "v-2-api"),
    ],
)
def test_cli_name(python_name: str, expected: str) -> None:
    assert cli_name(python_name) == expected


@pytest.mark.parametrize(
    ("camel", "expected"),
    [("testE2E", "test-e-2-e"), ("JSONData", "json-data"), ("lintChart", "lint-chart")],
)
def test_kebab_matches_strcase_on_engine_names(camel: str, expected: str) -> None:
    assert kebab(camel) == expected


@pytest.mark.parametrize("name", ["test_e2e", "lint_chart", "resource_group", "what_if"])
def test_snake_and_sdk_camel_spell_the_same_cli_name(name: str) -> None:
    # The SDK sends a camelCase name to the engine; the CLI name must not depend on it.
    assert kebab(to_camel_case(name)) == cli_name(name)
