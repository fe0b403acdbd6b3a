"""The chart README's Parameters tables are what readme-generator-for-helm makes of values.yaml.

Runs the pinned generator (tools/readme-generator, installed by scripts/test) on a copy of
the README: the committed one must come out unchanged, and a changed description must show.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.support.paths import CHART
from tests.support.render import run


def _generate(tmp_path: Path, values_text: str) -> str:
    shutil.copy(CHART / "README.md", tmp_path / "README.md")
    (tmp_path / "values.yaml").write_text(values_text)
    run(["readme-generator", "--values", str(tmp_path / "values.yaml"),
         "--readme", str(tmp_path / "README.md")])  # fmt: skip
    return (tmp_path / "README.md").read_text()


def test_the_readme_tables_are_generated_from_values_yaml(tmp_path: Path) -> None:
    committed = (CHART / "README.md").read_text()
    generated = _generate(tmp_path, (CHART / "values.yaml").read_text())
    assert generated == committed, "the README is stale: run scripts/chart-docs"
    rows = [line for line in committed.splitlines() if line.startswith("| `")]
    print(f"README: {len(rows)} values documented")
    assert "| `redis.internal.appendfsync`" in committed


def test_a_changed_description_changes_the_readme(tmp_path: Path) -> None:
    values = (CHART / "values.yaml").read_text().replace("TTS log level", "How loud TTS logs")
    generated = _generate(tmp_path, values)
    assert "How loud TTS logs" in generated
    assert generated != (CHART / "README.md").read_text()


def test_an_undocumented_value_fails_the_generator(tmp_path: Path) -> None:
    values = (
        (CHART / "values.yaml").read_text().replace("  ## @param tts.logLevel TTS log level\n", "")
    )
    shutil.copy(CHART / "README.md", tmp_path / "README.md")
    (tmp_path / "values.yaml").write_text(values)
    result = run(["readme-generator", "--values", str(tmp_path / "values.yaml"),
                  "--readme", str(tmp_path / "README.md")], check=False)  # fmt: skip
    print(result.stdout, result.stderr)
    assert result.returncode != 0
    assert "tts.logLevel" in result.stdout + result.stderr
