"""agentrun.client."""
