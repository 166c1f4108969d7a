"""agentrun.api."""
