"""Read the Dagger module's CLI surface (objects, functions, arguments, cache policy) by
introspecting ci/src/tts_ci with the real dagger-io SDK, as the engine would."""

import inspect
import sys
import typing
from dataclasses import dataclass
from typing import Any

from tests.support.dagger_names import cli_name
from tests.support.paths import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "ci" / "src"))

__all__ = ["OBJECTS", "Argument", "Azure", "Function", "TtsCi", "TtsImage", "functions"]

from dagger.mod._module import FUNCTION_DEF_KEY
from dagger.mod._types import FunctionDefinition
from tts_ci.azure import Azure
from tts_ci.main import TtsCi
from tts_ci.tts_image import TtsImage

# The module's object types: the entry object and those its functions return.
OBJECTS: tuple[type, ...] = (TtsCi, TtsImage, Azure)


@dataclass(frozen=True)
class Argument:
    python_name: str
    cli_name: str
    required: bool
    doc: str | None


@dataclass(frozen=True)
class Function:
    owner: type
    python_name: str
    cli_name: str
    meta: FunctionDefinition
    doc: str
    arguments: tuple[Argument, ...]
    method: Any

    @property
    def path(self) -> str:
        """How the CLI reaches it: `build` on the entry object, `TtsImage.scan` otherwise."""
        return self.cli_name if self.owner is TtsCi else f"{self.owner.__name__}.{self.cli_name}"


def _doc_of(annotation: Any) -> str | None:
    for extra in getattr(annotation, "__metadata__", ()):
        if type(extra).__name__ == "Doc":
            return str(extra.documentation)
    return None


def functions(owner: type | None = None) -> list[Function]:
    """Every @function of the module's objects (or of `owner`), in declaration order."""
    found = []
    for cls in OBJECTS if owner is None else (owner,):
        for name, member in vars(cls).items():
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
                Function(
                    cls, name, cli_name(name), meta, inspect.getdoc(member) or "", arguments, member
                )
            )
    return found
