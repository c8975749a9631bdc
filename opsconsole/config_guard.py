"""Guards on reading config files (profiles, runbooks, themes): nothing a file holds may hang or flood us.

Why: an alias bomb (nine nested ``&a`` aliases in 300 bytes) froze ``check`` and the
TUI with memory growing past a gigabyte; a FIFO given as ``--config`` blocked
forever; non-UTF-8 bytes ended in a traceback. Each is now a ConfigError naming
the file (and line), in well under a second.
"""

from __future__ import annotations

import os

import yaml

from opsconsole.errors import ConfigError

MAX_CONFIG_BYTES = 2 * 1024 * 1024
"""Profiles, runbooks and themes are hand-written: anything bigger is a mistake (or an attack)."""
MAX_YAML_NODES = 100_000
"""Nodes after expanding aliases: nine nested ``&a`` aliases make 10^9 of them from 300 bytes."""


def read_config_text(path: str | os.PathLike[str], what: str = "file") -> str:
    """A config file's text, refusing what would hang or flood the loader.

    A FIFO or device given as ``--config`` would block forever (or stream without
    end); a huge file or non-UTF-8 bytes are a mistake to report with the file's
    name, never a traceback.
    """
    import stat

    where = str(path)
    try:
        fd = os.open(where, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise ConfigError(f"cannot read {what}: {exc.strerror}", path=where) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = ("a FIFO" if stat.S_ISFIFO(info.st_mode) else "a directory" if stat.S_ISDIR(info.st_mode)
                    else "a device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode) else "not a file")
            raise ConfigError(f"cannot read {what}: {kind}, not a regular file", path=where)
        if info.st_size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{what} too large: {info.st_size} bytes (limit {MAX_CONFIG_BYTES})", path=where)
        with os.fdopen(os.dup(fd), "rb") as fh:
            raw = fh.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read {what}: {exc.strerror}", path=where) from None
    finally:
        os.close(fd)
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{what} too large (limit {MAX_CONFIG_BYTES} bytes)", path=where)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(f"not UTF-8 (byte {exc.start})", path=where, line=line) from None


def check_expansion(node: yaml.Node, path: str) -> None:
    """Refuse documents whose aliases expand past :data:`MAX_YAML_NODES` (linear time: sizes are memoised)."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(n: yaml.Node) -> int:
        key = id(n)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise ConfigError("recursive YAML alias", path=path, line=n.start_mark.line + 1)
        active.add(key)
        if isinstance(n, yaml.SequenceNode):
            total = 1 + sum(size(child) for child in n.value)
        elif isinstance(n, yaml.MappingNode):
            total = 1 + sum(size(k) + size(v) for k, v in n.value)
        else:
            total = 1
        active.discard(key)
        if total > MAX_YAML_NODES:
            raise ConfigError(f"YAML expands to more than {MAX_YAML_NODES} values through aliases "
                              "(an alias bomb?); write the values out", path=path, line=n.start_mark.line + 1)
        sizes[key] = total
        return total

    size(node)
