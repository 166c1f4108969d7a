"""``agentrun agents ...``: apply definitions from files, list, show, publish, archive."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.markup import escape

from agentrun.cli._app import Group, client_of, err, fail, out, print_json
from agentrun.cli._render import agents_table, when

app = typer.Typer(cls=Group, help="Define and manage agents.", no_args_is_help=True)


def load_definitions(file: str) -> list[dict[str, Any]]:
    """The agent documents in a YAML or JSON file ('-' for stdin); YAML may hold several (---)."""
    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text()
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}")
    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        fail(f"{file} is not valid YAML or JSON: {exc}")
    if not documents:
        fail(f"{file} holds no agent definition")
    for index, document in enumerate(documents, 1):
        if not isinstance(document, dict):
            fail(f"{file}: document {index} is not a mapping of agent fields")
        if not isinstance(document.get("slug"), str):
            fail(f"{file}: document {index} needs a `slug`")
    return documents


@app.command("apply")
def apply(
    ctx: typer.Context,
    file: Annotated[str, typer.Option("--file", "-f", help="YAML or JSON agent file; '-' for stdin.")],
    publish: Annotated[
        bool | None,
        typer.Option(
            "--publish/--no-publish", help="Publish the resulting revision (default: the file's `publish`)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """Create or update agents from a file (PUT /v1/agents/{slug}); unchanged definitions add no revision."""
    client = client_of(ctx)
    applied = []
    for document in load_definitions(file):
        fields = dict(document)
        slug = fields.pop("slug")
        if publish is not None:
            fields["publish"] = publish
        agent = client.agents.apply(slug, extra_body=fields)
        applied.append(agent)
        if not as_json:
            published = f"r{agent.published_revision}" if agent.published_revision else "none"
            out.print(
                f"[green]applied[/green] {escape(agent.slug)}: latest revision r{agent.latest_revision}, "
                f"published {published}"
            )
    if as_json:
        print_json([a.model_dump(mode="json") for a in applied])


@app.command("list")
def list_agents(
    ctx: typer.Context,
    include_archived: Annotated[bool, typer.Option("--all", "-a", help="Include archived agents.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """All agents."""
    agents = list(client_of(ctx).agents.list(include_archived=include_archived))
    if as_json:
        print_json([a.model_dump(mode="json") for a in agents])
    elif not agents:
        err.print("[dim]no agents[/dim]")
    else:
        out.print(agents_table(agents))


@app.command("show")
def show(
    ctx: typer.Context,
    agent: Annotated[str, typer.Argument(help="Agent slug or id.")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """An agent and its latest definition."""
    found = client_of(ctx).agents.get(agent)
    if as_json:
        print_json(found.model_dump(mode="json"))
        return
    definition = found.definition
    published = f"r{found.published_revision}" if found.published_revision else "none"
    rows = [
        ("slug", escape(found.slug) + (" [yellow](archived)[/yellow]" if found.archived else "")),
        ("id", escape(found.id)),
        ("name", escape(found.name or "")),
        ("description", escape(found.description or "")),
        ("revisions", f"latest r{found.latest_revision}, published {published}"),
        ("model", escape(definition.model)),
        ("tools", escape(", ".join(_tool_name(t) for t in definition.tools) or "-")),
        ("config", escape(json.dumps(definition.config.model_dump(exclude_none=True)) or "{}")),
        ("updated", when(found.updated_at)),
    ]
    for key, value in rows:
        out.print(f"[bold]{key:>12}[/bold]  {value}")
    if definition.instructions:
        out.print("[bold]instructions[/bold]")
        out.print(definition.instructions, markup=False)
    for name in ("input_schema", "output_schema"):
        schema = getattr(definition, name)
        if schema:
            out.print(f"[bold]{name}[/bold]")
            out.print(json.dumps(schema, indent=2), markup=False)


def _tool_name(tool: dict[str, Any]) -> str:
    kind = tool.get("kind", "?")
    label = tool.get("name") or tool.get("ref") or tool.get("url") or tool.get("command") or ""
    return f"{kind}:{label}"


@app.command("revisions")
def revisions(
    ctx: typer.Context,
    agent: Annotated[str, typer.Argument(help="Agent slug or id.")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """An agent's revisions."""
    found = list(client_of(ctx).agents.revisions(agent))
    if as_json:
        print_json([r.model_dump(mode="json") for r in found])
        return
    for revision in found:
        mark = " [green](published)[/green]" if revision.published else ""
        out.print(
            f"r{revision.number:<4} {when(revision.created_at)}  {escape(revision.definition.model)}{mark}"
        )


@app.command("publish")
def publish_revision(
    ctx: typer.Context,
    agent: Annotated[str, typer.Argument(help="Agent slug or id.")],
    revision: Annotated[int, typer.Argument(help="Revision number to publish.", min=1)],
) -> None:
    """Make a revision the one runs use by default."""
    published = client_of(ctx).agents.publish(agent, revision)
    out.print(f"[green]published[/green] {escape(agent)} r{published.number}")


@app.command("archive")
def archive(
    ctx: typer.Context,
    agent: Annotated[str, typer.Argument(help="Agent slug or id.")],
) -> None:
    """Archive an agent: it stays readable; new runs are refused."""
    archived = client_of(ctx).agents.archive(agent)
    out.print(f"[yellow]archived[/yellow] {escape(archived.slug)}")
