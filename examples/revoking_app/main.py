"""A SaaS app that ends a user's sessions and API tokens as soon as the IdP offboards them.

Run it with ``uvicorn --app-dir examples/revoking_app main:app``; the README says
which environment variables it reads.
"""

import logging
import os
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from accounts import Account, Accounts
from fastapi import Depends, FastAPI, Header, HTTPException, Request, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from scimgate.client import (
    DEPROVISIONING_TYPES,
    CursorExpiredError,
    Event,
    EventStream,
    FileCursorStore,
    ScimgateClient,
    UserData,
    UserState,
    WebhookVerificationError,
    verify_webhook,
)

RETRY_SECONDS = 2.0
log = logging.getLogger("revoking_app")

SCIMGATE_URL = os.environ["SCIMGATE_URL"]
ADMIN_TOKEN = os.environ["SCIMGATE_ADMIN_TOKEN"]
DIRECTORY_ID = os.environ["SCIMGATE_DIRECTORY_ID"]
CURSOR_PATH = os.environ.get("SCIMGATE_CURSOR_PATH", "scimgate.cursor")
WEBHOOK_SECRETS = os.environ.get("SCIMGATE_WEBHOOK_SECRET", "").split()
"""Space-separated: while rotating, the new secret and the old one."""

accounts = Accounts()
scimgate = ScimgateClient(SCIMGATE_URL, ADMIN_TOKEN)
stream = EventStream(
    ScimgateClient(SCIMGATE_URL, ADMIN_TOKEN),
    FileCursorStore(CURSOR_PATH),
    directory_id=DIRECTORY_ID,
    types=DEPROVISIONING_TYPES,
)


def offboard(event: Event, client: ScimgateClient) -> None:
    """Revoke all access of a deactivated or deleted user, then prove it. Safe to repeat."""
    if event.directory_id != DIRECTORY_ID:
        return
    if event.type in DEPROVISIONING_TYPES and isinstance(event.data, UserData):
        user = event.data.user
        revoked = accounts.revoke(user.id)
        client.confirm_access_revoked(event.directory_id, user.id)
        log.info("offboarded %s: %d sessions and tokens revoked", user.username, revoked)


def consume_events() -> None:
    """Apply scimgate's events until shutdown; after an error, resume from the saved cursor."""
    missed = False
    while True:
        try:
            if missed:
                # Events expired unread: sign everyone out, which is always safe, and go on.
                accounts.revoke_all()
                stream.cursors.save(stream.client.latest_cursor())
                missed = False
            for event in stream:
                offboard(event, stream.client)
            return
        except CursorExpiredError:
            log.warning("scimgate's events expired before they were read")
            missed = True
        except Exception:
            log.exception("reading scimgate's events failed; retrying")
            time.sleep(RETRY_SECONDS)


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    threading.Thread(target=consume_events, name="scimgate-events", daemon=True).start()
    yield
    stream.stop()


app = FastAPI(lifespan=lifespan)


class Login(BaseModel):
    username: str


def signed_in(request: Request) -> Account:
    account = accounts.by_session(request.cookies.get("session"))
    if account is None:
        raise HTTPException(401, "Not signed in")
    return account


def token_holder(authorization: Annotated[str, Header()] = "") -> Account:
    account = accounts.by_token(authorization.removeprefix("Bearer ").strip())
    if account is None:
        raise HTTPException(401, "No valid API token")
    return account


@app.post("/login")
def login(body: Login, response: Response) -> Account:
    """Stands in for the SSO callback: the IdP vouched for ``username``; link to the SCIM user."""
    match = scimgate.lookup_user(directory_id=DIRECTORY_ID, subject=body.username)
    if match is None or match.user.state != UserState.active:
        raise HTTPException(401, "The directory has no active user of that name")
    account = Account(match.user.id, match.user.username)
    response.set_cookie("session", accounts.open_session(account), httponly=True, samesite="lax")
    return account


@app.post("/tokens")
def issue_token(account: Annotated[Account, Depends(signed_in)]) -> dict[str, str]:
    return {"token": accounts.issue_token(account)}


@app.get("/me")
def me(account: Annotated[Account, Depends(signed_in)]) -> Account:
    return account


@app.get("/api/me")
def api_me(account: Annotated[Account, Depends(token_holder)]) -> Account:
    return account


@app.post("/webhooks/scimgate", status_code=204)
async def webhook(request: Request) -> None:
    """The alternative to the event stream: scimgate pushes each event, signed."""
    if not WEBHOOK_SECRETS:
        raise HTTPException(404, "Webhooks are not configured")
    try:
        event = verify_webhook(await request.body(), request.headers, WEBHOOK_SECRETS)
    except WebhookVerificationError as exc:
        raise HTTPException(400, str(exc)) from None
    await run_in_threadpool(offboard, event, scimgate)
