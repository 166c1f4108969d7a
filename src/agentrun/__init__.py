"""agentrun: a self-hosted server that runs AI agents through an API."""

__version__ = "0.1.0"
