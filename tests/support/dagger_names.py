"""How the Dagger CLI spells a Python module's function names.

The engine lower-camel-cases `test_e2e` to `testE2E`; the CLI then kebab-cases that
with iancoleman/strcase, which also splits letters from digits, so `test_e2e` is
called `dagger call test-e-2-e` (dagger/dagger#7276, open). Kebab-casing the snake
name directly gives the same words. README tables and workflow files are checked
against this, so nobody has to guess.
"""


def _kind(char: str) -> str:
    if "A" <= char <= "Z":
        return "upper"
    if "a" <= char <= "z":
        return "lower"
    if "0" <= char <= "9":
        return "digit"
    return "other"


def kebab(name: str) -> str:
    """strcase.ToKebab: a word breaks where letter case or letter/digit changes."""
    name = name.strip()
    out: list[str] = []
    for i, char in enumerate(name):
        kind = _kind(char)
        nxt = _kind(name[i + 1]) if i + 1 < len(name) else "end"
        boundary = (
            (kind == "upper" and nxt in ("lower", "digit"))
            or (kind == "lower" and nxt in ("upper", "digit"))
            or (kind == "digit" and nxt in ("upper", "lower"))
        )
        if boundary:
            # An acronym ends before its last capital: "JSONData" -> "json-data".
            if kind == "upper" and nxt == "lower" and i > 0 and _kind(name[i - 1]) == "upper":
                out.append("-")
            out.append(char.lower())
            if kind in ("lower", "digit") or nxt == "digit":
                out.append("-")
        elif char in " _-.":
            out.append("-")
        else:
            out.append(char.lower())
    return "".join(out)


def cli_name(python_name: str) -> str:
    """The name to type after `dagger call` for a Python function or argument name."""
    return kebab(python_name)
