"""Keep the chart's values.schema.json in step with the `## @param` lines of values.yaml.

values.yaml is the one source of each value's description and default: its `## @param`
lines also generate the README's Parameters table (readme-generator-for-helm). The schema
keeps what only it can say (types, patterns, enums, ranges, `additionalProperties: false`);
this tool copies each description and default into it and refuses a schema that misses a
value, keeps one that is gone, or leaves an object open to unknown keys.

    python -m tools.chart_schema          rewrite values.schema.json
    python -m tools.chart_schema --check  exit 1 and list the differences instead
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

CHART = Path(__file__).resolve().parent.parent / "charts" / "thethingsstack"
_PARAM = re.compile(r"^\s*## @param (\S+)(?: \[[^\]]*\])? (.+)$")
_CONSTRAINTS = ("type", "enum", "const", "$ref", "pattern")


def params(values_text: str) -> dict[str, str]:
    """`## @param` path -> description, in file order."""
    found = {}
    for line in values_text.splitlines():
        match = _PARAM.match(line)
        if match:
            found[match[1]] = match[2].strip()
    return found


def _value_at(values: dict[str, Any], path: str) -> Any:
    node: Any = values
    for part in path.split("."):
        node = node[part]
    return node


def _leaves(values: dict[str, Any], documented: set[str], prefix: str = "") -> list[str]:
    """Paths of every value; a documented map (e.g. podAnnotations: {}) is one value."""
    out = []
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and path not in documented:
            out += _leaves(value, documented, f"{path}.")
        else:
            out.append(path)
    return out


def _node(schema: dict[str, Any], path: str) -> dict[str, Any] | None:
    node: dict[str, Any] | None = schema
    for part in path.split("."):
        node = (node or {}).get("properties", {}).get(part)
    return node


def _open_objects(node: dict[str, Any], path: str = "") -> list[str]:
    """Objects of the values tree that accept keys the chart does not know."""
    if "properties" not in node:
        return []
    problems = [] if node.get("additionalProperties") is False else [path or "(top level)"]
    for key, child in node["properties"].items():
        problems += _open_objects(child, f"{path}.{key}" if path else key)
    return problems


def sync(schema: dict[str, Any], values_text: str) -> tuple[dict[str, Any], list[str]]:
    """The schema with descriptions and defaults from values.yaml, and what cannot be fixed."""
    documented = params(values_text)
    values = yaml.safe_load(values_text)
    problems = [f"{p}: no `## @param` line in values.yaml" for p in
                _leaves(values, set(documented)) if p not in documented]  # fmt: skip
    problems += [f"{p}: open to unknown keys (additionalProperties: false)" for p in
                 _open_objects(schema)]  # fmt: skip
    for path, description in documented.items():
        node = _node(schema, path)
        if node is None:
            problems.append(f"{path}: documented in values.yaml but missing from the schema")
            continue
        try:
            node["default"] = _value_at(values, path)
        except (KeyError, TypeError):
            problems.append(f"{path}: documented but not in values.yaml")
        node["description"] = description
        if not any(key in node for key in _CONSTRAINTS):
            problems.append(f"{path}: the schema does not constrain it (type, enum, pattern)")
    return schema, problems


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report the differences")
    parser.add_argument("--chart", type=Path, default=CHART, help="chart directory")
    args = parser.parse_args(argv)
    schema_path = args.chart / "values.schema.json"
    current = schema_path.read_text()
    schema, problems = sync(json.loads(current), (args.chart / "values.yaml").read_text())
    for problem in problems:
        print(f"values.schema.json: {problem}", file=sys.stderr)
    updated = render(schema)
    if args.check:
        if updated != current:
            print("values.schema.json: descriptions or defaults differ from values.yaml: "
                  "run python -m tools.chart_schema", file=sys.stderr)  # fmt: skip
        return 1 if problems or updated != current else 0
    schema_path.write_text(updated)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
