"""HTTP API: the FastAPI app factory, dependencies, error handling, SSE and routes."""
