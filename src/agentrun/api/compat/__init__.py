"""agentrun.api.compat."""
