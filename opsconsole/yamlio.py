"""Hand-written YAML, read safely and validated with its line numbers: profiles, runbooks, themes.

One room for what every config file needs: reading it without hanging or
flooding (a FIFO, a 2 GB file, an alias bomb, non-UTF-8 bytes are each a
:class:`~opsconsole.errors.ConfigError` naming the file, in well under a second),
parsing it into mappings that remember each key's line (libyaml's loader when
present: 10x faster, it matters for the first frame), and the validators that
turn a wrong value into "file:line: key: what is wrong".
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from opsconsole.errors import ConfigError

ENV_PATTERN = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([^}]*))?\}")
MAX_CONFIG_BYTES = 2 * 1024 * 1024
"""Profiles, runbooks and themes are hand-written: anything bigger is a mistake (or an attack)."""
MAX_YAML_NODES = 100_000
"""Nodes after expanding aliases: nine nested ``&a`` aliases make 10^9 of them from 300 bytes."""


def read_text(path: str | os.PathLike[str], what: str = "file") -> str:
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


# --------------------------------------------------------------------------- YAML with lines
class LineDict(dict):
    """A mapping that remembers the line (1-based) of each key."""

    lines: dict[str, int]
    line: int


class LineLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """SafeLoader (libyaml's when present: 10x faster, it matters for the first frame)
    that records key lines and rejects duplicate keys."""


def _construct_mapping(loader: LineLoader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    result = LineDict()
    result.lines = {}
    result.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            key = str(key)
        if key in result:
            raise ConfigError(f"duplicate key (first at line {result.lines[key]})",
                              path=getattr(loader, "source_path", None), line=key_node.start_mark.line + 1, key=key)
        result[key] = loader.construct_object(value_node, deep=True)
        result.lines[key] = key_node.start_mark.line + 1
    return result


LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml(text: str, path: str) -> Any:
    loader = LineLoader(text)
    loader.source_path = path  # type: ignore[attr-defined]
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        check_expansion(node, path)
        return loader.construct_document(node)
    except RecursionError:
        raise ConfigError("YAML nested too deeply", path=path) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ConfigError(f"invalid YAML: {exc.problem or exc}", path=path, line=line) from None
    except yaml.reader.ReaderError as exc:  # a control character: not a MarkedYAMLError
        line = text.count("\n", 0, exc.position) + 1
        raise ConfigError(f"invalid YAML: character {exc.character!r} not allowed", path=path, line=line) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", path=path) from None
    finally:
        loader.dispose()


def start_line(mapping: Any) -> int | None:
    return mapping.line if isinstance(mapping, LineDict) else None


# --------------------------------------------------------------------------- validators
def type_name(t: type | tuple[type, ...]) -> str:
    if isinstance(t, tuple):
        return " or ".join(x.__name__ for x in t)
    return t.__name__


def check_type(value: Any, expected: type | tuple[type, ...], *, path: str, line: int | None, key: str) -> None:
    types = expected if isinstance(expected, tuple) else (expected,)
    if isinstance(value, bool) and bool not in types:
        ok = False
    else:
        ok = isinstance(value, types) or (float in types and isinstance(value, int) and not isinstance(value, bool))
    if not ok:
        raise ConfigError(f"expected {type_name(expected)}, got {type(value).__name__} {value!r}",
                          path=path, line=line, key=key)
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"expected a finite number, got {value!r}", path=path, line=line, key=key)


def positive(value: float, *, path: str, line: int | None, key: str) -> float:
    """Timeouts and intervals: a negative or zero one would mean "never wait" or "spin"."""
    if value <= 0:
        raise ConfigError(f"must be a positive number of seconds, got {value!r}", path=path, line=line, key=key)
    return float(value)


def line_of(mapping: Any, key: str) -> int | None:
    if isinstance(mapping, LineDict):
        return mapping.lines.get(key, mapping.line)
    return None


def expand_env(value: Any, *, path: str, line: int | None, key: str) -> Any:
    """Expand ``${VAR}`` and ``${VAR:default}`` from the environment (seed 004)."""
    if isinstance(value, str):
        def sub(match: re.Match[str]) -> str:
            var, default = match.group(1), match.group(2)
            if var in os.environ:
                return os.environ[var]
            if default is not None:
                return default
            raise ConfigError(f"environment variable ${{{var}}} is not set and has no default "
                              f"(write ${{{var}:default}} to give one)", path=path, line=line, key=key)
        if "${" in ENV_PATTERN.sub("", value):
            raise ConfigError(f"unterminated or invalid ${{...}} in {value!r} (write ${{NAME}} or ${{NAME:default}})",
                              path=path, line=line, key=key)
        return ENV_PATTERN.sub(sub, value)
    if isinstance(value, list):
        return [expand_env(v, path=path, line=line, key=key) for v in value]
    if isinstance(value, dict):
        return {k: expand_env(v, path=path, line=line_of(value, k) or line, key=f"{key}.{k}") for k, v in value.items()}
    return value


def coerce_scalar(value: Any, expected: type | tuple[type, ...]) -> Any:
    """Values from ``${VAR}`` arrive as strings; turn them into the declared type."""
    if not isinstance(value, str):
        return value
    types = expected if isinstance(expected, tuple) else (expected,)
    if str in types:
        return value
    for t in types:
        try:
            if t is bool:
                if value.lower() in {"true", "yes", "1", "on"}:
                    return True
                if value.lower() in {"false", "no", "0", "off"}:
                    return False
            elif t in (int, float):
                return t(value)
        except ValueError:
            continue
    return value


def field_reader(raw: Any, *, path: str, where: str) -> Callable[[str, type | tuple[type, ...], Any], Any]:
    """``get(key, types, default)`` for one mapping: ``${VAR}`` expanded, coerced, type-checked, with its line."""
    def get(key: str, expected: type | tuple[type, ...], default: Any) -> Any:
        if key not in raw:
            return default
        line = line_of(raw, key)
        value = coerce_scalar(expand_env(raw[key], path=path, line=line, key=f"{where}.{key}"), expected)
        check_type(value, expected, path=path, line=line, key=f"{where}.{key}")
        return value
    return get


# --------------------------------------------------------------------------- where users keep their files
def user_config_dir() -> Path:
    from platformdirs import user_config_dir as _ucd

    return Path(os.environ.get("OPSCONSOLE_CONFIG_DIR") or _ucd("opsconsole"))
