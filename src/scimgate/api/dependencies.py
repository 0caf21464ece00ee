"""Per-request dependencies: the authenticated scope of a SCIM request."""

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from scimgate.api.clients import client_address
from scimgate.service.activation import note_activation
from scimgate.service.rate_limits import admit
from scimgate.service.scope import Scope
from scimgate.service.tenants import note_client


async def scim_scope(request: Request, directory_id: str) -> Scope:
    """Authenticate the bearer token for the directory named in the URL, within its rate limits."""
    state = request.app.state
    directory = await run_in_threadpool(
        admit,
        state.engine,
        state.rate_limiter,
        directory_id,
        request.headers.get("authorization"),
        client_address(request.scope),
    )
    if directory.activated_at is None:
        await run_in_threadpool(note_activation, state.engine, directory)
    if directory.idp_detected is None:
        await run_in_threadpool(
            note_client,
            state.engine,
            directory,
            request.headers.get("user-agent"),
            list(request.query_params.keys()),
        )
    # The middlewares (provisioning log, metrics) learn here that the request is the directory's.
    request.state.directory = directory
    root = state.settings.public_url or str(request.base_url)
    return Scope(
        engine=state.engine,
        directory=directory,
        base_url=f"{root.rstrip('/')}/scim/v2/{directory.id}",
        limits=state.settings.limits,
    )
