"""Seed 001, a "Run Agent" task API: ``POST /api/runs`` (see docs/compat/001-task-api.md).

A run names a provider and a model instead of an agent; each (provider, model) maps to an ad-hoc
agent of the project. Integer ids are derived from the run id (``services.compat.task_id_of``).
"""

from __future__ import annotations

import json
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import Field

from agentrun.api.compat._body import JSONBodyRoute
from agentrun.api.deps import ProjectDep, ServicesDep
from agentrun.domain import json_schema
from agentrun.domain.compat import TaskResponse
from agentrun.domain.errors import AgentrunError, ErrorCode
from agentrun.domain.models import CachedWorkflow, Run, RunCreate, RunMode, Strict
from agentrun.services import compat, task_shape
from agentrun.services.container import Services

router = APIRouter(tags=["compat: task API (001)"], route_class=JSONBodyRoute)

Provider = Literal["openai", "deepseek", "anthropic", "google", "groq", "mistral", "together"]


class RunAgentRequest(Strict):
    prompt: str = Field(min_length=3, description="The task to be performed by the agent.")
    model: str = Field("o3", min_length=1)
    provider: Provider = "openai"
    wait_for_completion: bool | None = True
    webhook_url: str | None = None
    response_format: Literal["text", "json"] | None = "text"
    json_schema: str | dict[str, Any] | None = None
    use_cached_workflow: bool | None = None
    cached_workflow: dict[str, Any] | None = None


def _output_schema(body: RunAgentRequest) -> dict[str, Any] | None:
    schema = body.json_schema
    if isinstance(schema, str):
        try:
            schema = json.loads(schema)
        except ValueError as exc:
            raise AgentrunError(
                ErrorCode.validation_error,
                "json_schema: not valid JSON; give a JSON Schema as a JSON string or an object.",
                {"field": "json_schema"},
            ) from exc
        if not isinstance(schema, dict):
            raise AgentrunError(
                ErrorCode.validation_error, "json_schema: must be a JSON object.", {"field": "json_schema"}
            )
    if schema is None and (body.response_format or "text") == "text":
        return None
    # A schema implies JSON (the default format included); only an explicit "text" contradicts it.
    if schema is not None and "response_format" in body.model_fields_set and body.response_format == "text":
        raise AgentrunError(
            ErrorCode.validation_error,
            "json_schema: only used with response_format 'json'; set response_format to 'json' or omit it.",
            {"field": "json_schema"},
        )
    json_schema.check_schema(schema, "json_schema")
    return schema if schema is not None else {"type": "object"}


async def _response(services: Services, project: str, run: Run) -> dict[str, Any]:
    return task_shape.task_response(run, await compat.all_events(services, project, run.id))


@router.post("/api/runs", operation_id="compat_001_run_agent", response_model=TaskResponse)
async def run_agent(body: RunAgentRequest, services: ServicesDep, project: ProjectDep) -> JSONResponse:
    output_schema = _output_schema(body)
    metadata: dict[str, Any] = {
        "compat": "001",
        "compat_001_provider": body.provider,
        "compat_001_model": body.model,
        "compat_001_response_format": "text" if output_schema is None else "json",
    }
    cached: CachedWorkflow | None = None
    if body.use_cached_workflow:
        if body.cached_workflow is None:
            raise AgentrunError(
                ErrorCode.validation_error,
                "cached_workflow: required when use_cached_workflow is true.",
                {"field": "cached_workflow"},
            )
        cached = CachedWorkflow.model_validate(compat.check_workflow(body.cached_workflow))
    elif body.cached_workflow is not None:
        compat.check_workflow(body.cached_workflow)  # still refuse a malformed one
    agent = await compat.adhoc_agent(services, project, body.provider, body.model)
    wait = body.wait_for_completion is not False
    run, _ = await services.runs.create(
        project,
        RunCreate(
            agent=agent.id,
            prompt=body.prompt,
            mode=RunMode.sync if wait else RunMode.async_,
            output_schema=output_schema,
            metadata=metadata,
            webhook_url=body.webhook_url,
            cached_workflow=cached,
        ),
    )
    if wait:
        run = await services.runs.wait(project, run.id, services.settings.limits.sync_wait_s, or_waiting=True)
    return JSONResponse(await _response(services, project, run), headers={"X-Run-Id": run.id})


@router.get("/api/runs/{task_id}", operation_id="compat_001_get_run", response_model=TaskResponse)
async def get_task_run(task_id: int, services: ServicesDep, project: ProjectDep) -> JSONResponse:
    run = await compat.run_by_task_id(services, project, task_id)
    return JSONResponse(await _response(services, project, run), headers={"X-Run-Id": run.id})


@router.get("/api/tasks/{task_id}", operation_id="compat_001_get_task", response_model=TaskResponse)
async def get_task(task_id: int, services: ServicesDep, project: ProjectDep) -> JSONResponse:
    return await get_task_run(task_id, services, project)
