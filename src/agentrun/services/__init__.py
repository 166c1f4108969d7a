"""agentrun.services."""
