"""The HTTP service: FastAPI app, the runtime that owns the store, server, client, dashboard."""
