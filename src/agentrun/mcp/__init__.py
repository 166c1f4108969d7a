"""agentrun.mcp."""
