"""Pure domain: models, status transitions and error codes. Imports nothing else of agentrun."""
