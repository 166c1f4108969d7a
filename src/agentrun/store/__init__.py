"""agentrun.store."""
