"""agentrun.cli."""
