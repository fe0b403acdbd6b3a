"""Read the Dagger module's CLI surface (functions, arguments, cache policy) by
introspecting ci/src/tts_ci with the real dagger-io SDK, as the engine would."""

import inspect
import sys
import typing
from dataclasses import dataclass
from typing import Any

from pipelines.dagger_names import cli_name
from tests.support.paths import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "ci" / "src"))

__all__ = ["Argument", "Function", "TtsCi", "functions"]

from dagger.mod._module import FUNCTION_DEF_KEY
from dagger.mod._types import FunctionDefinition
from tts_ci.main import TtsCi


@dataclass(frozen=True)
class Argument:
    python_name: str
    cli_name: str
    required: bool
    doc: str | None


@dataclass(frozen=True)
class Function:
    python_name: str
    cli_name: str
    meta: FunctionDefinition
    doc: str
    arguments: tuple[Argument, ...]
    method: Any


def _doc_of(annotation: Any) -> str | None:
    for extra in getattr(annotation, "__metadata__", ()):
        if type(extra).__name__ == "Doc":
            return str(extra.documentation)
    return None


def functions() -> list[Function]:
    """Every @function of TtsCi, in declaration order."""
    found = []
    for name, member in vars(TtsCi).items():
        meta = getattr(member, FUNCTION_DEF_KEY, None)
        if meta is None:
            continue
        hints = typing.get_type_hints(member, include_extras=True)
        arguments = tuple(
            Argument(
                python_name=param.name,
                cli_name=cli_name(param.name),
                required=param.default is inspect.Parameter.empty,
                doc=_doc_of(hints[param.name]),
            )
            for param in list(inspect.signature(member).parameters.values())[1:]
        )
        found.append(
            Function(name, cli_name(name), meta, inspect.getdoc(member) or "", arguments, member)
        )
    return found
