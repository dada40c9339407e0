"""The HTTP API: ``python -m face2data serve`` (FastAPI on uvicorn)."""
