"""The application's engine as a dependency of the management API's and the portal's handlers."""

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine


async def app_engine(request: Request) -> Engine:
    """The engine ``create_app`` opened.

    Async so that FastAPI calls it on the event loop: a plain function would take
    a worker thread of its own, before the handler takes one.
    """
    engine: Engine = request.app.state.engine
    return engine


EngineDep = Annotated[Engine, Depends(app_engine)]
"""Declares a handler's engine; plain ``def`` handlers then run in FastAPI's threadpool."""
