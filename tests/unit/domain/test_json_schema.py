"""agentrun.domain.json_schema: safe checking and validation of client JSON Schemas."""

from __future__ import annotations

import urllib.request
from typing import Any

import jsonschema
import pytest

from agentrun.domain import json_schema
from agentrun.domain.errors import AgentrunError, ErrorCode
from agentrun.domain.json_schema import MAX_DEPTH, MAX_NODES, Violation, check_schema, validate

EVIL = "^(a+)+$"
EVIL_KEY = "a" * 40 + "!"  # hours of backtracking in Python's re


def refused(schema: Any, field: str = "input_schema") -> AgentrunError:
    with pytest.raises(AgentrunError) as info:
        check_schema(schema, field)
    error = info.value
    assert error.code is ErrorCode.validation_error and error.http_status == 422
    assert error.message.startswith(f"`{field}` is not a valid JSON Schema: "), error.message
    assert error.details["field"] == field
    return error


@pytest.fixture
def no_fetching(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"something tried to fetch: {args}")

    monkeypatch.setattr(urllib.request, "urlopen", fail)


# --- metaschema ---------------------------------------------------------------------------------


def test_valid_schemas_and_none_pass() -> None:
    check_schema(None, "output_schema")
    check_schema({}, "output_schema")
    check_schema({"type": "object", "properties": {"a": {"type": "string", "format": "email"}}}, "x")


@pytest.mark.parametrize(
    "schema, where",
    [({"type": 5}, "/type"), ({"properties": {"x": {"minLength": -1}}}, "/properties/x/minLength")],
)
def test_metaschema_errors_name_the_field_and_where(schema: dict[str, Any], where: str) -> None:
    error = refused(schema, "output_schema")
    assert where in error.message and error.details["at"] == where


def test_a_schema_must_be_an_object() -> None:
    assert "object" in refused(["not", "a", "schema"]).message


# --- $ref ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ref",
    [
        "http://127.0.0.1:9/x.json",
        "https://json-schema.org/draft/2020-12/schema",
        "file:///etc/passwd",
        "x.json#/a",
    ],
)
@pytest.mark.parametrize("keyword", ["$ref", "$dynamicRef"])
def test_non_local_refs_are_refused_naming_the_ref(ref: str, keyword: str, no_fetching: None) -> None:
    error = refused({"properties": {"a": {"items": {keyword: ref}}}})
    assert "only local `$ref`s are allowed" in error.message and ref in error.message
    assert error.details["ref"] == ref and error.details["at"] == f"/properties/a/items/{keyword}"


def test_local_refs_resolve(no_fetching: None) -> None:
    schema = {
        "type": "object",
        "properties": {
            "a": {"$ref": "#/$defs/positive"},
            "b": {"$ref": "#/definitions/short"},
            "c": {"$ref": "#named"},
            "d": {"$ref": "#"},
        },
        "$defs": {
            "positive": {"type": "integer", "minimum": 1},
            "n": {"$anchor": "named", "type": "boolean"},
        },
        "definitions": {"short": {"type": "string", "maxLength": 2}},
    }
    check_schema(schema, "input_schema")
    assert validate(schema, {"a": 1, "b": "ab", "c": True, "d": {"a": 2}}) == []
    problems = validate(schema, {"a": 0, "b": "abc", "c": 1, "d": {"a": "x"}})
    assert [v.field for v in problems] == ["a", "b", "c", "d.a"]


def test_a_ref_to_nothing_is_refused() -> None:
    error = refused({"properties": {"a": {"$ref": "#/$defs/missing"}}})
    assert "#/$defs/missing" in error.message


def test_ref_like_data_and_property_names_are_not_refs() -> None:
    check_schema(
        {
            "properties": {"$ref": {"type": "string"}, "default": {"type": "string"}},
            "default": {"$ref": "http://example.com/"},
            "examples": [{"$ref": "file:///etc/passwd"}],
            "const": {"$ref": "x"},
        },
        "input_schema",
    )


def test_validation_never_retrieves_even_for_unchecked_schemas(no_fetching: None) -> None:
    """The backstop under the stored-schema check: the registry refuses every retrieval."""
    validator = json_schema._Validator({"$ref": "http://127.0.0.1:9/x.json"}, registry=json_schema._REGISTRY)
    with pytest.raises(Exception) as info:
        validator.is_valid(1)
    assert "127.0.0.1:9" in str(info.value)


def test_a_nested_id_never_leads_to_a_fetch(no_fetching: None) -> None:
    schema = {
        "$id": "http://example.com/root.json",
        "properties": {
            "a": {"$id": "http://example.com/other.json", "properties": {"b": {"$ref": "#/$defs/x"}}}
        },
    }
    check_schema(schema, "input_schema")  # resolved only when validation reaches it
    with pytest.raises(AgentrunError) as info:
        validate(schema, {"a": {"b": 1}}, "input_schema")
    assert info.value.details["field"] == "input_schema"


def test_unused_extension_and_global_jsonschema_are_untouched() -> None:
    assert jsonschema.validators.validator_for(
        {"$schema": "https://json-schema.org/draft/2020-12/schema"}
    ) is (jsonschema.Draft202012Validator)


# --- patterns on RE2 ----------------------------------------------------------------------------


def test_pattern_is_linear_time() -> None:
    [problem] = validate({"type": "string", "pattern": EVIL}, EVIL_KEY)
    assert "does not match" in problem.message
    assert validate({"type": "string", "pattern": EVIL}, "aaaa") == []


def test_pattern_properties_are_linear_time() -> None:
    schema = {"patternProperties": {EVIL: {"type": "integer"}}}
    assert validate(schema, {EVIL_KEY: "not checked", "aa": 1}) == []
    assert [v.field for v in validate(schema, {"aa": "x"})] == ["aa"]


def test_additional_properties_beside_pattern_properties_are_linear_time() -> None:
    schema = {"patternProperties": {EVIL: {}}, "additionalProperties": False}
    [problem] = validate(schema, {EVIL_KEY: 1, "aaa": 2})
    assert EVIL_KEY in problem.message and "'aaa'" not in problem.message
    assert validate({"properties": {"x": {}}, "additionalProperties": False}, {"x": 1, "y": 2})[
        0
    ].message == ("Additional properties are not allowed ('y' was unexpected)")
    typed = {"patternProperties": {"^a": {}}, "additionalProperties": {"type": "integer"}}
    assert [v.field for v in validate(typed, {"ab": "s", "b": "s", "c": 1})] == ["b"]


def test_unevaluated_properties_beside_pattern_properties_are_linear_time() -> None:
    schema = {
        "allOf": [{"properties": {"x": {}}}],
        "patternProperties": {EVIL: {}},
        "unevaluatedProperties": False,
    }
    [problem] = validate(schema, {"x": 1, "aaaa": 2, EVIL_KEY: 3})
    assert EVIL_KEY in problem.message and "'x'" not in problem.message and "'aaaa'" not in problem.message
    refs = {
        "$ref": "#/$defs/base",
        "$defs": {"base": {"properties": {"y": {}}}},
        "unevaluatedProperties": False,
    }
    assert validate(refs, {"y": 1}) == []
    assert [v.message for v in validate(refs, {"y": 1, "z": 2})] == [
        "Unevaluated properties are not allowed ('z' was unexpected)"
    ]


@pytest.mark.parametrize("pattern", ["^(?=a)", "(?<!a)b", r"(a)\1", "(", "a{1001}"])
def test_patterns_re2_cannot_run_are_refused_naming_them(pattern: str) -> None:
    for schema in ({"pattern": pattern}, {"patternProperties": {pattern: {}}}):
        error = refused({"properties": {"v": schema}})
        assert f"`{pattern}`" in error.message and error.details["pattern"] == pattern


def test_unicode_classes_work() -> None:
    schema = {"type": "string", "pattern": r"^\p{L}+$"}
    check_schema(schema, "input_schema")
    assert validate(schema, "Zoë") == [] and len(validate(schema, "Zoë 2")) == 1


def test_format_regex_in_the_metaschema_uses_re2() -> None:
    # patternProperties' names are `format: regex` in the metaschema: checked by RE2, not re.
    check_schema({"patternProperties": {r"^\p{Lu}": {}}}, "input_schema")


# --- bounds -------------------------------------------------------------------------------------


def test_depth_is_bounded() -> None:
    ok: dict[str, Any] = {"type": "string"}
    for _ in range(MAX_DEPTH // 2 - 1):
        ok = {"items": ok}
    check_schema(ok, "input_schema")
    deep: dict[str, Any] = {"type": "string"}
    for _ in range(MAX_DEPTH):
        deep = {"items": deep}
    error = refused(deep)
    assert "deep" in error.message and error.details["max_depth"] == MAX_DEPTH


def test_size_is_bounded_data_included() -> None:
    check_schema({"enum": list(range(MAX_NODES - 1))}, "input_schema")
    error = refused({"enum": list(range(MAX_NODES + 1))})
    assert "too large" in error.message and error.details["max_nodes"] == MAX_NODES
    refused({"properties": {f"p{i}": {} for i in range(MAX_NODES + 1)}})


def test_blowing_up_refs_hit_the_work_bound() -> None:
    defs: dict[str, Any] = {f"d{i}": {"anyOf": [{"$ref": f"#/$defs/d{i + 1}"}] * 2} for i in range(40)}
    defs["d40"] = {"type": "string"}
    schema = {"$defs": defs, "$ref": "#/$defs/d0"}
    check_schema(schema, "input_schema")  # a fine schema ...
    with pytest.raises(AgentrunError) as info:
        validate(schema, 1, "input_schema")  # ... but 2**40 paths for a non-string
    assert "steps" in info.value.message and info.value.code is ErrorCode.validation_error
    assert validate(schema, "s") == []


def test_a_ref_cycle_is_an_error_not_a_crash() -> None:
    schema = {"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}
    with pytest.raises(AgentrunError) as info:
        validate(schema, 1, "output_schema")
    assert "cycle" in info.value.message and info.value.details["field"] == "output_schema"


def test_errors_are_capped_and_sorted_root_first() -> None:
    schema = {
        "type": "object",
        "properties": {f"f{i}": {"type": "integer"} for i in range(100)},
        "required": ["missing"],
    }
    problems = validate(schema, {f"f{i}": "x" for i in range(100)})
    assert len(problems) == json_schema.MAX_ERRORS
    assert problems[0] == Violation((), "'missing' is a required property") and problems[0].field is None
    items = validate({"items": {"type": "integer"}}, ["a"] * 12)
    assert [v.path for v in items][:3] == [(0,), (1,), (2,)] and items[-1].path == (11,)


def test_compiled_validators_are_cached_and_the_cache_is_bounded() -> None:
    schema = {"type": "object", "properties": {"cached": {"type": "string"}}}
    assert json_schema._compiled(schema) is json_schema._compiled(
        {"properties": schema["properties"], "type": "object"}
    )
    for i in range(json_schema.CACHE_SIZE + 20):
        check_schema({"const": i}, "input_schema")
    assert len(json_schema._cache) <= json_schema.CACHE_SIZE
