"""``python -m agentrun`` is the CLI."""

from agentrun.cli.main import app

app()
