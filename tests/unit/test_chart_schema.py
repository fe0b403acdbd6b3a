"""tools/chart_schema.py: the schema's descriptions and defaults come from values.yaml."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.paths import CHART
from tools import chart_schema

VALUES = (CHART / "values.yaml").read_text()
SCHEMA: dict[str, Any] = json.loads((CHART / "values.schema.json").read_text())


def test_the_committed_schema_is_in_step_with_values_yaml() -> None:
    assert chart_schema.main(["--check"]) == 0, "run python -m tools.chart_schema"


def test_every_value_has_a_description_a_default_and_a_constraint() -> None:
    documented = chart_schema.params(VALUES)
    print(f"{len(documented)} documented values")
    assert len(documented) > 150
    for path, description in documented.items():
        node = chart_schema._node(SCHEMA, path)
        assert node is not None, path
        assert node["description"] == description
        assert "default" in node, path


def _sync(schema: dict[str, Any], values: str) -> list[str]:
    return chart_schema.sync(copy.deepcopy(schema), values)[1]


def test_an_undocumented_value_is_named() -> None:
    line = "  ## @param image.pullPolicy Image pull policy of the TTS containers\n"
    values = VALUES.replace(line, "")
    assert _sync(SCHEMA, values) == ["image.pullPolicy: no `## @param` line in values.yaml"]


def test_a_value_missing_from_the_schema_is_named() -> None:
    schema = copy.deepcopy(SCHEMA)
    del schema["properties"]["image"]["properties"]["pullPolicy"]
    assert _sync(schema, VALUES) == [
        "image.pullPolicy: documented in values.yaml but missing from the schema"
    ]


def test_an_object_open_to_unknown_keys_is_named() -> None:
    schema = copy.deepcopy(SCHEMA)
    del schema["properties"]["redis"]["properties"]["internal"]["additionalProperties"]
    assert _sync(schema, VALUES) == [
        "redis.internal: open to unknown keys (additionalProperties: false)"
    ]


def test_an_unconstrained_value_is_named() -> None:
    schema = copy.deepcopy(SCHEMA)
    node = schema["properties"]["tts"]["properties"]["logLevel"]
    del node["enum"]
    assert _sync(schema, VALUES) == [
        "tts.logLevel: the schema does not constrain it (type, enum, pattern)"
    ]


def test_check_fails_on_a_stale_description(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("values.yaml", "values.schema.json"):
        (tmp_path / name).write_text((CHART / name).read_text())
    values = tmp_path / "values.yaml"
    values.write_text(values.read_text().replace("TTS log level", "How loud TTS logs"))
    assert chart_schema.main(["--check", "--chart", str(tmp_path)]) == 1
    assert "run python -m tools.chart_schema" in capsys.readouterr().err
    assert chart_schema.main(["--chart", str(tmp_path)]) == 0  # the fix
    assert chart_schema.main(["--check", "--chart", str(tmp_path)]) == 0
    schema = json.loads((tmp_path / "values.schema.json").read_text())
    assert schema["properties"]["tts"]["properties"]["logLevel"]["description"] == (
        "How loud TTS logs"
    )
