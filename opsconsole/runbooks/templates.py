"""Shell step templates: parameters become whole words, secrets never reach argv.

Why: a value shell-quoted into ``'...${x}...'`` (inside quotes) or into the
script of ``[sh, -c, "...${x}..."]`` is spliced into shell code, so ``$(...)``,
backticks and ``;`` in a parameter ran as commands. The rule checked at load
time is simple enough to state in an error message:

* in a command string, ``${x}`` must stand outside any quotes (the engine
  quotes the value itself, so it is always one word);
* in an argv list, ``${x}`` may not appear in the script of a shell's ``-c``;
* a ``secret: true`` parameter may only be used in a command string: it is
  passed to the child in its environment (``$OPSC_SECRET_<NAME>``), so it never
  shows in ``ps``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from opsconsole.runbooks.params import REF, substitute

SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "ash", "busybox"})


def secret_env_name(name: str) -> str:
    return "OPSC_SECRET_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def _refs_in_quotes(command: str) -> list[str]:
    """Names of ``${x}`` references that stand inside single or double quotes (or after a backslash)."""
    found: list[str] = []
    quote = ""
    i = 0
    while i < len(command):
        ch = command[i]
        if ch == "\\" and quote != "'":
            i += 2
            continue
        if quote:
            if ch == quote:
                quote = ""
            elif command.startswith("${", i):
                m = REF.match(command, i)
                if m:
                    found.append(m.group(1))
        elif ch in "'\"":
            quote = ch
        elif ch == "`" or command.startswith("$(", i):
            quote = ")" if ch == "$" else "`"  # a substitution: treat its body like a quoted string
        i += 1
    return found


def check_shell_template(command: str | Sequence[str], secret_names: set[str]) -> str:
    """Why this shell template is unsafe, or ``""``."""
    if isinstance(command, str):
        inside = _refs_in_quotes(command)
        if inside:
            return (f"${{{inside[0]}}} stands inside quotes: a parameter must be a whole word "
                    "(remove the quotes; the value is quoted for you)")
        return ""
    words = [str(w) for w in command]
    program = words[0].rsplit("/", 1)[-1] if words else ""
    if program in SHELLS and "-c" in words:
        script = words[words.index("-c") + 1:words.index("-c") + 2]
        if script and REF.search(script[0]):
            return (f"${{{REF.search(script[0]).group(1)}}} inside the script of '{program} -c' would run as "
                    "code: pass it as a separate argument ($1) or write the step as a command string")
    for word in words:
        for name in REF.findall(word):
            if name in secret_names:
                return (f"secret parameter ${{{name}}} in an argv list would show in ps: use a command string "
                        f"(it is passed as ${secret_env_name(name)} in the environment)")
    return ""


def render(command: str | Sequence[str], values: Mapping[str, Any],
           secret_names: set[str]) -> tuple[str | list[str], dict[str, str]]:
    """The command to run and the environment variables carrying the secret parameters."""
    env = {secret_env_name(n): str(values.get(n) or "") for n in secret_names if values.get(n) is not None}
    if isinstance(command, str):
        hidden = REF.sub(lambda m: f'"${secret_env_name(m.group(1))}"' if m.group(1) in secret_names
                         else m.group(0), command)
        return str(substitute(hidden, values, quote=True)), env
    return [str(substitute(a, values)) for a in command], env
