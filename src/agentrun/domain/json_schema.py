"""The one place client JSON Schemas are checked and used (agents' and runs' schemas).

Rules (docs/api.md "JSON Schemas", docs/decisions/0008-json-schema-safety.md):

- Schemas are Draft 2020-12, checked against its metaschema when they are stored.
- Only local ``$ref`` / ``$dynamicRef`` (``#``, ``#/$defs/...``, ``#/definitions/...``, ``#anchor``)
  are allowed. Validation uses a ``referencing`` registry whose ``retrieve`` refuses, so nothing
  is ever fetched (network or file), even for a schema stored before these checks existed.
- ``pattern`` and ``patternProperties`` run on RE2 (linear time): no catastrophic backtracking.
  A pattern RE2 cannot compile (lookaround, backreference) is refused.
- Bounded: nesting depth, number of keys and items, and the work one validation may do.

Compiled validators are cached by the schema's hash in a bounded LRU.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, TypeVar

import re2
import referencing.exceptions
from jsonschema import Draft202012Validator, FormatChecker, ValidationError
from jsonschema.exceptions import best_match
from jsonschema.validators import extend
from referencing import Registry, Resource

from agentrun.domain.errors import AgentrunError, ErrorCode

__all__ = [
    "MAX_DEPTH",
    "MAX_NODES",
    "MAX_ERRORS",
    "MAX_STEPS",
    "Violation",
    "check_schema",
    "validate",
]

MAX_DEPTH = 64  # nesting of objects and arrays in a schema
MAX_NODES = 5_000  # object keys + array items in a schema, counted over the whole document
MAX_ERRORS = 50  # violations reported for one value
MAX_STEPS = 100_000  # keyword evaluations in one validation (bounds $ref / anyOf blow-ups)
CACHE_SIZE = 256  # compiled validators kept

# Keywords whose values are data, not schemas: a "$ref" key inside them is not a reference.
_DATA_KEYWORDS = frozenset({"const", "enum", "default", "examples"})
# Keywords whose values map names (not keywords) to schemas.
_NAME_MAPS = frozenset({"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"})
_REF_KEYWORDS = ("$ref", "$dynamicRef")

T = TypeVar("T")


class _Unusable(Exception):
    """The schema cannot be used; ``details`` say where and why."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


@dataclass(frozen=True)
class Violation:
    """One way a value does not match a schema."""

    path: tuple[str | int, ...]
    message: str

    @property
    def field(self) -> str | None:
        """The dotted path of the failing value; None for the value itself."""
        return ".".join(str(p) for p in self.path) or None


# --- RE2 ---------------------------------------------------------------------------------------

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a refused pattern is the client's 422, not a line on stderr


@lru_cache(maxsize=1024)
def _regex(pattern: str) -> Any:
    try:
        return re2.compile(pattern, _RE2_OPTIONS)
    except re2.error as exc:
        reason = (
            exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        )
        raise _Unusable(
            f"the pattern `{pattern}` is not supported ({reason}); patterns run on RE2: no lookaround, "
            "no backreferences",
            pattern=pattern,
        ) from None


def _is_regex(instance: object) -> bool:
    if isinstance(instance, str):
        _regex(instance)
    return True


# --- refs: local only, never fetched -----------------------------------------------------------


def _refuse(uri: str) -> Resource[Any]:
    raise referencing.exceptions.NoSuchResource(ref=uri)  # type: ignore[call-arg]  # an attrs class


_REGISTRY: Registry[Any] = Registry(retrieve=_refuse)  # type: ignore[call-arg]


def _is_local(ref: str) -> bool:
    return ref.startswith("#")


# --- the validator: RE2 for every regex, a work budget -----------------------------------------

_steps: ContextVar[list[int] | None] = ContextVar("agentrun_json_schema_steps", default=None)


class _TooMuchWork(Exception):
    pass


def _budgeted(keyword: Any) -> Any:
    def run(validator: Any, value: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
        left = _steps.get()
        if left is not None:
            left[0] -= 1
            if left[0] < 0:
                raise _TooMuchWork
        return keyword(validator, value, instance, schema) or iter(())

    return run


def _pattern(validator: Any, patrn: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not _regex(patrn).search(instance):
        yield ValidationError(f"{instance!r} does not match {patrn!r}")


def _pattern_properties(
    validator: Any, pattern_properties: Any, instance: Any, schema: Any
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in pattern_properties.items():
        regex = _regex(pattern)
        for key, value in instance.items():
            if regex.search(key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _matches_any_pattern(schema: Any, key: str) -> bool:
    return any(_regex(p).search(key) for p in schema.get("patternProperties", {}))


def _additional_properties(
    validator: Any, additional: Any, instance: Any, schema: Any
) -> Iterator[ValidationError]:
    # jsonschema's own, with property names matched by RE2 (its helper uses Python's re).
    if not validator.is_type(instance, "object"):
        return
    properties = schema.get("properties", {})
    extras = {k for k in instance if k not in properties and not _matches_any_pattern(schema, k)}
    if validator.is_type(additional, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], additional, path=extra)
    elif not additional and extras:
        listed = ", ".join(repr(e) for e in sorted(extras))
        if "patternProperties" in schema:
            verb = "does" if len(extras) == 1 else "do"
            patterns = ", ".join(repr(p) for p in sorted(schema["patternProperties"]))
            yield ValidationError(f"{listed} {verb} not match any of the regexes: {patterns}")
        else:
            verb = "was" if len(extras) == 1 else "were"
            yield ValidationError(f"Additional properties are not allowed ({listed} {verb} unexpected)")


def _valid(errors: Iterator[ValidationError]) -> bool:
    return next(errors, None) is None


def _evaluated_keys(validator: Any, instance: dict[str, Any], schema: Any) -> set[str]:
    """Keys evaluated by ``schema`` (for unevaluatedProperties): jsonschema's
    ``find_evaluated_property_keys_by_schema`` (MIT), with patternProperties matched by RE2."""
    if validator.is_type(schema, "boolean"):
        return set()
    keys = _evaluated_through_refs(validator, instance, schema)
    properties = schema.get("properties")
    if validator.is_type(properties, "object"):
        keys |= properties.keys() & instance.keys()
    for keyword in ("additionalProperties", "unevaluatedProperties"):
        if (subschema := schema.get(keyword)) is not None:
            keys |= {k for k, v in instance.items() if _valid(validator.descend(v, subschema))}
    if "patternProperties" in schema:
        keys |= {k for k in instance if _matches_any_pattern(schema, k)}
    for prop, subschema in schema.get("dependentSchemas", {}).items():
        if prop in instance:
            keys |= _evaluated_keys(validator, instance, subschema)
    return keys | _evaluated_through_applicators(validator, instance, schema)


def _evaluated_through_refs(validator: Any, instance: dict[str, Any], schema: Any) -> set[str]:
    keys: set[str] = set()
    for keyword in _REF_KEYWORDS:
        ref = schema.get(keyword)
        if ref is not None:
            resolved = validator._resolver.lookup(ref)
            inner = validator.evolve(schema=resolved.contents, _resolver=resolved.resolver)
            keys |= _evaluated_keys(inner, instance, resolved.contents)
    return keys


def _evaluated_through_applicators(validator: Any, instance: dict[str, Any], schema: Any) -> set[str]:
    keys: set[str] = set()
    for keyword in ("allOf", "oneOf", "anyOf"):
        for subschema in schema.get(keyword, []):
            if _valid(validator.descend(instance, subschema)):
                keys |= _evaluated_keys(validator, instance, subschema)
    if "if" in schema:
        if validator.evolve(schema=schema["if"]).is_valid(instance):
            keys |= _evaluated_keys(validator, instance, schema["if"])
            if "then" in schema:
                keys |= _evaluated_keys(validator, instance, schema["then"])
        elif "else" in schema:
            keys |= _evaluated_keys(validator, instance, schema["else"])
    return keys


def _unevaluated_properties(
    validator: Any, unevaluated: Any, instance: Any, schema: Any
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    evaluated = _evaluated_keys(validator, instance, schema)
    bad = [
        k
        for k in instance
        if k not in evaluated
        and not _valid(validator.descend(instance[k], unevaluated, path=k, schema_path=k))
    ]
    if bad:
        listed = ", ".join(repr(k) for k in sorted(bad, key=str))
        verb = "was" if len(bad) == 1 else "were"
        if unevaluated is False:
            yield ValidationError(f"Unevaluated properties are not allowed ({listed} {verb} unexpected)")
        else:
            yield ValidationError(
                f"Unevaluated properties are not valid under the given schema ({listed} {verb} "
                "unevaluated and invalid)"
            )


_FORMATS = FormatChecker()
_FORMATS.checkers = dict(Draft202012Validator.FORMAT_CHECKER.checkers)
_FORMATS.checks("regex", raises=_Unusable)(_is_regex)

_KEYWORDS = {
    **Draft202012Validator.VALIDATORS,
    "pattern": _pattern,
    "patternProperties": _pattern_properties,
    "additionalProperties": _additional_properties,
    "unevaluatedProperties": _unevaluated_properties,
}
_Validator = extend(
    Draft202012Validator,
    validators={name: _budgeted(fn) for name, fn in _KEYWORDS.items()},
    format_checker=_FORMATS,
)
_META = _Validator(Draft202012Validator.META_SCHEMA, registry=_REGISTRY, format_checker=_FORMATS)


# --- checking a schema -------------------------------------------------------------------------


def _pointer(path: list[str | int]) -> str:
    return "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in path) if path else "(root)"


_NOT_LOCAL = "only local `$ref`s are allowed (`#/$defs/...`, `#/definitions/...`, `#...`)"


@dataclass
class _Scan:
    """What walking a schema found: its size so far, its refs, whether a nested ``$id`` moves the base."""

    nodes: int = 0
    refs: list[str] = field(default_factory=list)
    nested_id: bool = False

    def count(self, n: int) -> None:
        self.nodes += n
        if self.nodes > MAX_NODES:
            raise _Unusable(
                f"the schema is too large (more than {MAX_NODES} keys and items)", max_nodes=MAX_NODES
            )

    def keyword(self, key: str, value: Any, path: list[str | int]) -> str:
        """Check one keyword of a schema; how to walk its value."""
        if key in _DATA_KEYWORDS:
            return "data"
        if key in _REF_KEYWORDS and isinstance(value, str):
            if not _is_local(value):
                at = _pointer([*path, key])
                raise _Unusable(f"{_NOT_LOCAL}; {key} `{value}` at {at} is not local", ref=value, at=at)
            if key == "$ref":
                self.refs.append(value)
        if key == "$id" and path:
            self.nested_id = True
        if key == "pattern" and isinstance(value, str):
            _regex(value)
        if key == "patternProperties" and isinstance(value, dict):
            for pattern in value:
                _regex(pattern)
        return "names" if key in _NAME_MAPS else "schema"


def _walk(schema: Any) -> list[str] | None:
    """Size and depth bounds, local refs only, every pattern compiles on RE2.

    Each node is walked as a schema (its keys are keywords), a map of names to schemas
    (``properties``...) or data (``const``, ``enum``, ``default``, ``examples``: counted, not read).
    Returns the schema's ``$ref``s, or None when a nested ``$id`` moves the base URI (then they
    are resolved only when validation reaches them).
    """
    scan = _Scan()
    stack: list[tuple[Any, list[str | int], str]] = [(schema, [], "schema")]
    while stack:
        node, path, kind = stack.pop()
        if len(path) > MAX_DEPTH:
            raise _Unusable(
                f"the schema is nested too deep (more than {MAX_DEPTH} levels)", max_depth=MAX_DEPTH
            )
        inner = "data" if kind == "data" else "schema"
        if isinstance(node, list):
            scan.count(len(node))
            stack.extend((item, [*path, i], inner) for i, item in enumerate(node))
        elif isinstance(node, dict):
            scan.count(len(node))
            for key, value in node.items():
                child = scan.keyword(key, value, path) if kind == "schema" else inner
                stack.append((value, [*path, key], child))
    return None if scan.nested_id else scan.refs


def _local_refs_resolve(validator: Any, refs: list[str]) -> None:
    """Every local ``$ref`` points at something in the schema."""
    for ref in refs:
        try:
            validator._resolver.lookup(ref)
        except referencing.exceptions.Unresolvable:
            raise _Unusable(f"$ref `{ref}` points at nothing in the schema", ref=ref) from None


_cache: OrderedDict[str, Any] = OrderedDict()
_cache_lock = threading.Lock()


def _digest(schema: Any) -> str:
    return hashlib.sha256(json.dumps(schema, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _bounded(run: Callable[[], T]) -> T:
    """``run()`` with a fresh work budget; the ways a usable-looking schema fails become :class:`_Unusable`."""
    token = _steps.set([MAX_STEPS])
    try:
        return run()
    except _TooMuchWork:
        raise _Unusable(f"validating against the schema took more than {MAX_STEPS} steps") from None
    except RecursionError:
        raise _Unusable("the schema refers to itself without end (a `$ref` cycle)") from None
    except referencing.exceptions.Unresolvable as exc:
        ref = getattr(exc, "ref", None) or str(exc)
        if isinstance(ref, str) and not _is_local(ref):
            raise _Unusable(f"{_NOT_LOCAL}; `{ref}` is not local", ref=ref) from None
        raise _Unusable(f"$ref `{ref}` points at nothing in the schema", ref=ref) from None
    finally:
        _steps.reset(token)


def _compiled(schema: Any) -> Any:
    """A validator for ``schema`` once it passed every check; raises :class:`_Unusable`."""
    if not isinstance(schema, dict):
        raise _Unusable("a JSON Schema here must be an object")
    refs = _walk(schema)
    key = _digest(schema)
    with _cache_lock:
        found = _cache.get(key)
        if found is not None:
            _cache.move_to_end(key)
            return found
    # Linear in the schema's size, which _walk bounded: no work budget needed.
    error = best_match(_META.iter_errors(schema))
    if error is not None:
        where = _pointer(list(error.absolute_path))
        raise _Unusable(f"{error.message} (at {where})", at=where)
    validator = _Validator(schema, registry=_REGISTRY)
    if refs:
        _bounded(lambda: _local_refs_resolve(validator, refs))
    with _cache_lock:
        _cache[key] = validator
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return validator


def _error(field: str, problem: _Unusable) -> AgentrunError:
    return AgentrunError(
        ErrorCode.validation_error,
        f"`{field}` is not a valid JSON Schema: {problem.message}.",
        {"field": field, **problem.details},
    )


def check_schema(schema: Any, field: str) -> None:
    """422 ``validation_error`` naming ``field`` unless ``schema`` is a safe Draft 2020-12 schema."""
    if schema is None:
        return
    try:
        _compiled(schema)
    except _Unusable as problem:
        raise _error(field, problem) from None


def _path_key(path: tuple[str | int, ...]) -> list[tuple[int, int, str]]:
    return [(0, p, "") if isinstance(p, int) else (1, 0, str(p)) for p in path]


def validate(schema: Any, value: Any, field: str = "schema") -> list[Violation]:
    """How ``value`` fails ``schema`` (empty when it matches), at most :data:`MAX_ERRORS`, by path.

    Raises a 422 ``validation_error`` naming ``field`` when the schema itself cannot be used (a
    schema stored before these checks, or one whose validation exceeds the work bound).
    """
    try:
        validator = _compiled(schema)
        # Every error (their number is bounded by the work bound), so the root-most come first.
        found = _bounded(lambda: list(validator.iter_errors(value)))
    except _Unusable as problem:
        raise _error(field, problem) from None
    violations = sorted(
        (Violation(tuple(e.absolute_path), e.message) for e in found), key=lambda v: _path_key(v.path)
    )
    return violations[:MAX_ERRORS]
