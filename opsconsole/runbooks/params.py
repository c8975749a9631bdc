"""Runbook parameters: validation of operator input and ``${name}`` substitution.

Both the UI's parameter prompt and ``opsconsole run --param k=v`` go through
:func:`resolve_params`, so a value refused in one is refused in the other with
the same message.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from typing import Any

from opsconsole.runbooks.model import ParamType, Runbook, RunbookParam

REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
WHOLE_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


def coerce(param: RunbookParam, value: Any) -> Any:
    """Turn a (possibly textual) value into the parameter's type, or raise ValueError."""
    if param.type is ParamType.STR:
        result: Any = value if isinstance(value, str) else str(value)
    elif param.type is ParamType.BOOL:
        if isinstance(value, bool):
            result = value
        elif str(value).lower() in {"true", "yes", "1", "on"}:
            result = True
        elif str(value).lower() in {"false", "no", "0", "off"}:
            result = False
        else:
            raise ValueError(f"{param.name}: expected true or false, got {value!r}")
    elif param.type is ParamType.INT:
        if isinstance(value, bool):
            raise ValueError(f"{param.name}: expected an integer, got {value!r}")
        try:
            result = int(str(value).strip())
        except ValueError:
            raise ValueError(f"{param.name}: expected an integer, got {value!r}") from None
    else:
        if isinstance(value, bool):
            raise ValueError(f"{param.name}: expected a number, got {value!r}")
        try:
            result = float(str(value).strip())
        except ValueError:
            raise ValueError(f"{param.name}: expected a number, got {value!r}") from None
    if param.choices and result not in param.choices and str(result) not in {str(c) for c in param.choices}:
        raise ValueError(f"{param.name}: must be one of {', '.join(str(c) for c in param.choices)}, got {value!r}")
    if param.pattern and isinstance(result, str) and not re.fullmatch(param.pattern, result):
        raise ValueError(f"{param.name}: {result!r} does not match the expected form /{param.pattern}/")
    if isinstance(result, str) and not param.pattern and result.startswith("-"):
        # As a whole argv word, "-rf" or "--output=/etc/x" would be read as an option of the command.
        raise ValueError(f"{param.name}: {result!r} starts with '-' and would be read as an option "
                         "(the runbook can allow it with a pattern:)")
    return result


def parse_assignments(items: list[str] | None) -> dict[str, str]:
    """``["k=v", ...]`` from the command line into a mapping; refuses malformed items."""
    result: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--param expects NAME=VALUE, got {item!r}")
        result[key.strip()] = value
    return result


def resolve_params(runbook: Runbook, given: Mapping[str, Any]) -> dict[str, Any]:
    """Validate supplied values against the runbook's declared parameters.

    Unknown names are refused (a typo must not silently fall back to a default),
    required ones must be present, and every value is coerced to its type.
    Raises ValueError listing every problem at once.
    """
    problems: list[str] = []
    declared = {p.name: p for p in runbook.params}
    for name in given:
        if name not in declared:
            known = ", ".join(declared) or "none"
            problems.append(f"{name}: not a parameter of {runbook.id} (parameters: {known})")
    values: dict[str, Any] = {}
    for param in runbook.params:
        raw = given.get(param.name)
        if raw is None or raw == "":
            if param.default is not None:
                raw = param.default
            elif param.required:
                problems.append(f"{param.name}: required" + (f" ({param.help})" if param.help else ""))
                continue
            else:
                values[param.name] = None
                continue
        try:
            values[param.name] = coerce(param, raw)
        except ValueError as exc:
            problems.append(str(exc))
    if problems:
        raise ValueError("; ".join(problems))
    return values


def substitute(value: Any, values: Mapping[str, Any], *, quote: bool = False) -> Any:
    """Replace ``${name}`` references, keeping the type when the whole value is one reference.

    ``quote=True`` shell-quotes substituted values (for command strings run by ``sh -c``),
    so a parameter can never inject a second command.
    """
    if isinstance(value, str):
        whole = WHOLE_REF.match(value)
        if whole and not quote:
            return values.get(whole.group(1))

        def sub(m: re.Match[str]) -> str:
            v = values.get(m.group(1))
            text = "" if v is None else str(v)
            return shlex.quote(text) if quote else text

        return REF.sub(sub, value)
    if isinstance(value, (list, tuple)):
        return type(value)(substitute(v, values, quote=quote) for v in value)
    if isinstance(value, dict):
        return {k: substitute(v, values, quote=quote) for k, v in value.items()}
    return value
