"""agentrun.engine."""
