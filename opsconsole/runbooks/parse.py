"""Parsing one runbook from YAML, strictly: every error names the file, line and key.

Because a mistake in a procedure is discovered at the worst possible moment,
steps, parameters, conditions and templates are checked when the file loads
(unknown keys, wrong types, references to undeclared parameters, unsafe
parameter placement in shell commands).
"""

from __future__ import annotations

import re
from typing import Any

from opsconsole.drivers import REGISTRY
from opsconsole.drivers.base import PANE_METHODS
from opsconsole.errors import ConfigError
from opsconsole.runbooks.model import Condition, ParamType, Runbook, RunbookParam, RunbookStep, StepKind
from opsconsole.runbooks.templates import check_shell_template
from opsconsole.yamlio import line_of

REF_PATTERN = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]*$")
CONDITION_PATTERN = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(==|!=|<=|>=|<|>|\bin\b)\s*(.+?)\s*$")
BUILTIN_REFS = frozenset({"profile"})
"""Names every runbook may reference without declaring them."""

RUNBOOK_KEYS = {"id", "title", "summary", "symptoms", "severity", "platform", "seed", "profiles", "alerts",
                "params", "steps", "finally"}
PARAM_KEYS = {"type", "required", "default", "choices", "pattern", "help", "secret"}
STEP_KEYS = {"id", "title", "action", "probe", "shell", "params", "driver", "select", "expect", "match", "until",
             "timeout", "interval", "cwd", "output", "mutating", "confirm", "dangerous", "irreversible", "target",
             "effect", "on_failure", "optional"}
SEVERITIES = ("critical", "warning", "info")
PANE_METHOD_NAMES = frozenset(PANE_METHODS.values())



class _Ctx:
    """Where we are in a file, for error messages."""

    def __init__(self, path: str, where: str) -> None:
        self.path = path
        self.where = where

    def fail(self, message: str, mapping: Any = None, key: str | None = None) -> ConfigError:
        line = line_of(mapping, key) if key is not None and mapping is not None else getattr(mapping, "line", None)
        full = f"{self.where}.{key}" if key else self.where
        return ConfigError(message, path=self.path, line=line, key=full)


def _require_type(ctx: _Ctx, mapping: Any, key: str, expected: type | tuple[type, ...], what: str) -> Any:
    value = mapping[key]
    types = expected if isinstance(expected, tuple) else (expected,)
    ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
    if float in types and isinstance(value, int) and not isinstance(value, bool):
        ok = True
    if not ok:
        raise ctx.fail(f"expected {what}, got {type(value).__name__} {value!r}", mapping, key)
    return value


def _check_keys(ctx: _Ctx, mapping: dict, allowed: set[str]) -> None:
    for key in mapping:
        if key not in allowed:
            raise ctx.fail(f"unknown key {key!r} (allowed: {', '.join(sorted(allowed))})", mapping, key)


def _str_list(ctx: _Ctx, mapping: dict, key: str) -> tuple[str, ...]:
    if key not in mapping:
        return ()
    value = mapping[key]
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) for v in value):
        raise ctx.fail("expected a list of strings", mapping, key)
    return tuple(str(v) for v in value)


def parse_runbook(raw: Any, path: str, index: int = 0) -> Runbook:
    ctx = _Ctx(path, f"runbooks[{index}]")
    if not isinstance(raw, dict):
        raise ConfigError("a runbook must be a mapping", path=path, key=ctx.where)
    if isinstance(raw.get("id"), str) and raw["id"]:
        ctx.where = raw["id"]
    _check_keys(ctx, raw, RUNBOOK_KEYS)
    for key in ("id", "title", "steps"):
        if key not in raw:
            raise ctx.fail(f"missing required key {key!r}", raw)
    rb_id = _require_type(ctx, raw, "id", str, "a string")
    if not ID_PATTERN.match(rb_id):
        raise ctx.fail(f"runbook id {rb_id!r} must be lower-case letters, digits and dashes", raw, "id")
    ctx.where = rb_id
    title = _require_type(ctx, raw, "title", str, "a string")
    severity = raw.get("severity", "warning")
    if severity not in SEVERITIES:
        raise ctx.fail(f"severity must be one of {', '.join(SEVERITIES)}, got {severity!r}", raw, "severity")
    for key in ("summary", "platform", "seed"):
        if key in raw:
            _require_type(ctx, raw, key, (str, int), "a string")

    params = _parse_params(ctx, raw)
    declared = {p.name for p in params} | BUILTIN_REFS
    secret_names = {p.name for p in params if p.secret}

    steps_raw = raw["steps"]
    if not isinstance(steps_raw, list) or not steps_raw:
        raise ctx.fail("'steps' must be a non-empty list", raw, "steps")
    steps: list[RunbookStep] = []
    ids: set[str] = set()
    for i, step_raw in enumerate(steps_raw):
        step = _parse_step(_Ctx(path, f"{rb_id}.steps[{i}]"), step_raw, i, declared, secret_names)
        if step.id in ids:
            raise _Ctx(path, f"{rb_id}.steps[{i}]").fail(f"duplicate step id {step.id!r}", step_raw, "id")
        ids.add(step.id)
        steps.append(step)
    cleanup: list[RunbookStep] = []
    cleanup_raw = raw.get("finally", [])
    if not isinstance(cleanup_raw, list):
        raise ctx.fail("'finally' must be a list of steps (run after the others, whatever happened)", raw, "finally")
    for i, step_raw in enumerate(cleanup_raw):
        step = _parse_step(_Ctx(path, f"{rb_id}.finally[{i}]"), step_raw, len(steps) + i, declared)
        if step.id in ids:
            raise _Ctx(path, f"{rb_id}.finally[{i}]").fail(f"duplicate step id {step.id!r}", step_raw, "id")
        ids.add(step.id)
        cleanup.append(step)
    return Runbook(id=rb_id, title=title, steps=tuple(steps), cleanup=tuple(cleanup),
                   summary=str(raw.get("summary", "")).strip(),
                   symptoms=_str_list(ctx, raw, "symptoms"), severity=severity,
                   platform=str(raw.get("platform", "")), seed=str(raw.get("seed", "")),
                   profiles=_str_list(ctx, raw, "profiles"), alerts=_str_list(ctx, raw, "alerts"),
                   params=params, source=path)


def _parse_params(ctx: _Ctx, raw: dict) -> tuple[RunbookParam, ...]:
    params_raw = raw.get("params") or {}
    if not isinstance(params_raw, dict):
        raise ctx.fail("'params' must be a mapping of name -> spec", raw, "params")
    result = []
    for name, spec in params_raw.items():
        pctx = _Ctx(ctx.path, f"{ctx.where}.params.{name}")
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
            raise ctx.fail(f"parameter name {name!r} must be an identifier", params_raw, name)
        if spec is None:
            spec = {}
        if not isinstance(spec, dict):
            raise ctx.fail("a parameter must be a mapping (type, default, required, choices, pattern, help)",
                           params_raw, name)
        _check_keys(pctx, spec, PARAM_KEYS)
        try:
            ptype = ParamType(spec.get("type", "str"))
        except ValueError:
            raise pctx.fail(f"type must be one of {', '.join(t.value for t in ParamType)}", spec, "type") from None
        choices = spec.get("choices", [])
        if not isinstance(choices, list):
            raise pctx.fail("choices must be a list", spec, "choices")
        pattern = spec.get("pattern")
        if pattern is not None:
            try:
                re.compile(str(pattern))
            except re.error as exc:
                raise pctx.fail(f"invalid regular expression: {exc}", spec, "pattern") from None
        for key in ("required", "secret"):
            if key in spec:
                _require_type(pctx, spec, key, bool, "true or false")
        param = RunbookParam(name=name, type=ptype, required=bool(spec.get("required", False)),
                             default=spec.get("default"), choices=tuple(choices),
                             pattern=None if pattern is None else str(pattern), help=str(spec.get("help", "")),
                             secret=bool(spec.get("secret", False)))
        if param.default is not None:
            from opsconsole.runbooks.params import coerce

            try:
                coerce(param, param.default)
            except ValueError as exc:
                raise pctx.fail(f"default: {exc}", spec, "default") from None
        result.append(param)
    return tuple(result)


def parse_condition(text: str) -> Condition:
    """Parse ``field op value`` (``health == ok``, ``file_count <= 100``, ``state in RUNNING,ACTIVE``)."""
    m = CONDITION_PATTERN.match(text)
    if not m:
        raise ValueError(f"cannot parse condition {text!r} (write e.g. 'health == ok' or 'file_count <= 100')")
    field_, op, value = m.groups()
    return Condition(field=field_, op=op.strip(), value=_scalar(value, op.strip()))


def _scalar(text: str, op: str) -> Any:
    if op == "in":
        return tuple(_scalar(part.strip(), "==") for part in text.strip("[]").split(","))
    text = text.strip().strip("'\"")
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    if text.lower() in {"none", "null"}:
        return None
    if text.lower() in {"true", "false"}:
        return text.lower() == "true"
    return text


def _refs(value: Any) -> set[str]:
    if isinstance(value, str):
        return set(REF_PATTERN.findall(value))
    if isinstance(value, (list, tuple)):
        return set().union(*(_refs(v) for v in value)) if value else set()
    if isinstance(value, dict):
        return set().union(*(_refs(v) for v in value.values())) if value else set()
    return set()


def _seconds(ctx: _Ctx, raw: dict, key: str, declared: set[str]) -> float | str | None:
    """A positive number of seconds, or a whole ``${param}`` reference resolved at plan time."""
    if key not in raw:
        return None
    value = raw[key]
    if isinstance(value, str) and REF_PATTERN.fullmatch(value.strip()):
        if REF_PATTERN.fullmatch(value.strip()).group(1) not in declared:
            raise ctx.fail(f"{value} is not a declared parameter", raw, key)
        return value.strip()
    number = float(_require_type(ctx, raw, key, (int, float), "seconds or a ${param}"))
    if not number > 0 or number == float("inf"):  # also refuses .nan
        raise ctx.fail(f"{key} must be positive", raw, key)
    return number


def _parse_step(ctx: _Ctx, raw: Any, index: int, declared: set[str],
                secret_names: frozenset[str] | set[str] = frozenset()) -> RunbookStep:
    if not isinstance(raw, dict):
        raise ConfigError("a step must be a mapping", path=ctx.path, key=ctx.where)
    _check_keys(ctx, raw, STEP_KEYS)
    kinds = [k for k in ("action", "probe", "shell") if k in raw]
    if len(kinds) != 1:
        raise ctx.fail("a step needs exactly one of 'action', 'probe' or 'shell'"
                       + (f" (found {', '.join(kinds)})" if kinds else ""), raw)
    kind = StepKind(kinds[0])
    step_id = raw.get("id", f"step-{index + 1}")
    if not isinstance(step_id, str) or not ID_PATTERN.match(step_id):
        raise ctx.fail(f"step id {step_id!r} must be lower-case letters, digits and dashes", raw, "id")
    section = "finally" if ".finally[" in ctx.where else "steps"
    ctx.where = ctx.where.rsplit(f".{section}[", 1)[0] + f".{section}.{step_id}"

    driver_type: str | None = None
    name = ""
    command: tuple[str, ...] | str = ()
    if kind is StepKind.SHELL:
        value = raw["shell"]
        if isinstance(value, str) and value.strip():
            command = value
        elif isinstance(value, list) and value and all(isinstance(v, (str, int, float)) for v in value):
            command = tuple(str(v) for v in value)
        else:
            raise ctx.fail("shell must be a command string or a non-empty argv list", raw, "shell")
        unsafe = check_shell_template(command, set(secret_names))
        if unsafe:
            raise ctx.fail(unsafe, raw, "shell")
    else:
        ref = raw[kind.value]
        if not isinstance(ref, str) or "." not in ref:
            raise ctx.fail(f"{kind.value} must be '<driver type>.<name>' (e.g. docker.restart), got {ref!r}",
                           raw, kind.value)
        driver_type, _, name = ref.partition(".")
        if driver_type not in REGISTRY:
            raise ctx.fail(f"unknown driver type {driver_type!r}; known drivers: {', '.join(sorted(REGISTRY))}",
                           raw, kind.value)
        if kind is StepKind.PROBE and name not in PANE_METHOD_NAMES:
            raise ctx.fail(f"probe must name a pane method ({', '.join(sorted(PANE_METHOD_NAMES))}), got {name!r}",
                           raw, kind.value)

    params = raw.get("params") or {}
    if not isinstance(params, dict):
        raise ctx.fail("params must be a mapping", raw, "params")
    if params and kind is not StepKind.ACTION:
        raise ctx.fail("params are only for action steps", raw, "params")
    select = raw.get("select") or {}
    if not isinstance(select, dict):
        raise ctx.fail("select must be a mapping of field -> value or glob", raw, "select")

    expect: Condition | None = None
    if "expect" in raw:
        if kind is not StepKind.PROBE:
            raise ctx.fail("expect is only for probe steps", raw, "expect")
        try:
            expect = parse_condition(str(raw["expect"]))
        except ValueError as exc:
            raise ctx.fail(str(exc), raw, "expect") from None
        match = raw.get("match", "all")
        if match not in ("all", "any", "none"):
            raise ctx.fail("match must be all, any or none", raw, "match")
        expect = Condition(expect.field, expect.op, expect.value, match)
    elif "match" in raw:
        raise ctx.fail("match needs expect", raw, "match")
    until = False
    if "until" in raw:
        until = _require_type(ctx, raw, "until", bool, "true or false")
        if until and expect is None:
            raise ctx.fail("until: true needs an 'expect' condition to wait for", raw, "until")
    timeout = _seconds(ctx, raw, "timeout", declared)
    if timeout is None and until:
        raise ctx.fail("a wait-until probe needs a timeout (seconds)", raw, "until")
    interval = _seconds(ctx, raw, "interval", declared)
    if interval is None:
        interval = 5.0
    flags = {}
    for key in ("confirm", "dangerous", "irreversible", "optional"):
        flags[key] = bool(_require_type(ctx, raw, key, bool, "true or false")) if key in raw else False
    mutating = None
    if "mutating" in raw:
        mutating = _require_type(ctx, raw, "mutating", bool, "true or false")
    if kind is StepKind.PROBE and mutating:
        raise ctx.fail("a probe only reads; it cannot be mutating", raw, "mutating")
    on_failure = raw.get("on_failure", "continue" if kind is StepKind.PROBE and not until else "stop")
    if on_failure not in ("stop", "continue"):
        raise ctx.fail("on_failure must be stop or continue", raw, "on_failure")
    if "output" in raw and kind is not StepKind.SHELL:
        raise ctx.fail("output is only for shell steps", raw, "output")
    for key in ("title", "driver", "target", "effect", "cwd", "output"):
        if key in raw:
            _require_type(ctx, raw, key, str, "a string")
    for key in ("params", "select", "target", "shell", "cwd", "output", "title", "effect", "expect", "driver"):
        if key in raw:
            unknown = _refs(raw[key]) - declared
            if unknown:
                raise ctx.fail(f"${{{sorted(unknown)[0]}}} is not a declared parameter "
                               f"(declare it under the runbook's params)", raw, key)
    title = raw.get("title") or (name if kind is not StepKind.SHELL else "shell command")
    return RunbookStep(id=step_id, title=str(title), kind=kind, driver_type=driver_type, name=name,
                       params=dict(params), driver=raw.get("driver"), select=dict(select), expect=expect,
                       until=until, timeout=timeout, interval=interval, command=command, cwd=raw.get("cwd"),
                       output=raw.get("output"),
                       mutating=mutating, confirm=flags["confirm"], dangerous=flags["dangerous"],
                       irreversible=flags["irreversible"], target=raw.get("target"),
                       effect=str(raw.get("effect", "")), on_failure=on_failure, optional=flags["optional"],
                       line=getattr(raw, "line", None))
