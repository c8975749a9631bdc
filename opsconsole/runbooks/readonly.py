"""Which shell commands may run under ``--read-only``: an allowlist, not the runbook's word.

A runbook's ``mutating: false`` on a shell step is a claim; the engine believes
it only when the command (after parameters are substituted) also matches this
allowlist. The packaged library once marked ``docker build``, ``tar -czf``,
``npm run build`` and ``pg_dump > file`` as non-mutating, and ``--read-only``
let a backup be truncated to zero bytes: the claim alone is not enough.

A command string run by ``/bin/sh -c`` is read-only only when it is one plain
command (no redirection, pipe, list, substitution or background) whose words
match an entry. ``docker exec <container> CMD`` is read-only when ``CMD`` is.
The library test checks that every step the library marks ``mutating: false``
matches (tests/test_runbooks_readonly.py), so this list and the library agree.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

# Command prefix -> option prefixes that make it write (checked on every later word).
READ_ONLY_COMMANDS: dict[tuple[str, ...], tuple[str, ...]] = {
    ("echo",): (),
    ("true",): (),
    ("date",): ("-s", "--set"),
    ("whoami",): (),
    ("sleep",): (),
    ("df",): (),
    ("free",): (),
    ("uptime",): (),
    ("pg_isready",): (),
    ("docker", "ps"): (),
    ("docker", "logs"): (),
    ("docker", "inspect"): (),
    ("docker", "stats", "--no-stream"): (),
    ("docker", "compose", "ps"): (),
    ("docker", "compose", "logs"): (),
    ("docker-compose", "ps"): (),
    ("docker-compose", "logs"): (),
    ("git", "log"): ("--output", "--ext-diff", "-o"),
    ("git", "status"): (),
    ("git", "show"): ("--output", "--ext-diff", "-o"),
    ("git", "diff"): ("--output", "--ext-diff", "-o"),
    ("pip", "list"): (),
    ("aws", "iam", "get-user"): (),
    ("aws", "iam", "list-attached-user-policies"): (),
    ("aws", "s3api", "get-bucket-acl"): (),
    ("aws", "s3", "ls"): (),
    ("az", "storage", "blob", "list"): (),
    ("databricks", "workspace", "list"): (),
    ("kubectl", "get"): (),
    ("kubectl", "describe"): (),
    ("kubectl", "logs"): (),
}
SHELL_OPERATORS = frozenset({">", ">>", "<", "<<", "|", "||", "&", "&&", ";", ";;", "(", ")", ">&", "<&", ">|",
                             "&>", "|&"})
SHELL_EXPANSIONS = ("$(", "`", "<(", ">(")


def shell_words(command: str) -> list[str] | None:
    """The words of a ``sh -c`` string that is one plain command, else ``None``."""
    if any(x in command for x in SHELL_EXPANSIONS) or "\n" in command:
        return None
    try:
        lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        words = list(lexer)
    except ValueError:
        return None
    if any(w in SHELL_OPERATORS or (w and set(w) <= set("<>|&;()")) for w in words):
        return None
    return words


def is_read_only(command: Sequence[str] | str) -> bool:
    """Does this command (argv, or a ``sh -c`` string) only read, by the allowlist?"""
    words = shell_words(command) if isinstance(command, str) else [str(w) for w in command]
    if not words:
        return False
    words = [words[0].rsplit("/", 1)[-1], *words[1:]]  # /usr/bin/df is df
    if words[:2] == ["docker", "exec"]:
        rest = words[2:]
        if len(rest) < 2 or rest[0].startswith("-"):
            return False  # exec options (-u, -e, --privileged...) are not vetted: not read-only
        return is_read_only(rest[1:])
    for prefix, writing_options in READ_ONLY_COMMANDS.items():
        if tuple(words[:len(prefix)]) == prefix:
            later = words[len(prefix):]
            return not any(w == opt or w.startswith(opt + "=") or (opt.startswith("--") and w.startswith(opt))
                           for w in later for opt in writing_options)
    return False
