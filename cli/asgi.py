"""ASGI entry point for uvicorn workers: ``uvicorn cli.asgi:app`` (what ``kb serve`` runs)."""

from cli.bootstrap import bootstrap
from web.app import create_app

bootstrap()
app = create_app()
