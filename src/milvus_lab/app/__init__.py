"""The search API (FastAPI): /search /healthz /readyz /metrics /version."""
