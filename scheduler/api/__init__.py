"""The operations API (FastAPI, under ``/v1``; OpenAPI at ``/docs``)."""
