"""agentrun.api.routes."""
