"""agentrun.runtime."""
