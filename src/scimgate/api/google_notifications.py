"""Where Google posts push notifications of a pulled directory's user changes.

Google names the channel and echoes the token scimgate gave it; a known channel
makes its directory's sync due at once. Nothing in the body is used: the sync
reads Google. An unknown channel or a wrong token gets 404 and
draws on the client address's bucket of refused credentials.
"""

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from scimgate.api.clients import client_address
from scimgate.api.engine import EngineDep
from scimgate.service.directory_sync import google_watch
from scimgate.service.provisioning.rate_limits import RateLimiter

router = APIRouter()


@router.post(google_watch.NOTIFICATIONS_PATH, include_in_schema=False)
async def google_notification(request: Request, engine: EngineDep) -> Response:
    # Read (and dropped) so that the body limit holds here as on every open route.
    await request.body()
    channel = request.headers.get("x-goog-channel-id", "")
    token = request.headers.get("x-goog-channel-token", "")
    state = request.headers.get("x-goog-resource-state", "")
    if not (channel and token and state):
        return Response("A notification names its channel, token and state.", 400)
    known = await run_in_threadpool(google_watch.notified, engine, channel, token, state)
    if not known:
        limiter: RateLimiter = request.app.state.rate_limiter
        await run_in_threadpool(limiter.check_refused, client_address(request.scope))
        return Response("No such channel.", 404)
    return Response(status_code=200)
