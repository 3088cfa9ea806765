"""The HTTP API of the hub (FastAPI): schemas, dependencies, routes, error mapping."""
