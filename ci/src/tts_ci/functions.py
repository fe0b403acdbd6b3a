"""How a method becomes a Dagger function here: cache policy, and errors as one line."""

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from dagger import function

# Private on purpose: the documented way (raise ValueError) logs a Python traceback before
# the message; FunctionError is the SDK's no-traceback path and 0.21.11 exports it nowhere else.
from dagger.mod._exceptions import FunctionError

from pipelines.backup.manifest import BackupError
from pipelines.migrate.errors import MigrationError
from pipelines.release_state import ReleaseError

from .containers import StepFailed

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def new(cls: type[T], **fields: Any) -> T:
    """`cls(**fields)` for an @object_type class.

    The SDK applies dataclass_transform to a bound method that `dagger.object_type` aliases,
    which mypy does not follow, so it sees no fields; the engine sees the dataclass.
    """
    return cast(T, cast(Any, cls)(**fields))


def _one_line_errors(func: F) -> F:
    """Bad input and failed steps end the call with their message, not a Python traceback.

    The SDK logs a traceback for any other exception; FunctionError is its documented
    escape hatch for errors whose message says it all (dagger-io 0.21 mod/_module.py).
    """

    @functools.wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return await func(*args, **kwargs)
        except (ValueError, StepFailed, MigrationError, ReleaseError, BackupError) as err:
            raise FunctionError(str(err)) from None

    return cast(F, wrapper)


def cached(func: F) -> F:
    """A Dagger function whose results the engine may reuse (pure renders and checks)."""
    return cast(F, function(_one_line_errors(func)))


def uncached(func: F) -> F:
    """A Dagger function never served from the 7-day function cache.

    For functions that publish, deploy, test or look at moving refs: a cached
    result would report success for work that did not happen again.
    """
    # dagger-io 0.21.11 accepts `cache=` at runtime, but its typing overloads omit it.
    return function(cache="never")(_one_line_errors(func))  # type: ignore[call-overload,no-any-return]
