"""Pure rules of the run service: request fingerprints, input validation messages, schema checks."""

from __future__ import annotations

import pytest

from agentrun.domain.errors import AgentrunError, ErrorCode
from agentrun.domain.json_schema import check_schema
from agentrun.domain.models import RunCreate
from agentrun.services.runs import request_hash, validate_input

SCHEMA = {
    "type": "object",
    "properties": {
        "count": {"type": "integer", "minimum": 0},
        "user": {
            "type": "object",
            "properties": {"email": {"type": "string", "format": "email"}, "age": {"type": "integer"}},
            "required": ["age"],
        },
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["count"],
    "additionalProperties": False,
}


# --- request_hash ---------------------------------------------------------------------------


def test_request_hash_is_stable_and_ignores_key_order() -> None:
    a = RunCreate.model_validate(
        {"agent": "x", "input": {"b": 1, "a": [1, 2]}, "metadata": {"k": "v", "j": 1}}
    )
    b = RunCreate.model_validate(
        {"metadata": {"j": 1, "k": "v"}, "input": {"a": [1, 2], "b": 1}, "agent": "x"}
    )
    assert request_hash(a) == request_hash(b)
    assert len(request_hash(a)) == 64 and int(request_hash(a), 16) >= 0


def test_request_hash_counts_defaults_as_given() -> None:
    """Leaving a field out and sending its default are the same request."""
    assert request_hash(RunCreate(agent="x", prompt="p")) == request_hash(
        RunCreate(agent="x", prompt="p", mode="sync", multitask="enqueue", metadata={})
    )


@pytest.mark.parametrize(
    "change",
    [
        {"prompt": "other"},
        {"agent": "y"},
        {"mode": "async"},
        {"revision": 2},
        {"config": {"max_turns": 3}},
        {"metadata": {"k": 1}},
        {"thread_id": "thr_1"},
        {"output_schema": {"type": "object"}},
    ],
)
def test_request_hash_changes_with_any_field(change: dict) -> None:
    base = {"agent": "x", "prompt": "p"}
    assert request_hash(RunCreate.model_validate(base)) != request_hash(
        RunCreate.model_validate({**base, **change})
    )


# --- validate_input -------------------------------------------------------------------------


def invalid(value: dict) -> AgentrunError:
    with pytest.raises(AgentrunError) as info:
        validate_input(SCHEMA, value)
    assert info.value.code is ErrorCode.input_invalid and info.value.http_status == 422
    return info.value


def test_valid_input_and_no_schema_pass() -> None:
    validate_input(SCHEMA, {"count": 0, "user": {"age": 3}, "tags": ["a"]})
    validate_input(None, {"anything": object()})


def test_wrong_type_names_the_field() -> None:
    error = invalid({"count": "three"})
    assert error.message == "input.count: 'three' is not of type 'integer'"
    assert error.details == {"errors": [{"field": "count", "message": "'three' is not of type 'integer'"}]}


def test_nested_and_array_fields_are_named_by_path() -> None:
    assert invalid({"count": 1, "user": {"age": "x"}}).message.startswith("input.user.age: ")
    assert invalid({"count": 1, "tags": ["ok", 5]}).message.startswith("input.tags.1: ")


def test_missing_and_unknown_fields_are_named_at_the_root() -> None:
    assert invalid({}).message == "input: 'count' is a required property"
    extra = invalid({"count": 1, "colour": "red"})
    assert extra.message.startswith("input: ") and "'colour'" in extra.message
    nested_missing = invalid({"count": 1, "user": {}})
    assert nested_missing.message == "input.user: 'age' is a required property"


def test_every_error_is_listed_root_first() -> None:
    error = invalid({"count": -1, "tags": [1], "extra": True})
    fields = [e["field"] for e in error.details["errors"]]
    assert fields == [None, "count", "tags.0"]
    assert error.message.startswith("input: ")


def test_at_most_twenty_errors_are_listed() -> None:
    schema = {"type": "object", "properties": {f"f{i}": {"type": "integer"} for i in range(30)}}
    with pytest.raises(AgentrunError) as info:
        validate_input(schema, {f"f{i}": "x" for i in range(30)})
    assert len(info.value.details["errors"]) == 20


# --- output schema check --------------------------------------------------------------------


def test_check_schema_accepts_valid_schemas_and_none() -> None:
    check_schema(None, "output_schema")
    check_schema({"type": "object", "properties": {"a": {"type": "string"}}}, "output_schema")


@pytest.mark.parametrize("schema", [{"type": "nonsense"}, {"properties": 5}, {"required": "a"}])
def test_check_schema_refuses_invalid_schemas_naming_the_field(schema: dict) -> None:
    with pytest.raises(AgentrunError) as info:
        check_schema(schema, "output_schema")
    assert info.value.code is ErrorCode.validation_error
    assert info.value.message.startswith("`output_schema` is not a valid JSON Schema: ")
    assert info.value.details["field"] == "output_schema"
