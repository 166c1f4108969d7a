"""/v1/sandboxes: isolated workspaces, their files, uploads before a run and downloads after."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from agentrun.api.deps import CursorDep, LimitDep, ProjectDep, ServicesDep
from agentrun.domain.models import Page, Sandbox, SandboxCreate, SandboxFile

router = APIRouter(prefix="/v1/sandboxes", tags=["sandboxes"])

PathQuery = Annotated[str, Query(max_length=1000, description="Directory relative to the workspace.")]
_RAW_BODY = {
    "requestBody": {
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
    }
}


@router.post("", status_code=201, operation_id="create_sandbox")
async def create_sandbox(body: SandboxCreate, services: ServicesDep, project: ProjectDep) -> Sandbox:
    return await services.sandboxes.create(project, body)


@router.get("", operation_id="list_sandboxes")
async def list_sandboxes(
    services: ServicesDep, project: ProjectDep, limit: LimitDep, cursor: CursorDep = None
) -> Page[Sandbox]:
    return await services.sandboxes.list(project, cursor, limit)


@router.get("/{sandbox_id}", operation_id="get_sandbox")
async def get_sandbox(sandbox_id: str, services: ServicesDep, project: ProjectDep) -> Sandbox:
    return await services.sandboxes.get(project, sandbox_id)


@router.delete("/{sandbox_id}", status_code=204, operation_id="delete_sandbox")
async def delete_sandbox(sandbox_id: str, services: ServicesDep, project: ProjectDep) -> Response:
    await services.sandboxes.delete(project, sandbox_id)
    return Response(status_code=204)


@router.get("/{sandbox_id}/files", operation_id="list_sandbox_files")
async def list_sandbox_files(
    sandbox_id: str, services: ServicesDep, project: ProjectDep, path: PathQuery = "."
) -> list[SandboxFile]:
    return await services.sandboxes.list_files(project, sandbox_id, path)


@router.put("/{sandbox_id}/files/{path:path}", operation_id="upload_sandbox_file", openapi_extra=_RAW_BODY)
async def upload_sandbox_file(
    sandbox_id: str, path: str, request: Request, services: ServicesDep, project: ProjectDep
) -> Sandbox:
    """The request body is the file's content, as is."""
    return await services.sandboxes.upload_file(project, sandbox_id, path, await request.body())


@router.get(
    "/{sandbox_id}/files/{path:path}",
    operation_id="download_sandbox_file",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
async def download_sandbox_file(
    sandbox_id: str, path: str, services: ServicesDep, project: ProjectDep
) -> Response:
    data = await services.sandboxes.download_file(project, sandbox_id, path)
    return Response(data, media_type="application/octet-stream")


@router.post("/{sandbox_id}/archive", operation_id="upload_sandbox_archive", openapi_extra=_RAW_BODY)
async def upload_sandbox_archive(
    sandbox_id: str,
    request: Request,
    services: ServicesDep,
    project: ProjectDep,
    into: PathQuery = ".",
) -> Sandbox:
    """The request body is a .tar, .tar.gz or .zip archive; its files are added under ``into``."""
    return await services.sandboxes.upload_archive(project, sandbox_id, await request.body(), into)


@router.get(
    "/{sandbox_id}/archive",
    operation_id="download_sandbox_archive",
    response_class=Response,
    responses={200: {"content": {"application/gzip": {}}}},
)
async def download_sandbox_archive(sandbox_id: str, services: ServicesDep, project: ProjectDep) -> Response:
    data = await services.sandboxes.download_archive(project, sandbox_id)
    return Response(
        data,
        media_type="application/gzip",
        headers={"Content-Disposition": f'attachment; filename="{sandbox_id}.tar.gz"'},
    )
